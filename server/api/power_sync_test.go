package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/internal/esxisim"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// createRunning creates a started instance through the API and waits for
// its task.
func (e *env) createRunning(tn tenant, name string, spec map[string]any) ovm.Instance {
	e.t.Helper()
	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": name, "start": true, "spec": spec}).decode(e.t, &it)
	done := e.waitTask(tn.token, it.Task.ID)
	require.Equal(e.t, ovm.TaskSucceeded, done.State, "create task: %+v", done)
	var inst ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(it.Instance.ID), tn.token, nil).decode(e.t, &inst)
	require.Equal(e.t, ovm.PowerRunning, inst.Status.Power, "power after a started create")
	return inst
}

// stoppedOutside checks what follows an instance powered off on its host
// behind OVM's back: the administrator's sync of the host records it
// stopped, and the tenant starts it again through the API; started
// reports whether the host runs it again, by the engine's own word.
func (e *env) stoppedOutside(tn tenant, host ovm.ID, inst ovm.Instance, started func() bool) {
	t := e.t
	t.Helper()
	path := "/v1/instances/" + string(inst.ID)
	e.must(http.StatusOK, "POST", "/v1/hosts/"+string(host)+"/sync", e.admin, nil)
	var got ovm.Instance
	e.must(http.StatusOK, "GET", path, tn.token, nil).decode(t, &got)
	assert.Equal(t, ovm.PhaseReady, got.Status.Phase, "phase after the sync")
	require.Equal(t, ovm.PowerStopped, got.Status.Power, "power after the sync: %+v", got.Status)
	assert.Contains(t, got.Status.Message, "outside OVM")
	e.power(tn.token, inst.ID, "start")
	e.must(http.StatusOK, "GET", path, tn.token, nil).decode(t, &got)
	assert.Equal(t, ovm.PowerRunning, got.Status.Power, "power after start")
	assert.True(t, started(), "the host runs the instance again after the start through the API")
}

// TestSyncPowerESXi: a VM powered off on the ESXi host through govmomi (as
// `govc vm.power -off` does) is recorded stopped by the next sync, and
// starts again through the API; so does an unmanaged VM's discovered entry.
func TestSyncPowerESXi(t *testing.T) {
	sim := esxisim.Start(t, esxiUser, esxiPassword)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	var host ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, esxiHostBody("esxi1", sim.Endpoint(), pl.pool,
		map[string]string{"username": esxiUser, "password": esxiPassword, "thumbprint": sim.Thumbprint}, nil)).decode(t, &host)
	tn := e.newTenant("acme", pl.pool, quota)

	inst := e.createRunning(tn, "vm1", map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20,
		"image": map[string]string{"format": "vmdk", "name": "tiny.vmdk"}})
	hvName := "vm1-" + string(inst.ID.Short())
	t.Cleanup(func() { sim.Remove(t, hvName) })
	vm, ok := sim.VMs(t)[hvName]
	require.True(t, ok, "VM %s on the host", hvName)
	powerOff := func(ref types.ManagedObjectReference) {
		task, err := object.NewVirtualMachine(sim.Client, ref).PowerOff(t.Context())
		require.NoError(t, err)
		require.NoError(t, task.Wait(t.Context()), "power off outside OVM")
	}
	powerOff(vm.Reference())
	e.stoppedOutside(tn, host.ID, inst, func() bool {
		return sim.VMs(t)[hvName].Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn
	})

	// A discovered VM keeps the power it has on the host.
	var ds []core.Discovered
	e.must(http.StatusOK, "POST", "/v1/hosts/"+string(host.ID)+"/sync", e.admin, nil).decode(t, &ds)
	require.NotEmpty(t, ds, "the simulator's own VMs are discovered")
	var running *core.Discovered
	for i := range ds {
		if ds[i].Power == ovm.PowerRunning {
			running = &ds[i]
		}
	}
	require.NotNil(t, running, "a running VM among the discovered %+v", ds)
	powerOff(types.ManagedObjectReference{Type: "VirtualMachine", Value: running.NativeID})
	t.Cleanup(func() {
		if task, err := object.NewVirtualMachine(sim.Client, types.ManagedObjectReference{Type: "VirtualMachine", Value: running.NativeID}).PowerOn(t.Context()); err == nil {
			_ = task.Wait(t.Context())
		}
	})
	e.must(http.StatusOK, "POST", "/v1/hosts/"+string(host.ID)+"/sync", e.admin, nil)
	var d core.Discovered
	e.must(http.StatusOK, "GET", "/v1/discovered/"+string(running.ID), e.admin, nil).decode(t, &d)
	assert.Equal(t, ovm.PowerStopped, d.Power, "discovered VM powered off outside OVM")
}
