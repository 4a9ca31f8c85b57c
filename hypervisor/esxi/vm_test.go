package esxi

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
)

// TestSnapshots runs the snapshot facet in an order the simulator survives
// (see the exception in TestHypervisorConformance): two snapshots, revert to
// the first, delete the second (not the current one), then unknown ids.
func TestSnapshots(t *testing.T) {
	h := newHost(t)
	h.makeTemplate(t, h.admin(t))
	d := h.dial(t)
	ctx := t.Context()
	spec := vmSpec("snaps")
	_, err := d.Create(ctx, spec)
	require.NoError(t, err, "Create")
	ref := hypervisor.ByID(spec.ID)

	s1, err := d.CreateSnapshot(ctx, ref, "s1")
	require.NoError(t, err, "CreateSnapshot s1")
	s2, err := d.CreateSnapshot(ctx, ref, "s2")
	require.NoError(t, err, "CreateSnapshot s2")
	for _, s := range []ovm.Snapshot{s1, s2} {
		assert.True(t, s.ID.Valid(), "snapshot %s: got id %q, want an OVM id", s.Name, s.ID)
		assert.Equal(t, spec.ID, s.Of, "snapshot %s: Of: got %q, want %q", s.Name, s.Of, spec.ID)
	}
	listed := func() map[ovm.ID]string {
		t.Helper()
		list, err := d.ListSnapshots(ctx, ref)
		require.NoError(t, err, "ListSnapshots")
		out := map[ovm.ID]string{}
		for _, s := range list {
			out[s.ID] = s.Name
		}
		return out
	}
	assert.Equal(t, map[ovm.ID]string{s1.ID: "s1", s2.ID: "s2"}, listed(), "ListSnapshots: got the first, want the second")

	require.NoError(t, d.RevertSnapshot(ctx, ref, s1.ID), "RevertSnapshot s1")
	require.NoError(t, d.DeleteSnapshot(ctx, ref, s2.ID), "DeleteSnapshot s2")
	assert.Equal(t, map[ovm.ID]string{s1.ID: "s1"}, listed(), "ListSnapshots after the delete: got the first, want the second")
	assert.ErrorIs(t, d.DeleteSnapshot(ctx, ref, s2.ID), ovm.ErrNotFound, "DeleteSnapshot again")
	assert.ErrorIs(t, d.RevertSnapshot(ctx, ref, ovm.NewID()), ovm.ErrNotFound, "RevertSnapshot of an unknown snapshot")
	_, err = d.CreateSnapshot(ctx, hypervisor.ByID(ovm.NewID()), "s3")
	assert.ErrorIs(t, err, ovm.ErrNotFound, "CreateSnapshot of an unknown instance")
	_, err = d.CreateSnapshot(ctx, ref, "Bad Name")
	assert.ErrorIs(t, err, ovm.ErrInvalid, "CreateSnapshot with a bad name")

	require.NoError(t, d.Delete(ctx, ref), "Delete with a snapshot left")
	_, err = d.Get(ctx, ref)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "Get after the delete")
}

