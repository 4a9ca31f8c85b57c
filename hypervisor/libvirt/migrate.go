package libvirt

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// Migrate moves a running instance.
//
//   - live: memory only, peer to peer from this libvirtd to the
//     destination's (its URI must be reachable from this host's daemon);
//     the disks stay where they are, on storage both hosts see.
//   - shared-nothing: the boot disk is copied too, into to.Pool on the
//     destination (created there first, over the same template, and
//     filled by libvirt's NBD copy of the top layer); the seed is copied
//     by download and upload. The source's volumes are deleted after.
//   - storage: the boot disk of the running domain is copied to to.Pool on
//     this host (blockcopy, shallow, over the same template) and the domain
//     pivots to the copy; the old volume is deleted.
//
// Progress is reported from libvirt's job information.
func (d *Driver) Migrate(ctx context.Context, ref hypervisor.Ref, to hypervisor.MigrationTarget, progress hypervisor.Progress) error {
	if progress == nil {
		progress = func(int, string) {}
	}
	var dest *Driver
	switch to.Kind {
	case hypervisor.MigrateLive, hypervisor.MigrateSharedNothing:
		var ok bool
		if dest, ok = to.Destination.(*Driver); !ok {
			return ovm.Errorf(ovm.KindUnsupported, "libvirt: %s migration needs a libvirt destination, got %T", to.Kind, to.Destination)
		}
	case hypervisor.MigrateStorage:
	default:
		return ovm.Invalid("invalid migration", ovm.FieldError{Field: "kind", Reason: "must be live, shared-nothing or storage"})
	}
	if to.Kind != hypervisor.MigrateLive && (to.Pool.Path == "" || to.Pool.Path[0] != '/') {
		return ovm.Invalid("invalid migration", ovm.FieldError{Field: "pool.path", Reason: "must be an absolute directory"})
	}
	f, err := d.lookup(ctx, ref)
	if err != nil {
		return err
	}
	if f.power != ovm.PowerRunning {
		return hypervisor.ErrPower(ref, "migrate", f.power)
	}
	if to.Kind != hypervisor.MigrateLive {
		if err := d.refuseSnapshots(ctx, f.dom, to.Kind); err != nil {
			return err
		}
	}
	progress(0, "starting "+string(to.Kind)+" migration")
	switch to.Kind {
	case hypervisor.MigrateStorage:
		err = d.moveStorage(ctx, f, to.Pool, progress)
	default:
		err = d.migrate(ctx, f, dest, to, progress)
	}
	if err != nil {
		return err
	}
	progress(100, "migrated")
	return nil
}

// poolRef names the pool a migration moves disks to.
func poolRef(p ovm.StoragePool) PoolRef {
	name := p.Name
	if name == "" {
		name = "ovm-" + p.ID.Short()
	}
	return PoolRef{Name: name, Path: p.Path}
}

// bootDisk returns the index of the domain's first writable disk.
func bootDisk(def libvirtxml.Domain) (int, error) {
	if def.Devices != nil {
		for i, disk := range def.Devices.Disks {
			if disk.ReadOnly == nil && disk.Source != nil && disk.Source.File != nil {
				return i, nil
			}
		}
	}
	return 0, ovm.Errorf(ovm.KindUnsupported, "libvirt: domain %s has no file disk to move", def.Name)
}

