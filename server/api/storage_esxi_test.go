package api

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/internal/esxisim"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// vmDisks returns the files of a simulated VM's disks, by the host's word.
func vmDisks(t *testing.T, sim *esxisim.Host, name string) []string {
	t.Helper()
	vm, ok := sim.VMs(t)[name]
	require.True(t, ok, "VM %s on the host", name)
	var m mo.VirtualMachine
	require.NoError(t, property.DefaultCollector(sim.Client).RetrieveOne(context.Background(), vm.Reference(), []string{"config.hardware.device"}, &m))
	var out []string
	for _, dev := range m.Config.Hardware.Device {
		if d, ok := dev.(*types.VirtualDisk); ok {
			if b, ok := d.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
				out = append(out, b.GetVirtualDeviceFileBackingInfo().FileName)
			}
		}
	}
	return out
}

// TestStorageESXi runs storage pools and volumes through the API on two
// simulated ESXi hosts: a datastore found by sync and adopted when a volume
// is made in it, an NFS datastore registered on both hosts as one shared
// pool (the simulator serves the export from a directory both see; no NFS
// is mounted), and a volume of it hot-added to a running VM and detached.
func TestStorageESXi(t *testing.T) {
	sims := []*esxisim.Host{esxisim.Start(t, esxiUser, esxiPassword), esxisim.Start(t, esxiUser, esxiPassword)}
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	var hosts []ovm.ID
	for i, sim := range sims {
		var h ovm.Host
		e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, esxiHostBody("esx"+string(rune('1'+i)), sim.Endpoint(), pl.pool,
			map[string]string{"username": esxiUser, "password": esxiPassword, "thumbprint": sim.Thumbprint}, nil)).decode(t, &h)
		hosts = append(hosts, h.ID)
	}
	tn := e.newTenant("acme", pl.pool, quota)

	// A datastore made beside OVM.
	ctx := context.Background()
	hs, err := find.NewFinder(sims[0].Client).DefaultHostSystem(ctx)
	require.NoError(t, err)
	dsSys, err := hs.ConfigManager().DatastoreSystem(ctx)
	require.NoError(t, err)
	besideDir := filepath.Join(t.TempDir(), "beside")
	require.NoError(t, os.MkdirAll(besideDir, 0o755))
	_, err = dsSys.CreateLocalDatastore(ctx, "beside", besideDir)
	require.NoError(t, err)

	var local, simDS apitypes.StoragePoolInfo
	t.Run("sync finds the datastores", func(t *testing.T) {
		e.must(http.StatusOK, "POST", "/v1/hosts/"+string(hosts[0])+"/sync", e.admin, nil)
		var pg core.Page[apitypes.StoragePoolInfo]
		e.must(http.StatusOK, "GET", "/v1/storage-pools", e.admin, nil).decode(t, &pg)
		for _, p := range pg.Items {
			assert.True(t, p.Discovered)
			assert.Equal(t, []ovm.ID{hosts[0]}, p.HostIDs, "only host 1 was synced")
			switch p.Name {
			case "esx1-beside":
				local = p
			case "esx1-localds-0":
				simDS = p
			}
		}
		require.NotEmpty(t, local.ID, "the datastore made beside OVM is recorded: %+v", pg.Items)
		require.NotEmpty(t, simDS.ID, "the simulator's datastore is recorded: %+v", pg.Items)
		assert.Equal(t, ovm.StorageLocal, local.Kind)
		assert.Positive(t, local.Capacity, "the datastore's capacity")
		assert.Empty(t, local.Hosts[0].NativeID, "not an OVM pool on the host yet")
	})

	t.Run("a datastore whose name OVM cannot adopt", func(t *testing.T) {
		r := e.do("POST", "/v1/volumes", tn.token, map[string]any{"name": "nope", "sizeBytes": 64 * ovm.MiB, "storagePoolId": simDS.ID})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "got %s", r)
		p := problemOf(t, r)
		assert.Contains(t, fieldLocations(p), "body.storagePoolId")
		assert.Contains(t, fieldMessages(p), "cannot adopt")
	})

	t.Run("a volume in a discovered datastore adopts it", func(t *testing.T) {
		vt, task := e.createVolume(tn.token, map[string]any{"name": "onlocal", "sizeBytes": 64 * ovm.MiB, "storagePoolId": local.ID})
		require.Equal(t, ovm.TaskSucceeded, task.State, "%+v", task)
		p := e.pool(local.ID)
		assert.Equal(t, string(local.ID), p.Hosts[0].NativeID, "the datastore carries the pool's mark now")
		assert.Equal(t, 64*ovm.MiB, p.Allocated)
		var del core.VolumeTask
		e.must(http.StatusAccepted, "DELETE", "/v1/volumes/"+string(vt.Volume.ID), tn.token, nil).decode(t, &del)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, del.Task.ID).State)
	})

	t.Run("shared path on ESXi is an NFS datastore", func(t *testing.T) {
		r := e.do("POST", "/v1/storage-pools", e.admin, map[string]any{"name": "bad", "kind": "shared", "path": "/srv/x", "hostIds": hosts})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "got %s", r)
		assert.Contains(t, fieldMessages(problemOf(t, r)), "no shared pools")
	})

	export := filepath.Join(t.TempDir(), "nas")
	require.NoError(t, os.MkdirAll(export, 0o755))
	nas := e.registerPool(map[string]any{"name": "nas", "kind": "nfs", "server": "127.0.0.1", "export": "/srv/ovm", "path": export, "hostIds": hosts})
	assert.Equal(t, ovm.StorageNFS, nas.Kind)
	for _, h := range nas.Hosts {
		assert.Equal(t, string(nas.ID), h.NativeID, "the NFS datastore of host %s is the pool", h.HostID)
	}

	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "vm1", "start": true,
		"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20, "image": map[string]string{"format": "vmdk", "name": "tiny.vmdk"}},
	}).decode(t, &it)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, it.Task.ID).State)
	var inst ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(it.Instance.ID), e.admin, nil).decode(t, &inst)
	sim := sims[slices.Index(hosts, inst.Status.HostID)]
	hvName := "vm1-" + string(inst.ID.Short())

	vt, task := e.createVolume(tn.token, map[string]any{"name": "shared", "sizeBytes": 128 * ovm.MiB, "storagePoolId": nas.ID})
	require.Equal(t, ovm.TaskSucceeded, task.State, "%+v", task)
	var admin core.VolumeInfo
	e.must(http.StatusOK, "GET", "/v1/volumes/"+string(vt.Volume.ID), e.admin, nil).decode(t, &admin)
	volPath := "/v1/volumes/" + string(vt.Volume.ID)

	t.Run("hot-add to the running VM", func(t *testing.T) {
		var at core.VolumeTask
		e.must(http.StatusAccepted, "POST", volPath+"/attach", tn.token, map[string]any{"instanceId": inst.ID}).decode(t, &at)
		done := e.waitTask(tn.token, at.Task.ID)
		require.Equal(t, ovm.TaskSucceeded, done.State, "%+v", done)
		assert.Contains(t, vmDisks(t, sim, hvName), admin.NativeID, "the VM has the volume's disk")
		assert.Equal(t, types.VirtualMachinePowerStatePoweredOn, sim.VMs(t)[hvName].Runtime.PowerState, "attached while it runs")
		var logs []string
		for _, l := range done.Log {
			logs = append(logs, l.Message)
		}
		assert.Contains(t, strings.Join(logs, "\n"), "live")
	})

	t.Run("detach", func(t *testing.T) {
		var dt core.VolumeTask
		e.must(http.StatusAccepted, "POST", volPath+"/detach", tn.token, nil).decode(t, &dt)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, dt.Task.ID).State)
		assert.NotContains(t, vmDisks(t, sim, hvName), admin.NativeID, "the disk is gone from the VM")
	})

	t.Run("pool with a volume is kept", func(t *testing.T) {
		r := e.do("DELETE", "/v1/storage-pools/"+string(nas.ID), e.admin, nil)
		assert.Equal(t, http.StatusConflict, r.status, "got %s", r)
	})

	var del core.InstanceTask
	e.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(inst.ID), tn.token, nil).decode(t, &del)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, del.Task.ID).State)
	var vdel core.VolumeTask
	e.must(http.StatusAccepted, "DELETE", volPath, tn.token, nil).decode(t, &vdel)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, vdel.Task.ID).State)
	var pt apitypes.StoragePoolTask
	e.must(http.StatusAccepted, "DELETE", "/v1/storage-pools/"+string(nas.ID), e.admin, nil).decode(t, &pt)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(e.admin, pt.Task.ID).State)
	e.must(http.StatusNotFound, "GET", "/v1/storage-pools/"+string(nas.ID), e.admin, nil)
}
