package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/internal/esxisim"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// TestMigrateESXi moves a tenant's running VM between two simulated
// standalone ESXi hosts through the API: a live migration is refused as
// unsupported (no vCenter), and the migration the server picks is cold:
// the VM runs on the other host afterwards, by govmomi's own word.
func TestMigrateESXi(t *testing.T) {
	sim1, sim2 := esxisim.Start(t, esxiUser, esxiPassword), esxisim.Start(t, esxiUser, esxiPassword)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	var h1, h2 ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, esxiHostBody("esxi1", sim1.Endpoint(), pl.pool,
		map[string]string{"username": esxiUser, "password": esxiPassword, "thumbprint": sim1.Thumbprint}, nil)).decode(t, &h1)
	tn := e.newTenant("acme", pl.pool, quota)
	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "vm1", "start": true,
		"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20, "image": map[string]string{"format": "vmdk", "name": "tiny.vmdk"}},
	}).decode(t, &it)
	hvName := "vm1-" + string(it.Instance.ID.Short())
	t.Cleanup(func() { sim1.Remove(t, hvName); sim2.Remove(t, hvName) })
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, it.Task.ID).State)
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, esxiHostBody("esxi2", sim2.Endpoint(), pl.pool,
		map[string]string{"username": esxiUser, "password": esxiPassword, "thumbprint": sim2.Thumbprint}, nil)).decode(t, &h2)
	path := "/v1/instances/" + string(it.Instance.ID) + "/migrate"

	p := problemOf(t, e.must(http.StatusNotImplemented, "POST", path, tn.token, map[string]any{"mode": "live"}))
	assert.Contains(t, p.Detail, "vCenter", "a live migration on standalone ESXi: %s", p.Detail)
	assert.Contains(t, p.Detail, "cold migration", "the problem offers the cold migration: %s", p.Detail)
	assert.NotContains(t, p.Detail, "esxi1", "a tenant's problem names no host: %s", p.Detail)

	// A standalone host does not rebuild a VM's snapshot tree from files
	// it registers (the simulator does not; the driver checks): a cold
	// move of a VM with snapshots is refused at the request.
	sn := e.snapshot(tn.token, "instances", it.Instance.ID, "before-move")
	p = problemOf(t, e.must(http.StatusConflict, "POST", path, tn.token, map[string]any{}))
	assert.Contains(t, p.Detail, "it has 1 snapshots, and a cold migration", "the reason: %s", p.Detail)
	assert.Contains(t, p.Detail, "delete them first")
	assert.NotContains(t, p.Detail, "esxi1", "a tenant's problem names no host: %s", p.Detail)
	assert.Equal(t, h1.ID, e.instanceAt(it.Instance.ID).Status.HostID, "the instance stays")
	tree, _ := sim1.Snapshots(t, hvName)
	assert.Contains(t, tree, string(sn.ID), "the snapshot stays on the first host")
	require.Equal(t, ovm.TaskSucceeded, e.snapshotTask(tn.token, "instances", it.Instance.ID, sn.ID, "delete").State)

	task := e.migrate(tn.token, it.Instance.ID, map[string]any{})
	require.Equal(t, ovm.TaskSucceeded, task.State, "migrate task: %+v", task)
	inst := e.instanceAt(it.Instance.ID)
	assert.Equal(t, h2.ID, inst.Status.HostID, "host after the cold migration")
	assert.Equal(t, ovm.PowerRunning, inst.Status.Power)
	assert.Contains(t, inst.Status.Message, "moved (cold)")
	vm, ok := sim2.VMs(t)[hvName]
	require.True(t, ok, "VM %s on the second host", hvName)
	assert.Equal(t, types.VirtualMachinePowerStatePoweredOn, vm.Runtime.PowerState, "running on the second host")
	assert.Equal(t, vm.Reference().Value, inst.Status.NativeID, "the record has the new host's native id")
	_, ok = sim1.VMs(t)[hvName]
	assert.False(t, ok, "VM %s left on the first host", hvName)
	assert.Equal(t, ovm.Resources{}, e.hostAt(h1.ID).Allocated, "the first host's allocation after the move")
	assert.Equal(t, ovm.CPUs(1), e.hostAt(h2.ID).Allocated.CPU, "the second host's allocation")

	// Stop and start work on the new host.
	e.power(tn.token, it.Instance.ID, "stop")
	assert.Equal(t, types.VirtualMachinePowerStatePoweredOff, sim2.VMs(t)[hvName].Runtime.PowerState)
}
