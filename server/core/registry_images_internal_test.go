package core

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
)

// TestRegistryTenancy: a tenant reads its VDC's namespace and the platform
// repositories, writes only in its namespace (a name without one goes
// there), and another VDC's namespace is not found; an administrator
// reads and writes everything.
func TestRegistryTenancy(t *testing.T) {
	vdc := ovm.ID("1a2b3c4d-0000-4000-8000-000000000001")
	tenant := auth.Principal{Role: auth.RoleVDCAdmin, VDCID: vdc}
	admin := auth.Principal{Role: auth.RoleAdmin}
	for _, tt := range []struct {
		name      string
		p         auth.Principal
		repo      string
		read      bool
		write     string // the repository written; "" when refused
		writeVDC  ovm.ID
		writeKind ovm.Kind
	}{
		{"tenant, own namespace", tenant, "vdc-1a2b3c4d/web", true, "vdc-1a2b3c4d/web", vdc, 0},
		{"tenant, platform repository", tenant, "busybox", true, "vdc-1a2b3c4d/busybox", vdc, 0},
		{"tenant, nested platform repository", tenant, "library/busybox", true, "vdc-1a2b3c4d/library/busybox", vdc, 0},
		{"tenant, another vdc", tenant, "vdc-99999999/web", false, "", "", ovm.KindNotFound},
		{"tenant, empty", tenant, "", true, "", "", ovm.KindInvalid},
		{"admin, another vdc", admin, "vdc-99999999/web", true, "vdc-99999999/web", "", 0},
		{"admin, platform", admin, "busybox", true, "busybox", "", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.read, canRead(tt.p, tt.repo), "canRead(%q)", tt.repo)
			repo, v, err := writableRepository(tt.p, tt.repo)
			if tt.write == "" {
				assert.Equal(t, tt.writeKind, ovm.KindOf(err), "writableRepository(%q): %v", tt.repo, err)
				return
			}
			assert.NoError(t, err)
			assert.Equal(t, tt.write, repo)
			assert.Equal(t, tt.writeVDC, v)
		})
	}
	assert.Equal(t, "vdc-1a2b3c4d", vdcNamespace(vdc))
	assert.Equal(t, "", namespaceOf("vdc-1a2b3c4d"), "a repository named vdc-x without a path is a platform one")
}

// TestRegistryAddress: registration refuses addresses that are not
// host[:port] before any registry is asked.
func TestRegistryAddress(t *testing.T) {
	for _, a := range []string{"", "http://x", "x/y", "a b", "host:port:1"} {
		_, err := dialRegistry(registryConfig{Address: a})
		assert.Equal(t, ovm.KindInvalid, ovm.KindOf(err), "address %q: %v", a, err)
	}
	c, err := dialRegistry(registryConfig{Address: "127.0.0.1:5000"})
	assert.NoError(t, err)
	assert.Equal(t, "127.0.0.1:5000/vdc-1a2b3c4d/web:1", c.Reference("vdc-1a2b3c4d/web", "1"))
	assert.Equal(t, ovm.KindInvalid, ovm.KindOf(c.tag("web", "-x")))
	assert.Equal(t, ovm.KindInvalid, ovm.KindOf(c.tag("Web", "1")))
	assert.NoError(t, c.tag("a/b-c.d_e", "v1.0_rc-1"))
}
