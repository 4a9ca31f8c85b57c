package apitypes

import "github.com/openovm/ovm/ovm"

// ImageCreate records a VM template of the catalog, whose bytes are
// uploaded next (PUT /v1/images/{id}/content).
type ImageCreate struct {
	Name   string          `json:"name" required:"true" doc:"The template's file name, such as debian-12.qcow2 (unique among the VDC's images, or the platform's)."`
	Format ovm.ImageFormat `json:"format" required:"true" doc:"qcow2, raw or vmdk."`
	VDCID  ovm.ID          `json:"vdcId,omitempty" doc:"The VDC of a private image (administrators; tenants publish into their own). Empty for an administrator: a platform-wide image."`
	Size   ovm.Bytes       `json:"size" required:"true" doc:"The file's size in bytes: the upload must bring exactly these."`
	Digest string          `json:"digest,omitempty" doc:"sha256:<hex> of the file; an upload of other bytes fails."`
	OSType string          `json:"osType,omitempty" doc:"A hint of the guest operating system, such as linux or windows."`
	// IdempotencyKey comes from the Idempotency-Key header.
	IdempotencyKey string `json:"-"`
}

// ImagePatch changes a template's OS hint.
type ImagePatch struct {
	OSType *string `json:"osType,omitempty" doc:"A hint of the guest operating system, such as linux or windows."`
}

// ImageImport registers a template file that sits in a template library
// storage pool the server sees.
type ImageImport struct {
	StoragePoolID ovm.ID `json:"storagePoolId" required:"true" doc:"The template library storage pool the file is in."`
	Path          string `json:"path" required:"true" doc:"The file's path relative to the pool's path."`
	Name          string `json:"name,omitempty" doc:"The image's name (default: the file's base name)."`
	VDCID         ovm.ID `json:"vdcId,omitempty" doc:"The VDC of a private image; empty: platform-wide."`
	OSType        string `json:"osType,omitempty" doc:"A hint of the guest operating system, such as linux or windows."`
	// IdempotencyKey comes from the Idempotency-Key header.
	IdempotencyKey string `json:"-"`
}
