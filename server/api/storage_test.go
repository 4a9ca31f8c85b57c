package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
	"github.com/openovm/ovm/storage"
)

// registerPool registers a storage pool and waits for its task to succeed.
func (e *env) registerPool(body map[string]any) apitypes.StoragePoolInfo {
	e.t.Helper()
	var pt apitypes.StoragePoolTask
	e.must(http.StatusAccepted, "POST", "/v1/storage-pools", e.admin, body).decode(e.t, &pt)
	require.NotNil(e.t, pt.Task, "register-storage-pool answers its task")
	task := e.waitTask(e.admin, pt.Task.ID)
	require.Equal(e.t, ovm.TaskSucceeded, task.State, "storagepool.ensure of %v: %+v", body, task)
	return e.pool(pt.Pool.ID)
}

// pool reads a storage pool as the administrator.
func (e *env) pool(id ovm.ID) apitypes.StoragePoolInfo {
	e.t.Helper()
	var p apitypes.StoragePoolInfo
	e.must(http.StatusOK, "GET", "/v1/storage-pools/"+string(id), e.admin, nil).decode(e.t, &p)
	return p
}

// fakeHost returns the in-memory host behind a registered fake host.
func (e *env) fakeHost(id ovm.ID) *drivers.FakeHost {
	e.t.Helper()
	var h ovm.Host
	e.must(http.StatusOK, "GET", "/v1/hosts/"+string(id), e.admin, nil).decode(e.t, &h)
	fh, err := e.fakes.Host(h.Endpoint)
	require.NoError(e.t, err)
	return fh
}

// createVolume creates a volume and waits for its task; the answer of the
// create and the final task are returned.
func (e *env) createVolume(token string, body map[string]any) (core.VolumeTask, ovm.Task) {
	e.t.Helper()
	var vt core.VolumeTask
	e.must(http.StatusAccepted, "POST", "/v1/volumes", token, body).decode(e.t, &vt)
	return vt, e.waitTask(token, vt.Task.ID)
}

