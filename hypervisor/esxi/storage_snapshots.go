package esxi

import (
	"cmp"
	"context"
	"path"
	"slices"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
)

var _ storage.Snapshotter = (*Storage)(nil)

// A volume snapshot on ESXi is a full copy of the volume's VMDK
// (VirtualDiskManager.CopyVirtualDisk, thin) in the volume's directory:
// ovm-volumes/<volume id>/snapshots/<snapshot id>_<name>.vmdk, deleted with
// the volume. A standalone host has no disk-level snapshots (First Class
// Disk snapshots need vCenter's VStorageObjectManager), and a VM snapshot
// takes every disk of the VM. The copy reads the disk while no running VM
// locks it: a snapshot is taken while the volume is detached or its VM is
// powered off, and a revert (a copy of the snapshot moved over the volume's
// file) only while it is detached.
const (
	snapshotsDir     = "snapshots"
	revertFilePrefix = "revert-" // a revert's copy, before it replaces the volume
)

// volumeSnap is a snapshot of a volume and its file.
type volumeSnap struct {
	file string // "[ds] ovm-volumes/<id>/snapshots/<snap>_<name>.vmdk"
	snap ovm.Snapshot
}

// snapshotDir is the datastore directory of volume v's snapshots.
func snapshotDir(v ovm.Volume) string {
	return v.NativeID[:strings.LastIndex(v.NativeID, "/")] + "/" + snapshotsDir
}

// volumeSnapshots lists the snapshots of volume v on datastore d.
func (c *conn) volumeSnapshots(ctx context.Context, d dsInfo, v ovm.Volume) ([]volumeSnap, error) {
	dir := snapshotDir(v)
	res, err := c.search(ctx, d.ds.Browser, dir, false, &types.VmDiskFileQuery{}, "*.vmdk")
	if err != nil {
		if kindOf(err) == ovm.KindNotFound {
			return nil, nil
		}
		return nil, c.wrap(err, "list the snapshots of volume %s", v.ID)
	}
	var out []volumeSnap
	for _, r := range res {
		for _, f := range r.File {
			fi := f.GetFileInfo()
			base := strings.TrimSuffix(fi.Path, ".vmdk")
			if strings.HasSuffix(base, "-flat") || strings.HasPrefix(base, revertFilePrefix) {
				continue
			}
			id, name, ok := strings.Cut(base, "_")
			if !ok || !ovm.ID(id).Valid() {
				continue
			}
			s := ovm.Snapshot{ID: ovm.ID(id), Name: name, Of: v.ID}
			if fi.Modification != nil {
				s.CreatedAt = *fi.Modification
			}
			out = append(out, volumeSnap{file: dir + "/" + fi.Path, snap: s})
		}
	}
	slices.SortFunc(out, func(a, b volumeSnap) int { return cmp.Compare(a.snap.ID, b.snap.ID) })
	return out, nil
}

// findVolumeSnapshot returns volume volumeID, its datastore and its
// snapshot id.
func (c *conn) findVolumeSnapshot(ctx context.Context, volumeID, id ovm.ID) (ovm.Volume, volumeSnap, error) {
	v, d, err := c.findVolume(ctx, volumeID)
	if err != nil {
		return v, volumeSnap{}, err
	}
	snaps, err := c.volumeSnapshots(ctx, d, v)
	if err != nil {
		return v, volumeSnap{}, err
	}
	for _, s := range snaps {
		if s.snap.ID == id {
			return v, s, nil
		}
	}
	return v, volumeSnap{}, ovm.NotFound("snapshot of volume "+string(volumeID), id)
}

// runningUser returns the name of the powered-on VM that uses the file
// path, if any.
func (c *conn) runningUser(ctx context.Context, path string) (string, error) {
	vm, used, err := c.userOf(ctx, path)
	if err != nil || !used || vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOff {
		return "", err
	}
	return vm.Self.Value, nil
}

// thinSpec is how OVM's copies of a VMDK are made.
func thinSpec() *types.VirtualDiskSpec {
	return &types.VirtualDiskSpec{DiskType: string(types.VirtualDiskTypeThin), AdapterType: string(types.VirtualDiskAdapterTypeLsiLogic)}
}

// copyDisk copies the VMDK src to dst (which must not exist).
func (c *conn) copyDisk(ctx context.Context, src, dst string) error {
	return c.runTask(ctx, func(ctx context.Context) (*object.Task, error) {
		return object.NewVirtualDiskManager(c.client).CopyVirtualDisk(ctx, src, c.dc, dst, c.dc, thinSpec(), false)
	})
}

// deleteDisk deletes the VMDK p and its extent; one that is gone is fine.
func (c *conn) deleteDisk(ctx context.Context, p string) error {
	err := c.runTask(ctx, func(ctx context.Context) (*object.Task, error) {
		return object.NewVirtualDiskManager(c.client).DeleteVirtualDisk(ctx, p, c.dc)
	})
	if err != nil && kindOf(err) != ovm.KindNotFound {
		return err
	}
	return nil
}

