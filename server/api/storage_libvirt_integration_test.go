//go:build integration

package api

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/internal/libvirthost"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// liveDisks returns the files of a domain's disks in the running guest.
func liveDisks(t testing.TB, h *libvirthost.Host, name string) []string {
	t.Helper()
	dom, err := h.L.DomainLookupByName(name)
	require.NoError(t, err, "lookup domain %s", name)
	x, err := h.L.DomainGetXMLDesc(dom, 0)
	require.NoError(t, err)
	var def libvirtxml.Domain
	require.NoError(t, def.Unmarshal(x))
	var out []string
	for _, d := range def.Devices.Disks {
		if d.Source != nil && d.Source.File != nil {
			out = append(out, d.Source.File.File)
		}
	}
	return out
}

// removeLibvirtPool stops and forgets a pool by UUID on a host, and
// removes its directory (cleanup after a failed test).
func removeLibvirtPool(h *libvirthost.Host, id ovm.ID, dir string) {
	u, err := uuidBytes(id)
	if err == nil {
		if p, err := h.L.StoragePoolLookupByUUID(u); err == nil {
			if vols, _, err := h.L.StoragePoolListAllVolumes(p, 1, 0); err == nil {
				for _, v := range vols {
					_ = h.L.StorageVolDelete(v, 0)
				}
			}
			_ = h.L.StoragePoolDestroy(p)
			_ = h.L.StoragePoolUndefine(p)
		}
	}
	_ = os.RemoveAll(dir)
}

// uuidBytes parses an OVM id as a libvirt UUID.
func uuidBytes(id ovm.ID) (golibvirt.UUID, error) {
	var u golibvirt.UUID
	s := strings.ReplaceAll(string(id), "-", "")
	if len(s) != 32 {
		return u, fmt.Errorf("not a uuid: %s", id)
	}
	for i := range 16 {
		if _, err := fmt.Sscanf(s[2*i:2*i+2], "%02x", &u[i]); err != nil {
			return u, err
		}
	}
	return u, nil
}

// kvmPlatform registers the test libvirtds as hosts of one pool (uris in
// order) and returns the environment, the hosts and a tenant.
func kvmPlatform(t testing.TB, uris ...string) (*env, []ovm.ID, tenant, map[string]string, string) {
	_, template, opts := libvirtTestHost(t)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	var hosts []ovm.ID
	for i, uri := range uris {
		var h ovm.Host
		e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": fmt.Sprintf("kvm%d", i+1), "kind": "kvm",
			"endpoint": uri, "poolId": pl.pool, "options": opts}).decode(t, &h)
		hosts = append(hosts, h.ID)
	}
	return e, hosts, e.newTenant("acme", pl.pool, quota), opts, template
}

// kvmVM creates a tenant VM from the test template (started when start)
// and returns it as the administrator sees it; removed when t ends.
func kvmVM(t testing.TB, e *env, tn tenant, lhs map[ovm.ID]*libvirthost.Host, template, name string, start bool) ovm.Instance {
	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": name, "start": start,
		"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20,
			"image": map[string]string{"format": "qcow2", "name": filepath.Base(template)}}}).decode(t, &it)
	t.Cleanup(func() {
		for _, lh := range lhs {
			lh.RemoveDomain(name + "-" + string(it.Instance.ID.Short()))
			lh.RemoveVolumes(it.Instance.ID)
		}
	})
	done := e.waitTask(tn.token, it.Task.ID)
	require.Equal(t, ovm.TaskSucceeded, done.State, "create %s: %+v", name, done)
	var inst ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(it.Instance.ID), e.admin, nil).decode(t, &inst)
	return inst
}

