package core

import (
	"context"
	"errors"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
	"github.com/openovm/ovm/storage"
)

// The snapshot task kinds.
const (
	TaskSnapshotCreate = "snapshot.create"
	TaskSnapshotRevert = "snapshot.revert"
	TaskSnapshotDelete = "snapshot.delete"
)

// SnapshotInfo is a snapshot as clients see it.
type SnapshotInfo = apitypes.SnapshotInfo

// SnapshotTask is a snapshot and the task that acts on it.
type SnapshotTask = apitypes.SnapshotTask

// CreateSnapshot is the input of a new snapshot.
type CreateSnapshot = apitypes.SnapshotCreate

// SnapshotOf names what snapshots are of: an instance or a volume (one of
// the two ids; neither, for a list of every snapshot of a VDC).
type SnapshotOf struct {
	InstanceID ovm.ID
	VolumeID   ovm.ID
}

// id is the instance's or the volume's id.
func (o SnapshotOf) id() ovm.ID {
	if o.VolumeID != "" {
		return o.VolumeID
	}
	return o.InstanceID
}

// kind is the record kind of what the snapshot is of.
func (o SnapshotOf) kind() store.Kind {
	if o.VolumeID != "" {
		return store.KindVolume
	}
	return store.KindInstance
}

// snapshotRecord is a stored snapshot. Its record's ParentID is the
// instance or volume it is of, its HostID the host that keeps it.
type snapshotRecord struct {
	apitypes.SnapshotInfo
	HostID ovm.ID `json:"hostId"`
	// Reserved is what the snapshot holds of its VDC's disk quota; it is
	// released exactly once, in the transaction that zeroes it.
	Reserved ovm.Usage `json:"reserved"`
	// Held is the snapshot's disk on its host (see hostHold).
	Held        hostHold `json:"held,omitzero"`
	PendingTask ovm.ID   `json:"pendingTask,omitempty"`
}

// of is what the snapshot is of.
func (sn snapshotRecord) of() SnapshotOf {
	return SnapshotOf{InstanceID: sn.InstanceID, VolumeID: sn.VolumeID}
}

// view is the snapshot as p may see it: tenants never see its native id.
func (sn snapshotRecord) view(p auth.Principal) SnapshotInfo {
	out := sn.SnapshotInfo
	if !p.Admin() {
		out.NativeID = ""
	}
	return out
}

// snapshotKey is the stored name of a snapshot: the store keeps names
// unique per kind and VDC, a snapshot's name is unique per instance or
// volume.
func snapshotKey(of ovm.ID, name string) string { return string(of) + "/" + name }

// instanceSnapshotBound is what a snapshot of inst may take on its host:
// its disks (the boot disk the host made included), and its memory when
// the snapshot holds it.
func instanceSnapshotBound(inst instanceRecord, memory bool) ovm.Bytes {
	size := max(inst.Reserved.Disk, inst.Spec.Demand().Disk)
	if memory {
		size += inst.Spec.Memory
	}
	return size
}

// snapshotFacet is the engine facet a snapshot acts through: an
// instance's hypervisor.Snapshotter or a volume's storage.Snapshotter,
// bound to the instance or the volume.
type snapshotFacet interface {
	CreateSnapshot(ctx context.Context, name string) (ovm.Snapshot, error)
	ListSnapshots(ctx context.Context) ([]ovm.Snapshot, error)
	RevertSnapshot(ctx context.Context, id ovm.ID) error
	DeleteSnapshot(ctx context.Context, id ovm.ID) error
}

// instanceSnapshots is an instance's snapshot facet.
type instanceSnapshots struct {
	sn  hypervisor.Snapshotter
	ref hypervisor.Ref
}

func (i instanceSnapshots) CreateSnapshot(ctx context.Context, name string) (ovm.Snapshot, error) {
	return i.sn.CreateSnapshot(ctx, i.ref, name)
}
func (i instanceSnapshots) ListSnapshots(ctx context.Context) ([]ovm.Snapshot, error) {
	return i.sn.ListSnapshots(ctx, i.ref)
}
func (i instanceSnapshots) RevertSnapshot(ctx context.Context, id ovm.ID) error {
	return i.sn.RevertSnapshot(ctx, i.ref, id)
}
func (i instanceSnapshots) DeleteSnapshot(ctx context.Context, id ovm.ID) error {
	return i.sn.DeleteSnapshot(ctx, i.ref, id)
}

