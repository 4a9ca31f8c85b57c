package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
)

// snapshotsPath is the collection of an instance's or a volume's
// snapshots ("instances" or "volumes").
func snapshotsPath(collection string, id ovm.ID) string {
	return "/v1/" + collection + "/" + string(id) + "/snapshots"
}

// snapshot takes a snapshot through the API and waits for its task; it
// returns the snapshot as the tenant reads it afterwards.
func (e *env) snapshot(token, collection string, of ovm.ID, name string) core.SnapshotInfo {
	e.t.Helper()
	var st core.SnapshotTask
	e.must(http.StatusAccepted, "POST", snapshotsPath(collection, of), token, map[string]any{"name": name}).decode(e.t, &st)
	require.Equal(e.t, ovm.PhaseCreating, st.Snapshot.Phase, "phase of a snapshot being taken")
	done := e.waitTask(token, st.Task.ID)
	require.Equal(e.t, ovm.TaskSucceeded, done.State, "snapshot task: %+v", done)
	var got core.SnapshotInfo
	e.must(http.StatusOK, "GET", snapshotsPath(collection, of)+"/"+string(st.Snapshot.ID), token, nil).decode(e.t, &got)
	require.Equal(e.t, ovm.PhaseReady, got.Phase, "phase after the task: %+v", got)
	return got
}

// snapshotTask starts a revert ("revert") or delete ("delete") of a
// snapshot and waits for its task.
func (e *env) snapshotTask(token, collection string, of, id ovm.ID, op string) ovm.Task {
	e.t.Helper()
	method, path := http.MethodPost, snapshotsPath(collection, of)+"/"+string(id)+"/revert"
	if op == "delete" {
		method, path = http.MethodDelete, snapshotsPath(collection, of)+"/"+string(id)
	}
	var st core.SnapshotTask
	e.must(http.StatusAccepted, method, path, token, nil).decode(e.t, &st)
	return e.waitTask(token, st.Task.ID)
}

// diskUsage is a VDC's disk in use.
func (e *env) diskUsage(tn tenant) ovm.Bytes {
	e.t.Helper()
	var v ovm.VDC
	e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc), tn.token, nil).decode(e.t, &v)
	return v.Usage.Disk
}

// snapshotTasks counts a VDC's snapshot.create tasks.
func (e *env) snapshotTasks(token string) int {
	e.t.Helper()
	var pg core.Page[ovm.Task]
	e.must(http.StatusOK, "GET", "/v1/tasks?limit=1000", token, nil).decode(e.t, &pg)
	n := 0
	for _, tk := range pg.Items {
		if tk.Kind == core.TaskSnapshotCreate {
			n++
		}
	}
	return n
}

// listSnapshots lists snapshots at path.
func (e *env) listSnapshots(token, path string) []core.SnapshotInfo {
	e.t.Helper()
	var pg core.Page[core.SnapshotInfo]
	e.must(http.StatusOK, "GET", path, token, nil).decode(e.t, &pg)
	return pg.Items
}

// TestSnapshotsThroughAPI runs instance and volume snapshots on a fake host
// through the API: the quota they take and give back, the engine's
// snapshots, tenancy, bad input and a failing engine.
func TestSnapshotsThroughAPI(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { testSnapshots(t, newEnv(t, b.open(t))) })
	}
}

