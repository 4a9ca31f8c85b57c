package api

import (
	"context"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vmdk"

	"github.com/openovm/ovm/internal/esxisim"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// putTemplate makes a thin VMDK of size at path ("[ds] p") on the
// simulated host, as an administrator fills a template library.
func putTemplate(t *testing.T, sim *esxisim.Host, path string, size ovm.Bytes) {
	t.Helper()
	ctx := context.Background()
	dc, err := find.NewFinder(sim.Client).DefaultDatacenter(ctx)
	require.NoError(t, err)
	if dir := path[:max(strings.LastIndex(path, "/"), 0)]; dir != "" {
		require.NoError(t, object.NewFileManager(sim.Client).MakeDirectory(ctx, dir, dc, true))
	}
	task, err := object.NewVirtualDiskManager(sim.Client).CreateVirtualDisk(ctx, path, dc,
		&types.FileBackedVirtualDiskSpec{VirtualDiskSpec: types.VirtualDiskSpec{DiskType: "thin", AdapterType: "lsiLogic"}, CapacityKb: int64(size / ovm.KiB)})
	require.NoError(t, err)
	require.NoError(t, task.Wait(ctx), "create the template %s", path)
	t.Cleanup(func() {
		task, err := object.NewVirtualDiskManager(sim.Client).DeleteVirtualDisk(ctx, path, dc)
		if assert.NoError(t, err, "delete the template %s", path) {
			assert.NoError(t, task.Wait(ctx), "delete the template %s", path)
		}
	})
}

// diskSize reads the capacity of the VMDK at path ("[ds] p") from its
// descriptor on the simulated host.
func diskSize(t *testing.T, sim *esxisim.Host, path string) ovm.Bytes {
	t.Helper()
	ctx := context.Background()
	ds, p, ok := strings.Cut(strings.TrimPrefix(path, "["), "] ")
	require.True(t, ok, "a datastore path: %s", path)
	d, err := find.NewFinder(sim.Client).Datastore(ctx, ds)
	require.NoError(t, err)
	rc, _, err := d.Download(ctx, p, &soap.DefaultDownload)
	require.NoError(t, err)
	defer func() { _ = rc.Close() }()
	desc, err := vmdk.ParseDescriptor(rc)
	require.NoError(t, err)
	return ovm.Bytes(desc.Capacity())
}

// TestTemplateLibraryESXi: a storage pool flagged as template library on
// a simulated ESXi host (a local or NFS datastore registered as a library
// pool, or the host's own datastore found by sync and flagged) is where its
// VMs' boot disks are copied from; with no library reaching the host, they
// come from its imageLibrary option again. Each template's size tells
// which one a boot disk was copied from.
func TestTemplateLibraryESXi(t *testing.T) {
	const (
		image      = "tiny.vmdk"
		configured = 32 * ovm.MiB
	)
	sim := esxisim.Start(t, esxiUser, esxiPassword)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	var h ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, esxiHostBody("esx1", sim.Endpoint(), pl.pool,
		map[string]string{"username": esxiUser, "password": esxiPassword, "thumbprint": sim.Thumbprint},
		map[string]string{"imageLibrary": "[LocalDS_0] templates", "datastore": "LocalDS_0"})).decode(t, &h)
	putTemplate(t, sim, "[LocalDS_0] templates/"+image, configured)
	tn := e.newTenant("acme", pl.pool, quota)

	// create makes a VM of image and returns the boot disk the host gave it.
	create := func(t *testing.T, name string) string {
		t.Helper()
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": name,
			"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20,
				"image": map[string]string{"format": "vmdk", "name": image}}}).decode(t, &it)
		hv := name + "-" + string(it.Instance.ID.Short())
		t.Cleanup(func() {
			var del core.InstanceTask
			e.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(it.Instance.ID), tn.token, nil).decode(t, &del)
			assert.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, del.Task.ID).State, "the VM is deleted")
		})
		done := e.waitTask(tn.token, it.Task.ID)
		require.Equal(t, ovm.TaskSucceeded, done.State, "%+v", done)
		disks := vmDisks(t, sim, hv)
		require.NotEmpty(t, disks, "the VM has a boot disk")
		return disks[0]
	}

	// register registers a pool flagged templateLibrary on the host,
	// deleted when t ends.
	register := func(body map[string]any) func(t *testing.T) apitypes.StoragePoolInfo {
		return func(t *testing.T) apitypes.StoragePoolInfo {
			dir := filepath.Join(t.TempDir(), body["name"].(string))
			require.NoError(t, os.MkdirAll(dir, 0o755))
			full := map[string]any{"path": dir, "hostIds": []ovm.ID{h.ID}, "templateLibrary": true}
			maps.Copy(full, body)
			lib := e.registerPool(full)
			t.Cleanup(func() {
				var pt apitypes.StoragePoolTask
				e.must(http.StatusAccepted, "DELETE", "/v1/storage-pools/"+string(lib.ID), e.admin, nil).decode(t, &pt)
				assert.Equal(t, ovm.TaskSucceeded, e.waitTask(e.admin, pt.Task.ID).State, "the pool is deleted")
			})
			return lib
		}
	}
	// discovered flags the pool sync records for the simulator's own
	// datastore.
	discovered := func(t *testing.T) apitypes.StoragePoolInfo {
		e.must(http.StatusOK, "POST", "/v1/hosts/"+string(h.ID)+"/sync", e.admin, nil)
		var pg core.Page[apitypes.StoragePoolInfo]
		e.must(http.StatusOK, "GET", "/v1/storage-pools", e.admin, nil).decode(t, &pg)
		i := slices.IndexFunc(pg.Items, func(p apitypes.StoragePoolInfo) bool { return p.Name == "esx1-localds-0" })
		require.GreaterOrEqual(t, i, 0, "the datastore is recorded: %+v", pg.Items)
		r := e.must(http.StatusOK, "GET", "/v1/storage-pools/"+string(pg.Items[i].ID), e.admin, nil)
		var pt apitypes.StoragePoolTask
		e.must(http.StatusOK, "PATCH", "/v1/storage-pools/"+string(pg.Items[i].ID), e.admin, map[string]any{"templateLibrary": true},
			"If-Match", r.header.Get("ETag")).decode(t, &pt)
		return pt.Pool
	}
	cases := []struct {
		name string
		pool func(t *testing.T) apitypes.StoragePoolInfo
		ds   string // the datastore the pool is on the host
		size ovm.Bytes
	}{
		{name: "local", pool: register(map[string]any{"name": "lib-local", "kind": "local"}), ds: "lib-local", size: 48 * ovm.MiB},
		{name: "nfs", pool: register(map[string]any{"name": "lib-nfs", "kind": "nfs", "server": "127.0.0.1", "export": "/srv/templates"}),
			ds: "lib-nfs", size: 40 * ovm.MiB},
		{name: "discovered", pool: discovered, ds: "LocalDS_0", size: 56 * ovm.MiB},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lib := tc.pool(t)
			require.True(t, lib.TemplateLibrary)
			putTemplate(t, sim, "["+tc.ds+"] "+image, tc.size)

			boot := create(t, "from-"+tc.name)
			assert.True(t, strings.HasPrefix(boot, "[LocalDS_0] "), "the boot disk is a copy on the host's datastore: %s", boot)
			assert.Equal(t, tc.size, diskSize(t, sim, boot), "the boot disk is a copy of the library's template")

			r := e.must(http.StatusOK, "GET", "/v1/storage-pools/"+string(lib.ID), e.admin, nil)
			e.must(http.StatusOK, "PATCH", "/v1/storage-pools/"+string(lib.ID), e.admin, map[string]any{"templateLibrary": false}, "If-Match", r.header.Get("ETag"))
			boot = create(t, "nolib-"+tc.name)
			assert.Equal(t, configured, diskSize(t, sim, boot), "without the library, the host's imageLibrary template")
		})
	}
}