// migrate runs a live or shared-nothing migration to dest.
func (d *Driver) migrate(ctx context.Context, f found, dest *Driver, to hypervisor.MigrationTarget, progress hypervisor.Progress) error {
	flags := golibvirt.MigrateLive | golibvirt.MigratePeer2peer | golibvirt.MigratePersistDest | golibvirt.MigrateUndefineSource
	params := []golibvirt.TypedParam{}
	if dest.ep.Host != "" {
		params = append(params, golibvirt.TypedParam{Field: golibvirt.MigrateParamURI,
			Value: *golibvirt.NewTypedParamValueString("tcp://" + dest.ep.Host)})
	}
	var oldVolumes []string
	if to.Kind == hypervisor.MigrateLive && d.declaredShared(f.def) {
		flags |= golibvirt.MigrateUnsafe
	}
	if to.Kind == hypervisor.MigrateSharedNothing {
		x, moved, err := d.precreate(ctx, f, dest, poolRef(to.Pool))
		if err != nil {
			return err
		}
		oldVolumes = moved
		flags |= golibvirt.MigrateNonSharedInc
		params = append(params,
			golibvirt.TypedParam{Field: golibvirt.MigrateParamDestXML, Value: *golibvirt.NewTypedParamValueString(x)},
			golibvirt.TypedParam{Field: golibvirt.MigrateParamMigrateDisks, Value: *golibvirt.NewTypedParamValueString("vda")})
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// libvirt migrates no domain with snapshot metadata: it moves by
	// hand (see migrate_snapshots.go).
	lifted, err := d.liftSnapshots(ctx, f.dom)
	if err != nil {
		return err
	}
	bg := context.WithoutCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := d.l.DomainMigratePerform3Params(f.dom, golibvirt.OptString{dest.ep.URI}, params, nil, flags)
		done <- err
	}()
	if err := d.watchJob(ctx, f.dom, done, progress); err != nil {
		if rerr := d.redefineSnapshots(bg, f.dom, lifted); rerr != nil {
			err = fmt.Errorf("%w (and its snapshots were not put back: %v)", err, rerr)
		}
		return wrap(err, "libvirt: %s migration of %s to %s", to.Kind, f.dom.Name, dest.ep.URI)
	}
	if err := d.carrySnapshots(bg, dest, f.dom.Name, lifted); err != nil {
		// The domain runs there: the move stands, and the snapshots
		// it lacks are the caller's to notice (ListSnapshots).
		progress(99, err.Error())
	}
	for _, p := range oldVolumes {
		_ = deleteVolumePath(context.WithoutCancel(ctx), d.l, p)
	}
	return nil
}

// declaredShared reports whether every writable file disk of def lies in a
// directory of Config.SharedStorage.
func (d *Driver) declaredShared(def libvirtxml.Domain) bool {
	if def.Devices == nil || len(d.cfg.SharedStorage) == 0 {
		return false
	}
	for _, disk := range def.Devices.Disks {
		if disk.ReadOnly != nil || disk.Source == nil || disk.Source.File == nil {
			continue
		}
		under := false
		for _, dir := range d.cfg.SharedStorage {
			rel, err := filepath.Rel(dir, disk.Source.File.File)
			under = under || (err == nil && !strings.HasPrefix(rel, ".."))
		}
		if !under {
			return false
		}
	}
	return true
}

// watchJob reports a migration's progress until done answers; a context
// done first aborts the job.
func (d *Driver) watchJob(ctx context.Context, dom golibvirt.Domain, done <-chan error, progress hypervisor.Progress) error {
	last := 0
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			_ = d.l.DomainAbortJob(dom)
			<-done
			return ctx.Err()
		case <-tick.C:
			typ, _, _, total, processed, _, _, _, _, _, _, _, err := d.l.DomainGetJobInfo(dom)
			if err == nil && typ != 0 && total > 0 {
				p := min(int(processed*99/total), 99)
				if p > last {
					last = p
					progress(p, fmt.Sprintf("%d of %d bytes", processed, total))
				}
			}
		}
	}
}