// CreateSnapshot copies the volume's VMDK into its snapshots directory.
// A volume a powered-on VM uses is ovm.ErrConflict: the running VM locks
// its disk, and a copy of it would not be consistent.
func (s *Storage) CreateSnapshot(ctx context.Context, volumeID ovm.ID, name string) (ovm.Snapshot, error) {
	c := s.c
	if r := ovm.ValidateName(name); r != "" {
		return ovm.Snapshot{}, ovm.Invalid("invalid snapshot", ovm.FieldError{Field: "name", Reason: r, Value: name})
	}
	if err := c.writable(ctx, "snapshot volume "+string(volumeID)); err != nil {
		return ovm.Snapshot{}, err
	}
	defer c.lockID(volumeID)()
	v, d, err := c.findVolume(ctx, volumeID)
	if err != nil {
		return ovm.Snapshot{}, err
	}
	if vm, err := c.runningUser(ctx, v.NativeID); err != nil {
		return ovm.Snapshot{}, err
	} else if vm != "" {
		return ovm.Snapshot{}, ovm.Errorf(ovm.KindConflict, "esxi %s: cannot snapshot volume %s: running vm %s uses it "+
			"(an ESXi volume snapshot is a copy of its VMDK): stop the instance or detach the volume first", c.host, volumeID, vm)
	}
	p, _, err := c.pool(ctx, d)
	if err != nil {
		return ovm.Snapshot{}, err
	}
	if v.Size > p.Capacity-p.Used {
		return ovm.Snapshot{}, c.full(p, v.Size)
	}
	dir := snapshotDir(v)
	if err := c.mkdir(ctx, dir); err != nil {
		return ovm.Snapshot{}, c.wrap(err, "make %s", dir)
	}
	id := ovm.NewID()
	file := dir + "/" + string(id) + "_" + name + ".vmdk"
	if err := c.copyDisk(ctx, v.NativeID, file); err != nil {
		_ = c.deleteDisk(context.WithoutCancel(ctx), file)
		if isFault[*types.NoDiskSpace](err) {
			return ovm.Snapshot{}, ovm.Wrap(ovm.KindConflict, err, "esxi %s: storage pool %s (%s) is full", c.host, p.Name, p.ID)
		}
		return ovm.Snapshot{}, c.wrap(err, "snapshot volume %s to %s", v.NativeID, file)
	}
	return ovm.Snapshot{ID: id, Name: name, Of: volumeID, CreatedAt: c.now()}, nil
}

// ListSnapshots lists the snapshots of a volume.
func (s *Storage) ListSnapshots(ctx context.Context, volumeID ovm.ID) ([]ovm.Snapshot, error) {
	if err := s.c.ready(ctx, "list snapshots"); err != nil {
		return nil, err
	}
	v, d, err := s.c.findVolume(ctx, volumeID)
	if err != nil {
		return nil, err
	}
	snaps, err := s.c.volumeSnapshots(ctx, d, v)
	out := make([]ovm.Snapshot, 0, len(snaps))
	for _, sn := range snaps {
		out = append(out, sn.snap)
	}
	return out, err
}

// RevertSnapshot puts the volume back to the snapshot: the snapshot is
// copied beside it, and the copy moved over the volume's VMDK (ESXi's copy
// never overwrites; its move does), so the volume is never missing. A
// volume any VM uses is ovm.ErrConflict: detach it first.
func (s *Storage) RevertSnapshot(ctx context.Context, volumeID, snapshotID ovm.ID) error {
	c := s.c
	if err := c.writable(ctx, "revert volume "+string(volumeID)); err != nil {
		return err
	}
	defer c.lockID(volumeID)()
	v, sn, err := c.findVolumeSnapshot(ctx, volumeID, snapshotID)
	if err != nil {
		return err
	}
	if vm, used, err := c.userOf(ctx, v.NativeID); err != nil {
		return err
	} else if used {
		return ovm.Errorf(ovm.KindConflict, "esxi %s: cannot revert volume %s: vm %s uses it; detach it first", c.host, volumeID, vm.Self.Value)
	}
	tmp := path.Dir(sn.file) + "/" + revertFilePrefix + path.Base(sn.file)
	if err := c.deleteDisk(ctx, tmp); err != nil { // left by a revert that stopped half-way
		return c.wrap(err, "delete %s", tmp)
	}
	if err := c.copyDisk(ctx, sn.file, tmp); err != nil {
		_ = c.deleteDisk(context.WithoutCancel(ctx), tmp)
		return c.wrap(err, "copy snapshot %s", sn.file)
	}
	err = c.runTask(ctx, func(ctx context.Context) (*object.Task, error) {
		return object.NewVirtualDiskManager(c.client).MoveVirtualDisk(ctx, tmp, c.dc, v.NativeID, c.dc, true)
	})
	if err != nil {
		_ = c.deleteDisk(context.WithoutCancel(ctx), tmp)
		return c.wrap(err, "revert volume %s to snapshot %s", v.NativeID, snapshotID)
	}
	return nil
}

// DeleteSnapshot deletes a snapshot's VMDK.
func (s *Storage) DeleteSnapshot(ctx context.Context, volumeID, snapshotID ovm.ID) error {
	c := s.c
	if err := c.writable(ctx, "delete snapshot "+string(snapshotID)); err != nil {
		return err
	}
	defer c.lockID(volumeID)()
	_, sn, err := c.findVolumeSnapshot(ctx, volumeID, snapshotID)
	if err != nil {
		return err
	}
	return c.wrap(c.deleteDisk(ctx, sn.file), "delete snapshot %s", sn.file)
}
