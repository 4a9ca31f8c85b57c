package hypervisor

import "github.com/openovm/ovm/ovm"

// TemplateLibrary is the facet of a driver that takes VM templates from a
// storage pool the caller names (a template library several hosts may
// share) instead of the one it was configured with.
type TemplateLibrary interface {
	// UseTemplateLibrary makes the driver take templates from pool (its
	// name and path on the host); the zero pool goes back to the
	// configured one.
	UseTemplateLibrary(pool ovm.StoragePool)
}