// precreate makes the boot disk (over the same template) and a copy of the
// seed in pool on dest, and returns the domain XML for the destination with
// the new paths, and the source volumes to delete after the move.
func (d *Driver) precreate(ctx context.Context, f found, dest *Driver, pool PoolRef) (string, []string, error) {
	live, err := rpc(ctx, func() (string, error) { return d.l.DomainGetXMLDesc(f.dom, golibvirt.DomainXMLMigratable) })
	if err != nil {
		return "", nil, wrap(err, "libvirt: read domain %s", f.dom.Name)
	}
	var def libvirtxml.Domain
	if err := def.Unmarshal(live); err != nil {
		return "", nil, err
	}
	dpool, err := dest.ensureDirPool(ctx, pool)
	if err != nil {
		return "", nil, err
	}
	var old, made []string
	for i := range def.Devices.Disks {
		disk := &def.Devices.Disks[i]
		if disk.Source == nil || disk.Source.File == nil {
			continue
		}
		src := disk.Source.File.File
		vol, err := rpc(ctx, func() (golibvirt.StorageVol, error) { return d.l.StorageVolLookupByPath(src) })
		if err != nil {
			return "", nil, wrap(err, "libvirt: volume %s", src)
		}
		x, err := rpc(ctx, func() (string, error) { return d.l.StorageVolGetXMLDesc(vol, 0) })
		if err != nil {
			return "", nil, wrap(err, "libvirt: volume %s", src)
		}
		var vdef libvirtxml.StorageVolume
		if err := vdef.Unmarshal(x); err != nil {
			return "", nil, err
		}
		nv := VolumeXML(path.Base(src), vdef.Capacity.Value, "raw", "", "")
		if vdef.Target != nil && vdef.Target.Format != nil {
			nv.Target.Format.Type = vdef.Target.Format.Type
		}
		if vdef.BackingStore != nil {
			nv.BackingStore = vdef.BackingStore
		}
		nvol, npath, err := createVolume(ctx, dest.l, dpool, nv)
		if err != nil {
			return "", nil, err
		}
		made = append(made, npath)
		if disk.ReadOnly != nil {
			var buf bytes.Buffer
			if err := do(ctx, func() error { return d.l.StorageVolDownload(vol, &buf, 0, 0, 0) }); err != nil {
				return "", nil, wrap(err, "libvirt: download %s", src)
			}
			if err := do(ctx, func() error {
				return dest.l.StorageVolUpload(nvol, bytes.NewReader(buf.Bytes()), 0, uint64(buf.Len()), 0)
			}); err != nil {
				return "", nil, wrap(err, "libvirt: upload %s", npath)
			}
		}
		old = append(old, src)
		disk.Source.File.File = npath
	}
	if f.managed {
		f.meta.Volumes = made
		meta, err := MarshalMetadata(f.meta)
		if err != nil {
			return "", nil, err
		}
		def.Metadata = &libvirtxml.DomainMetadata{XML: replaceMetadata(def.Metadata, meta)}
	}
	x, err := def.Marshal()
	if err != nil {
		return "", nil, err
	}
	return x, old, nil
}

