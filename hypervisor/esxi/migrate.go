package esxi

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

var _ hypervisor.Migrator = (*Driver)(nil)

// Migrate moves a VM cold to another standalone ESXi host (a standalone host
// cannot move a running VM: vMotion needs vCenter, and any other kind is
// ovm.ErrUnsupported). It powers the VM off when it runs, copies the files
// of its directory to the destination's datastore (to.Pool names it;
// default: the destination's own), registers the copy there under the same
// OVM id, powers it on when it was running, and deletes the VM here. A
// failure or a cancel before the copy runs on the destination deletes the
// copy and powers the VM on here again; the VM is never running on both
// hosts. Disks outside the VM's directory (attached volumes) are not moved:
// such a VM is refused. A VM's snapshots must be there after the register
// (see carried), else the move is undone.
func (d *Driver) Migrate(ctx context.Context, ref hypervisor.Ref, to hypervisor.MigrationTarget, progress hypervisor.Progress) error {
	if progress == nil {
		progress = func(int, string) {}
	}
	if err := d.c.ready(ctx, "migrate "+ref.String()); err != nil {
		return err
	}
	if to.Kind != hypervisor.MigrateCold {
		return ovm.Errorf(ovm.KindUnsupported, "esxi %s: no %s migration: %s", d.c.host, to.Kind, MigrationNote)
	}
	dest, ok := to.Destination.(*Driver)
	switch {
	case !ok:
		return ovm.Errorf(ovm.KindUnsupported, "esxi %s: a cold migration goes to another ESXi host, not %T", d.c.host, to.Destination)
	case dest.c.host == d.c.host:
		return ovm.Invalid("invalid migration", ovm.FieldError{Field: "destination", Reason: "must be another host"})
	}
	if err := d.c.writable(ctx, "migrate "+ref.String()); err != nil {
		return err
	}
	if err := dest.c.writable(ctx, "receive "+ref.String()); err != nil {
		return err
	}
	vm, err := d.c.lookup(ctx, ref, append([]string{"config.files.vmPathName", "snapshot"}, vmProps...))
	if err != nil {
		return err
	}
	inst := instanceOf(vm)
	if !inst.Managed() {
		return ovm.Errorf(ovm.KindInvalid, "esxi %s: vm %s carries no OVM id: import it first", d.c.host, vm.Name)
	}
	srcDS, vmx := splitDSPath(vm.Config.Files.VmPathName)
	dir := path.Dir(vmx)
	if dir == "." || dir == "" {
		return ovm.Errorf(ovm.KindUnsupported, "esxi %s: vm %s has its files at the datastore's root", d.c.host, vm.Name)
	}
	if err := ownDisks(vm, srcDS, dir); err != nil {
		return fmt.Errorf("esxi %s: migrate %s: %w", d.c.host, vm.Name, err)
	}
	dstDS := dest.c.defaultDS
	if to.Pool.Name != "" {
		dstDS = to.Pool.Name
	}
	files, err := d.c.dirFiles(ctx, srcDS, dir)
	if err != nil {
		return d.c.wrap(err, "migrate %s: list its files", vm.Name)
	}
	was := inst.Power
	progress(0, fmt.Sprintf("moving %s cold to host %s", vm.Name, dest.c.host))
	if was == ovm.PowerRunning || was == ovm.PowerPaused {
		if err := d.Stop(ctx, ref, hypervisor.StopOptions{}); err != nil {
			return err
		}
		progress(10, "powered off")
	}
	// undo puts things back as they were, once something went wrong.
	bg := context.WithoutCancel(ctx)
	undo := func(cause error) error {
		_ = dest.c.remove(bg, dsPath(dstDS, dir))
		if was == ovm.PowerRunning {
			_ = d.Start(bg, ref)
		}
		return cause
	}
	if err := dest.c.mkdir(ctx, dsPath(dstDS, dir)); err != nil {
		return undo(dest.c.wrap(err, "migrate %s: make %s", vm.Name, dsPath(dstDS, dir)))
	}
	var total, done int64
	for _, f := range files {
		total += f.size
	}
	for _, f := range files {
		p := dir + "/" + f.name
		err := copyFile(ctx, d.c, dest.c, srcDS, dstDS, p, f.size, func(n int64) {
			done += n
			if total > 0 {
				progress(10+int(70*done/total), fmt.Sprintf("%d of %d bytes", done, total))
			}
		})
		if err != nil {
			return undo(d.c.wrap(err, "migrate %s: copy %s to host %s", vm.Name, p, dest.c.host))
		}
	}
	spec := hypervisor.CreateSpec{ID: inst.OVMID, Name: vm.Name, VDCID: inst.VDCID,
		Spec:  ovm.InstanceSpec{Type: ovm.TypeVM, CPU: inst.CPU, Memory: inst.Memory, Image: inst.Image},
		Disks: []hypervisor.DiskAttachment{{Pool: ovm.StoragePool{Name: dstDS}}}}
	if _, err := dest.Register(ctx, spec); err != nil {
		return undo(err)
	}
	if err := carried(ctx, dest, inst.OVMID, vm); err != nil {
		_ = dest.Delete(bg, hypervisor.ByID(inst.OVMID))
		return undo(err)
	}
	progress(85, "registered on host "+dest.c.host)
	if was == ovm.PowerRunning {
		if err := dest.Start(ctx, hypervisor.ByID(inst.OVMID)); err != nil {
			_ = dest.Delete(bg, hypervisor.ByID(inst.OVMID))
			return undo(err)
		}
	}
	progress(95, "running on host "+dest.c.host)
	// The copy runs there: the VM here goes, whatever ctx says now.
	if err := d.Delete(bg, hypervisor.Ref{ID: inst.OVMID, NativeID: inst.NativeID}); err != nil {
		return fmt.Errorf("esxi %s: %s runs on host %s, but deleting it here failed: %w", d.c.host, vm.Name, dest.c.host, err)
	}
	progress(100, "moved")
	return nil
}

