package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
)

// TestMigrateSnapshotsFake moves a VM with snapshots between fake hosts
// (whose moves carry snapshots) through the API: the snapshot records and
// their share of the host go with the instance, and a revert afterwards
// runs on the new host; a snapshot the engine lost on the way (deleted
// behind OVM's back before the move) is marked failed with the reason,
// and deleting it gives its quota back.
func TestMigrateSnapshotsFake(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(2)
	tn := e.newTenant("acme", pl.pool, quota)
	spec := fakeVM()
	spec["disks"] = []map[string]any{{"sizeBytes": ovm.GiB}}
	vm := e.createRunning(tn, "vm1", spec)
	from := e.instanceAt(vm.ID).Status.HostID
	kept := e.snapshot(tn.token, "instances", vm.ID, "kept")
	lost := e.snapshot(tn.token, "instances", vm.ID, "lost")
	usage := e.diskUsage(tn)
	srcDisk := e.hostAt(from).Allocated.Disk
	require.Positive(t, srcDisk, "the snapshots hold disk on their host")

	var lostAdmin core.SnapshotInfo
	e.must(http.StatusOK, "GET", snapshotsPath("instances", vm.ID)+"/"+string(lost.ID), e.admin, nil).decode(t, &lostAdmin)
	src := e.fakeHost(from).Hypervisor
	require.NoError(t, src.DeleteSnapshot(t.Context(), hypervisor.ByID(vm.ID), ovm.ID(lostAdmin.NativeID)), "lost behind OVM's back")

	task := e.migrate(tn.token, vm.ID, map[string]any{})
	require.Equal(t, ovm.TaskSucceeded, task.State, "migrate task: %+v", task)
	to := e.instanceAt(vm.ID).Status.HostID
	require.NotEqual(t, from, to)
	assert.Equal(t, ovm.Resources{}, e.hostAt(from).Allocated, "the source holds nothing, the snapshots' share included")
	assert.Equal(t, srcDisk, e.hostAt(to).Allocated.Disk, "the target holds the instance's and its snapshots' disk")

	byName := map[string]core.SnapshotInfo{}
	for _, s := range e.listSnapshots(tn.token, snapshotsPath("instances", vm.ID)) {
		byName[s.Name] = s
	}
	assert.Equal(t, ovm.PhaseReady, byName["kept"].Phase, "the carried snapshot: %+v", byName["kept"])
	assert.Equal(t, ovm.PhaseFailed, byName["lost"].Phase, "the lost snapshot: %+v", byName["lost"])
	assert.Contains(t, byName["lost"].Message, "did not come along in the instance's live migration")
	for _, h := range []ovm.ID{from, to} {
		assert.NotContains(t, byName["lost"].Message, e.hostAt(h).Name, "a tenant's message names no host")
	}

	done := e.snapshotTask(tn.token, "instances", vm.ID, kept.ID, "revert")
	require.Equal(t, ovm.TaskSucceeded, done.State, "revert on the new host: %+v", done)
	list, err := e.fakeHost(to).Hypervisor.ListSnapshots(t.Context(), hypervisor.ByID(vm.ID))
	require.NoError(t, err)
	require.Len(t, list, 1, "the new host has the carried snapshot")

	done = e.snapshotTask(tn.token, "instances", vm.ID, lost.ID, "delete")
	require.Equal(t, ovm.TaskSucceeded, done.State, "delete of the lost snapshot: %+v", done)
	assert.Equal(t, usage-lost.Size, e.diskUsage(tn), "its quota given back")
}

// TestEvacuatedSnapshotsFake restarts a VM with a snapshot on another fake
// host after its host failed: the VM is made again there, without the
// snapshot, so the snapshot's record follows it to its new host marked
// failed with the reason (before, it stayed ready on the failed host and
// could be neither reverted nor deleted); deleting it gives its quota back.
func TestEvacuatedSnapshotsFake(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(2)
	tn := e.newTenant("acme", pl.pool, quota)
	spec := fakeVM()
	spec["ha"] = map[string]any{"enabled": true}
	vm := e.createRunning(tn, "vm1", spec)
	from := e.instanceAt(vm.ID).Status.HostID
	sn := e.snapshot(tn.token, "instances", vm.ID, "before")
	usage := e.diskUsage(tn)

	sys := core.NewSystem(e.svc)
	require.NoError(t, sys.SetHostState(t.Context(), from, ovm.HostFailed, "probe failed", nil))
	plan, err := sys.EvacuateHost(t.Context(), from, ha.FenceResult{Host: from, Method: ha.FencePowerOff, Outcome: ha.FenceConfirmed}, ha.PlanEvacuation, nil)
	require.NoError(t, err)
	require.Len(t, plan.Restarts, 1, "the VM is restarted: %+v", plan)
	require.Eventually(t, func() bool {
		inst := e.instanceAt(vm.ID)
		return inst.Status.Phase == ovm.PhaseReady
	}, 10*time.Second, 20*time.Millisecond, "the restart")
	to := e.instanceAt(vm.ID).Status.HostID
	require.Equal(t, plan.Restarts[0].To, to)

	require.Eventually(t, func() bool {
		got := e.listSnapshots(tn.token, snapshotsPath("instances", vm.ID))
		return len(got) == 1 && got[0].Phase == ovm.PhaseFailed
	}, 10*time.Second, 20*time.Millisecond, "the snapshot marked failed")
	got := e.listSnapshots(tn.token, snapshotsPath("instances", vm.ID))[0]
	assert.Contains(t, got.Message, "did not come along when the instance was restarted on another host")
	assert.Equal(t, ovm.Resources{}, e.hostAt(from).Allocated, "the failed host holds nothing")

	done := e.snapshotTask(tn.token, "instances", vm.ID, sn.ID, "delete")
	require.Equal(t, ovm.TaskSucceeded, done.State, "delete of the lost snapshot: %+v", done)
	assert.Equal(t, usage-sn.Size, e.diskUsage(tn), "its quota given back")
}
