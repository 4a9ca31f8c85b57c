package esxi

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/openovm/ovm/ovm"
)

// TestTemplateLibraryPath: a library pool's templates are at the root of
// its datastore, the configured library's in its directory; the zero pool
// goes back to the configured one.
func TestTemplateLibraryPath(t *testing.T) {
	d := &Driver{c: &conn{cfg: Config{ImageLibrary: "[images] templates/"}}}
	tests := []struct {
		name string
		pool ovm.StoragePool
		want string
	}{
		{"library pool", ovm.StoragePool{ID: "p1", Name: "lib", Kind: ovm.StorageNFS}, "[lib] tiny.vmdk"},
		{"no library", ovm.StoragePool{}, "[images] templates/tiny.vmdk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.UseTemplateLibrary(tt.pool)
			assert.Equal(t, tt.want, templatePath(d.c.templates(), "tiny.vmdk"))
		})
	}
}
