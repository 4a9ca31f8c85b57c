//go:build integration

package libvirt_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/hypervisortest"
	"github.com/openovm/ovm/hypervisor/libvirt"
	"github.com/openovm/ovm/ovm"
)

// TestConformance runs the hypervisor conformance suite on the real
// libvirtd of `make testenv`, with the second libvirtd as migration peer.
func TestConformance(t *testing.T) {
	e := env(t)
	hypervisortest.Run(t, hypervisortest.Harness{
		New:           func(t *testing.T) hypervisor.Driver { return dial(t, e, e.uri) },
		NewPeer:       func(t *testing.T) hypervisor.Driver { return dial(t, e, e.uri2) },
		Spec:          func(t *testing.T, name string) hypervisor.CreateSpec { return spec(e, name) },
		MakeUnmanaged: func(t *testing.T, name string) string { return makeUnmanaged(t, e, name) },
		MigrationPool: func(t *testing.T) ovm.StoragePool { return migrationPool(t, e) },
		RegisterSpec:  func(t *testing.T, name string) hypervisor.CreateSpec { return leftBehind(t, e, name) },
		Template: func(t *testing.T) (string, []byte) {
			b, err := os.ReadFile(e.template)
			require.NoError(t, err, "read the test template")
			return filepath.Base(e.template), b
		},
		RemoveTemplate: func(t *testing.T, name string) { removeTemplate(t, e, name) },
		Concurrency:    3,
		StopTimeout:    time.Minute,
		Timeout:        10 * time.Minute,
	})
}

// removeTemplate deletes template name and its digest from the template
// pool of the first host.
func removeTemplate(t *testing.T, e testEnv, name string) {
	d := dial(t, e, e.uri)
	defer d.Close()
	l := d.Libvirt()
	pool, err := l.StoragePoolLookupByName(e.config(e.uri).Templates.Name)
	if err != nil {
		t.Errorf("cleanup: template pool: %v", err)
		return
	}
	_ = libvirt.RefreshPool(context.Background(), l, pool)
	for _, v := range []string{name, name + hypervisor.DigestSuffix} {
		if vol, err := l.StorageVolLookupByName(pool, v); err == nil {
			if err := l.StorageVolDelete(vol, 0); err != nil {
				t.Errorf("cleanup: delete template %s: %v", v, err)
			}
		}
	}
}

// leftBehind makes an instance on the second host and undefines its domain
// there, keeping its volumes in the shared directory, as a failed host
// leaves them; the returned spec is that instance's, for Register.
func leftBehind(t *testing.T, e testEnv, name string) hypervisor.CreateSpec {
	t.Helper()
	other := dial(t, e, e.uri2)
	defer other.Close()
	s := spec(e, name)
	_, err := other.Create(t.Context(), s)
	require.NoError(t, err, "Create %s on the second host", name)
	dom, err := other.Libvirt().DomainLookupByName(name)
	require.NoError(t, err)
	require.NoError(t, other.Libvirt().DomainUndefineFlags(dom, 0), "undefine %s on the second host, keeping its volumes", name)
	return s
}
