//go:build integration

package api

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/internal/libvirthost"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// markerOffset is where the tests write their markers into a guest's disk:
// 1MiB in, past the partition table and boot sectors.
const markerOffset = 1 << 20

// markerLen is the length of a marker block.
const markerLen = 512

// bootDisk returns the path and format of a domain's writable disk.
func bootDisk(t *testing.T, lh *libvirthost.Host, name string) (path, format string) {
	t.Helper()
	dom, err := lh.L.DomainLookupByName(name)
	require.NoError(t, err, "domain %s", name)
	x, err := lh.L.DomainGetXMLDesc(dom, 0)
	require.NoError(t, err)
	var def libvirtxml.Domain
	require.NoError(t, def.Unmarshal(x))
	for _, d := range def.Devices.Disks {
		if d.Device == "disk" && d.ReadOnly == nil && d.Source != nil && d.Source.File != nil {
			f := "raw"
			if d.Driver != nil && d.Driver.Type != "" {
				f = d.Driver.Type
			}
			return d.Source.File.File, f
		}
	}
	require.FailNow(t, "no writable disk", "domain %s: %s", name, x)
	return "", ""
}

// writeMarker writes marker (padded to markerLen) into the disk image at
// markerOffset with qemu-io, while its domain is stopped: the guest runs no
// agent, so the marker goes into the image beside it.
func writeMarker(t *testing.T, path, format, marker string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "marker")
	block := make([]byte, markerLen)
	copy(block, marker)
	require.NoError(t, os.WriteFile(src, block, 0o600))
	out, err := exec.CommandContext(t.Context(), "qemu-io", "-f", format, "-c",
		"write -s "+src+" "+strconv.Itoa(markerOffset)+" "+strconv.Itoa(markerLen), path).CombinedOutput()
	require.NoError(t, err, "qemu-io write: %s", out)
	require.NotContains(t, string(out), "error", "qemu-io write: %s", out)
}

// readMarker reads the marker block back out of the disk image (the disk's
// content as its active layer presents it), with qemu-img dd, whose count
// includes the blocks it skips.
func readMarker(t *testing.T, path, format string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "read")
	skip := markerOffset / markerLen
	out, err := exec.CommandContext(t.Context(), "qemu-img", "dd", "-f", format, "-O", "raw", "bs="+strconv.Itoa(markerLen),
		"skip="+strconv.Itoa(skip), "count="+strconv.Itoa(skip+1), "if="+path, "of="+dst).CombinedOutput()
	require.NoError(t, err, "qemu-img dd: %s", out)
	b, err := os.ReadFile(dst)
	require.NoError(t, err)
	require.Len(t, b, markerLen, "qemu-img dd read the marker block: %s", out)
	return string(bytes.TrimRight(b, "\x00"))
}

// powerSlow runs a power action through the API and waits for its task
// for up to three minutes: a guest that has not booted yet (slow under
// emulation) ignores the power button, and a stop then waits out its
// graceful timeout before it forces the guest off.
func (e *env) powerSlow(t *testing.T, token string, id ovm.ID, action string) {
	t.Helper()
	var at core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances/"+string(id)+"/"+action, token, nil).decode(t, &at)
	var task ovm.Task
	require.Eventually(t, func() bool {
		e.must(http.StatusOK, "GET", "/v1/tasks/"+string(at.Task.ID), token, nil).decode(t, &task)
		return task.State.Final()
	}, 3*time.Minute, 100*time.Millisecond, "%s task not done", action)
	require.Equal(t, ovm.TaskSucceeded, task.State, "%s: %+v", action, task)
}

// domainSnapshots lists the names of a domain's snapshots on libvirtd.
func domainSnapshots(t *testing.T, lh *libvirthost.Host, name string) []string {
	t.Helper()
	dom, err := lh.L.DomainLookupByName(name)
	require.NoError(t, err)
	snaps, _, err := lh.L.DomainListAllSnapshots(dom, 1, 0)
	require.NoError(t, err)
	out := []string{}
	for _, s := range snaps {
		out = append(out, s.Name)
	}
	return out
}

