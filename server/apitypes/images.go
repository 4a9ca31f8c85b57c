package apitypes

import (
	"time"

	"github.com/openovm/ovm/ovm"
)

// ImageKind tells VM templates from container images in the catalog.
type ImageKind string

// The image kinds.
const (
	ImageTemplate  ImageKind = "template"
	ImageContainer ImageKind = "container"
)

// ImagePhase is where a catalog image is in its life.
type ImagePhase string

// The image phases: a template is uploading until its last byte arrived
// and its digest checked; failed keeps the reason in Message.
const (
	ImageUploading ImagePhase = "uploading"
	ImageReady     ImagePhase = "ready"
	ImageFailed    ImagePhase = "failed"
)

// Image is one entry of the image catalog: a VM template of the template
// library or a container image of a registry, side by side. An image with
// no VDC is published platform-wide by an administrator; one with a VDC is
// that VDC's private image and counts against its disk quota.
type Image struct {
	ID     ovm.ID          `json:"id,omitempty" doc:"The catalog record's id (templates; container images listed from a registry have none)."`
	Name   string          `json:"name" doc:"A template's file name in the library, or a container image's full reference (registry/repository:tag)."`
	Kind   ImageKind       `json:"kind"`
	Format ovm.ImageFormat `json:"format"`
	VDCID  ovm.ID          `json:"vdcId,omitempty" doc:"The VDC of a private image; empty for a platform-wide image."`
	Phase  ImagePhase      `json:"phase"`
	// Message says why an image failed.
	Message       string         `json:"message,omitempty"`
	Size          ovm.Bytes      `json:"size" doc:"Bytes stored: the template's file, the container image's layers and config."`
	VirtualSize   ovm.Bytes      `json:"virtualSize,omitempty" doc:"A template's disk size as the guest sees it."`
	UploadedBytes ovm.Bytes      `json:"uploadedBytes,omitempty" doc:"Bytes of an uploading template the server has: resume the upload from there."`
	Digest        string         `json:"digest,omitempty" doc:"sha256:<hex> of a template's file or of a container image's manifest."`
	Platform      string         `json:"platform,omitempty" doc:"A container image's os/arch."`
	HostKinds     []ovm.HostKind `json:"hostKinds" doc:"The host kinds that run the image."`
	OSType        string         `json:"osType,omitempty" doc:"A hint of the guest operating system, such as linux or windows."`
	RegistryID    ovm.ID         `json:"registryId,omitempty" doc:"The registry a container image is in."`
	// Boot is set on a template converted from a container image.
	Boot      *ImageBoot `json:"boot,omitempty" doc:"A template converted from a container image boots by direct kernel boot with these files of the library."`
	CreatedAt time.Time  `json:"createdAt,omitzero"`
	UpdatedAt time.Time  `json:"updatedAt,omitzero"`
}