// volumeSnapshots is a volume's snapshot facet.
type volumeSnapshots struct {
	sn storage.Snapshotter
	id ovm.ID
}

func (v volumeSnapshots) CreateSnapshot(ctx context.Context, name string) (ovm.Snapshot, error) {
	return v.sn.CreateSnapshot(ctx, v.id, name)
}
func (v volumeSnapshots) ListSnapshots(ctx context.Context) ([]ovm.Snapshot, error) {
	return v.sn.ListSnapshots(ctx, v.id)
}
func (v volumeSnapshots) RevertSnapshot(ctx context.Context, id ovm.ID) error {
	return v.sn.RevertSnapshot(ctx, v.id, id)
}
func (v volumeSnapshots) DeleteSnapshot(ctx context.Context, id ovm.ID) error {
	return v.sn.DeleteSnapshot(ctx, v.id, id)
}

// hypervisorSnapshots returns a host's instance snapshot facet, or
// ovm.ErrUnsupported naming what is not offered.
func hypervisorSnapshots(hv hypervisor.Driver, inst instanceRecord) (hypervisor.Snapshotter, error) {
	if inst.Spec.Type == ovm.TypeContainer {
		return nil, ovm.Errorf(ovm.KindUnsupported, "cannot snapshot instance %s: snapshots are not offered for containers "+
			"(a container is remade from its image; keep its data on a volume)", inst.Name)
	}
	if o, ok := hv.(observed); ok {
		hv = o.Driver
	}
	sn, ok := hv.(hypervisor.Snapshotter)
	if !ok || !hv.Capabilities().Snapshots {
		return nil, ovm.Errorf(ovm.KindUnsupported, "cannot snapshot instance %s: its host kind (%s) takes no snapshots", inst.Name, hv.Kind())
	}
	return sn, nil
}

// storageSnapshots returns a host's volume snapshot facet, or
// ovm.ErrUnsupported.
func storageSnapshots(st storage.Driver, kind ovm.HostKind, v volumeRecord) (storage.Snapshotter, error) {
	sn, ok := st.(storage.Snapshotter)
	if st == nil || !ok || !st.Capabilities().Snapshots {
		return nil, ovm.Errorf(ovm.KindUnsupported, "cannot snapshot volume %s: %s hosts take no volume snapshots "+
			"(snapshot the instance it is attached to instead, where its host kind can)", v.Name, kind)
	}
	return sn, nil
}

// CreateInstanceSnapshot snapshots an instance's disks (and its memory
// when it runs and its engine can) through a snapshot.create task. The
// snapshot's bound is charged to the VDC's disk quota in the transaction
// that records it.
func (s *Service) CreateInstanceSnapshot(ctx context.Context, p auth.Principal, instID ovm.ID, in CreateSnapshot) (SnapshotTask, error) {
	if r := ovm.ValidateName(in.Name); r != "" {
		return SnapshotTask{}, invalid("invalid snapshot", "name", r)
	}
	fctx, cancel := context.WithTimeout(ctx, s.o.DriverTimeout)
	hv, _, inst, err := s.facet(fctx, p, instID, "snapshot")
	cancel()
	if err != nil {
		return SnapshotTask{}, err
	}
	if _, err := hypervisorSnapshots(hv, inst); err != nil {
		return SnapshotTask{}, err
	}
	memCap := hv.Capabilities().SnapshotMemory
	return s.createSnapshot(ctx, p, SnapshotOf{InstanceID: instID}, in, func(ctx context.Context, tx store.Tx, r store.Record) (owner, error) {
		inst, err := decode[instanceRecord](r)
		if err != nil {
			return owner{}, err
		}
		if inst.Status.Phase != ovm.PhaseReady || inst.Status.HostID == "" {
			return owner{}, conflictf("cannot snapshot instance %s: it is %s", inst.Name, inst.Status.Phase)
		}
		if err := busy(ctx, tx, inst); err != nil {
			return owner{}, err
		}
		memory := memCap && inst.Status.Power == ovm.PowerRunning
		return owner{name: inst.Name, host: inst.Status.HostID, size: instanceSnapshotBound(inst, memory)}, nil
	})
}

