package esxi

import (
	"strings"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

var _ hypervisor.TemplateLibrary = (*Driver)(nil)

// UseTemplateLibrary makes the driver take templates from the root of the
// datastore of pool's name (local or NFS); the zero pool goes back to
// Config.ImageLibrary.
func (d *Driver) UseTemplateLibrary(pool ovm.StoragePool) {
	if pool.Name == "" {
		d.c.library.Store(nil)
		return
	}
	lib := dsPath(pool.Name, "")
	d.c.library.Store(&lib)
}

// templates is the datastore directory templates are taken from; "" when
// there is none.
func (c *conn) templates() string {
	if lib := c.library.Load(); lib != nil {
		return *lib
	}
	return c.cfg.ImageLibrary
}

// templatePath is the path of template name in the library dir.
func templatePath(dir, name string) string {
	if strings.HasSuffix(dir, "]") { // a datastore's root
		return dir + " " + name
	}
	return strings.TrimSuffix(dir, "/") + "/" + name
}
