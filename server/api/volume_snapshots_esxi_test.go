package api

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/vmdk"

	"github.com/openovm/ovm/internal/esxisim"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// flatFile is the extent (the data) of the VMDK "[ds] p" of a datastore
// whose directory is dir.
func flatFile(t *testing.T, dir, native string) string {
	t.Helper()
	_, p, ok := strings.Cut(native, "] ")
	require.True(t, ok, "a datastore path: %q", native)
	return filepath.Join(dir, strings.TrimSuffix(p, ".vmdk")+"-flat.vmdk")
}

// writeFileMarker writes marker (padded to markerBlock) at markerAt of file.
func writeFileMarker(t *testing.T, file, marker string) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	block := make([]byte, markerBlock)
	copy(block, marker)
	_, err = f.WriteAt(block, markerAt)
	require.NoError(t, err)
}

// readFileMarker reads the marker at markerAt of file.
func readFileMarker(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	block := make([]byte, markerBlock)
	_, err = f.ReadAt(block, markerAt)
	require.NoError(t, err)
	return strings.TrimRight(string(block), "\x00")
}

// diskCapacity reads the capacity of the VMDK "[ds] p" from its descriptor
// in the datastore's directory dir.
func diskCapacity(t *testing.T, dir, native string) int64 {
	t.Helper()
	_, p, _ := strings.Cut(native, "] ")
	f, err := os.Open(filepath.Join(dir, p))
	require.NoError(t, err)
	defer f.Close()
	d, err := vmdk.ParseDescriptor(f)
	require.NoError(t, err)
	return d.Capacity()
}

// Where the ESXi test writes its markers into a volume's extent.
const (
	markerAt    = 1 << 20
	markerBlock = 512
)

// snapshotFiles lists the VMDKs of a volume's snapshots on the datastore
// whose directory is dir.
func snapshotFiles(t *testing.T, dir string, vol ovm.ID) []string {
	t.Helper()
	got, err := filepath.Glob(filepath.Join(dir, "ovm-volumes", string(vol), "snapshots", "*.vmdk"))
	require.NoError(t, err)
	var out []string
	for _, f := range got {
		if !strings.HasSuffix(f, "-flat.vmdk") {
			out = append(out, filepath.Base(f))
		}
	}
	return out
}