// CreateVolumeSnapshot snapshots a volume through a snapshot.create task;
// the volume's size is charged to the VDC's disk quota.
func (s *Service) CreateVolumeSnapshot(ctx context.Context, p auth.Principal, volID ovm.ID, in CreateSnapshot) (SnapshotTask, error) {
	if r := ovm.ValidateName(in.Name); r != "" {
		return SnapshotTask{}, invalid("invalid snapshot", "name", r)
	}
	caps, err := s.volumeFacet(ctx, p, volID)
	if err != nil {
		return SnapshotTask{}, err
	}
	return s.createSnapshot(ctx, p, SnapshotOf{VolumeID: volID}, in, func(ctx context.Context, tx store.Tx, r store.Record) (owner, error) {
		v, err := decode[volumeRecord](r)
		if err != nil {
			return owner{}, err
		}
		if err := volumeIdle(ctx, tx, v, "snapshot"); err != nil {
			return owner{}, err
		}
		if caps.ColdSnapshots {
			if err := notInUse(ctx, tx, v); err != nil {
				return owner{}, err
			}
		}
		return owner{name: v.Name, host: v.HostID, size: v.Size}, nil
	})
}

// notInUse refuses a snapshot of a volume a running instance uses, on an
// engine whose volume snapshot is a copy of the volume's file
// (storage.Capabilities.ColdSnapshots).
func notInUse(ctx context.Context, tx store.Tx, v volumeRecord) error {
	if v.AttachedTo == "" {
		return nil
	}
	inst, _, err := getAs[instanceRecord](ctx, tx, store.KindInstance, v.AttachedTo)
	if err != nil || inst.Status.Power != ovm.PowerRunning {
		return ignore(err, ovm.KindNotFound)
	}
	return conflictf("cannot snapshot volume %s: running instance %s uses it, and a volume snapshot on its host is a copy "+
		"of the volume's disk, which the running instance locks: stop the instance or detach the volume first", v.Name, inst.Name)
}

// volumeFacet checks that a visible volume's host takes volume snapshots
// and returns what its storage driver announces.
func (s *Service) volumeFacet(ctx context.Context, p auth.Principal, id ovm.ID) (storage.Capabilities, error) {
	var v volumeRecord
	var h hostRecord
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getVisible(ctx, tx, p, store.KindVolume, id)
		if err != nil {
			return err
		}
		if v, err = decode[volumeRecord](r); err != nil {
			return err
		}
		if v.Phase != ovm.PhaseReady || v.HostID == "" {
			return conflictf("volume %s is %s", v.Name, v.Phase)
		}
		h, _, err = getAs[hostRecord](ctx, tx, store.KindHost, v.HostID)
		return err
	})
	if err != nil {
		return storage.Capabilities{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.o.DriverTimeout)
	defer cancel()
	conn, err := s.connect(cctx, h)
	if err != nil {
		return storage.Capabilities{}, hostError(h.Host, err)
	}
	if _, err = storageSnapshots(conn.Storage, h.Kind, v); err != nil {
		return storage.Capabilities{}, err
	}
	return conn.Storage.Capabilities(), nil
}

// volumeIdle refuses to act on a volume that is not ready or has a task in
// progress.
func volumeIdle(ctx context.Context, tx store.Tx, v volumeRecord, what string) error {
	if v.Phase != ovm.PhaseReady || v.HostID == "" {
		return conflictf("cannot %s volume %s: it is %s", what, v.Name, v.Phase)
	}
	return taskInProgress(ctx, tx, "volume", v.Name, v.PendingTask)
}

// owner is what a snapshot request needs of the instance or volume.
type owner struct {
	name string
	host ovm.ID
	size ovm.Bytes
}

