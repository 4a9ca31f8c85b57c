package ovm

import (
	"fmt"
	"strings"
)

// ImageFormat is how an image is stored.
type ImageFormat string

// The image formats. Disk formats are VM templates; OCI is a container image.
const (
	FormatQCOW2 ImageFormat = "qcow2"
	FormatRaw   ImageFormat = "raw"
	FormatVMDK  ImageFormat = "vmdk"
	FormatOCI   ImageFormat = "oci"
)

// ImageRef names the image an instance boots from: a VM template in the
// image library (by name, such as "debian-12.qcow2") or a container image
// reference (such as "127.0.0.1:5000/busybox:1.36").
type ImageRef struct {
	Format ImageFormat `json:"format"`
	Name   string      `json:"name"`
}

// ContainerImage returns an OCI image reference.
func ContainerImage(ref string) ImageRef { return ImageRef{Format: FormatOCI, Name: ref} }

// Template returns a VM template reference; the format comes from the name's
// extension (.qcow2, .raw/.img, .vmdk) and is qcow2 otherwise.
func Template(name string) ImageRef {
	f := FormatQCOW2
	switch {
	case strings.HasSuffix(name, ".vmdk"):
		f = FormatVMDK
	case strings.HasSuffix(name, ".raw"), strings.HasSuffix(name, ".img"):
		f = FormatRaw
	}
	return ImageRef{Format: f, Name: name}
}

// IsZero reports whether no image is named.
func (r ImageRef) IsZero() bool { return r.Name == "" && r.Format == "" }

// InstanceType returns whether the image boots a VM or a container.
func (r ImageRef) InstanceType() InstanceType {
	if r.Format == FormatOCI {
		return TypeContainer
	}
	return TypeVM
}

// HostKinds returns the host kinds that can run the image directly.
// The fake host kind runs anything.
func (r ImageRef) HostKinds() []HostKind {
	switch r.Format {
	case FormatOCI:
		return []HostKind{HostDocker, HostFake}
	case FormatQCOW2, FormatRaw:
		return []HostKind{HostKVM, HostFake}
	case FormatVMDK:
		return []HostKind{HostESXi, HostFake}
	}
	return nil
}

// Validate checks the reference: a container image name by the Docker
// reference grammar, a VM template name as a name inside the image
// library (never a path out of it, never control characters).
func (r ImageRef) Validate() error {
	var f Fields
	switch r.Format {
	case FormatQCOW2, FormatRaw, FormatVMDK, FormatOCI:
	default:
		f.Addf("format", "must be one of %s, %s, %s, %s", FormatQCOW2, FormatRaw, FormatVMDK, FormatOCI)
	}
	if reason := validateImageName(r.Format, r.Name); reason != "" {
		f.Add("name", reason)
	}
	return f.Err("invalid image reference")
}

// String renders "oci:busybox:1" or "qcow2:debian.qcow2".
func (r ImageRef) String() string { return fmt.Sprintf("%s:%s", r.Format, r.Name) }