// TestSnapshotsLibvirt writes a marker into a VM's disk on the real
// libvirtd, snapshots the VM through the API, overwrites the marker,
// reverts through the API and reads the first marker back from the disk;
// then the same with a snapshot of the running VM, which holds its memory
// and brings it back running, and a running VM reverted to the first
// snapshot, which libvirt leaves stopped. Bad input (another instance's
// snapshot, another tenant, over quota) changes nothing on the host.
func TestSnapshotsLibvirt(t *testing.T) {
	uri, template, opts := libvirtTestHost(t)
	lh := libvirthost.Dial(t, uri, opts)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "kvm1", "kind": "kvm", "endpoint": uri,
		"poolId": pl.pool, "options": opts})
	// The second libvirtd takes the second VM (a host reports no disk
	// capacity, so placement puts no second VM beside one whose boot disk
	// it counts).
	uri2 := testEnvVar(t, "OVM_TEST_LIBVIRT_URI2")
	lh2 := libvirthost.Dial(t, uri2, opts)
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "kvm2", "kind": "kvm", "endpoint": uri2,
		"poolId": pl.pool, "options": opts})
	tn := e.newTenant("acme", pl.pool, quota)
	other := e.newTenant("other", pl.pool, quota)
	vmSpec := map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20,
		"image": map[string]string{"format": "qcow2", "name": filepath.Base(template)}}
	create := func(name string, lh *libvirthost.Host) (ovm.ID, string) {
		t.Helper()
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": name, "spec": vmSpec}).decode(t, &it)
		id := it.Instance.ID
		hvName := name + "-" + string(id.Short())
		t.Cleanup(func() {
			lh.RemoveDomain(hvName)
			lh.RemoveVolumes(id)
		})
		done := e.waitTask(tn.token, it.Task.ID)
		require.Equal(t, ovm.TaskSucceeded, done.State, "create task: %+v", done)
		return id, hvName
	}
	id, hvName := create("vm1", lh)
	id2, hvName2 := create("vm2", lh2)
	path, format := bootDisk(t, lh, hvName)
	base := e.diskUsage(tn)
	require.Positive(t, base, "the boot disks count")

	// A stopped VM: a disk-only snapshot.
	writeMarker(t, path, format, "OVM-MARKER-FIRST")
	s1 := e.snapshot(tn.token, "instances", id, "before")
	assert.False(t, s1.Memory, "a snapshot of a stopped VM holds no memory")
	var s1Admin core.SnapshotInfo
	e.must(http.StatusOK, "GET", snapshotsPath("instances", id)+"/"+string(s1.ID), e.admin, nil).decode(t, &s1Admin)
	assert.Equal(t, []string{s1Admin.NativeID}, domainSnapshots(t, lh, hvName), "the snapshot on libvirtd")
	assert.Equal(t, base+s1.Size, e.diskUsage(tn), "the snapshot counts against the disk quota")
	writeMarker(t, path, format, "OVM-MARKER-SECOND")
	require.Equal(t, "OVM-MARKER-SECOND", readMarker(t, path, format), "the marker was overwritten")
	done := e.snapshotTask(tn.token, "instances", id, s1.ID, "revert")
	require.Equal(t, ovm.TaskSucceeded, done.State, "revert task: %+v", done)
	assert.Equal(t, "OVM-MARKER-FIRST", readMarker(t, path, format), "the revert brought the first marker back")
	assert.Equal(t, golibvirt.DomainShutoff, domainState(t, lh, hvName), "a disk-only snapshot of a stopped VM leaves it stopped")

	t.Run("bad input changes nothing on the host", func(t *testing.T) {
		e.must(http.StatusNotFound, "POST", snapshotsPath("instances", id2)+"/"+string(s1.ID)+"/revert", tn.token, nil)
		e.must(http.StatusNotFound, "POST", snapshotsPath("instances", id)+"/"+string(s1.ID)+"/revert", other.token, nil)
		e.must(http.StatusNotFound, "DELETE", snapshotsPath("instances", id)+"/"+string(s1.ID), other.token, nil)
		q := quota
		q.Disk = e.diskUsage(tn) + 1
		e.must(http.StatusOK, "PUT", "/v1/vdcs/"+string(tn.vdc)+"/quota", e.admin, map[string]any{"quota": q})
		before := e.diskUsage(tn)
		p := problemOf(t, e.must(http.StatusForbidden, "POST", snapshotsPath("instances", id2), tn.token, map[string]any{"name": "big"}))
		assert.Contains(t, fieldLocations(p), "quota.diskBytes")
		e.must(http.StatusOK, "PUT", "/v1/vdcs/"+string(tn.vdc)+"/quota", e.admin, map[string]any{"quota": quota})
		assert.Equal(t, before, e.diskUsage(tn), "no quota held")
		assert.Empty(t, domainSnapshots(t, lh2, hvName2), "no snapshot on the other VM")
		assert.Empty(t, e.listSnapshots(tn.token, snapshotsPath("instances", id2)))
		assert.Equal(t, []string{s1Admin.NativeID}, domainSnapshots(t, lh, hvName), "vm1 keeps its one snapshot")
		assert.Equal(t, "OVM-MARKER-FIRST", readMarker(t, path, format))
	})

	// A running VM: the snapshot holds its memory; the revert brings it
	// back running.
	writeMarker(t, path, format, "OVM-MARKER-RUNNING")
	e.power(tn.token, id, "start")
	s2 := e.snapshot(tn.token, "instances", id, "running")
	assert.True(t, s2.Memory, "libvirt snapshots the memory of a running VM")
	assert.Equal(t, s1.Size+64*ovm.MiB, s2.Size, "the bound holds the disk and the memory")
	e.powerSlow(t, tn.token, id, "stop")
	writeMarker(t, path, format, "OVM-MARKER-THIRD")
	done = e.snapshotTask(tn.token, "instances", id, s2.ID, "revert")
	require.Equal(t, ovm.TaskSucceeded, done.State, "revert task: %+v", done)
	assert.Equal(t, golibvirt.DomainRunning, domainState(t, lh, hvName), "a snapshot with memory brings the VM back running")
	var inst ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(id), tn.token, nil).decode(t, &inst)
	assert.Equal(t, ovm.PowerRunning, inst.Status.Power, "the power after the revert is recorded")
	e.powerSlow(t, tn.token, id, "stop")
	assert.Equal(t, "OVM-MARKER-RUNNING", readMarker(t, path, format), "the disk as it was at the running snapshot")

	// A running VM reverted to a snapshot taken while it was stopped:
	// libvirt stops it, and the task records it stopped.
	e.power(tn.token, id, "start")
	done = e.snapshotTask(tn.token, "instances", id, s1.ID, "revert")
	require.Equal(t, ovm.TaskSucceeded, done.State, "revert task: %+v", done)
	assert.Equal(t, golibvirt.DomainShutoff, domainState(t, lh, hvName), "reverted to a stopped VM's snapshot")
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(id), tn.token, nil).decode(t, &inst)
	assert.Equal(t, ovm.PowerStopped, inst.Status.Power, "the power after the revert is recorded")
	assert.Equal(t, "OVM-MARKER-FIRST", readMarker(t, path, format), "the first marker back from the running VM's revert")

	// Delete one snapshot, then the VM with the other.
	done = e.snapshotTask(tn.token, "instances", id, s1.ID, "delete")
	require.Equal(t, ovm.TaskSucceeded, done.State, "delete task: %+v", done)
	var s2Admin core.SnapshotInfo
	e.must(http.StatusOK, "GET", snapshotsPath("instances", id)+"/"+string(s2.ID), e.admin, nil).decode(t, &s2Admin)
	assert.Equal(t, []string{s2Admin.NativeID}, domainSnapshots(t, lh, hvName), "the deleted snapshot is gone from libvirtd")
	assert.Equal(t, base+s2.Size, e.diskUsage(tn))
	var del core.InstanceTask
	e.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(id), tn.token, nil).decode(t, &del)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, del.Task.ID).State)
	_, defined := lh.State(t, hvName)
	assert.False(t, defined, "the domain is gone")
	assert.Empty(t, e.listSnapshots(tn.token, "/v1/snapshots"))
	assert.Equal(t, base/2, e.diskUsage(tn), "only vm2's boot disk is left")
}