// createSnapshot records a snapshot of what of names, charges its size to
// the VDC's disk quota and its host, and enqueues its snapshot.create
// task, in one transaction; check reads the instance or volume.
func (s *Service) createSnapshot(ctx context.Context, p auth.Principal, of SnapshotOf, in CreateSnapshot,
	check func(ctx context.Context, tx store.Tx, r store.Record) (owner, error)) (SnapshotTask, error) {
	var out SnapshotTask
	req := struct {
		Of   SnapshotOf
		Name string
	}{of, in.Name}
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return idempotent(ctx, tx, p, TaskSnapshotCreate, in.IdempotencyKey, req, &out, func() error {
			r, err := getVisible(ctx, tx, p, of.kind(), of.id())
			if err != nil {
				return err
			}
			o, err := check(ctx, tx, r)
			if err != nil {
				return err
			}
			vdc := r.VDCID
			switch _, err := tx.GetByName(ctx, store.KindSnapshot, vdc, snapshotKey(of.id(), in.Name)); {
			case err == nil:
				return &ovm.Error{Kind: ovm.KindConflict, Message: "name taken", Fields: []ovm.FieldError{{Field: "name",
					Reason: "the " + string(of.kind()) + " " + o.name + " has a snapshot named " + in.Name}}}
			case ovm.KindOf(err) != ovm.KindNotFound:
				return err
			}
			usage := ovm.Usage{Disk: o.size}
			if err := tx.Reserve(ctx, vdc, usage); err != nil {
				return err
			}
			limit, err := allocatable(ctx, tx, o.host)
			if err != nil {
				return err
			}
			var held hostHold
			if err := setHold(ctx, tx, &held, hostHold{HostID: o.host, Resources: ovm.Resources{Disk: o.size}}, limit); err != nil {
				return hostFull(err, "snapshot "+in.Name)
			}
			id := ovm.NewID()
			task, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskSnapshotCreate, VDCID: vdc, TargetID: id, HostID: o.host,
				Input: snapshotInput{SnapshotID: id}})
			if err != nil {
				return err
			}
			if err := setPending(ctx, tx, of, "", task.ID); err != nil {
				return err
			}
			sn := snapshotRecord{SnapshotInfo: SnapshotInfo{ID: id, Name: in.Name, VDCID: vdc, InstanceID: of.InstanceID,
				VolumeID: of.VolumeID, Size: o.size, Phase: ovm.PhaseCreating, CreatedAt: s.now()},
				HostID: o.host, Reserved: usage, Held: held, PendingTask: task.ID}
			rec := store.Record{Kind: store.KindSnapshot, ID: id, VDCID: vdc, ParentID: of.id(), HostID: o.host, Name: snapshotKey(of.id(), in.Name)}
			if err := setData(&rec, sn); err != nil {
				return err
			}
			out = SnapshotTask{Snapshot: sn.view(auth.Principal{Role: auth.RoleAdmin}), Task: &task}
			return tx.Insert(ctx, &rec)
		})
	})
	if err != nil {
		return SnapshotTask{}, err
	}
	s.tasks.Kick()
	if !p.Admin() {
		out.Snapshot.NativeID = ""
	}
	return out, nil
}

// setPending sets the pending task of the instance or volume of names from
// old (any, when old is empty) to task; a missing one is left alone.
func setPending(ctx context.Context, tx store.Tx, of SnapshotOf, old, task ovm.ID) error {
	change := func(cur *ovm.ID) bool {
		if old != "" && *cur != old {
			return false
		}
		*cur = task
		return true
	}
	if of.VolumeID != "" {
		v, r, err := getAs[volumeRecord](ctx, tx, store.KindVolume, of.VolumeID)
		if err != nil || !change(&v.PendingTask) {
			return ignore(err, ovm.KindNotFound)
		}
		return save(ctx, tx, &r, v)
	}
	inst, r, err := getAs[instanceRecord](ctx, tx, store.KindInstance, of.InstanceID)
	if err != nil || !change(&inst.PendingTask) {
		return ignore(err, ovm.KindNotFound)
	}
	return save(ctx, tx, &r, inst)
}