// TestStoragePoolsFake runs the storage pool records through the API on
// fake hosts: registration (and its bad input), sync discovery, volumes in
// a chosen pool counted against its capacity, and tenancy.
func TestStoragePoolsFake(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(2)
	h1, h2 := pl.hosts[0], pl.hosts[1]
	tn := e.newTenant("acme", pl.pool, quota)

	t.Run("tenants see no storage pools", func(t *testing.T) {
		id := ovm.NewID()
		for _, c := range []struct{ method, path string }{
			{"GET", "/v1/storage-pools"}, {"POST", "/v1/storage-pools"}, {"GET", "/v1/storage-pools/" + string(id)},
			{"PATCH", "/v1/storage-pools/" + string(id)}, {"DELETE", "/v1/storage-pools/" + string(id)},
		} {
			var body any
			if c.method == "POST" {
				body = map[string]any{"name": "p", "kind": "local", "path": "/srv/p", "hostIds": []ovm.ID{h1}}
			}
			if c.method == "PATCH" {
				body = map[string]any{"templateLibrary": true}
			}
			r := e.do(c.method, c.path, tn.token, body)
			assert.Equal(t, http.StatusNotFound, r.status, "%s %s as a tenant: got %s", c.method, c.path, r)
			assert.NotContains(t, string(r.body), string(h1), "a tenant's answer names no host")
		}
	})

	t.Run("bad registrations", func(t *testing.T) {
		for _, tt := range []struct {
			name  string
			body  map[string]any
			field string
			text  string
		}{
			{"local on two hosts", map[string]any{"name": "p1", "kind": "local", "path": "/srv/p1", "hostIds": []ovm.ID{h1, h2}}, "body.hostIds", "exactly one host"},
			{"unknown host", map[string]any{"name": "p1", "kind": "local", "path": "/srv/p1", "hostIds": []ovm.ID{ovm.NewID()}}, "body.hostIds[0]", "not found"},
			{"no hosts", map[string]any{"name": "p1", "kind": "shared", "path": "/srv/p1", "hostIds": []ovm.ID{}}, "body.hostIds", "at least one"},
			{"relative path", map[string]any{"name": "p1", "kind": "shared", "path": "srv", "hostIds": []ovm.ID{h1}}, "body.path", "absolute"},
			{"nfs without server", map[string]any{"name": "p1", "kind": "nfs", "export": "/export", "hostIds": []ovm.ID{h1}}, "body.server", "required"},
			{"unknown kind", map[string]any{"name": "p1", "kind": "iscsi", "path": "/srv/p1", "hostIds": []ovm.ID{h1}}, "body.kind", ""},
			{"negative capacity", map[string]any{"name": "p1", "kind": "local", "path": "/srv/p1", "hostIds": []ovm.ID{h1}, "capacityBytes": -1}, "body.capacityBytes", "negative"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := e.do("POST", "/v1/storage-pools", e.admin, tt.body)
				require.Equal(t, http.StatusUnprocessableEntity, r.status, "got %s", r)
				p := problemOf(t, r)
				assert.Contains(t, fieldLocations(p), tt.field, "problem %s", r)
				assert.Contains(t, fieldMessages(p), tt.text)
			})
		}
	})

	local := e.registerPool(map[string]any{"name": "fast", "kind": "local", "path": "/srv/fast", "hostIds": []ovm.ID{h1},
		"capacityBytes": 10 * ovm.GiB})
	shared := e.registerPool(map[string]any{"name": "nas", "kind": "nfs", "server": "nas.example", "export": "/export/ovm",
		"hostIds": []ovm.ID{h1, h2}})

	t.Run("registered pools are on their hosts", func(t *testing.T) {
		assert.Equal(t, ovm.PhaseReady, local.Phase)
		assert.Equal(t, []ovm.ID{h1}, local.HostIDs)
		assert.Equal(t, 10*ovm.GiB, local.DeclaredCapacity)
		assert.Equal(t, 10*ovm.GiB, local.Free)
		assert.Positive(t, local.Capacity, "the capacity the host reports")
		_, err := e.fakeHost(h1).Storage.GetPool(context.Background(), local.ID)
		require.NoError(t, err, "the local pool is on host 1")
		_, err = e.fakeHost(h2).Storage.GetPool(context.Background(), local.ID)
		require.ErrorIs(t, err, ovm.ErrNotFound, "and not on host 2")
		assert.ElementsMatch(t, []ovm.ID{h1, h2}, shared.HostIDs)
		for _, h := range []ovm.ID{h1, h2} {
			p, err := e.fakeHost(h).Storage.GetPool(context.Background(), shared.ID)
			require.NoError(t, err, "the NFS pool is on host %s", h)
			assert.Equal(t, "nas.example", p.Server)
		}
	})

	t.Run("sync discovers a pool made beside OVM", func(t *testing.T) {
		beside := ovm.NewID()
		_, err := e.fakeHost(h2).Storage.CreatePool(context.Background(), storage.PoolSpec{ID: beside, Name: "scratch", Kind: ovm.StorageLocal, Path: "/scratch"})
		require.NoError(t, err)
		e.must(http.StatusOK, "POST", "/v1/hosts/"+string(h2)+"/sync", e.admin, nil)
		var pg core.Page[apitypes.StoragePoolInfo]
		e.must(http.StatusOK, "GET", "/v1/storage-pools", e.admin, nil).decode(t, &pg)
		i := slices.IndexFunc(pg.Items, func(p apitypes.StoragePoolInfo) bool { return p.ID == beside })
		require.GreaterOrEqual(t, i, 0, "the pool made beside OVM is recorded: %+v", pg.Items)
		found := pg.Items[i]
		assert.True(t, found.Discovered)
		assert.Equal(t, []ovm.ID{h2}, found.HostIDs)
		assert.Equal(t, "host2-scratch", found.Name, "a local pool found by sync is named after its host")
		assert.Len(t, pg.Items, 3, "the registered pools are matched by id, not recorded again")

		// Deleting a discovered pool forgets it; the host keeps it and the
		// next sync finds it again.
		r := e.must(http.StatusOK, "DELETE", "/v1/storage-pools/"+string(beside), e.admin, nil)
		var pt apitypes.StoragePoolTask
		r.decode(t, &pt)
		assert.Nil(t, pt.Task)
		_, err = e.fakeHost(h2).Storage.GetPool(context.Background(), beside)
		require.NoError(t, err, "the host keeps a discovered pool")
		e.must(http.StatusOK, "POST", "/v1/hosts/"+string(h2)+"/sync", e.admin, nil)
		e.must(http.StatusOK, "GET", "/v1/storage-pools/"+string(beside), e.admin, nil)
	})

	t.Run("sync keeps a shared path one pool", func(t *testing.T) {
		// Each host has its own pool (its own id) over one shared path.
		ids := []ovm.ID{ovm.NewID(), ovm.NewID()}
		for i, h := range []ovm.ID{h1, h2} {
			_, err := e.fakeHost(h).Storage.CreatePool(context.Background(), storage.PoolSpec{ID: ids[i], Name: "common", Kind: ovm.StorageShared, Path: "/mnt/common"})
			require.NoError(t, err)
			e.must(http.StatusOK, "POST", "/v1/hosts/"+string(h)+"/sync", e.admin, nil)
		}
		var pg core.Page[apitypes.StoragePoolInfo]
		e.must(http.StatusOK, "GET", "/v1/storage-pools", e.admin, nil).decode(t, &pg)
		var found []apitypes.StoragePoolInfo
		for _, p := range pg.Items {
			if p.Path == "/mnt/common" {
				found = append(found, p)
			}
		}
		require.Len(t, found, 1, "one record for the shared path: %+v", pg.Items)
		assert.ElementsMatch(t, []ovm.ID{h1, h2}, found[0].HostIDs)
		assert.ElementsMatch(t, []apitypes.StoragePoolHost{{HostID: h1, NativeID: string(ids[0])}, {HostID: h2, NativeID: string(ids[1])}}, found[0].Hosts,
			"each host's own id of the pool")
		assert.Equal(t, "common", found[0].Name, "a shared pool found by sync keeps its name")
	})

	t.Run("volumes in a chosen pool count against its capacity", func(t *testing.T) {
		vt, task := e.createVolume(tn.token, map[string]any{"name": "data1", "sizeBytes": 4 * ovm.GiB, "storagePoolId": local.ID})
		require.Equal(t, ovm.TaskSucceeded, task.State, "%+v", task)
		assert.Empty(t, vt.Volume.StoragePoolID, "tenants do not see the storage pool")
		got, err := e.fakeHost(h1).Storage.GetVolume(context.Background(), vt.Volume.ID)
		require.NoError(t, err, "the volume is in the local pool of host 1")
		assert.Equal(t, local.ID, got.StoragePoolID)
		p := e.pool(local.ID)
		assert.Equal(t, 4*ovm.GiB, p.Allocated)
		assert.Equal(t, 6*ovm.GiB, p.Free)

		r := e.do("POST", "/v1/volumes", tn.token, map[string]any{"name": "data2", "sizeBytes": 7 * ovm.GiB, "storagePoolId": local.ID})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "over the pool's capacity: got %s", r)
		prob := problemOf(t, r)
		assert.Contains(t, fieldLocations(prob), "body.sizeBytes")
		assert.Contains(t, fieldMessages(prob), "no room for 7GiB")
		assert.NotContains(t, fieldMessages(prob), "free", "a tenant does not read the pool's room")
		r = e.do("POST", "/v1/volumes", e.admin, map[string]any{"vdcId": tn.vdc, "name": "data2", "sizeBytes": 7 * ovm.GiB, "storagePoolId": local.ID})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "got %s", r)
		assert.Contains(t, fieldMessages(problemOf(t, r)), "6GiB free")
		var u apitypes.Usage
		e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc)+"/usage", e.admin, nil).decode(t, &u)
		assert.Equal(t, 4*ovm.GiB, u.Usage.Disk, "the refused volume holds no quota")

		r = e.do("PATCH", "/v1/volumes/"+string(vt.Volume.ID), tn.token, map[string]any{"sizeBytes": 11 * ovm.GiB})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "growing past the pool: got %s", r)
		var grown core.VolumeTask
		e.must(http.StatusAccepted, "PATCH", "/v1/volumes/"+string(vt.Volume.ID), tn.token, map[string]any{"sizeBytes": 5 * ovm.GiB}).decode(t, &grown)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, grown.Task.ID).State)
		assert.Equal(t, 5*ovm.GiB, e.pool(local.ID).Allocated)

		r = e.do("DELETE", "/v1/storage-pools/"+string(local.ID), e.admin, nil)
		require.Equal(t, http.StatusConflict, r.status, "a pool holding a volume: got %s", r)

		var del core.VolumeTask
		e.must(http.StatusAccepted, "DELETE", "/v1/volumes/"+string(vt.Volume.ID), tn.token, nil).decode(t, &del)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, del.Task.ID).State)
		assert.Zero(t, e.pool(local.ID).Allocated, "the delete gives the pool back its room")
	})

	t.Run("a volume in the shared pool", func(t *testing.T) {
		vt, task := e.createVolume(e.admin, map[string]any{"vdcId": tn.vdc, "name": "onnas", "sizeBytes": ovm.GiB, "storagePoolId": shared.ID})
		require.Equal(t, ovm.TaskSucceeded, task.State, "%+v", task)
		assert.Equal(t, shared.ID, vt.Volume.StoragePoolID)
		assert.Equal(t, ovm.GiB, e.pool(shared.ID).Allocated)
		var del core.VolumeTask
		e.must(http.StatusAccepted, "DELETE", "/v1/volumes/"+string(vt.Volume.ID), e.admin, nil).decode(t, &del)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(e.admin, del.Task.ID).State)
	})

	t.Run("bad volume pools", func(t *testing.T) {
		other := e.setupOtherPool(t)
		for _, tt := range []struct {
			name string
			pool any
			text string
		}{
			{"unknown pool", ovm.NewID(), "not found"},
			{"pool on a host the VDC does not place on", other, "no host the VDC places on"},
			{"not an id", "fast", ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := e.do("POST", "/v1/volumes", tn.token, map[string]any{"name": "bad", "sizeBytes": ovm.GiB, "storagePoolId": tt.pool})
				require.Equal(t, http.StatusUnprocessableEntity, r.status, "got %s", r)
				p := problemOf(t, r)
				assert.Contains(t, fieldLocations(p), "body.storagePoolId")
				assert.Contains(t, fieldMessages(p), tt.text)
			})
		}
	})

	t.Run("a registered pool is removed from its hosts", func(t *testing.T) {
		var pt apitypes.StoragePoolTask
		e.must(http.StatusAccepted, "DELETE", "/v1/storage-pools/"+string(shared.ID), e.admin, nil).decode(t, &pt)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(e.admin, pt.Task.ID).State)
		e.must(http.StatusNotFound, "GET", "/v1/storage-pools/"+string(shared.ID), e.admin, nil)
		for _, h := range []ovm.ID{h1, h2} {
			_, err := e.fakeHost(h).Storage.GetPool(context.Background(), shared.ID)
			assert.ErrorIs(t, err, ovm.ErrNotFound, "the pool is gone from host %s", h)
		}
	})

	t.Run("a deleted host leaves its pools", func(t *testing.T) {
		r := e.must(http.StatusOK, "GET", "/v1/hosts/"+string(h2), e.admin, nil)
		e.must(http.StatusNoContent, "DELETE", "/v1/hosts/"+string(h2), e.admin, nil, "If-Match", r.header.Get("ETag"))
		var pg core.Page[apitypes.StoragePoolInfo]
		e.must(http.StatusOK, "GET", "/v1/storage-pools", e.admin, nil).decode(t, &pg)
		for _, p := range pg.Items {
			assert.NotContains(t, p.HostIDs, h2, "pool %s", p.Name)
			assert.NotEqual(t, "host2-scratch", p.Name, "a discovered pool of the deleted host alone is forgotten")
		}
	})
}