// TestStorageLibvirt runs a shared storage pool through the API on the two
// test libvirtds: a directory both daemons see, registered on both as one
// pool (a libvirt dir pool of the pool's id on each), kept as one record by
// sync; a volume made there is hot-plugged into a running guest on one
// host, detached, and attached to a VM on the other host; the pool's
// declared capacity refuses a volume too large; delete removes it from
// both daemons.
func TestStorageLibvirt(t *testing.T) {
	uri2 := testEnvVar(t, "OVM_TEST_LIBVIRT_URI2")
	shared := testEnvVar(t, "OVM_TEST_LIBVIRT_SHARED")
	uri, _, _ := libvirtTestHost(t)
	e, hosts, tn, opts, template := kvmPlatform(t, uri, uri2)
	lhs := map[ovm.ID]*libvirthost.Host{hosts[0]: libvirthost.Dial(t, uri, opts), hosts[1]: libvirthost.Dial(t, uri2, opts)}
	short := string(ovm.NewID().Short())
	dir := filepath.Join(shared, "sp-"+short)

	var pt apitypes.StoragePoolTask
	e.must(http.StatusAccepted, "POST", "/v1/storage-pools", e.admin, map[string]any{"name": "shared-" + short, "kind": "shared",
		"path": dir, "hostIds": hosts, "capacityBytes": ovm.GiB}).decode(t, &pt)
	t.Cleanup(func() {
		for _, lh := range lhs {
			removeLibvirtPool(lh, pt.Pool.ID, dir)
		}
	})
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(e.admin, pt.Task.ID).State)
	pool := e.pool(pt.Pool.ID)

	t.Run("one pool on both daemons", func(t *testing.T) {
		assert.Equal(t, ovm.PhaseReady, pool.Phase)
		assert.ElementsMatch(t, hosts, pool.HostIDs)
		u, err := uuidBytes(pool.ID)
		require.NoError(t, err)
		for h, lh := range lhs {
			p, err := lh.L.StoragePoolLookupByUUID(u)
			require.NoError(t, err, "the libvirt pool of host %s", h)
			x, err := lh.L.StoragePoolGetXMLDesc(p, 0)
			require.NoError(t, err)
			assert.Contains(t, x, "<path>"+dir+"</path>")
		}
		assert.FileExists(t, filepath.Join(dir, ".ovm-shared"), "the shared marker in the directory")
		for _, h := range hosts {
			e.must(http.StatusOK, "POST", "/v1/hosts/"+string(h)+"/sync", e.admin, nil)
		}
		var pg core.Page[apitypes.StoragePoolInfo]
		e.must(http.StatusOK, "GET", "/v1/storage-pools?limit=1000", e.admin, nil).decode(t, &pg)
		n := 0
		for _, p := range pg.Items {
			if p.Path == dir {
				n++
				assert.ElementsMatch(t, hosts, p.HostIDs)
				assert.False(t, p.Discovered)
			}
		}
		assert.Equal(t, 1, n, "sync keeps the shared pool one record: %+v", pg.Items)
		assert.True(t, slices.ContainsFunc(pg.Items, func(p apitypes.StoragePoolInfo) bool { return p.Name == "kvm1-ovm-disks" && p.Discovered }),
			"the driver's disk pool is discovered as a local pool of host 1: %+v", pg.Items)
	})

	vm1 := kvmVM(t, e, tn, lhs, template, "vm1", true)
	vm2 := kvmVM(t, e, tn, lhs, template, "vm2", false)
	require.NotEqual(t, vm1.Status.HostID, vm2.Status.HostID, "the two VMs are spread over the two hosts")

	t.Run("boot disks count against the pool they are in", func(t *testing.T) {
		var pg core.Page[apitypes.StoragePoolInfo]
		e.must(http.StatusOK, "GET", "/v1/storage-pools?limit=1000", e.admin, nil).decode(t, &pg)
		size := qcow2Size(t, template)
		for _, vm := range []ovm.Instance{vm1, vm2} {
			i := slices.IndexFunc(pg.Items, func(p apitypes.StoragePoolInfo) bool {
				return p.Path == opts["disks"] && slices.Contains(p.HostIDs, vm.Status.HostID)
			})
			require.GreaterOrEqual(t, i, 0, "the disk pool of host %s is recorded: %+v", vm.Status.HostID, pg.Items)
			assert.Equal(t, size, pg.Items[i].Allocated, "the boot disk of %s in pool %s", vm.Name, pg.Items[i].Name)
		}
	})
	vt, task := e.createVolume(tn.token, map[string]any{"name": "data", "sizeBytes": 64 * ovm.MiB, "storagePoolId": pool.ID})
	require.Equal(t, ovm.TaskSucceeded, task.State, "%+v", task)
	var vol core.VolumeInfo
	e.must(http.StatusOK, "GET", "/v1/volumes/"+string(vt.Volume.ID), e.admin, nil).decode(t, &vol)
	require.True(t, strings.HasPrefix(vol.NativeID, dir+"/"), "the volume %s is in the shared directory", vol.NativeID)
	volPath := "/v1/volumes/" + string(vol.ID)
	attach := func(t *testing.T, inst ovm.Instance) ovm.Task {
		var at core.VolumeTask
		e.must(http.StatusAccepted, "POST", volPath+"/attach", tn.token, map[string]any{"instanceId": inst.ID}).decode(t, &at)
		return e.waitTask(tn.token, at.Task.ID)
	}
	detach := func(t *testing.T) {
		var dt core.VolumeTask
		e.must(http.StatusAccepted, "POST", volPath+"/detach", tn.token, nil).decode(t, &dt)
		done := e.waitTask(tn.token, dt.Task.ID)
		require.Equal(t, ovm.TaskSucceeded, done.State, "detach: %+v", done)
	}

	t.Run("hot-plug into the running guest", func(t *testing.T) {
		done := attach(t, vm1)
		require.Equal(t, ovm.TaskSucceeded, done.State, "%+v", done)
		name := "vm1-" + string(vm1.ID.Short())
		assert.Contains(t, liveDisks(t, lhs[vm1.Status.HostID], name), vol.NativeID, "the running guest has the disk")
		st, _ := lhs[vm1.Status.HostID].State(t, name)
		assert.Equal(t, golibvirt.DomainRunning, st)
		detach(t)
		assert.NotContains(t, liveDisks(t, lhs[vm1.Status.HostID], name), vol.NativeID, "the guest released the disk")
	})

	t.Run("attach on the other host", func(t *testing.T) {
		done := attach(t, vm2)
		require.Equal(t, ovm.TaskSucceeded, done.State, "%+v", done)
		assert.Contains(t, liveDisks(t, lhs[vm2.Status.HostID], "vm2-"+string(vm2.ID.Short())), vol.NativeID, "the stopped VM's definition has the disk")
		detach(t)
	})

	t.Run("resize", func(t *testing.T) {
		var rt core.VolumeTask
		e.must(http.StatusAccepted, "PATCH", volPath, tn.token, map[string]any{"sizeBytes": 96 * ovm.MiB}).decode(t, &rt)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, rt.Task.ID).State)
		assert.Equal(t, 96*ovm.MiB, qcow2Size(t, vol.NativeID), "the volume's file grew")
		assert.Equal(t, 96*ovm.MiB, e.pool(pool.ID).Allocated)
	})

	t.Run("over the pool's capacity", func(t *testing.T) {
		r := e.do("POST", "/v1/volumes", tn.token, map[string]any{"name": "big", "sizeBytes": ovm.GiB, "storagePoolId": pool.ID})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "got %s", r)
		assert.Contains(t, fieldLocations(problemOf(t, r)), "body.sizeBytes")
	})

	t.Run("a deleted VM gives its boot disk back", func(t *testing.T) {
		var del core.InstanceTask
		e.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(vm2.ID), tn.token, nil).decode(t, &del)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, del.Task.ID).State)
		var pg core.Page[apitypes.StoragePoolInfo]
		e.must(http.StatusOK, "GET", "/v1/storage-pools?limit=1000", e.admin, nil).decode(t, &pg)
		i := slices.IndexFunc(pg.Items, func(p apitypes.StoragePoolInfo) bool {
			return p.Path == opts["disks"] && slices.Contains(p.HostIDs, vm2.Status.HostID)
		})
		require.GreaterOrEqual(t, i, 0)
		assert.Zero(t, pg.Items[i].Allocated, "pool %s after the delete", pg.Items[i].Name)
	})

	t.Run("delete removes the pool from both daemons", func(t *testing.T) {
		var del core.VolumeTask
		e.must(http.StatusAccepted, "DELETE", volPath, tn.token, nil).decode(t, &del)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, del.Task.ID).State)
		var pd apitypes.StoragePoolTask
		e.must(http.StatusAccepted, "DELETE", "/v1/storage-pools/"+string(pool.ID), e.admin, nil).decode(t, &pd)
		done := e.waitTask(e.admin, pd.Task.ID)
		require.Equal(t, ovm.TaskSucceeded, done.State, "%+v", done)
		u, _ := uuidBytes(pool.ID)
		for h, lh := range lhs {
			_, err := lh.L.StoragePoolLookupByUUID(u)
			assert.ErrorContains(t, err, "no storage pool with matching uuid", "the pool is gone from host %s", h)
		}
		assert.NoDirExists(t, dir)
	})
}