// GetSnapshot returns a snapshot of what of names that the principal may
// see, and its version.
func (s *Service) GetSnapshot(ctx context.Context, p auth.Principal, of SnapshotOf, id ovm.ID) (SnapshotInfo, int64, error) {
	var sn snapshotRecord
	var ver int64
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getSnapshotOf(ctx, tx, p, of, id)
		if err != nil {
			return err
		}
		sn, err = decode[snapshotRecord](r)
		ver = r.Version
		return err
	})
	if err != nil {
		return SnapshotInfo{}, 0, err
	}
	out := sn.view(p)
	s.redactFor(ctx, p, &out.Message)
	return out, ver, nil
}

// getSnapshotOf reads a visible snapshot of what of names: a snapshot of
// another instance or volume is not found.
func getSnapshotOf(ctx context.Context, tx store.Tx, p auth.Principal, of SnapshotOf, id ovm.ID) (store.Record, error) {
	r, err := getVisible(ctx, tx, p, store.KindSnapshot, id)
	if err != nil {
		return r, err
	}
	if (of == SnapshotOf{}) {
		return r, nil
	}
	sn, err := decode[snapshotRecord](r)
	if err != nil {
		return r, err
	}
	if sn.of() != of {
		return store.Record{}, ovm.NotFound("snapshot", id)
	}
	return r, nil
}

// ListSnapshots lists the snapshots of an instance or a volume the
// principal may see, or with of zero every snapshot of the principal's VDC
// (any, for an administrator).
func (s *Service) ListSnapshots(ctx context.Context, p auth.Principal, of SnapshotOf, o ListOptions) (Page[SnapshotInfo], error) {
	conv := func(r store.Record) (SnapshotInfo, error) {
		sn, err := decode[snapshotRecord](r)
		return sn.view(p), err
	}
	var pg Page[SnapshotInfo]
	var err error
	if (of == SnapshotOf{}) {
		pg, err = listVisible(ctx, s, p, store.KindSnapshot, o, conv)
	} else {
		err = s.view(ctx, func(ctx context.Context, tx store.Tx) error {
			r, err := getVisible(ctx, tx, p, of.kind(), of.id())
			if err != nil {
				return err
			}
			pg, err = listPage(ctx, tx, store.Filter{Kind: store.KindSnapshot, VDCID: r.VDCID, ParentID: of.id()}, o, conv)
			return err
		})
	}
	if err != nil {
		return Page[SnapshotInfo]{}, err
	}
	texts := make([]*string, len(pg.Items))
	for i := range pg.Items {
		texts[i] = &pg.Items[i].Message
	}
	s.redactFor(ctx, p, texts...)
	return pg, nil
}

// RevertSnapshot puts the instance or volume back to the snapshot through
// a snapshot.revert task. A volume must be detached. What becomes of a
// running instance is its engine's behaviour: a snapshot that holds the
// memory brings it back running from that moment; a disk-only snapshot
// leaves it stopped on an engine that powers it off (ESXi) or stopped when
// it was stopped at the snapshot (libvirt). The task records the power the
// instance has afterwards.
func (s *Service) RevertSnapshot(ctx context.Context, p auth.Principal, of SnapshotOf, id ovm.ID, ifVersion int64) (SnapshotTask, error) {
	return s.snapshotChange(ctx, p, of, id, ifVersion, TaskSnapshotRevert, func(sn *snapshotRecord) error {
		if sn.Phase != ovm.PhaseReady {
			return conflictf("cannot revert to snapshot %s: it is %s", sn.Name, sn.Phase)
		}
		return nil
	})
}

// DeleteSnapshot deletes a snapshot through a snapshot.delete task, which
// releases its quota.
func (s *Service) DeleteSnapshot(ctx context.Context, p auth.Principal, of SnapshotOf, id ovm.ID, ifVersion int64) (SnapshotTask, error) {
	return s.snapshotChange(ctx, p, of, id, ifVersion, TaskSnapshotDelete, func(sn *snapshotRecord) error {
		if sn.Phase != ovm.PhaseReady && sn.Phase != ovm.PhaseFailed {
			return conflictf("cannot delete snapshot %s: it is %s", sn.Name, sn.Phase)
		}
		sn.Phase = ovm.PhaseDeleting
		return nil
	})
}

