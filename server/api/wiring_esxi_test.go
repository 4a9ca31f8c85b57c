package api

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/internal/esxisim"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// The simulated ESXi host's credentials.
const (
	esxiUser     = "root"
	esxiPassword = "ovm-wiring-pw"
)

// esxiHostBody is the registration of the simulated host.
func esxiHostBody(name, endpoint string, pool ovm.ID, cred map[string]string, opts map[string]string) map[string]any {
	b := map[string]any{"name": name, "kind": "esxi", "endpoint": endpoint, "poolId": pool, "credentials": cred}
	if opts != nil {
		b["options"] = opts
	}
	return b
}

// TestWiringESXi registers a simulated ESXi host through the API, imports
// a VM it already had, and runs a tenant's VM through its life, checking
// the host with govmomi's own client.
func TestWiringESXi(t *testing.T) {
	sim := esxisim.Start(t, esxiUser, esxiPassword)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	gc := sim.Client
	good := map[string]string{"username": esxiUser, "password": esxiPassword, "thumbprint": sim.Thumbprint}

	t.Run("bad registrations", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		closed := l.Addr().String()
		require.NoError(t, l.Close())
		with := func(k, v string) map[string]string {
			c := map[string]string{"username": esxiUser, "password": esxiPassword, "thumbprint": sim.Thumbprint}
			if v == "" {
				delete(c, k)
			} else {
				c[k] = v
			}
			return c
		}
		for _, tt := range []struct {
			name     string
			endpoint string
			cred     map[string]string
			opts     map[string]string
			status   int
			text     []string
			field    string
		}{
			{"wrong password", sim.Endpoint(), with("password", "wrong"), nil, http.StatusUnprocessableEntity,
				[]string{"wrong user name or password"}, ""},
			{"certificate mismatch", sim.Endpoint(), with("thumbprint", strings.Repeat("ab", 32)), nil, http.StatusUnprocessableEntity,
				[]string{"does not match the pinned thumbprint", sim.Thumbprint}, ""},
			{"untrusted certificate", sim.Endpoint(), with("thumbprint", ""), nil, http.StatusUnprocessableEntity,
				[]string{"cannot verify the host's certificate"}, ""},
			{"unreachable", "https://" + closed + "/sdk", good, nil, http.StatusServiceUnavailable,
				[]string{closed, "connection refused"}, ""},
			{"unknown option", sim.Endpoint(), good, map[string]string{"datacenter": "dc1"}, http.StatusUnprocessableEntity,
				[]string{"unknown option"}, "body.options.datacenter"},
			{"bad image library", sim.Endpoint(), good, map[string]string{"imageLibrary": "templates"}, http.StatusUnprocessableEntity,
				[]string{"datastore path"}, "body.options.imageLibrary"},
			{"bad endpoint", "https://" + sim.Server.URL.Host + "/ui", good, nil, http.StatusUnprocessableEntity,
				[]string{"endpoint"}, "body.endpoint"},
			{"no username", sim.Endpoint(), with("username", ""), nil, http.StatusUnprocessableEntity,
				[]string{"username"}, "body.credentials.username"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := e.do("POST", "/v1/hosts", e.admin, esxiHostBody("esxi-bad", tt.endpoint, pl.pool, tt.cred, tt.opts))
				require.Equal(t, tt.status, r.status, "register with %s: got %s", tt.name, r)
				p := problemOf(t, r)
				for _, s := range tt.text {
					assert.Contains(t, p.Detail+fieldMessages(p), s, "the problem keeps the host's text")
				}
				if tt.field != "" {
					assert.Contains(t, fieldLocations(p), tt.field, "the problem names the field")
				}
			})
		}
		var hosts core.Page[ovm.Host]
		e.must(http.StatusOK, "GET", "/v1/hosts", e.admin, nil).decode(t, &hosts)
		assert.Empty(t, hosts.Items, "no host is recorded from a refused registration")
	})

	// The administrator registers the host by its endpoint.
	var host ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin,
		esxiHostBody("esxi1", sim.Endpoint(), pl.pool, good, map[string]string{"vswitch": "vSwitch0"})).decode(t, &host)
	assert.Equal(t, ovm.HostESXi, host.Kind)
	assert.False(t, host.ReadOnly, "the simulator's licence takes changes: %s", host.StateReason)
	assert.Positive(t, host.Capacity.CPU, "capacity read from the host")
	assert.Equal(t, map[string]string{"vswitch": "vSwitch0"}, host.Options)
	tn := e.newTenant("acme", pl.pool, quota)

	t.Run("import a VM the host had", func(t *testing.T) {
		before := sim.VMs(t)
		require.NotEmpty(t, before, "the simulator has VMs of its own")
		var name string
		for n := range before {
			name = n
			break
		}
		vm := before[name]
		if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
			task, err := object.NewVirtualMachine(gc, vm.Reference()).PowerOn(t.Context())
			require.NoError(t, err)
			require.NoError(t, task.Wait(t.Context()), "power on %s", name)
		}

		var ds []core.Discovered
		e.must(http.StatusOK, "POST", "/v1/hosts/"+string(host.ID)+"/sync", e.admin, nil).decode(t, &ds)
		var found *core.Discovered
		for i := range ds {
			if ds[i].Name == name {
				found = &ds[i]
			}
		}
		require.NotNil(t, found, "%s among the discovered objects %+v", name, ds)
		assert.Equal(t, vm.Reference().Value, found.NativeID, "native id is the VM's managed object id")
		assert.Equal(t, ovm.PowerRunning, found.Power)
		var list core.Page[core.Discovered]
		e.must(http.StatusOK, "GET", "/v1/discovered", e.admin, nil).decode(t, &list)
		assert.Len(t, list.Items, len(before), "every VM of the host is discovered")

		var inst ovm.Instance
		e.must(http.StatusCreated, "POST", "/v1/discovered/"+string(found.ID)+"/import", e.admin,
			map[string]any{"vdcId": tn.vdc, "name": "legacy"}).decode(t, &inst)
		assert.Equal(t, ovm.PhaseReady, inst.Status.Phase)
		assert.Equal(t, ovm.PowerRunning, inst.Status.Power)
		var seen ovm.Instance
		e.must(http.StatusOK, "GET", "/v1/instances/"+string(inst.ID), tn.token, nil).decode(t, &seen)
		assert.Equal(t, "legacy", seen.Name, "the tenant sees the imported VM")
		assert.Equal(t, types.VirtualMachinePowerStatePoweredOn, sim.VMs(t)[name].Runtime.PowerState, "still running on the host")
		p := problemOf(t, e.must(http.StatusNotImplemented, "GET", "/v1/instances/"+string(inst.ID)+"/console", tn.token, nil))
		assert.Contains(t, p.Detail, "has no console")
	})

	t.Run("tenant VM", func(t *testing.T) {
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "vm1", "start": true,
			"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20, "image": map[string]string{"format": "vmdk", "name": "tiny.vmdk"}},
		}).decode(t, &it)
		hvName := "vm1-" + string(it.Instance.ID.Short())
		t.Cleanup(func() { sim.Remove(t, hvName) })
		done := e.waitTask(tn.token, it.Task.ID)
		require.Equal(t, ovm.TaskSucceeded, done.State, "create task: %+v", done)
		vm, ok := sim.VMs(t)[hvName]
		require.True(t, ok, "VM %s on the host", hvName)
		assert.Equal(t, types.VirtualMachinePowerStatePoweredOn, vm.Runtime.PowerState)

		e.power(tn.token, it.Instance.ID, "stop")
		assert.Equal(t, types.VirtualMachinePowerStatePoweredOff, sim.VMs(t)[hvName].Runtime.PowerState, "after stop")
		e.power(tn.token, it.Instance.ID, "start")
		assert.Equal(t, types.VirtualMachinePowerStatePoweredOn, sim.VMs(t)[hvName].Runtime.PowerState, "after start")

		p := problemOf(t, e.must(http.StatusNotImplemented, "POST", "/v1/instances/"+string(it.Instance.ID)+"/exec", tn.token,
			map[string]any{"command": []string{"hostname"}}))
		assert.Contains(t, p.Detail, "the host kind cannot exec")

		var del core.InstanceTask
		e.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(it.Instance.ID), tn.token, nil).decode(t, &del)
		done = e.waitTask(tn.token, del.Task.ID)
		require.Equal(t, ovm.TaskSucceeded, done.State, "delete task: %+v", done)
		_, ok = sim.VMs(t)[hvName]
		assert.False(t, ok, "VM %s left on the host", hvName)
	})
}

// fieldLocations lists the locations a problem names.
func fieldLocations(p huma.ErrorModel) []string {
	var out []string
	for _, d := range p.Errors {
		out = append(out, d.Location)
	}
	return out
}

// fieldMessages joins the messages of a problem's field errors.
func fieldMessages(p huma.ErrorModel) string {
	var b strings.Builder
	for _, d := range p.Errors {
		b.WriteString(" " + d.Location + ": " + d.Message)
	}
	return b.String()
}
