package hypervisor

import (
	"context"
	"io"

	"github.com/openovm/ovm/ovm"
)

// TemplateLibrary is the facet of a driver that takes VM templates from a
// storage pool the caller names (a template library several hosts may
// share) instead of the one it was configured with.
type TemplateLibrary interface {
	// UseTemplateLibrary makes the driver take templates from pool (its
	// name and path on the host); the zero pool goes back to the
	// configured one.
	UseTemplateLibrary(pool ovm.StoragePool)
}

// TemplateDelivery is the facet of a driver whose host can receive a VM
// template from the image center: a libvirt volume upload into the host's
// template pool, a datastore upload on ESXi. Templates are kept by name in
// the pool the driver takes templates from, and known by their digest, so
// a template delivered once is not sent again.
type TemplateDelivery interface {
	// TemplateDigest returns the digest ("sha256:<hex>") the template name
	// was delivered with, and false when the host does not have it or has
	// it from elsewhere (copied by hand, no digest recorded).
	TemplateDigest(ctx context.Context, name string) (digest string, ok bool, err error)
	// DeliverTemplate writes size bytes from r as the template name with
	// digest, reporting progress from 0 to 100 when progress is not nil. It
	// replaces a template of that name; one that fails leaves no partial
	// template behind.
	DeliverTemplate(ctx context.Context, name, digest string, size ovm.Bytes, r io.Reader, progress Progress) error
}
