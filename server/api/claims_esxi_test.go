package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"

	"github.com/openovm/ovm/hypervisor/esxi"
	"github.com/openovm/ovm/internal/esxisim"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// TestESXiOneObjectOneRecord: one simulated ESXi host registers once,
// whatever URL names it, and a VM of it imports once: the import writes
// the instance's id in the VM's extraConfig, a sync lists the VM no more,
// and a second import, into another VDC, is refused without charging its
// quota.
func TestESXiOneObjectOneRecord(t *testing.T) {
	sim := esxisim.Start(t, esxiUser, esxiPassword)
	other := esxisim.Start(t, esxiUser, esxiPassword)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	cred := func(h *esxisim.Host) map[string]string {
		return map[string]string{"username": esxiUser, "password": esxiPassword, "thumbprint": h.Thumbprint}
	}

	var host ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, esxiHostBody("e1", sim.Endpoint(), pl.pool, cred(sim), nil)).decode(t, &host)

	t.Run("the same host registers once", func(t *testing.T) {
		for _, tt := range []struct{ name, endpoint string }{
			{"e3", sim.Endpoint()},
			{"e4", strings.TrimSuffix(strings.TrimPrefix(sim.Endpoint(), "https://"), "/sdk")},
		} {
			p := problemOf(t, e.must(http.StatusConflict, "POST", "/v1/hosts", e.admin, esxiHostBody(tt.name, tt.endpoint, pl.pool, cred(sim), nil)))
			assert.Contains(t, p.Detail, "registered already, as host e1 ("+string(host.ID)+")", "%s at %s", tt.name, tt.endpoint)
		}
		// Another host (its own hardware UUID) registers.
		e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, esxiHostBody("e2", other.Endpoint(), pl.pool, cred(other), nil))
		var hosts core.Page[ovm.Host]
		e.must(http.StatusOK, "GET", "/v1/hosts", e.admin, nil).decode(t, &hosts)
		var names []string
		for _, h := range hosts.Items {
			names = append(names, h.Name)
		}
		assert.ElementsMatch(t, []string{"e1", "e2"}, names, "hosts recorded")
	})

	t.Run("a VM imports once", func(t *testing.T) {
		a := e.newTenant("tenant-a", pl.pool, quota)
		b := e.newTenant("tenant-b", pl.pool, quota)
		var name string
		var vm mo.VirtualMachine
		for n, v := range sim.VMs(t) {
			name, vm = n, v
			break
		}
		require.NotEmpty(t, name, "the simulator has VMs of its own")
		native := vm.Reference().Value
		d := e.discoveredOf(host.ID, native)

		inst := e.imported(d, a.vdc, "legacy", nil)
		charged := e.usage(a.vdc)
		assert.Equal(t, d.CPU, charged.CPU, "tenant a is charged the VM's CPU")

		// The VM carries the instance's id, by the host's own word.
		var got mo.VirtualMachine
		require.NoError(t, property.DefaultCollector(sim.Client).RetrieveOne(t.Context(), vm.Reference(), []string{"config.extraConfig"}, &got))
		x := map[string]string{}
		for _, o := range got.Config.ExtraConfig {
			if v, ok := o.GetOptionValue().Value.(string); ok {
				x[o.GetOptionValue().Key] = v
			}
		}
		assert.Equal(t, string(inst.ID), x[esxi.KeyID], "extraConfig %s of %s", esxi.KeyID, name)
		assert.Equal(t, string(a.vdc), x[esxi.KeyVDC], "extraConfig %s of %s", esxi.KeyVDC, name)

		e.importedOnce(t, d, inst, a, b, nil)
	})
}
