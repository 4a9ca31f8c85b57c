//go:build integration

package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/libvirthost"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
)

// currentSnapshot is the name of a domain's current snapshot on libvirtd
// ("" when it has none).
func currentSnapshot(t *testing.T, lh *libvirthost.Host, name string) string {
	t.Helper()
	dom, err := lh.L.DomainLookupByName(name)
	require.NoError(t, err)
	if n, err := lh.L.DomainHasCurrentSnapshot(dom, 0); err != nil || n == 0 {
		return ""
	}
	s, err := lh.L.DomainSnapshotCurrent(dom, 0)
	require.NoError(t, err)
	return s.Name
}

// TestMigrateLibvirtSnapshots gives a guest on kvm1 a disk-only snapshot
// (a marker written into its disk before) and a snapshot of it running,
// then moves it live to kvm2 through the API: libvirt migrates no domain
// with snapshots, so the driver carries their metadata to kvm2 (the
// snapshots are inside the disk, on storage both see). On kvm2 libvirtd
// lists both, the running one current; the records follow the instance
// (kvm1 holds nothing); a revert through the API on kvm2 brings the first
// marker back. A storage migration, which would copy only the disk's
// current state, is refused before it starts.
func TestMigrateLibvirtSnapshots(t *testing.T) {
	k, vm, name, _ := oneVM(t, "snapmig")
	e, tn := k.e, k.tn
	e.powerSlow(t, tn.token, vm.ID, "stop")
	path, format := bootDisk(t, k.lh1, name)
	writeMarker(t, path, format, "OVM-MARKER-FIRST")
	s1 := e.snapshot(tn.token, "instances", vm.ID, "stopped")
	writeMarker(t, path, format, "OVM-MARKER-SECOND")
	e.powerSlow(t, tn.token, vm.ID, "start")
	s2 := e.snapshot(tn.token, "instances", vm.ID, "running")
	require.True(t, s2.Memory, "the running guest's snapshot holds its memory")
	native := map[ovm.ID]string{}
	for _, s := range []core.SnapshotInfo{s1, s2} {
		var a core.SnapshotInfo
		e.must(http.StatusOK, "GET", snapshotsPath("instances", vm.ID)+"/"+string(s.ID), e.admin, nil).decode(t, &a)
		native[s.ID] = a.NativeID
	}
	require.ElementsMatch(t, []string{native[s1.ID], native[s2.ID]}, domainSnapshots(t, k.lh1, name), "both on kvm1")
	held := k.e.hostAt(k.h1.ID).Allocated.Disk

	t.Run("a storage migration would lose them: refused", func(t *testing.T) {
		sp := k.storagePool(t)
		p := problemOf(t, e.must(http.StatusConflict, "POST", "/v1/instances/"+string(vm.ID)+"/migrate", e.admin,
			map[string]any{"mode": "storage", "storagePoolId": string(sp.ID)}))
		assert.Contains(t, p.Detail, "it has 2 snapshots, and a storage migration")
		assert.Contains(t, p.Detail, "the kinds that do: [live]")
		assert.Equal(t, k.h1.ID, e.instanceAt(vm.ID).Status.HostID)
		assert.ElementsMatch(t, []string{native[s1.ID], native[s2.ID]}, domainSnapshots(t, k.lh1, name), "kvm1 keeps them")
	})

	task, _ := k.waitTaskFor(t, tn.token, k.startMigration(t, tn.token, vm.ID, map[string]any{}), 3*time.Minute)
	require.Equal(t, ovm.TaskSucceeded, task.State, "migrate task: %+v", task)
	inst := e.instanceAt(vm.ID)
	require.Equal(t, k.h2.ID, inst.Status.HostID, "host after the migration")
	assert.True(t, domainRuns(t, k.lh2, name), "the domain runs on kvm2")
	_, on1 := k.lh1.State(t, name)
	assert.False(t, on1, "the domain is gone from kvm1")
	assert.ElementsMatch(t, []string{native[s1.ID], native[s2.ID]}, domainSnapshots(t, k.lh2, name), "both snapshots on kvm2, by libvirt's word")
	assert.Equal(t, native[s2.ID], currentSnapshot(t, k.lh2, name), "the current snapshot stays current")
	for _, s := range e.listSnapshots(tn.token, snapshotsPath("instances", vm.ID)) {
		assert.Equal(t, ovm.PhaseReady, s.Phase, "snapshot %s after the move: %+v", s.Name, s)
	}
	assert.Len(t, e.listSnapshots(tn.token, snapshotsPath("instances", vm.ID)), 2, "the records are kept")
	assert.Equal(t, ovm.Resources{}, e.hostAt(k.h1.ID).Allocated, "kvm1 holds nothing, the snapshots' share included")
	assert.Equal(t, held, e.hostAt(k.h2.ID).Allocated.Disk, "kvm2 holds the instance's and its snapshots' disk")

	e.powerSlow(t, tn.token, vm.ID, "stop")
	path2, format2 := bootDisk(t, k.lh2, name)
	writeMarker(t, path2, format2, "OVM-MARKER-THIRD")
	done := e.snapshotTask(tn.token, "instances", vm.ID, s1.ID, "revert")
	require.Equal(t, ovm.TaskSucceeded, done.State, "revert on kvm2: %+v", done)
	assert.Equal(t, "OVM-MARKER-FIRST", readMarker(t, path2, format2), "the revert on kvm2 brought the first marker back")

	done = e.snapshotTask(tn.token, "instances", vm.ID, s2.ID, "delete")
	require.Equal(t, ovm.TaskSucceeded, done.State, "delete on kvm2: %+v", done)
	assert.Equal(t, []string{native[s1.ID]}, domainSnapshots(t, k.lh2, name), "deleted on kvm2")
}

