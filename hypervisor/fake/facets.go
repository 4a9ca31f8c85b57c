package fake

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// CreateSnapshot records the instance's size and labels under name, which
// must be a valid object name not yet used by another snapshot of the
// instance (else ovm.ErrInvalid, ovm.ErrConflict).
func (d *Driver) CreateSnapshot(ctx context.Context, ref hypervisor.Ref, name string) (ovm.Snapshot, error) {
	if err := d.gate(ctx, MethodCreateSnapshot); err != nil {
		return ovm.Snapshot{}, err
	}
	if reason := ovm.ValidateName(name); reason != "" {
		return ovm.Snapshot{}, ovm.Invalid("invalid snapshot", ovm.FieldError{Field: "name", Reason: reason, Value: name})
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.changeLocked(ref, "snapshot")
	if err != nil {
		return ovm.Snapshot{}, err
	}
	for _, s := range r.snapshots {
		if s.snap.Name == name {
			return ovm.Snapshot{}, ovm.Errorf(ovm.KindConflict, "instance %s already has a snapshot named %q", ref, name)
		}
	}
	s := snapshot{
		snap:   ovm.Snapshot{ID: ovm.NewID(), Name: name, Of: r.inst.OVMID, CreatedAt: d.now()},
		cpu:    r.inst.CPU,
		memory: r.inst.Memory,
		labels: maps.Clone(r.inst.Labels),
	}
	r.snapshots = append(r.snapshots, s)
	return s.snap, nil
}

// ListSnapshots returns the instance's snapshots, oldest first.
func (d *Driver) ListSnapshots(ctx context.Context, ref hypervisor.Ref) ([]ovm.Snapshot, error) {
	if err := d.gate(ctx, MethodListSnapshots); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.lookupLocked(ref)
	if err != nil {
		return nil, err
	}
	out := make([]ovm.Snapshot, len(r.snapshots))
	for i, s := range r.snapshots {
		out[i] = s.snap
	}
	return out, nil
}

// RevertSnapshot gives the instance back the size and labels it had when
// the snapshot was taken; its power state does not change.
func (d *Driver) RevertSnapshot(ctx context.Context, ref hypervisor.Ref, snapshotID ovm.ID) error {
	if err := d.gate(ctx, MethodRevertSnapshot); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.changeLocked(ref, "revert")
	if err != nil {
		return err
	}
	i, err := r.snapshotIndex(ref, snapshotID)
	if err != nil {
		return err
	}
	s := r.snapshots[i]
	if err := d.fitLocked("instance "+r.inst.Name, ovm.Resources{CPU: s.cpu - r.inst.CPU, Memory: s.memory - r.inst.Memory}); err != nil {
		return err
	}
	r.inst.CPU, r.inst.Memory, r.inst.Labels = s.cpu, s.memory, maps.Clone(s.labels)
	r.bootCPU, r.bootMemory = s.cpu, s.memory
	return nil
}

// DeleteSnapshot removes one snapshot of the instance.
func (d *Driver) DeleteSnapshot(ctx context.Context, ref hypervisor.Ref, snapshotID ovm.ID) error {
	if err := d.gate(ctx, MethodDeleteSnapshot); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.changeLocked(ref, "delete a snapshot of")
	if err != nil {
		return err
	}
	i, err := r.snapshotIndex(ref, snapshotID)
	if err != nil {
		return err
	}
	r.snapshots = slices.Delete(r.snapshots, i, i+1)
	return nil
}

// snapshotIndex finds a snapshot of the instance by id.
func (r *record) snapshotIndex(ref hypervisor.Ref, id ovm.ID) (int, error) {
	i := slices.IndexFunc(r.snapshots, func(s snapshot) bool { return s.snap.ID == id })
	if i < 0 {
		return 0, ovm.Errorf(ovm.KindNotFound, "snapshot %s of instance %s not found", id, ref)
	}
	return i, nil
}

// Migrate moves an instance:
//   - live: a running instance whose disks are all on shared storage, to
//     another fake host, where it keeps running;
//   - shared-nothing: an instance in any power state, with its disks, to
//     another fake host and the storage pool to.Pool;
//   - storage: the instance's disks to to.Pool, on this host.
//
// The instance is never listed as running on both hosts: the source pauses
// it while the destination receives it, then forgets it. When the
// destination refuses (unreachable, full, name taken), the instance is
// back as it was on the source. progress, when not nil, hears 0, 50, 100.
func (d *Driver) Migrate(ctx context.Context, ref hypervisor.Ref, to hypervisor.MigrationTarget, progress hypervisor.Progress) error {
	if err := d.gate(ctx, MethodMigrate); err != nil {
		return err
	}
	if progress == nil {
		progress = func(int, string) {}
	}
	dest, err := d.checkTarget(to)
	if err != nil {
		return err
	}
	progress(0, "starting "+string(to.Kind)+" migration")
	if dest == nil {
		if err := d.moveDisks(ref, to.Pool); err != nil {
			return err
		}
		progress(100, "disks moved to pool "+to.Pool.Name)
		return nil
	}

	d.mu.Lock()
	r, err := d.changeLocked(ref, "migrate")
	if err == nil && to.Kind == hypervisor.MigrateLive {
		err = liveMovable(ref, r)
	}
	if err != nil {
		d.mu.Unlock()
		return err
	}
	r.migrating = true
	was := r.inst.Power
	if was == ovm.PowerRunning {
		r.inst.Power = ovm.PowerPaused
	}
	moved := r.moved(was, to)
	d.mu.Unlock()

	progress(50, "copying to host "+dest.name)
	err = dest.receive(ctx, moved)

	d.mu.Lock()
	defer d.mu.Unlock()
	r.migrating = false
	r.inst.Power = was
	if err != nil {
		return fmt.Errorf("fake host %s: migrate %s to %s: %w", d.name, ref, dest.name, err)
	}
	d.removeLocked(r)
	progress(100, "running on host "+dest.name)
	return nil
}

// checkTarget validates a migration target and returns the destination
// host (nil for a storage migration).
func (d *Driver) checkTarget(to hypervisor.MigrationTarget) (*Driver, error) {
	var f ovm.Fields
	var dest *Driver
	switch to.Kind {
	case hypervisor.MigrateLive, hypervisor.MigrateSharedNothing:
		switch x, ok := to.Destination.(*Driver); {
		case to.Destination == nil:
			f.Add("destination", "is required for a "+string(to.Kind)+" migration")
		case !ok:
			return nil, ovm.Errorf(ovm.KindUnsupported, "fake host %s can migrate only to another fake host, not to a %s host", d.name, to.Destination.Kind())
		case x == d:
			f.Add("destination", "must be another host")
		default:
			dest = x
		}
		if to.Kind == hypervisor.MigrateSharedNothing && to.Pool.ID.IsZero() {
			f.Add("pool", "is required for a shared-nothing migration")
		}
	case hypervisor.MigrateStorage:
		if to.Destination != nil && to.Destination != hypervisor.Driver(d) {
			f.Add("destination", "must be empty or this host for a storage migration")
		}
		if to.Pool.ID.IsZero() {
			f.Add("pool", "is required for a storage migration")
		}
	default:
		f.Addf("kind", "must be %q, %q or %q", hypervisor.MigrateLive, hypervisor.MigrateSharedNothing, hypervisor.MigrateStorage)
	}
	return dest, f.Err("invalid migration target")
}

// liveMovable refuses a live migration of a stopped instance or one with a
// disk on local storage.
func liveMovable(ref hypervisor.Ref, r *record) error {
	if !r.running() {
		return hypervisor.ErrPower(ref, "live-migrate", r.inst.Power)
	}
	for _, disk := range r.spec.Disks {
		if !disk.Pool.Kind.Shared() {
			return ovm.Errorf(ovm.KindConflict, "cannot live-migrate instance %s: disk %s is on %s storage pool %q; use a shared-nothing migration",
				ref, disk.Volume.Name, cmp.Or(string(disk.Pool.Kind), "unknown"), disk.Pool.Name)
		}
	}
	return nil
}

// moved is the copy of the record the destination of a migration receives.
func (r *record) moved(power ovm.PowerState, to hypervisor.MigrationTarget) *record {
	m := &record{
		inst:       clone(r.inst),
		spec:       r.spec,
		disk:       r.disk,
		bootCPU:    r.bootCPU,
		bootMemory: r.bootMemory,
		startedAt:  r.startedAt,
		snapshots:  slices.Clone(r.snapshots),
	}
	m.inst.Power = power
	m.spec.Disks = slices.Clone(r.spec.Disks)
	if to.Kind != hypervisor.MigrateLive {
		for i := range m.spec.Disks {
			m.spec.Disks[i].Pool = to.Pool
			m.spec.Disks[i].Volume.StoragePoolID = to.Pool.ID
		}
	}
	return m
}

// receive takes an instance migrated from another host.
func (d *Driver) receive(ctx context.Context, r *record) error {
	if err := d.gate(ctx, MethodReceive); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.addLocked(r)
}

// moveDisks points the instance's disks at pool, on this host.
func (d *Driver) moveDisks(ref hypervisor.Ref, pool ovm.StoragePool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.changeLocked(ref, "migrate the storage of")
	if err != nil {
		return err
	}
	for i := range r.spec.Disks {
		r.spec.Disks[i].Pool = pool
		r.spec.Disks[i].Volume.StoragePoolID = pool.ID
	}
	return nil
}

// Disks returns the disks of an instance as the host sees them now (after
// a storage migration, on their new pool). It is a test helper, not a call
// to the host.
func (d *Driver) Disks(ref hypervisor.Ref) ([]hypervisor.DiskAttachment, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.lookupLocked(ref)
	if err != nil {
		return nil, err
	}
	return slices.Clone(r.spec.Disks), nil
}

// Register adopts an instance whose disks are all on shared storage, as HA
// does on the host it restarts an instance on. It is idempotent by spec.ID,
// like Create; a disk on local storage is ovm.ErrInvalid.
func (d *Driver) Register(ctx context.Context, spec hypervisor.CreateSpec) (hypervisor.Instance, error) {
	if err := d.gate(ctx, MethodRegister); err != nil {
		return hypervisor.Instance{}, err
	}
	var f ovm.Fields
	f.Merge("", spec.Validate())
	for i, disk := range spec.Disks {
		if !disk.Pool.Kind.Shared() {
			f.Addf(fmt.Sprintf("disks[%d].pool", i), "must be shared storage to register, not %q", disk.Pool.Kind)
		}
	}
	if err := f.Err("invalid registration"); err != nil {
		return hypervisor.Instance{}, fmt.Errorf("fake host %s: register: %w", d.name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.createLocked(spec)
}

// Mark writes an OVM id and VDC on an instance (hypervisor.Marker).
func (d *Driver) Mark(ctx context.Context, ref hypervisor.Ref, id, vdcID ovm.ID) (hypervisor.Instance, error) {
	if err := d.gate(ctx, MethodMark); err != nil {
		return hypervisor.Instance{}, err
	}
	if !id.Valid() {
		return hypervisor.Instance{}, ovm.Invalid("invalid mark", ovm.FieldError{Field: "id", Reason: "must be an OVM id (a lower-case UUID)"})
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.lookupLocked(ref)
	if err != nil {
		return hypervisor.Instance{}, err
	}
	switch {
	case r.inst.OVMID == id:
		return clone(r.inst), nil
	case r.inst.OVMID != "":
		return hypervisor.Instance{}, ovm.Errorf(ovm.KindConflict, "fake host %s: instance %s carries OVM id %s already", d.name, r.inst.NativeID, r.inst.OVMID)
	case d.byID[id] != nil:
		return hypervisor.Instance{}, ovm.Errorf(ovm.KindConflict, "fake host %s: OVM id %s is on instance %s", d.name, id, d.byID[id].inst.NativeID)
	}
	r.inst.OVMID, r.inst.VDCID = id, vdcID
	d.byID[id] = r
	return clone(r.inst), nil
}

// Console attaches to a running instance's serial console: it reads a
// banner and a login prompt, and echoes what is written to it. The console
// hangs up (reads end with io.EOF) when the instance stops, is deleted or
// moves away.
func (d *Driver) Console(ctx context.Context, ref hypervisor.Ref) (io.ReadWriteCloser, error) {
	if err := d.gate(ctx, MethodConsole); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.lookupLocked(ref)
	if err != nil {
		return nil, err
	}
	if !r.running() {
		return nil, hypervisor.ErrPower(ref, "attach to", r.inst.Power)
	}
	c := newConsole(fmt.Sprintf("OVM fake console: %s (%s) on %s\r\n%s login: ", r.inst.Name, r.inst.NativeID, d.name, r.hostname()))
	r.consoles = slices.DeleteFunc(r.consoles, (*console).isClosed)
	r.consoles = append(r.consoles, c)
	return c, nil
}

// hostname is the instance's hostname: the one its spec asks for, or its name.
func (r *record) hostname() string { return cmp.Or(r.spec.Spec.Hostname, r.inst.Name) }
