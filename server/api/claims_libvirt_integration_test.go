//go:build integration

package api

import (
	"net/http"
	"path/filepath"
	"testing"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/hypervisor/libvirt"
	"github.com/openovm/ovm/internal/libvirthost"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// TestLibvirtOneObjectOneRecord: one libvirtd registers once, whatever
// URI names it; options naming a pool the host has at another directory
// are refused with that directory named; and a domain imports once: the
// import writes the instance's id in the domain's metadata, a sync lists
// it no more, and a second import into another VDC is refused.
func TestLibvirtOneObjectOneRecord(t *testing.T) {
	uri := testEnvVar(t, "OVM_TEST_LIBVIRT_URI")
	uri2 := testEnvVar(t, "OVM_TEST_LIBVIRT_URI2")
	kernel := testEnvVar(t, "OVM_TEST_LIBVIRT_KERNEL")
	initrd := testEnvVar(t, "OVM_TEST_LIBVIRT_INITRD")
	template := testEnvVar(t, "OVM_TEST_LIBVIRT_TEMPLATE")
	shared := testEnvVar(t, "OVM_TEST_LIBVIRT_SHARED")
	opts := map[string]string{"templates": filepath.Dir(template), "disks": shared, "kernel": kernel, "initrd": initrd, "virtType": "qemu"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for kk, vv := range opts {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	lh := libvirthost.Dial(t, uri, opts)
	l := lh.L
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	suffix := string(ovm.NewID().Short())
	body := func(name, endpoint string, opts map[string]string) map[string]any {
		return map[string]any{"name": name, "kind": "kvm", "endpoint": endpoint, "poolId": pl.pool, "options": opts}
	}

	t.Run("options naming a pool at another directory", func(t *testing.T) {
		// A pool the test makes, at a directory of its own.
		own := "ovm-claims-" + suffix
		ownPool := t.TempDir()
		x, err := libvirt.DirPoolXML(own, "", ownPool).Marshal()
		require.NoError(t, err)
		pool, err := l.StoragePoolDefineXML(x, 0)
		require.NoError(t, err, "define pool %s", own)
		t.Cleanup(func() { _ = l.StoragePoolUndefine(pool) })
		ownDir := filepath.Join(ownPool, "elsewhere")

		for _, tt := range []struct {
			name, field, have string
			opts              map[string]string
		}{
			{"default templates pool", "body.options.templates", filepath.Dir(template), with("templates", "/var/lib/ovm/templates")},
			{"default disks pool", "body.options.disks", shared, with("disks", "/var/lib/ovm/disks")},
			{"named pool", "body.options.templates", ownPool, with("templates", own+":"+ownDir)},
		} {
			t.Run(tt.name, func(t *testing.T) {
				p := problemOf(t, e.must(http.StatusUnprocessableEntity, "POST", "/v1/hosts", e.admin, body("kvm-bad", uri, tt.opts)))
				assert.Equal(t, []string{tt.field}, fieldLocations(p), "fields: %s", fieldMessages(p))
				assert.Contains(t, fieldMessages(p), "is at "+tt.have+", not ", "the pool's own directory is named")
			})
		}
		var hosts core.Page[ovm.Host]
		e.must(http.StatusOK, "GET", "/v1/hosts", e.admin, nil).decode(t, &hosts)
		assert.Empty(t, hosts.Items, "no host is recorded from a refused registration")
	})

	var h ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, body("k1", uri, opts)).decode(t, &h)

	t.Run("the same libvirtd registers once", func(t *testing.T) {
		for _, ep := range []string{uri, "qemu+unix:///system"} {
			p := problemOf(t, e.must(http.StatusConflict, "POST", "/v1/hosts", e.admin, body("k3", ep, opts)))
			assert.Contains(t, p.Detail, "registered already, as host k1 ("+string(h.ID)+")", "endpoint %s", ep)
		}
		// The second libvirtd (its own host_uuid) registers.
		e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, body("k2", uri2, opts))
	})

	t.Run("a domain imports once", func(t *testing.T) {
		a := e.newTenant("tenant-a", pl.pool, quota)
		b := e.newTenant("tenant-b", pl.pool, quota)
		name := "ovm-claims-" + suffix
		dom := lh.StartUnmanaged(t, name, kernel, initrd)
		native := libvirthost.UUIDText(dom.UUID)
		d := e.discoveredOf(h.ID, native)

		inst := e.imported(d, a.vdc, "legacy", nil)
		charged := e.usage(a.vdc)
		assert.Equal(t, ovm.Usage{CPU: 1000, Memory: 64 << 20, Instances: 1}, charged, "tenant a's usage")

		// The domain carries the instance's id, by libvirt's own word.
		xml, err := l.DomainGetXMLDesc(dom, golibvirt.DomainXMLInactive)
		require.NoError(t, err)
		var got libvirtxml.Domain
		require.NoError(t, got.Unmarshal(xml))
		require.NotNil(t, got.Metadata, "the domain's metadata")
		meta, ok, err := libvirt.ParseMetadata(got.Metadata.XML)
		require.NoError(t, err)
		require.True(t, ok, "OVM's element in the metadata %s", got.Metadata.XML)
		assert.Equal(t, inst.ID, meta.ID, "metadata id")
		assert.Equal(t, a.vdc, meta.VDCID, "metadata vdc")
		assert.Equal(t, golibvirt.DomainRunning, domainState(t, lh, name), "the imported domain still runs")

		e.importedOnce(t, d, inst, a, b, nil)
	})
}