// snapshotChange enqueues a task of kind on a visible snapshot under
// If-Match, once check allows it, and marks the instance or volume busy
// with it.
func (s *Service) snapshotChange(ctx context.Context, p auth.Principal, of SnapshotOf, id ovm.ID, ifVersion int64, kind string,
	check func(sn *snapshotRecord) error) (SnapshotTask, error) {
	var out SnapshotTask
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getSnapshotOf(ctx, tx, p, of, id)
		if err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		sn, err := decode[snapshotRecord](r)
		if err != nil {
			return err
		}
		if err := check(&sn); err != nil {
			return err
		}
		if err := ownerIdle(ctx, tx, sn, kind); err != nil {
			return err
		}
		task, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: kind, VDCID: sn.VDCID, TargetID: sn.ID, HostID: sn.HostID,
			Input: snapshotInput{SnapshotID: sn.ID}})
		if err != nil {
			return err
		}
		if err := setPending(ctx, tx, sn.of(), "", task.ID); err != nil {
			return err
		}
		sn.PendingTask, sn.Message = task.ID, ""
		out = SnapshotTask{Snapshot: sn.view(p), Task: &task}
		return save(ctx, tx, &r, sn)
	})
	if err != nil {
		return SnapshotTask{}, err
	}
	s.tasks.Kick()
	return out, nil
}

// ownerIdle refuses a task of kind on a snapshot while its instance or
// volume is busy, or cannot take it.
func ownerIdle(ctx context.Context, tx store.Tx, sn snapshotRecord, kind string) error {
	if sn.VolumeID != "" {
		v, _, err := getAs[volumeRecord](ctx, tx, store.KindVolume, sn.VolumeID)
		if err != nil {
			return err
		}
		if err := volumeIdle(ctx, tx, v, "act on a snapshot of"); err != nil {
			return err
		}
		if kind == TaskSnapshotRevert && v.AttachedTo != "" {
			return conflictf("cannot revert volume %s: it is attached to instance %s; detach it first", v.Name, v.AttachedTo)
		}
		return nil
	}
	inst, _, err := getAs[instanceRecord](ctx, tx, store.KindInstance, sn.InstanceID)
	if err != nil {
		return err
	}
	if inst.Status.Phase != ovm.PhaseReady {
		return conflictf("instance %s is %s", inst.Name, inst.Status.Phase)
	}
	return busy(ctx, tx, inst)
}

// dropSnapshots removes the records of the snapshots of an instance or a
// volume that is deleted (its engine deletes them with it) and releases
// what they hold, in tx.
func dropSnapshots(ctx context.Context, tx store.Tx, vdc, of ovm.ID) error {
	return eachSnapshot(ctx, tx, vdc, of, func(r store.Record, sn snapshotRecord) error {
		if err := releaseSnapshot(ctx, tx, &sn); err != nil {
			return err
		}
		if err := tx.Delete(ctx, store.KindSnapshot, r.ID, 0); err != nil && !errors.Is(err, ovm.ErrNotFound) {
			return err
		}
		return nil
	})
}

// eachSnapshot calls fn with each snapshot of the instance or volume of
// in VDC vdc, in tx.
func eachSnapshot(ctx context.Context, tx store.Tx, vdc, of ovm.ID, fn func(r store.Record, sn snapshotRecord) error) error {
	rs, err := listAll(ctx, tx, store.Filter{Kind: store.KindSnapshot, VDCID: vdc, ParentID: of})
	if err != nil {
		return err
	}
	for _, r := range rs {
		sn, err := decode[snapshotRecord](r)
		if err != nil {
			return err
		}
		if err := fn(r, sn); err != nil {
			return err
		}
	}
	return nil
}

// releaseSnapshot gives back a snapshot's quota and its disk on its host,
// once.
func releaseSnapshot(ctx context.Context, tx store.Tx, sn *snapshotRecord) error {
	if sn.Reserved != (ovm.Usage{}) {
		if err := tx.Reserve(ctx, sn.VDCID, ovm.Usage{}.Sub(sn.Reserved)); err != nil {
			return err
		}
		sn.Reserved = ovm.Usage{}
	}
	return setHold(ctx, tx, &sn.Held, hostHold{}, ovm.Resources{})
}