// TestCreateFromTemplate: the boot disk is a copy of the library's template
// (CloneVM_Task needs vCenter), grown to the spec's size; a template that is
// not in the library is not found, and leaves nothing behind.
func TestCreateFromTemplate(t *testing.T) {
	h := newHost(t)
	admin := h.admin(t)
	h.makeTemplate(t, admin)
	d := h.dial(t)
	ctx := t.Context()
	spec := vmSpec("tpl")
	made, err := d.Create(ctx, spec)
	require.NoError(t, err, "Create from %s", template)
	t.Cleanup(func() { _ = d.Delete(context.Background(), hypervisor.ByID(spec.ID)) })
	size, err := d.c.diskCapacity(ctx, "[LocalDS_0] tpl/tpl.vmdk")
	require.NoError(t, err, "read the boot disk")
	// The template is 32MiB; the spec's first disk asks for 64MiB.
	assert.Equal(t, int64(64*ovm.MiB), size, "boot disk capacity: got %d, want %d", size, 64*ovm.MiB)
	assert.Equal(t, ovm.Bytes(size), made.Disk, "the disks Create reports it made: the grown copy of the template")
	bare := vmSpec("tpl2")
	bare.Spec.Disks = nil
	made, err = d.Create(ctx, bare)
	require.NoError(t, err, "Create from %s without disks", template)
	t.Cleanup(func() { _ = d.Delete(context.Background(), hypervisor.ByID(bare.ID)) })
	assert.Equal(t, 32*ovm.MiB, made.Disk, "the disks Create reports it made: the copy of the template")
	tsize, err := d.c.diskCapacity(ctx, "[LocalDS_0] "+templateDir+"/"+template)
	require.NoError(t, err, "read the template")
	assert.Equal(t, int64(32*ovm.MiB), tsize, "template capacity after the copy: got %d, want it untouched at %d", tsize, 32*ovm.MiB)

	missing := vmSpec("nope")
	missing.Spec.Image.Name = "missing.vmdk"
	before := vmNames(t, admin)
	_, err = d.Create(ctx, missing)
	require.ErrorIs(t, err, ovm.ErrNotFound, "Create from a missing template: got %v, want not found", err)
	assert.Contains(t, err.Error(), "missing.vmdk", "Create from a missing template: got %q, want the image named", err)
	assert.ElementsMatch(t, before, vmNames(t, admin), "vms after the refused create")
	assert.False(t, dsFileExists(t, admin, h.ds, "nope"), "directory of the refused vm: got it, want none")
}

// TestImportInPlace: the simulator's own VMs are listed unmanaged and can be
// driven by their native id, as an import in place needs.
func TestImportInPlace(t *testing.T) {
	h := newHost(t)
	d := h.dial(t)
	ctx := t.Context()
	list, err := d.List(ctx)
	require.NoError(t, err, "List")
	var found []hypervisor.Instance
	for _, i := range list {
		if i.Name == "ha-host_VM0" || i.Name == "ha-host_VM1" {
			found = append(found, i)
		}
	}
	require.Len(t, found, 2, "List: got %v, want the host's two own vms", list)
	vm := found[0]
	assert.False(t, vm.Managed(), "%s: Managed: got true, want false", vm.Name)
	ref := hypervisor.ByNative(vm.NativeID)
	require.NoError(t, d.Stop(ctx, ref, hypervisor.StopOptions{Force: true}), "Stop %s by native id", vm.Name)
	require.NoError(t, d.Start(ctx, ref), "Start %s by native id", vm.Name)
	got, err := d.Get(ctx, ref)
	require.NoError(t, err, "Get %s", vm.Name)
	assert.Equal(t, ovm.PowerRunning, got.Power, "%s after Start: got %q, want running", vm.Name, got.Power)
}

// TestLiveResize: a running VM made by OVM (hot-add on) grows live; it
// shrinks only when stopped.
func TestLiveResize(t *testing.T) {
	h := newHost(t)
	h.makeTemplate(t, h.admin(t))
	d := h.dial(t)
	ctx := t.Context()
	spec := vmSpec("grow")
	_, err := d.Create(ctx, spec)
	require.NoError(t, err, "Create")
	ref := hypervisor.ByID(spec.ID)
	require.NoError(t, d.Start(ctx, ref), "Start")
	t.Cleanup(func() {
		_ = d.Stop(context.Background(), ref, hypervisor.StopOptions{Force: true})
		_ = d.Delete(context.Background(), ref)
	})
	res, err := d.Reconfigure(ctx, ref, hypervisor.Resize{CPU: ovm.CPUs(2), Memory: 128 * ovm.MiB})
	require.NoError(t, err, "grow a running vm")
	assert.True(t, res.Live, "grow a running vm with hot-add: Live: got false, want true")
	got, err := d.Get(ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, [2]string{"2", "128MiB"}, [2]string{got.CPU.String(), got.Memory.String()}, "size after the live grow")
	_, err = d.Reconfigure(ctx, ref, hypervisor.Resize{Memory: 64 * ovm.MiB})
	assert.ErrorIs(t, err, ovm.ErrUnsupported, "shrink a running vm: got %v, want unsupported", err)
}

