package apitypes

import "github.com/openovm/ovm/ovm"

// ConversionDirection is which way an image conversion goes.
type ConversionDirection string

// The conversion directions: a container image into a VM template of the
// catalog, a VM template into a container image pushed to a registry.
const (
	ConvertToTemplate  ConversionDirection = "to-template"
	ConvertToContainer ConversionDirection = "to-container"
)

// ConversionDirections are the directions, in the API's order.
var ConversionDirections = []ConversionDirection{ConvertToTemplate, ConvertToContainer}

// ImageConversion asks for a conversion between a container image and a
// VM template.
type ImageConversion struct {
	Direction ConversionDirection `json:"direction" required:"true"`
	// Source is a container image reference (to-template) or the id of a
	// ready template of the catalog (to-container).
	Source string           `json:"source" required:"true" doc:"to-template: a container image reference in a registry OVM knows (registry/repository:tag or @digest), pulled with that registry's credentials; to-container: the id of a ready template of the catalog."`
	Target ConversionTarget `json:"target" required:"true"`
	// Cmd and Env are the container image's default command and
	// environment (to-container only).
	Cmd []string `json:"cmd,omitempty" doc:"to-container: the image's default command (default /bin/sh)."`
	Env []string `json:"env,omitempty" doc:"to-container: the image's environment, KEY=value (default a PATH)."`
	// Arch is the architecture, a GOARCH name; empty means the server's.
	Arch           string `json:"arch,omitempty" doc:"The architecture (amd64, arm64): the image variant pulled (to-template), the image's platform (to-container). Default: the server's."`
	IdempotencyKey string `json:"-"`
}

// ConversionTarget is where a conversion's output goes.
type ConversionTarget struct {
	// Name and VDCID are a new template's (to-template).
	Name  string `json:"name,omitempty" doc:"to-template: the new template's name (letters, digits, '.', '_', '-'); its disk is <name>.qcow2 in the template library."`
	VDCID ovm.ID `json:"vdcId,omitempty" doc:"to-template: the VDC of a private template, which counts against its disk quota; empty for a platform-wide template (administrators). A tenant's template is always its VDC's."`
	// RegistryID, Repository and Tag are the image pushed (to-container).
	RegistryID ovm.ID `json:"registryId,omitempty" doc:"to-container: the registry pushed to (default: the default registry)."`
	Repository string `json:"repository,omitempty" doc:"to-container: the repository in the registry; a tenant's is under its VDC's namespace vdc-<short id>/."`
	Tag        string `json:"tag,omitempty" doc:"to-container: the tag (default latest)."`
}

// ConversionResult is what a conversion that succeeded made: the task's
// result.
type ConversionResult struct {
	// TemplateID is the catalog template made (to-template).
	TemplateID ovm.ID    `json:"templateId,omitempty"`
	Template   string    `json:"template,omitempty" doc:"The new template's file name in the library (to-template)."`
	Reference  string    `json:"reference,omitempty" doc:"The pushed image, registry/repository@sha256:... (to-container)."`
	Digest     string    `json:"digest,omitempty" doc:"The pushed manifest's digest (to-container)."`
	Size       ovm.Bytes `json:"size" doc:"The template's disk file, or the pushed layer's compressed bytes."`
}

// ConversionTask is the task that runs a conversion; its result is a
// ConversionResult once it succeeded.
type ConversionTask struct {
	Task *ovm.Task `json:"task"`
}

// ImageBoot is how a template converted from a container image boots: by
// direct kernel boot with the kernel and initramfs kept next to its disk
// in the template library.
type ImageBoot struct {
	Kernel  string `json:"kernel" doc:"The kernel's file name in the template library."`
	Initrd  string `json:"initrd" doc:"The initramfs's file name in the template library."`
	Cmdline string `json:"cmdline" doc:"The kernel command line."`
}