// moveStorage copies the running domain's boot disk to pool with
// blockcopy and pivots to the copy.
func (d *Driver) moveStorage(ctx context.Context, f found, pool ovm.StoragePool, progress hypervisor.Progress) error {
	i, err := bootDisk(f.def)
	if err != nil {
		return err
	}
	disk := f.def.Devices.Disks[i]
	src := disk.Source.File.File
	vol, err := rpc(ctx, func() (golibvirt.StorageVol, error) { return d.l.StorageVolLookupByPath(src) })
	if err != nil {
		return wrap(err, "libvirt: volume %s", src)
	}
	x, err := rpc(ctx, func() (string, error) { return d.l.StorageVolGetXMLDesc(vol, 0) })
	if err != nil {
		return wrap(err, "libvirt: volume %s", src)
	}
	var vdef libvirtxml.StorageVolume
	if err := vdef.Unmarshal(x); err != nil {
		return err
	}
	dpool, err := d.ensureDirPool(ctx, poolRef(pool))
	if err != nil {
		return err
	}
	nv := VolumeXML(path.Base(src), vdef.Capacity.Value, "qcow2", "", "")
	nv.BackingStore = vdef.BackingStore
	_, npath, err := createVolume(ctx, d.l, dpool, nv)
	if err != nil {
		return err
	}
	undo := func() { _ = deleteVolumePath(context.WithoutCancel(ctx), d.l, npath) }
	target := libvirtxml.DomainDisk{Device: "disk",
		Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: "qcow2"},
		Source: &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: npath}}}
	tx, err := target.Marshal()
	if err != nil {
		undo()
		return err
	}
	dev := disk.Target.Dev
	if err := do(ctx, func() error {
		return d.l.DomainBlockCopy(f.dom, dev, tx, nil,
			golibvirt.DomainBlockCopyShallow|golibvirt.DomainBlockCopyReuseExt|golibvirt.DomainBlockCopyTransientJob)
	}); err != nil {
		undo()
		return wrap(err, "libvirt: copy disk %s of %s", dev, f.dom.Name)
	}
	last := 0
	for {
		found, _, _, cur, end, err := d.l.DomainGetBlockJobInfo(f.dom, dev, 0)
		if err != nil {
			_ = d.l.DomainBlockJobAbort(f.dom, dev, 0)
			undo()
			return wrap(err, "libvirt: copy job of %s", f.dom.Name)
		}
		if found == 0 {
			undo()
			return ovm.Errorf(ovm.KindInternal, "libvirt: the copy job of disk %s of %s ended before it was ready", dev, f.dom.Name)
		}
		if end > 0 {
			if p := min(int(cur*99/end), 99); p > last {
				last = p
				progress(p, fmt.Sprintf("%d of %d bytes", cur, end))
			}
			if cur == end {
				break
			}
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			_ = d.l.DomainBlockJobAbort(f.dom, dev, 0)
			undo()
			return err
		}
	}
	if err := d.pivot(ctx, f.dom, dev); err != nil {
		_ = d.l.DomainBlockJobAbort(f.dom, dev, 0)
		undo()
		return err
	}
	if f.managed {
		for j, p := range f.meta.Volumes {
			if p == src {
				f.meta.Volumes[j] = npath
			}
		}
		if err := d.rewriteMetadata(ctx, f.dom, f.meta); err != nil {
			return err
		}
	}
	return deleteVolumePath(context.WithoutCancel(ctx), d.l, src)
}

// rewriteMetadata redefines a domain's persistent definition (as libvirt
// has it now) with meta as OVM's metadata.
func (d *Driver) rewriteMetadata(ctx context.Context, dom golibvirt.Domain, meta Metadata) error {
	x, err := rpc(ctx, func() (string, error) { return d.l.DomainGetXMLDesc(dom, golibvirt.DomainXMLInactive) })
	if err != nil {
		return wrap(err, "libvirt: read domain %s", dom.Name)
	}
	var def libvirtxml.Domain
	if err := def.Unmarshal(x); err != nil {
		return err
	}
	m, err := MarshalMetadata(meta)
	if err != nil {
		return err
	}
	def.Metadata = &libvirtxml.DomainMetadata{XML: replaceMetadata(def.Metadata, m)}
	if x, err = def.Marshal(); err != nil {
		return err
	}
	_, err = rpc(ctx, func() (golibvirt.Domain, error) { return d.l.DomainDefineXMLFlags(x, golibvirt.DomainDefineValidate) })
	return wrap(err, "libvirt: record the moved disk of %s", dom.Name)
}

// pivot switches a ready copy job over to its destination, retrying while
// libvirt says the job is not ready yet.
func (d *Driver) pivot(ctx context.Context, dom golibvirt.Domain, dev string) error {
	for {
		err := do(ctx, func() error { return d.l.DomainBlockJobAbort(dom, dev, golibvirt.DomainBlockJobAbortPivot) })
		if err == nil {
			return nil
		}
		if !isCode(err, golibvirt.ErrBlockCopyActive) && !isCode(err, golibvirt.ErrOperationInvalid) {
			return wrap(err, "libvirt: pivot disk %s of %s", dev, dom.Name)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}
