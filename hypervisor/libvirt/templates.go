package libvirt

import (
	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

var _ hypervisor.TemplateLibrary = (*Driver)(nil)

// UseTemplateLibrary makes the driver take templates from the dir (or
// netfs) pool of pool's name at its path, made when the host lacks it;
// the zero pool goes back to Config.Templates.
func (d *Driver) UseTemplateLibrary(pool ovm.StoragePool) {
	if pool.Name == "" || pool.Path == "" {
		d.library.Store(nil)
		return
	}
	d.library.Store(&PoolRef{Name: pool.Name, Path: pool.Path})
}

// templates is the pool templates are taken from.
func (d *Driver) templates() PoolRef {
	if ref := d.library.Load(); ref != nil {
		return *ref
	}
	return d.cfg.Templates
}