// setupOtherPool makes a resource pool with one fake host of its own and
// a local storage pool there; it returns the storage pool's id.
func (e *env) setupOtherPool(t *testing.T) ovm.ID {
	t.Helper()
	var dc ovm.Datacenter
	e.must(http.StatusCreated, "POST", "/v1/datacenters", e.admin, map[string]any{"name": "dc2"}).decode(t, &dc)
	var rp ovm.ResourcePool
	e.must(http.StatusCreated, "POST", "/v1/pools", e.admin, map[string]any{"name": "pool2", "datacenterId": dc.ID}).decode(t, &rp)
	var h ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "elsewhere", "kind": "fake",
		"endpoint": fmt.Sprintf("fake://elsewhere-%s", ovm.NewID().Short()), "poolId": rp.ID,
		"credentials": map[string]string{"username": "root", "password": "secret-pw"}}).decode(t, &h)
	return e.registerPool(map[string]any{"name": "elsewhere-disks", "kind": "local", "path": "/srv/disks", "hostIds": []ovm.ID{h.ID}}).ID
}

// TestVolumeAttachFake attaches volumes through the API on fake hosts,
// whose storage attaches to stopped instances only (cold attach): the
// attach to a stopped VM, the refusals (attached already, container,
// another host), and a detach refused while the VM runs.
func TestVolumeAttachFake(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(2)
	tn := e.newTenant("acme", pl.pool, quota)
	newVM := func(name string) ovm.Instance {
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": name,
			"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 256 << 20,
				"image": map[string]string{"format": "qcow2", "name": "tiny"}}}).decode(t, &it)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, it.Task.ID).State)
		var inst ovm.Instance
		e.must(http.StatusOK, "GET", "/v1/instances/"+string(it.Instance.ID), e.admin, nil).decode(t, &inst)
		return inst
	}
	vm := newVM("vm1")
	host := vm.Status.HostID
	other := pl.hosts[0]
	if other == host {
		other = pl.hosts[1]
	}
	here := e.registerPool(map[string]any{"name": "here", "kind": "local", "path": "/srv/here", "hostIds": []ovm.ID{host}})
	there := e.registerPool(map[string]any{"name": "there", "kind": "local", "path": "/srv/there", "hostIds": []ovm.ID{other}})
	vt, task := e.createVolume(tn.token, map[string]any{"name": "data", "sizeBytes": ovm.GiB, "storagePoolId": here.ID})
	require.Equal(t, ovm.TaskSucceeded, task.State)
	vol := vt.Volume.ID
	far, task := e.createVolume(tn.token, map[string]any{"name": "far", "sizeBytes": ovm.GiB, "storagePoolId": there.ID})
	require.Equal(t, ovm.TaskSucceeded, task.State)
	volPath := "/v1/volumes/" + string(vol)

	t.Run("a volume in another host's pool", func(t *testing.T) {
		r := e.do("POST", "/v1/volumes/"+string(far.Volume.ID)+"/attach", tn.token, map[string]any{"instanceId": vm.ID})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "got %s", r)
		p := problemOf(t, r)
		assert.Contains(t, fieldLocations(p), "body.instanceId")
		assert.Contains(t, fieldMessages(p), "does not reach the volume's storage pool")
	})

	t.Run("a container", func(t *testing.T) {
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "c1", "spec": container()}).decode(t, &it)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, it.Task.ID).State)
		r := e.do("POST", volPath+"/attach", tn.token, map[string]any{"instanceId": it.Instance.ID})
		require.Equal(t, http.StatusNotImplemented, r.status, "got %s", r)
		assert.Contains(t, problemOf(t, r).Detail, "cannot add a mount to an existing (let alone a running) container")
	})

	t.Run("a container takes volumes at create", func(t *testing.T) {
		cv, task := e.createVolume(tn.token, map[string]any{"name": "cdata", "sizeBytes": ovm.GiB, "storagePoolId": here.ID})
		require.Equal(t, ovm.TaskSucceeded, task.State)
		spec := container()
		spec["disks"] = []map[string]any{{"volumeId": cv.Volume.ID, "mountPath": "/data"}}
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "c2", "spec": spec}).decode(t, &it)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, it.Task.ID).State)
		var inst ovm.Instance
		e.must(http.StatusOK, "GET", "/v1/instances/"+string(it.Instance.ID), e.admin, nil).decode(t, &inst)
		assert.Equal(t, host, inst.Status.HostID, "placed on the host that reaches the volume's local pool")
		var v core.VolumeInfo
		e.must(http.StatusOK, "GET", "/v1/volumes/"+string(cv.Volume.ID), tn.token, nil).decode(t, &v)
		assert.Equal(t, it.Instance.ID, v.AttachedTo)

		r := e.do("POST", "/v1/instances", tn.token, map[string]any{"name": "c3", "spec": spec})
		assert.Equal(t, http.StatusConflict, r.status, "a volume attached already: got %s", r)
		vmSpec := map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 256 << 20,
			"image": map[string]string{"format": "qcow2", "name": "tiny"}, "disks": []map[string]any{{"volumeId": cv.Volume.ID}}}
		r = e.do("POST", "/v1/instances", tn.token, map[string]any{"name": "vm-vol", "spec": vmSpec})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "a VM given a volume at create: got %s", r)
		assert.Contains(t, fieldLocations(problemOf(t, r)), "body.spec.disks[0].volumeId")
		spec["disks"] = []map[string]any{{"volumeId": ovm.NewID(), "mountPath": "/data"}}
		r = e.do("POST", "/v1/instances", tn.token, map[string]any{"name": "c4", "spec": spec})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "an unknown volume: got %s", r)
		assert.Contains(t, fieldLocations(problemOf(t, r)), "body.spec.disks[0].volumeId")
	})

	t.Run("unknown instance", func(t *testing.T) {
		r := e.do("POST", volPath+"/attach", tn.token, map[string]any{"instanceId": ovm.NewID()})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "got %s", r)
		assert.Contains(t, fieldLocations(problemOf(t, r)), "body.instanceId")
	})

	t.Run("attach to the stopped VM", func(t *testing.T) {
		var at core.VolumeTask
		e.must(http.StatusAccepted, "POST", volPath+"/attach", tn.token, map[string]any{"instanceId": vm.ID}).decode(t, &at)
		assert.Equal(t, ovm.PhaseAttaching, at.Volume.Phase)
		done := e.waitTask(tn.token, at.Task.ID)
		require.Equal(t, ovm.TaskSucceeded, done.State, "%+v", done)
		var v core.VolumeInfo
		e.must(http.StatusOK, "GET", volPath, tn.token, nil).decode(t, &v)
		assert.Equal(t, vm.ID, v.AttachedTo)
		assert.Equal(t, ovm.PhaseReady, v.Phase)
		got, err := e.fakeHost(host).Storage.GetVolume(context.Background(), vol)
		require.NoError(t, err)
		assert.Equal(t, vm.ID, got.AttachedTo, "the host attached it")

		r := e.do("POST", volPath+"/attach", tn.token, map[string]any{"instanceId": vm.ID})
		assert.Equal(t, http.StatusConflict, r.status, "attached already: got %s", r)
		r = e.do("DELETE", volPath, tn.token, nil)
		assert.Equal(t, http.StatusConflict, r.status, "delete while attached: got %s", r)
	})

	t.Run("no detach from the running VM on a cold-attach host", func(t *testing.T) {
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances/"+string(vm.ID)+"/start", tn.token, nil).decode(t, &it)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, it.Task.ID).State)
		var dt core.VolumeTask
		e.must(http.StatusAccepted, "POST", volPath+"/detach", tn.token, nil).decode(t, &dt)
		assert.Equal(t, ovm.TaskRolledBack, e.waitTask(tn.token, dt.Task.ID).State)
		var v core.VolumeInfo
		e.must(http.StatusOK, "GET", volPath, tn.token, nil).decode(t, &v)
		assert.Equal(t, vm.ID, v.AttachedTo, "still attached")
		assert.Contains(t, v.Message, "stop the instance first")
		assert.NotContains(t, v.Message, string(host), "a tenant reads no host")

		e.must(http.StatusAccepted, "POST", "/v1/instances/"+string(vm.ID)+"/stop", tn.token, nil).decode(t, &it)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, it.Task.ID).State)
		e.must(http.StatusAccepted, "POST", volPath+"/detach", tn.token, nil).decode(t, &dt)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, dt.Task.ID).State)
		var after core.VolumeInfo
		e.must(http.StatusOK, "GET", volPath, tn.token, nil).decode(t, &after)
		assert.Empty(t, after.AttachedTo)
		r := e.do("POST", volPath+"/detach", tn.token, nil)
		assert.Equal(t, http.StatusConflict, r.status, "detach of a detached volume: got %s", r)
	})
}