// BenchmarkVolumeAttachKVM measures a hot attach of a 64 MiB qcow2 volume
// to a running guest on the test libvirtd through the REST API (attach
// route, task, until the task is final) against `virsh attach-disk
// --live --persistent` of a volume of the same size to the same guest on
// the same libvirtd; each iteration does both (the detaches between are
// not timed). It reports api-ms/op, virsh-ms/op and their ratio.
func BenchmarkVolumeAttachKVM(b *testing.B) {
	uri, _, _ := libvirtTestHost(b)
	pools := testEnvVar(b, "OVM_TEST_LIBVIRT_POOLS")
	e, hosts, tn, opts, template := kvmPlatform(b, uri)
	lh := libvirthost.Dial(b, uri, opts)
	short := string(ovm.NewID().Short())
	dir := filepath.Join(pools, "bench-"+short)
	pool := e.registerPool(map[string]any{"name": "bench-" + short, "kind": "local", "path": dir, "hostIds": hosts})
	b.Cleanup(func() { removeLibvirtPool(lh, pool.ID, dir) })
	vm := kvmVM(b, e, tn, map[ovm.ID]*libvirthost.Host{hosts[0]: lh}, template, "bench", true)
	name := "bench-" + string(vm.ID.Short())
	vt, task := e.createVolume(tn.token, map[string]any{"name": "data", "sizeBytes": 64 * ovm.MiB, "storagePoolId": pool.ID})
	require.Equal(b, ovm.TaskSucceeded, task.State)
	volPath := "/v1/volumes/" + string(vt.Volume.ID)
	plain := filepath.Join(dir, "virsh-"+short+".qcow2")
	out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", plain, "64M").CombinedOutput()
	require.NoError(b, err, "qemu-img: %s", out)
	b.Cleanup(func() { _ = os.Remove(plain) })
	virsh := func(args ...string) {
		out, err := exec.Command("virsh", append([]string{"-c", uri}, args...)...).CombinedOutput()
		require.NoError(b, err, "virsh %v: %s", args, out)
	}
	// final waits for a task with a tight poll, so that polling adds
	// little to the measured time.
	final := func(id ovm.ID) ovm.Task {
		deadline := time.Now().Add(time.Minute)
		for {
			var t ovm.Task
			e.must(http.StatusOK, "GET", "/v1/tasks/"+string(id), tn.token, nil).decode(b, &t)
			if t.State.Final() {
				return t
			}
			require.True(b, time.Now().Before(deadline), "task %s still %s", id, t.State)
			time.Sleep(time.Millisecond)
		}
	}
	released := func(path string) {
		deadline := time.Now().Add(time.Minute)
		for slices.Contains(liveDisks(b, lh, name), path) {
			require.True(b, time.Now().Before(deadline), "the guest did not release %s", path)
			time.Sleep(10 * time.Millisecond)
		}
	}
	viaAPI := func() time.Duration {
		start := time.Now()
		var at core.VolumeTask
		e.must(http.StatusAccepted, "POST", volPath+"/attach", tn.token, map[string]any{"instanceId": vm.ID}).decode(b, &at)
		done := final(at.Task.ID)
		took := time.Since(start)
		require.Equal(b, ovm.TaskSucceeded, done.State, "%+v", done)
		var dt core.VolumeTask
		e.must(http.StatusAccepted, "POST", volPath+"/detach", tn.token, nil).decode(b, &dt)
		require.Equal(b, ovm.TaskSucceeded, final(dt.Task.ID).State)
		return took
	}
	viaVirsh := func() time.Duration {
		start := time.Now()
		virsh("attach-disk", name, plain, "vdz", "--driver", "qemu", "--subdriver", "qcow2", "--live", "--persistent")
		took := time.Since(start)
		virsh("detach-disk", name, "vdz", "--live", "--persistent")
		released(plain)
		return took
	}
	// Each iteration does both, in turns first, and lets the guest settle
	// after each detach (untimed), so that neither pays for the other's
	// unplug.
	var api, cli time.Duration
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			api += viaAPI()
			time.Sleep(300 * time.Millisecond)
			cli += viaVirsh()
		} else {
			cli += viaVirsh()
			time.Sleep(300 * time.Millisecond)
			api += viaAPI()
		}
		time.Sleep(300 * time.Millisecond)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(api.Milliseconds())/n, "api-ms/op")
	b.ReportMetric(float64(cli.Milliseconds())/n, "virsh-ms/op")
	b.ReportMetric(api.Seconds()/cli.Seconds(), "api/virsh")
}

