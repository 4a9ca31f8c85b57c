package hypervisor

import (
	"context"

	"github.com/openovm/ovm/ovm"
)

// ImagePuller is the image facet of a driver whose host keeps the images its
// instances run from in a store of its own (a Docker engine), filled from
// registries. Callers find it by type assertion on the driver and call it
// before Create, whose image must then be on the host.
type ImagePuller interface {
	// EnsureImage makes sure ref is on the host. When it is there already
	// it returns at once with pulled false; else it pulls it from its
	// registry, reporting progress from 0 to 100 (never going back) when
	// progress is not nil, and returns pulled true. Calling it again is
	// harmless: it checks the host first. An image its registry does not
	// have is ovm.ErrNotFound, a registry that does not answer
	// ovm.ErrUnavailable, a reference the host cannot run ovm.ErrInvalid;
	// the error keeps the registry's own text.
	EnsureImage(ctx context.Context, ref ovm.ImageRef, progress Progress) (pulled bool, err error)
}
