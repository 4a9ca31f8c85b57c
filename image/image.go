package image

import (
	"context"
	"time"

	"github.com/openovm/ovm/ovm"
)

// Image is one entry of the catalog.
type Image struct {
	Ref       ovm.ImageRef
	Size      ovm.Bytes
	Digest    string // content digest, when the source knows it
	UpdatedAt time.Time
}

// Catalog lists the images a source offers: a template library directory,
// a registry, a host's local image store.
type Catalog interface {
	List(ctx context.Context) ([]Image, error)
	// Get returns one image, or ovm.ErrNotFound.
	Get(ctx context.Context, ref ovm.ImageRef) (Image, error)
}