// TestMigrateLibvirtSnapshotsCancel cancels the live migration of a guest
// with a snapshot (its bandwidth held low so that it lasts): the snapshot's
// metadata, lifted off kvm1 for the move, is back there, current again,
// and the snapshot reverts at kvm1; kvm2 has nothing.
func TestMigrateLibvirtSnapshotsCancel(t *testing.T) {
	k, vm, name, ctx := oneVM(t, "snapcancel")
	e, tn := k.e, k.tn
	next(t, k.ticks(ctx, t, vm.ID), 3*time.Minute)
	s := e.snapshot(tn.token, "instances", vm.ID, "running")
	var admin core.SnapshotInfo
	e.must(http.StatusOK, "GET", snapshotsPath("instances", vm.ID)+"/"+string(s.ID), e.admin, nil).decode(t, &admin)
	dom, err := k.lh1.L.DomainLookupByName(name)
	require.NoError(t, err)
	require.NoError(t, k.lh1.L.DomainMigrateSetMaxSpeed(dom, 1, 0), "hold the migration to 1 MiB/s")

	id := k.startMigration(t, tn.token, vm.ID, map[string]any{})
	require.Eventually(t, func() bool {
		var task ovm.Task
		e.must(http.StatusOK, "GET", "/v1/tasks/"+string(id), tn.token, nil).decode(t, &task)
		return task.Progress > 0 && task.Progress < 50
	}, time.Minute, 50*time.Millisecond, "the migration under way")
	assert.Empty(t, domainSnapshots(t, k.lh1, name), "the metadata is off kvm1 while the domain moves")
	e.must(http.StatusAccepted, "POST", "/v1/instances/"+string(vm.ID)+"/migrate/cancel", tn.token, nil)
	task, _ := k.waitTaskFor(t, tn.token, id, 2*time.Minute)
	require.Equal(t, ovm.TaskRolledBack, task.State, "migrate task after the cancel: %+v", task)

	assert.Equal(t, k.h1.ID, e.instanceAt(vm.ID).Status.HostID)
	assert.True(t, domainRuns(t, k.lh1, name), "the domain runs on kvm1")
	assert.Equal(t, []string{admin.NativeID}, domainSnapshots(t, k.lh1, name), "the snapshot is back on kvm1")
	assert.Equal(t, admin.NativeID, currentSnapshot(t, k.lh1, name), "and current again")
	_, on2 := k.lh2.State(t, name)
	assert.False(t, on2, "nothing left on kvm2")
	done := e.snapshotTask(tn.token, "instances", vm.ID, s.ID, "revert")
	require.Equal(t, ovm.TaskSucceeded, done.State, "revert at kvm1 after the cancel: %+v", done)
	assert.True(t, domainRuns(t, k.lh1, name), "a memory snapshot brings it back running")
}