// volumeSnapshotFiles lists the names of the volumes of a libvirt pool,
// besides the volume itself, that are named after the volume: its
// snapshots.
func volumeSnapshotFiles(t *testing.T, lh *libvirthost.Host, pool ovm.ID, volume core.VolumeInfo) []string {
	t.Helper()
	u, err := uuidBytes(pool)
	require.NoError(t, err)
	p, err := lh.L.StoragePoolLookupByUUID(u)
	require.NoError(t, err, "the libvirt pool %s", pool)
	require.NoError(t, lh.L.StoragePoolRefresh(p, 0))
	vols, _, err := lh.L.StoragePoolListAllVolumes(p, 1, 0)
	require.NoError(t, err)
	out := []string{}
	for _, v := range vols {
		if strings.Contains(v.Name, string(volume.ID)) && v.Key != volume.NativeID {
			out = append(out, v.Name)
		}
	}
	return out
}

// TestVolumeSnapshotsLibvirt writes a marker into a volume of a storage
// pool on the real libvirtd, snapshots the volume through the API,
// overwrites the marker, reverts through the API and reads the first
// marker back from the volume's file; deleting the snapshot gives its
// quota back and removes it from the pool. Bad input (another tenant,
// a snapshot under another volume) is not found and changes nothing.
func TestVolumeSnapshotsLibvirt(t *testing.T) {
	uri, _, _ := libvirtTestHost(t)
	pools := testEnvVar(t, "OVM_TEST_LIBVIRT_POOLS")
	e, hosts, tn, opts, _ := kvmPlatform(t, uri)
	lh := libvirthost.Dial(t, uri, opts)
	var vdc ovm.VDC
	e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc), e.admin, nil).decode(t, &vdc)
	other := e.newTenant("other", vdc.PoolID, quota)
	short := string(ovm.NewID().Short())
	dir := filepath.Join(pools, "vs-"+short)
	pool := e.registerPool(map[string]any{"name": "vs-" + short, "kind": "local", "path": dir, "hostIds": hosts})
	t.Cleanup(func() { removeLibvirtPool(lh, pool.ID, dir) })
	volume := func(name string) core.VolumeInfo {
		t.Helper()
		vt, task := e.createVolume(tn.token, map[string]any{"name": name, "sizeBytes": 64 * ovm.MiB, "storagePoolId": pool.ID})
		require.Equal(t, ovm.TaskSucceeded, task.State, "create volume %s: %+v", name, task)
		var v core.VolumeInfo
		e.must(http.StatusOK, "GET", "/v1/volumes/"+string(vt.Volume.ID), e.admin, nil).decode(t, &v)
		require.True(t, strings.HasPrefix(v.NativeID, dir+"/"), "the volume %s is in the pool's directory", v.NativeID)
		require.Equal(t, ovm.FormatQCOW2, v.Format, "the volume's format is recorded")
		return v
	}
	vol, vol2 := volume("data"), volume("other")
	path, format := vol.NativeID, string(vol.Format)
	base := e.diskUsage(tn)

	writeMarker(t, path, format, "OVM-MARKER-FIRST")
	s1 := e.snapshot(tn.token, "volumes", vol.ID, "before")
	assert.Equal(t, vol.Size, s1.Size, "the snapshot is bound by the volume's size")
	assert.Equal(t, base+s1.Size, e.diskUsage(tn), "the snapshot counts against the disk quota")
	assert.Len(t, volumeSnapshotFiles(t, lh, pool.ID, vol), 1, "the snapshot in the libvirt pool")
	writeMarker(t, path, format, "OVM-MARKER-SECOND")
	require.Equal(t, "OVM-MARKER-SECOND", readMarker(t, path, format), "the marker was overwritten")
	// Grown since the snapshot: the revert keeps the recorded size.
	const grown = 128 * ovm.MiB
	capacity := func() uint64 {
		t.Helper()
		v, err := lh.L.StorageVolLookupByPath(path)
		require.NoError(t, err)
		_, c, _, err := lh.L.StorageVolGetInfo(v)
		require.NoError(t, err)
		return c
	}
	var vtask core.VolumeTask
	e.must(http.StatusAccepted, "PATCH", "/v1/volumes/"+string(vol.ID), tn.token, map[string]any{"sizeBytes": grown}).decode(t, &vtask)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, vtask.Task.ID).State)
	require.Equal(t, uint64(grown), capacity(), "grown on libvirtd")
	base += grown - vol.Size
	done := e.snapshotTask(tn.token, "volumes", vol.ID, s1.ID, "revert")
	require.Equal(t, ovm.TaskSucceeded, done.State, "revert task: %+v", done)
	assert.Equal(t, "OVM-MARKER-FIRST", readMarker(t, path, format), "the revert brought the first marker back")
	var after core.VolumeInfo
	e.must(http.StatusOK, "GET", "/v1/volumes/"+string(vol.ID), e.admin, nil).decode(t, &after)
	assert.Equal(t, ovm.PhaseReady, after.Phase)
	assert.Equal(t, path, after.NativeID, "the volume keeps its file")
	assert.Equal(t, grown, after.Size, "the volume's recorded size")
	assert.Equal(t, uint64(grown), capacity(), "the reverted volume grown back to its recorded size on libvirtd")

	t.Run("bad input is not found and changes nothing", func(t *testing.T) {
		writeMarker(t, path, format, "OVM-MARKER-THIRD")
		sp := snapshotsPath("volumes", vol.ID) + "/" + string(s1.ID)
		for _, c := range []struct {
			name, method, path, token string
		}{
			{"another tenant reads it", "GET", sp, other.token},
			{"another tenant reverts it", "POST", sp + "/revert", other.token},
			{"another tenant deletes it", "DELETE", sp, other.token},
			{"under another volume", "POST", snapshotsPath("volumes", vol2.ID) + "/" + string(s1.ID) + "/revert", tn.token},
			{"read under another volume", "GET", snapshotsPath("volumes", vol2.ID) + "/" + string(s1.ID), tn.token},
		} {
			t.Run(c.name, func(t *testing.T) {
				e.must(http.StatusNotFound, c.method, c.path, c.token, nil)
			})
		}
		assert.Equal(t, "OVM-MARKER-THIRD", readMarker(t, path, format), "the volume was not reverted")
		assert.Len(t, volumeSnapshotFiles(t, lh, pool.ID, vol), 1, "the snapshot is kept")
		assert.Empty(t, volumeSnapshotFiles(t, lh, pool.ID, vol2), "no snapshot of the other volume")
		assert.Equal(t, base+s1.Size, e.diskUsage(tn))
	})

	done = e.snapshotTask(tn.token, "volumes", vol.ID, s1.ID, "delete")
	require.Equal(t, ovm.TaskSucceeded, done.State, "delete task: %+v", done)
	assert.Empty(t, volumeSnapshotFiles(t, lh, pool.ID, vol), "the snapshot is gone from libvirtd")
	assert.Equal(t, base, e.diskUsage(tn), "the quota is given back")
	assert.Empty(t, e.listSnapshots(tn.token, snapshotsPath("volumes", vol.ID)))
	assert.Equal(t, "OVM-MARKER-THIRD", readMarker(t, path, format), "the volume keeps its content")
}
