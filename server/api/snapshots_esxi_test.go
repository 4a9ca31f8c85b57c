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

// TestSnapshotsESXi takes, reverts and deletes snapshots of a VM on a
// simulated ESXi host through the API, checking the host's snapshot tree
// (the state the simulator keeps: which snapshot the VM runs from) with
// govmomi's own client.
func TestSnapshotsESXi(t *testing.T) {
	sim := esxisim.Start(t, esxiUser, esxiPassword)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	good := map[string]string{"username": esxiUser, "password": esxiPassword, "thumbprint": sim.Thumbprint}
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, esxiHostBody("esxi1", sim.Endpoint(), pl.pool, good, nil))
	tn := e.newTenant("acme", pl.pool, quota)
	other := e.newTenant("other", pl.pool, quota)
	inst := e.createRunning(tn, "vm1", map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20,
		"image": map[string]string{"format": "vmdk", "name": "tiny.vmdk"}})
	hvName := "vm1-" + string(inst.ID.Short())
	t.Cleanup(func() { sim.Remove(t, hvName) })
	base := e.diskUsage(tn)

	a := e.snapshot(tn.token, "instances", inst.ID, "a")
	assert.False(t, a.Memory, "ESXi snapshots hold the disks only")
	b := e.snapshot(tn.token, "instances", inst.ID, "b")
	assert.Equal(t, base+a.Size+b.Size, e.diskUsage(tn), "both snapshots count against the disk quota")
	tree, cur := sim.Snapshots(t, hvName)
	require.Contains(t, tree, string(a.ID), "snapshot a on the host under its OVM id")
	require.Contains(t, tree, string(b.ID), "snapshot b on the host under its OVM id")
	assert.Equal(t, string(b.ID), cur, "the VM runs from the last snapshot")

	e.must(http.StatusNotFound, "POST", snapshotsPath("instances", inst.ID)+"/"+string(a.ID)+"/revert", other.token, nil)
	done := e.snapshotTask(tn.token, "instances", inst.ID, a.ID, "revert")
	require.Equal(t, ovm.TaskSucceeded, done.State, "revert task: %+v", done)
	_, cur = sim.Snapshots(t, hvName)
	assert.Equal(t, string(a.ID), cur, "after the revert the VM runs from snapshot a")
	var got ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(inst.ID), tn.token, nil).decode(t, &got)
	power := ovm.PowerStopped
	if sim.VMs(t)[hvName].Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
		power = ovm.PowerRunning
	}
	assert.Equal(t, power, got.Status.Power, "the power the host reports after the revert is recorded")

	done = e.snapshotTask(tn.token, "instances", inst.ID, b.ID, "delete")
	require.Equal(t, ovm.TaskSucceeded, done.State, "delete task: %+v", done)
	tree, _ = sim.Snapshots(t, hvName)
	assert.NotContains(t, tree, string(b.ID), "snapshot b removed from the host")
	assert.Contains(t, tree, string(a.ID), "snapshot a kept")
	assert.Equal(t, base+a.Size, e.diskUsage(tn), "b's quota given back")

	var del core.InstanceTask
	e.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(inst.ID), tn.token, nil).decode(t, &del)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, del.Task.ID).State)
	assert.Equal(t, ovm.Bytes(0), e.diskUsage(tn), "the VM and its snapshot given back")
	assert.Empty(t, e.listSnapshots(tn.token, "/v1/snapshots"))
}