// TestTemplateLibraryLibvirt: a storage pool flagged as template library
// on the test libvirtd is where its VMs' templates come from: a template
// only that pool holds makes a VM; once the flag is off, the same create
// fails naming the missing template, and nothing is left.
func TestTemplateLibraryLibvirt(t *testing.T) {
	uri, _, _ := libvirtTestHost(t)
	pools := testEnvVar(t, "OVM_TEST_LIBVIRT_POOLS")
	e, hosts, tn, opts, template := kvmPlatform(t, uri)
	lh := libvirthost.Dial(t, uri, opts)
	short := string(ovm.NewID().Short())
	dir := filepath.Join(pools, "lib-"+short)
	lib := e.registerPool(map[string]any{"name": "lib-" + short, "kind": "local", "path": dir, "hostIds": hosts, "templateLibrary": true})
	t.Cleanup(func() { removeLibvirtPool(lh, lib.ID, dir) })
	assert.True(t, lib.TemplateLibrary)
	src, err := os.ReadFile(template)
	require.NoError(t, err)
	image := "libonly-" + short + ".qcow2"
	require.NoError(t, os.WriteFile(filepath.Join(dir, image), src, 0o644))
	_, err = os.Stat(filepath.Join(filepath.Dir(template), image))
	require.True(t, os.IsNotExist(err), "the template is not in the host's configured templates directory")

	create := func(name string) (core.InstanceTask, ovm.Task) {
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": name,
			"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20,
				"image": map[string]string{"format": "qcow2", "name": image}}}).decode(t, &it)
		t.Cleanup(func() {
			lh.RemoveDomain(name + "-" + string(it.Instance.ID.Short()))
			lh.RemoveVolumes(it.Instance.ID)
		})
		return it, e.waitTask(tn.token, it.Task.ID)
	}
	_, done := create("fromlib")
	require.Equal(t, ovm.TaskSucceeded, done.State, "a VM from the library's template: %+v", done)

	r := e.must(http.StatusOK, "GET", "/v1/storage-pools/"+string(lib.ID), e.admin, nil)
	e.must(http.StatusOK, "PATCH", "/v1/storage-pools/"+string(lib.ID), e.admin, map[string]any{"templateLibrary": false}, "If-Match", r.header.Get("ETag"))
	it, done := create("nolib")
	require.Equal(t, ovm.TaskRolledBack, done.State, "without the library: %+v", done)
	assert.Contains(t, done.Error, image, "the task names the missing template")
	assert.Empty(t, lh.Volumes(t, it.Instance.ID), "nothing left in the disk pool")

	t.Run("a full disk pool fails the create", func(t *testing.T) {
		e.must(http.StatusOK, "POST", "/v1/hosts/"+string(hosts[0])+"/sync", e.admin, nil)
		var pg core.Page[apitypes.StoragePoolInfo]
		e.must(http.StatusOK, "GET", "/v1/storage-pools", e.admin, nil).decode(t, &pg)
		i := slices.IndexFunc(pg.Items, func(p apitypes.StoragePoolInfo) bool { return p.Path == opts["disks"] })
		require.GreaterOrEqual(t, i, 0, "the disk pool is recorded: %+v", pg.Items)
		disks := pg.Items[i]
		r := e.must(http.StatusOK, "GET", "/v1/storage-pools/"+string(disks.ID), e.admin, nil)
		e.must(http.StatusOK, "PATCH", "/v1/storage-pools/"+string(disks.ID), e.admin, map[string]any{"capacityBytes": ovm.MiB}, "If-Match", r.header.Get("ETag"))
		var before ovm.VDC
		e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc), tn.token, nil).decode(t, &before)

		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "nofit",
			"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20,
				"image": map[string]string{"format": "qcow2", "name": filepath.Base(template)}}}).decode(t, &it)
		t.Cleanup(func() {
			lh.RemoveDomain("nofit-" + string(it.Instance.ID.Short()))
			lh.RemoveVolumes(it.Instance.ID)
		})
		done := e.waitTask(tn.token, it.Task.ID)
		require.Equal(t, ovm.TaskRolledBack, done.State, "%+v", done)
		assert.Contains(t, done.Error, "the storage pool has no room")
		assert.NotContains(t, done.Error, "free", "a tenant does not read the pool's room")
		assert.Empty(t, lh.Volumes(t, it.Instance.ID), "the boot disk is removed")
		var after ovm.VDC
		e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc), tn.token, nil).decode(t, &after)
		assert.Equal(t, before.Usage.Disk, after.Usage.Disk, "the quota is given back")
		assert.Zero(t, e.pool(disks.ID).Allocated)
	})
}