// TestVolumeSnapshotsESXi writes a marker into the extent of a volume on a
// simulated ESXi host's datastore (a directory of the test), snapshots the
// volume through the API, overwrites the marker, reverts through the API
// and reads the first marker back; a snapshot is a copy of the VMDK, so
// one of a volume a running VM uses, and a revert of an attached volume,
// are refused with the reason; deleting the snapshot, and the volume with
// another, removes their files and gives their quota back.
func TestVolumeSnapshotsESXi(t *testing.T) {
	sim := esxisim.Start(t, esxiUser, esxiPassword)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	var h ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, esxiHostBody("esxi1", sim.Endpoint(), pl.pool,
		map[string]string{"username": esxiUser, "password": esxiPassword, "thumbprint": sim.Thumbprint}, nil)).decode(t, &h)
	tn := e.newTenant("acme", pl.pool, quota)
	other := e.newTenant("other", pl.pool, quota)
	dir := t.TempDir()
	pool := e.registerPool(map[string]any{"name": "vsnap", "kind": "local", "path": dir, "hostIds": []ovm.ID{h.ID}})

	vt, task := e.createVolume(tn.token, map[string]any{"name": "data", "sizeBytes": 64 * ovm.MiB, "storagePoolId": pool.ID})
	require.Equal(t, ovm.TaskSucceeded, task.State, "create volume: %+v", task)
	var vol core.VolumeInfo
	e.must(http.StatusOK, "GET", "/v1/volumes/"+string(vt.Volume.ID), e.admin, nil).decode(t, &vol)
	file := flatFile(t, dir, vol.NativeID)
	require.FileExists(t, file, "the volume's extent in the datastore's directory")
	base := e.diskUsage(tn)

	writeFileMarker(t, file, "OVM-MARKER-FIRST")
	s1 := e.snapshot(tn.token, "volumes", vol.ID, "before")
	assert.Equal(t, vol.Size, s1.Size, "the snapshot is bound by the volume's size")
	assert.Equal(t, base+s1.Size, e.diskUsage(tn), "the snapshot counts against the disk quota")
	var admin core.SnapshotInfo
	e.must(http.StatusOK, "GET", snapshotsPath("volumes", vol.ID)+"/"+string(s1.ID), e.admin, nil).decode(t, &admin)
	copyName := admin.NativeID + "_" + string(s1.ID) + ".vmdk"
	assert.Equal(t, []string{copyName}, snapshotFiles(t, dir, vol.ID), "the snapshot's copy on the datastore, named by its OVM id")
	writeFileMarker(t, file, "OVM-MARKER-SECOND")
	require.Equal(t, "OVM-MARKER-SECOND", readFileMarker(t, file), "the marker was overwritten")
	// Grown since the snapshot: the revert keeps the size the volume has
	// now (its record, quota and pool count it).
	const grown = 128 * ovm.MiB
	var vtask core.VolumeTask
	e.must(http.StatusAccepted, "PATCH", "/v1/volumes/"+string(vol.ID), tn.token, map[string]any{"sizeBytes": grown}).decode(t, &vtask)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, vtask.Task.ID).State)
	require.Equal(t, int64(grown), diskCapacity(t, dir, vol.NativeID), "grown on the host")
	base += grown - vol.Size

	e.must(http.StatusNotFound, "POST", snapshotsPath("volumes", vol.ID)+"/"+string(s1.ID)+"/revert", other.token, nil)
	assert.Equal(t, "OVM-MARKER-SECOND", readFileMarker(t, file), "another tenant's revert changed nothing")
	done := e.snapshotTask(tn.token, "volumes", vol.ID, s1.ID, "revert")
	require.Equal(t, ovm.TaskSucceeded, done.State, "revert task: %+v", done)
	assert.Equal(t, "OVM-MARKER-FIRST", readFileMarker(t, file), "the revert brought the first marker back")
	var after core.VolumeInfo
	e.must(http.StatusOK, "GET", "/v1/volumes/"+string(vol.ID), e.admin, nil).decode(t, &after)
	assert.Equal(t, ovm.PhaseReady, after.Phase)
	assert.Equal(t, vol.NativeID, after.NativeID, "the volume keeps its file")
	assert.Equal(t, grown, after.Size, "the volume's recorded size")
	assert.Equal(t, int64(grown), diskCapacity(t, dir, vol.NativeID), "the reverted disk grown back to the recorded size")
	assert.Contains(t, logText(done), "grew the volume")
	assert.Equal(t, []string{copyName}, snapshotFiles(t, dir, vol.ID), "the revert keeps the snapshot and leaves no copy beside it")

	t.Run("attached to a running VM", func(t *testing.T) {
		inst := e.createRunning(tn, "vm1", map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20,
			"image": map[string]string{"format": "vmdk", "name": "tiny.vmdk"}})
		t.Cleanup(func() { sim.Remove(t, "vm1-"+string(inst.ID.Short())) })
		var at core.VolumeTask
		e.must(http.StatusAccepted, "POST", "/v1/volumes/"+string(vol.ID)+"/attach", tn.token, map[string]any{"instanceId": inst.ID}).decode(t, &at)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, at.Task.ID).State)
		before := e.snapshotTasks(tn.token)

		p := problemOf(t, e.must(http.StatusConflict, "POST", snapshotsPath("volumes", vol.ID), tn.token, map[string]any{"name": "hot"}))
		assert.Contains(t, p.Detail, "running instance vm1 uses it")
		assert.Contains(t, p.Detail, "stop the instance or detach the volume first")
		p = problemOf(t, e.must(http.StatusConflict, "POST", snapshotsPath("volumes", vol.ID)+"/"+string(s1.ID)+"/revert", tn.token, nil))
		assert.Contains(t, p.Detail, "detach it first")
		assert.Equal(t, before, e.snapshotTasks(tn.token), "no task was started")
		assert.Len(t, e.listSnapshots(tn.token, snapshotsPath("volumes", vol.ID)), 1, "nothing recorded")

		// Stopped, the VM no longer locks the disk: the snapshot is taken.
		var st core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances/"+string(inst.ID)+"/stop", tn.token, nil).decode(t, &st)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, st.Task.ID).State)
		cold := e.snapshot(tn.token, "volumes", vol.ID, "cold")
		assert.Len(t, snapshotFiles(t, dir, vol.ID), 2)
		require.Equal(t, ovm.TaskSucceeded, e.snapshotTask(tn.token, "volumes", vol.ID, cold.ID, "delete").State)

		var dt core.VolumeTask
		e.must(http.StatusAccepted, "POST", "/v1/volumes/"+string(vol.ID)+"/detach", tn.token, nil).decode(t, &dt)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, dt.Task.ID).State)
	})

	done = e.snapshotTask(tn.token, "volumes", vol.ID, s1.ID, "delete")
	require.Equal(t, ovm.TaskSucceeded, done.State, "delete task: %+v", done)
	assert.Empty(t, snapshotFiles(t, dir, vol.ID), "the snapshot's copy is gone from the datastore")
	assert.Equal(t, base, e.diskUsage(tn), "the quota is given back")
	assert.Equal(t, "OVM-MARKER-FIRST", readFileMarker(t, file), "the volume keeps its content")

	s2 := e.snapshot(tn.token, "volumes", vol.ID, "kept")
	assert.Len(t, snapshotFiles(t, dir, vol.ID), 1)
	var del core.VolumeTask
	e.must(http.StatusAccepted, "DELETE", "/v1/volumes/"+string(vol.ID), tn.token, nil).decode(t, &del)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, del.Task.ID).State)
	assert.NoDirExists(t, filepath.Join(dir, "ovm-volumes", string(vol.ID)), "the volume's snapshots went with it")
	assert.Empty(t, e.listSnapshots(tn.token, "/v1/snapshots"), "snapshot %s dropped with its volume", s2.ID)
	assert.Equal(t, ovm.Bytes(0), e.diskUsage(tn), "everything given back")
}