func testSnapshots(t *testing.T, e *env) {
	pl := e.setupPlatform(1)
	var host ovm.Host
	e.must(http.StatusOK, "GET", "/v1/hosts/"+string(pl.hosts[0]), e.admin, nil).decode(t, &host)
	fh, err := e.fakes.Host(host.Endpoint)
	require.NoError(t, err)
	tn := e.newTenant("acme", pl.pool, quota)
	other := e.newTenant("other", pl.pool, quota)
	vmSpec := map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20,
		"image": map[string]string{"format": "qcow2", "name": "tiny.qcow2"}, "disks": []map[string]any{{"sizeBytes": ovm.GiB}}}
	vm1 := e.createRunning(tn, "vm1", vmSpec)
	vm2 := e.createRunning(tn, "vm2", vmSpec)
	base := e.diskUsage(tn)
	require.Equal(t, 2*ovm.GiB, base, "the two VMs' disks")
	engineSnapshots := func(id ovm.ID) []ovm.Snapshot {
		t.Helper()
		got, err := fh.Hypervisor.ListSnapshots(t.Context(), hypervisor.ByID(id))
		require.NoError(t, err)
		return got
	}

	s1 := e.snapshot(tn.token, "instances", vm1.ID, "s1")
	t.Run("taken", func(t *testing.T) {
		assert.Equal(t, "s1", s1.Name)
		assert.Equal(t, vm1.ID, s1.InstanceID)
		assert.Equal(t, tn.vdc, s1.VDCID)
		assert.False(t, s1.Memory, "the fake engine snapshots no memory")
		assert.Equal(t, ovm.GiB, s1.Size, "the bound of a disk-only snapshot is the VM's disks")
		assert.Empty(t, s1.NativeID, "tenants see no native id")
		assert.Equal(t, base+ovm.GiB, e.diskUsage(tn), "the snapshot counts against the disk quota")
		snaps := engineSnapshots(vm1.ID)
		require.Len(t, snaps, 1, "one snapshot on the engine")
		var admin core.SnapshotInfo
		e.must(http.StatusOK, "GET", snapshotsPath("instances", vm1.ID)+"/"+string(s1.ID), e.admin, nil).decode(t, &admin)
		assert.Equal(t, string(snaps[0].ID), admin.NativeID, "administrators see the engine's id")
		assert.Len(t, e.listSnapshots(tn.token, snapshotsPath("instances", vm1.ID)), 1, "vm1's snapshots")
		assert.Empty(t, e.listSnapshots(tn.token, snapshotsPath("instances", vm2.ID)), "vm2's snapshots")
		assert.Len(t, e.listSnapshots(tn.token, "/v1/snapshots"), 1, "the VDC's snapshots")
		assert.Empty(t, e.listSnapshots(other.token, "/v1/snapshots"), "another VDC's snapshots")
	})

	t.Run("a retry with the same key takes one snapshot", func(t *testing.T) {
		before := e.diskUsage(tn)
		var first, again core.SnapshotTask
		e.must(http.StatusAccepted, "POST", snapshotsPath("instances", vm2.ID), tn.token, map[string]any{"name": "retried"},
			"Idempotency-Key", "snap-retry-1").decode(t, &first)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, first.Task.ID).State)
		e.must(http.StatusAccepted, "POST", snapshotsPath("instances", vm2.ID), tn.token, map[string]any{"name": "retried"},
			"Idempotency-Key", "snap-retry-1").decode(t, &again)
		assert.Equal(t, first.Snapshot.ID, again.Snapshot.ID, "the retry answers the first snapshot")
		assert.Len(t, engineSnapshots(vm2.ID), 1, "one snapshot on the engine")
		assert.Equal(t, before+ovm.GiB, e.diskUsage(tn), "charged once")
		require.Equal(t, ovm.TaskSucceeded, e.snapshotTask(tn.token, "instances", vm2.ID, first.Snapshot.ID, "delete").State)
		assert.Equal(t, before, e.diskUsage(tn))
	})

	t.Run("bad input", func(t *testing.T) {
		s1Path := snapshotsPath("instances", vm1.ID) + "/" + string(s1.ID)
		for _, tt := range []struct {
			name, method, path, token string
			body                      any
			status                    int
			field, text               string
		}{
			{"a snapshot of another instance", "GET", snapshotsPath("instances", vm2.ID) + "/" + string(s1.ID), tn.token, nil, http.StatusNotFound, "", ""},
			{"revert a snapshot of another instance", "POST", snapshotsPath("instances", vm2.ID) + "/" + string(s1.ID) + "/revert", tn.token, nil, http.StatusNotFound, "", ""},
			{"delete a snapshot of another instance", "DELETE", snapshotsPath("instances", vm2.ID) + "/" + string(s1.ID), tn.token, nil, http.StatusNotFound, "", ""},
			{"an instance snapshot as a volume's", "GET", snapshotsPath("volumes", vm1.ID) + "/" + string(s1.ID), tn.token, nil, http.StatusNotFound, "", ""},
			{"another tenant's snapshot", "GET", s1Path, other.token, nil, http.StatusNotFound, "", ""},
			{"revert another tenant's snapshot", "POST", s1Path + "/revert", other.token, nil, http.StatusNotFound, "", ""},
			{"delete another tenant's snapshot", "DELETE", s1Path, other.token, nil, http.StatusNotFound, "", ""},
			{"snapshot another tenant's instance", "POST", snapshotsPath("instances", vm1.ID), other.token, map[string]any{"name": "x"}, http.StatusNotFound, "", ""},
			{"list another tenant's instance", "GET", snapshotsPath("instances", vm1.ID), other.token, nil, http.StatusNotFound, "", ""},
			{"unknown snapshot", "GET", snapshotsPath("instances", vm1.ID) + "/" + string(ovm.NewID()), tn.token, nil, http.StatusNotFound, "", ""},
			{"snapshot id not a uuid", "GET", snapshotsPath("instances", vm1.ID) + "/s1", tn.token, nil, http.StatusUnprocessableEntity, "path.snapshotId", ""},
			{"bad name", "POST", snapshotsPath("instances", vm1.ID), tn.token, map[string]any{"name": "Not_A_Name"}, http.StatusUnprocessableEntity, "body.name", ""},
			{"no name", "POST", snapshotsPath("instances", vm1.ID), tn.token, map[string]any{}, http.StatusUnprocessableEntity, "body", "name"},
			{"name taken", "POST", snapshotsPath("instances", vm1.ID), tn.token, map[string]any{"name": "s1"}, http.StatusConflict, "body.name", "has a snapshot named s1"},
			{"stale If-Match", "POST", s1Path + "/revert", tn.token, nil, http.StatusPreconditionFailed, "", ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				var headers []string
				if tt.status == http.StatusPreconditionFailed {
					headers = []string{"If-Match", `"99"`}
				}
				p := problemOf(t, e.must(tt.status, tt.method, tt.path, tt.token, tt.body, headers...))
				if tt.field != "" {
					assert.Contains(t, fieldLocations(p), tt.field, "the problem names the field: %+v", p)
				}
				if tt.text != "" {
					assert.Contains(t, p.Detail+fieldMessages(p), tt.text)
				}
			})
		}
		assert.Len(t, engineSnapshots(vm1.ID), 1, "nothing more on the engine")
		assert.Empty(t, engineSnapshots(vm2.ID), "nothing on vm2")
		assert.Equal(t, base+ovm.GiB, e.diskUsage(tn), "no quota taken by refused requests")
	})

	t.Run("over quota leaves nothing behind", func(t *testing.T) {
		q := quota
		q.Disk = e.diskUsage(tn) + ovm.GiB - 1
		e.must(http.StatusOK, "PUT", "/v1/vdcs/"+string(tn.vdc)+"/quota", e.admin, map[string]any{"quota": q})
		t.Cleanup(func() {
			e.must(http.StatusOK, "PUT", "/v1/vdcs/"+string(tn.vdc)+"/quota", e.admin, map[string]any{"quota": quota})
		})
		before, tasksBefore := e.diskUsage(tn), e.snapshotTasks(tn.token)
		p := problemOf(t, e.must(http.StatusForbidden, "POST", snapshotsPath("instances", vm2.ID), tn.token, map[string]any{"name": "big"}))
		assert.Contains(t, fieldLocations(p), "quota.diskBytes", "the problem names the resource: %+v", p)
		assert.Equal(t, before, e.diskUsage(tn), "no quota held")
		assert.Empty(t, e.listSnapshots(tn.token, snapshotsPath("instances", vm2.ID)), "no snapshot recorded")
		assert.Empty(t, engineSnapshots(vm2.ID), "no snapshot on the engine")
		assert.Equal(t, tasksBefore, e.snapshotTasks(tn.token), "no task enqueued")
	})

	t.Run("containers take none", func(t *testing.T) {
		c := e.createRunning(tn, "c1", container())
		p := problemOf(t, e.must(http.StatusNotImplemented, "POST", snapshotsPath("instances", c.ID), tn.token, map[string]any{"name": "s"}))
		assert.Contains(t, p.Detail, "snapshots are not offered for containers")
		assert.Empty(t, e.listSnapshots(tn.token, snapshotsPath("instances", c.ID)))
	})

	t.Run("revert", func(t *testing.T) {
		done := e.snapshotTask(tn.token, "instances", vm1.ID, s1.ID, "revert")
		require.Equal(t, ovm.TaskSucceeded, done.State, "revert task: %+v", done)
		var inst ovm.Instance
		e.must(http.StatusOK, "GET", "/v1/instances/"+string(vm1.ID), tn.token, nil).decode(t, &inst)
		assert.Equal(t, ovm.PowerRunning, inst.Status.Power, "the fake engine keeps the power on a revert")
		assert.Empty(t, inst.Status.Message)
		var got core.SnapshotInfo
		e.must(http.StatusOK, "GET", snapshotsPath("instances", vm1.ID)+"/"+string(s1.ID), tn.token, nil).decode(t, &got)
		assert.Equal(t, ovm.PhaseReady, got.Phase)
		e.power(tn.token, vm1.ID, "stop") // the instance is free for its own tasks again
		e.power(tn.token, vm1.ID, "start")
	})

	t.Run("the instance is busy while its snapshot is taken", func(t *testing.T) {
		fh.Hypervisor.SetLatency(300 * time.Millisecond)
		var st core.SnapshotTask
		e.must(http.StatusAccepted, "POST", snapshotsPath("instances", vm2.ID), tn.token, map[string]any{"name": "slow"}).decode(t, &st)
		p := problemOf(t, e.must(http.StatusConflict, "POST", "/v1/instances/"+string(vm2.ID)+"/stop", tn.token, nil))
		assert.Contains(t, p.Detail, "snapshot.create task in progress")
		problemOf(t, e.must(http.StatusConflict, "DELETE", "/v1/instances/"+string(vm2.ID), tn.token, nil))
		problemOf(t, e.must(http.StatusConflict, "POST", snapshotsPath("instances", vm2.ID), tn.token, map[string]any{"name": "another"}))
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, st.Task.ID).State)
		fh.Hypervisor.SetLatency(0)
		require.Equal(t, ovm.TaskSucceeded, e.snapshotTask(tn.token, "instances", vm2.ID, st.Snapshot.ID, "delete").State)
	})

	t.Run("engine failure rolls back", func(t *testing.T) {
		before := e.diskUsage(tn)
		fh.Hypervisor.FailNext(fake.MethodCreateSnapshot, ovm.Errorf(ovm.KindUnavailable, "host %s at %s: snapshot store on fire",
			host.Name, host.Endpoint))
		var st core.SnapshotTask
		e.must(http.StatusAccepted, "POST", snapshotsPath("instances", vm2.ID), tn.token, map[string]any{"name": "doomed"}).decode(t, &st)
		done := e.waitTask(tn.token, st.Task.ID)
		require.Equal(t, ovm.TaskRolledBack, done.State, "task: %+v", done)
		assert.Contains(t, done.Error, "snapshot store on fire", "the engine's words")
		var got core.SnapshotInfo
		e.must(http.StatusOK, "GET", snapshotsPath("instances", vm2.ID)+"/"+string(st.Snapshot.ID), tn.token, nil).decode(t, &got)
		assert.Equal(t, ovm.PhaseFailed, got.Phase)
		assert.Contains(t, got.Message, "snapshot store on fire")
		assert.NotContains(t, got.Message+done.Error, host.Endpoint, "a tenant reads no host")
		assert.NotContains(t, got.Message+done.Error, host.Name+" ", "a tenant reads no host")
		var admin core.SnapshotInfo
		e.must(http.StatusOK, "GET", snapshotsPath("instances", vm2.ID)+"/"+string(st.Snapshot.ID), e.admin, nil).decode(t, &admin)
		assert.Contains(t, admin.Message, host.Endpoint, "the administrator reads the engine's words whole")
		assert.Equal(t, before, e.diskUsage(tn), "the quota is given back")
		assert.Empty(t, engineSnapshots(vm2.ID))
		// The instance is free again, and the failed snapshot can go.
		e.power(tn.token, vm2.ID, "stop")
		done = e.snapshotTask(tn.token, "instances", vm2.ID, st.Snapshot.ID, "delete")
		require.Equal(t, ovm.TaskSucceeded, done.State, "delete task: %+v", done)
		e.must(http.StatusNotFound, "GET", snapshotsPath("instances", vm2.ID)+"/"+string(st.Snapshot.ID), tn.token, nil)
		assert.Equal(t, before, e.diskUsage(tn))
	})

	t.Run("delete gives the quota back", func(t *testing.T) {
		before := e.diskUsage(tn)
		done := e.snapshotTask(tn.token, "instances", vm1.ID, s1.ID, "delete")
		require.Equal(t, ovm.TaskSucceeded, done.State, "delete task: %+v", done)
		e.must(http.StatusNotFound, "GET", snapshotsPath("instances", vm1.ID)+"/"+string(s1.ID), tn.token, nil)
		assert.Equal(t, before-ovm.GiB, e.diskUsage(tn))
		assert.Empty(t, engineSnapshots(vm1.ID), "the engine's snapshot is gone")
	})

	t.Run("volume", func(t *testing.T) {
		var vt core.VolumeTask
		e.must(http.StatusAccepted, "POST", "/v1/volumes", tn.token, map[string]any{"name": "data", "sizeBytes": 2 * ovm.GiB}).decode(t, &vt)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, vt.Task.ID).State)
		before := e.diskUsage(tn)
		vs := e.snapshot(tn.token, "volumes", vt.Volume.ID, "v1")
		assert.Equal(t, vt.Volume.ID, vs.VolumeID)
		assert.Equal(t, 2*ovm.GiB, vs.Size, "a volume snapshot's bound is the volume's size")
		assert.Equal(t, before+2*ovm.GiB, e.diskUsage(tn))
		got, err := fh.Storage.ListSnapshots(t.Context(), vt.Volume.ID)
		require.NoError(t, err)
		assert.Len(t, got, 1, "the volume's snapshot on the engine")
		e.must(http.StatusNotFound, "GET", snapshotsPath("instances", vm1.ID)+"/"+string(vs.ID), tn.token, nil)
		require.Equal(t, ovm.TaskSucceeded, e.snapshotTask(tn.token, "volumes", vt.Volume.ID, vs.ID, "revert").State)

		// Deleting the volume deletes its snapshots and their quota.
		var del core.VolumeTask
		e.must(http.StatusAccepted, "DELETE", "/v1/volumes/"+string(vt.Volume.ID), tn.token, nil).decode(t, &del)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, del.Task.ID).State)
		assert.Equal(t, before-2*ovm.GiB, e.diskUsage(tn), "the volume and its snapshot given back")
		assert.Empty(t, e.listSnapshots(tn.token, "/v1/snapshots"))
	})

	t.Run("instance delete takes its snapshots", func(t *testing.T) {
		e.snapshot(tn.token, "instances", vm2.ID, "last")
		var del core.InstanceTask
		e.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(vm2.ID), tn.token, nil).decode(t, &del)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, del.Task.ID).State)
		assert.Empty(t, e.listSnapshots(tn.token, "/v1/snapshots"))
		assert.Equal(t, ovm.GiB, e.diskUsage(tn), "only vm1's disk is left")
	})
}