// TestNFSPool makes an NFS datastore (CreateNasDatastore) as a pool. The
// simulator mounts nothing: it serves the export from the local path.
func TestNFSPool(t *testing.T) {
	h := newHost(t)
	s := h.dial(t).Storage()
	ctx := t.Context()
	mount := filepath.Join(t.TempDir(), "nfs1")
	require.NoError(t, os.MkdirAll(mount, 0o755))
	spec := storage.PoolSpec{ID: ovm.NewID(), Name: "nfs1", Kind: ovm.StorageNFS, Server: "127.0.0.1", Export: "/srv/ovm", Path: mount}
	p, err := s.CreatePool(ctx, spec)
	require.NoError(t, err, "CreatePool nfs")
	assert.Equal(t, [4]string{"nfs", "nfs1", "127.0.0.1", "/srv/ovm"}, [4]string{string(p.Kind), p.Name, p.Server, p.Export}, "nfs pool shape")
	assert.True(t, p.Kind.Shared(), "nfs pool: Shared: got false, want true")
	v, err := s.CreateVolume(ctx, storage.VolumeSpec{ID: ovm.NewID(), Name: "d1", PoolID: p.ID, Size: 64 * ovm.MiB})
	require.NoError(t, err, "CreateVolume on nfs")
	assert.ErrorIs(t, s.DeletePool(ctx, p.ID), ovm.ErrConflict, "DeletePool with a volume")
	require.NoError(t, s.DeleteVolume(ctx, v.ID), "DeleteVolume")
	require.NoError(t, s.DeletePool(ctx, p.ID), "DeletePool")
	_, err = s.GetPool(ctx, p.ID)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "GetPool after delete")
}

// TestDeleteKeepsVolumes: a VM made with an OVM volume as a disk is deleted
// without it; the VM's own disk goes with the VM.
func TestDeleteKeepsVolumes(t *testing.T) {
	h := newHost(t)
	admin := h.admin(t)
	h.makeTemplate(t, admin)
	d := h.dial(t)
	s := d.Storage()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "vols")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	p, err := s.CreatePool(ctx, storage.PoolSpec{ID: ovm.NewID(), Name: "vols", Kind: ovm.StorageLocal, Path: dir})
	require.NoError(t, err, "CreatePool")
	t.Cleanup(func() { _ = s.DeletePool(context.Background(), p.ID) })
	v, err := s.CreateVolume(ctx, storage.VolumeSpec{ID: ovm.NewID(), Name: "data", PoolID: p.ID, Size: 64 * ovm.MiB})
	require.NoError(t, err, "CreateVolume")
	t.Cleanup(func() { _ = s.DeleteVolume(context.Background(), v.ID) })

	spec := vmSpec("withvol")
	spec.Disks = []hypervisor.DiskAttachment{
		{Volume: ovm.Volume{Size: 64 * ovm.MiB}, Boot: true},
		{Volume: v, Pool: p},
	}
	_, err = d.Create(ctx, spec)
	require.NoError(t, err, "Create with the volume attached")
	require.True(t, dsFileExists(t, admin, h.ds, "withvol/withvol.vmdk"), "the vm's own disk: got none, want it made")
	require.NoError(t, d.Delete(ctx, hypervisor.ByID(spec.ID)), "Delete")
	got, err := s.GetVolume(ctx, v.ID)
	require.NoError(t, err, "GetVolume after the vm's delete: got an error, want the volume kept")
	assert.Equal(t, v.Size, got.Size, "volume size after the vm's delete: got %s, want %s", got.Size, v.Size)
	assert.False(t, dsFileExists(t, admin, h.ds, "withvol"), "the vm's directory after delete: got it, want it gone")
}
