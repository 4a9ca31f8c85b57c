package image

import (
	"context"
	"io"
	"time"

	"github.com/openovm/ovm/ovm"
)

// Image is one entry of a source's catalog.
type Image struct {
	Ref ovm.ImageRef
	// Size is the bytes the source stores: a template's file, a container
	// image's compressed layers and config.
	Size ovm.Bytes
	// VirtualSize is a VM template's disk size as a guest sees it (zero
	// for container images).
	VirtualSize ovm.Bytes
	// Digest is the content digest, "sha256:<hex>": of a template's file,
	// of a container image's manifest.
	Digest string
	// Platform is a container image's "os/arch" (empty for templates).
	Platform  string
	UpdatedAt time.Time
}

// Catalog lists the images a source offers: a template library directory,
// a registry, a host's local image store.
type Catalog interface {
	List(ctx context.Context) ([]Image, error)
	// Get returns one image, or ovm.ErrNotFound.
	Get(ctx context.Context, ref ovm.ImageRef) (Image, error)
}

// Source is a catalog images are written to and read from: the template
// library (a template's file as is) and a registry (a container image as a
// `docker save` archive). Every source passes imagetest.Run.
type Source interface {
	Catalog
	// Put stores the bytes r yields under ref, replacing an image of that
	// ref. When digest is not empty, bytes of another digest are refused
	// (ovm.ErrInvalid) and nothing is stored; the digest is the SHA-256 of
	// the bytes r yields ("sha256:<hex>"), whatever digest the stored
	// image then reports. A Put that fails leaves no image behind and
	// keeps an image the ref already had.
	Put(ctx context.Context, ref ovm.ImageRef, r io.Reader, digest string) (Image, error)
	// Open returns the image's bytes, in the form Put takes them.
	Open(ctx context.Context, ref ovm.ImageRef) (io.ReadCloser, Image, error)
	// Delete removes an image; a missing image is ovm.ErrNotFound.
	Delete(ctx context.Context, ref ovm.ImageRef) error
}