// ownDisks refuses a VM with a disk outside its directory dir of datastore
// ds.
func ownDisks(vm mo.VirtualMachine, ds, dir string) error {
	if vm.Config == nil {
		return nil
	}
	prefix := dsPath(ds, dir) + "/"
	for _, dev := range vm.Config.Hardware.Device {
		disk, ok := dev.(*types.VirtualDisk)
		if !ok {
			continue
		}
		if b, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
			if name := b.GetVirtualDeviceFileBackingInfo().FileName; !strings.HasPrefix(name, prefix) {
				return ovm.Errorf(ovm.KindUnsupported, "disk %s is outside the vm's directory %s: detach it before a cold migration", name, prefix)
			}
		}
	}
	return nil
}

// dirFile is a file of a VM's directory.
type dirFile struct {
	name string
	size int64
}

// dirFiles lists the files of directory dir of datastore ds.
func (c *conn) dirFiles(ctx context.Context, ds, dir string) ([]dirFile, error) {
	var dss []mo.Datastore
	if err := c.collect(ctx, c.dsFolder, "Datastore", []string{"name", "browser"}, &dss); err != nil {
		return nil, err
	}
	for _, x := range dss {
		if x.Name != ds {
			continue
		}
		res, err := c.search(ctx, x.Browser, dsPath(ds, dir), false, nil, "*")
		if err != nil {
			return nil, err
		}
		var out []dirFile
		for _, r := range res {
			for _, f := range r.File {
				fi := f.GetFileInfo()
				if _, folder := f.(*types.FolderFileInfo); folder {
					continue
				}
				out = append(out, dirFile{name: fi.Path, size: fi.FileSize})
			}
		}
		return out, nil
	}
	return nil, ovm.Errorf(ovm.KindNotFound, "esxi %s: datastore %s not found", c.host, ds)
}

// copyFile streams "[srcDS] p" of one host to "[dstDS] p" of another,
// telling progress how many bytes went.
func copyFile(ctx context.Context, from, to *conn, srcDS, dstDS, p string, size int64, progress func(int64)) error {
	src := object.NewDatastoreURL(*from.soap.URL(), strings.TrimPrefix(from.dc.InventoryPath, "/"), srcDS, p)
	rc, n, err := from.soap.Download(ctx, src, &soap.DefaultDownload)
	if err != nil {
		return err
	}
	defer rc.Close()
	if n < 0 {
		n = size
	}
	dst := object.NewDatastoreURL(*to.soap.URL(), strings.TrimPrefix(to.dc.InventoryPath, "/"), dstDS, p)
	param := soap.DefaultUpload
	param.ContentLength = n
	return to.soap.Upload(ctx, &countingReader{r: rc, fn: progress}, dst, &param)
}

// countingReader tells fn how many bytes each read returned.
type countingReader struct {
	r  io.Reader
	fn func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.fn(int64(n))
	}
	return n, err
}

// carried checks that the copy of vm registered on dest has vm's snapshots:
// the files of a VM with snapshots (.vmsd, .vmsn, the delta disks) move
// with it, but only a host that rebuilds the snapshot tree from them when
// it registers the VM gives them back (govmomi's simulator keeps snapshots
// in memory and does not). Missing ones are ovm.ErrConflict.
func carried(ctx context.Context, dest *Driver, id ovm.ID, vm mo.VirtualMachine) error {
	want := snapshots(vm)
	if len(want) == 0 {
		return nil
	}
	got, err := dest.ListSnapshots(ctx, hypervisor.ByID(id))
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, s := range got {
		have[string(s.ID)], have["name:"+s.Name] = true, true
	}
	var lost []string
	for _, t := range want {
		if !have[string(snapshotID(vm.Self, t))] && !have["name:"+t.Name] {
			lost = append(lost, t.Name)
		}
	}
	if len(lost) > 0 {
		return ovm.Errorf(ovm.KindConflict, "esxi %s: vm %s has snapshots (%s) that host %s did not restore when it registered "+
			"the moved files: the move is undone; delete the snapshots before a cold migration", dest.c.host, vm.Name,
			strings.Join(lost, ", "), dest.c.host)
	}
	return nil
}
