package hypervisor

import (
	"context"
)

// RegistryAuth is what a push signs in to a registry with; empty for an
// open registry.
type RegistryAuth struct {
	Username, Password string
}

// ImageCommitter is the facet of a driver whose instances can be committed
// as container images and pushed to a registry (a Docker engine: docker
// commit and push). Callers find it by type assertion on the driver.
type ImageCommitter interface {
	// CommitImage commits the instance's filesystem as the image ref (a
	// full reference, registry/repository:tag), pushes it to its registry
	// with auth, and returns the pushed manifest's digest. The host keeps
	// no copy of the image afterwards. An instance that is not there is
	// ovm.ErrNotFound; a registry that does not answer or refuses the push
	// ovm.ErrUnavailable with its text; calling it again pushes again.
	CommitImage(ctx context.Context, r Ref, ref string, auth RegistryAuth) (digest string, err error)
}
