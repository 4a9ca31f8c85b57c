package core

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
	"github.com/openovm/ovm/storage"
)

// The volume attachment task kinds.
const (
	TaskVolumeAttach = "volume.attach"
	TaskVolumeDetach = "volume.detach"
)

// containerAttach is why a volume cannot be attached to a container.
const containerAttach = "a container's volumes are mounted when it is created: Docker cannot add a mount to an existing " +
	"(let alone a running) container; create the container with the volume in spec.disks (volumeId and mountPath)"

// volumePool reads the storage pool a new volume of VDC v names, which
// must be ready and reached by a host the VDC places on.
func (s *Service) volumePool(ctx context.Context, tx store.Tx, p auth.Principal, v ovm.VDC, id ovm.ID) (storagePoolRecord, error) {
	if !id.Valid() {
		return storagePoolRecord{}, invalid("invalid volume", "storagePoolId", "must be the id of a storage pool")
	}
	rec, _, err := getAs[storagePoolRecord](ctx, tx, store.KindStoragePool, id)
	if err != nil {
		return rec, fieldNotFound(err, "storagePoolId")
	}
	if rec.Phase != ovm.PhaseReady {
		return rec, invalid("invalid volume", "storagePoolId", fmt.Sprintf("storage pool %s is %s, not ready", id, rec.Phase))
	}
	if len(rec.Natives) == 0 && rec.NativeName != "" && ovm.ValidateName(rec.NativeName) != "" {
		return rec, invalid("invalid volume", "storagePoolId", fmt.Sprintf("storage pool %s is %q on its host, which OVM cannot adopt (%s): rename it there, or register a pool",
			id, rec.NativeName, ovm.ValidateName(rec.NativeName)))
	}
	pool, _, err := getAs[ovm.ResourcePool](ctx, tx, store.KindPool, v.PoolID)
	if err != nil {
		return rec, err
	}
	scope := pool.Scope
	if scope.Kind == "" {
		scope = ovm.Scope{Kind: ovm.ScopePool, PoolID: pool.ID}
	}
	hrs, err := scopeHosts(ctx, tx, scope)
	if err != nil {
		return rec, err
	}
	for _, r := range hrs {
		if rec.reaches(r.ID) {
			return rec, nil
		}
	}
	return rec, invalid("invalid volume", "storagePoolId", fmt.Sprintf("storage pool %s is on no host the VDC places on", id))
}

// ensureVolumePool makes sure a create's pool is on its host (made, or
// adopted, by id) and returns its id there: a recorded pool as its record
// says, else the host's default pool.
func (s *Service) ensureVolumePool(ctx context.Context, st storage.Driver, in volumeInput) (ovm.ID, error) {
	if in.PoolID == "" {
		pool := defaultPoolID(in.HostID)
		_, err := st.CreatePool(ctx, storage.PoolSpec{ID: pool, Name: "ovm-default", Kind: ovm.StorageLocal, Path: volumeRoot})
		return pool, err
	}
	rec, err := viewAs[storagePoolRecord](ctx, s, store.KindStoragePool, in.PoolID)
	if err != nil {
		return "", err
	}
	got, err := st.CreatePool(ctx, rec.spec(in.HostID))
	if err != nil {
		return "", err
	}
	if rec.Natives[in.HostID] != got.ID {
		err = s.updatePool(ctx, rec.ID, func(rec *storagePoolRecord) error {
			learnPool(rec, in.HostID, got)
			return nil
		})
	}
	return got.ID, err
}

// volumeReaches reports whether a volume can be attached on host: its
// recorded pool reaches the host, or (the host's default pool) it is
// on the host.
func volumeReaches(ctx context.Context, tx store.Tx, v volumeRecord, host ovm.ID) (bool, error) {
	rec, _, err := getAs[storagePoolRecord](ctx, tx, store.KindStoragePool, v.StoragePoolID)
	switch {
	case ovm.KindOf(err) == ovm.KindNotFound:
		return v.HostID == host, nil
	case err != nil:
		return false, err
	}
	return rec.reaches(host) || v.HostID == host, nil
}

// attachedInstance returns the instance a volume is attached to; false when
// it is attached to none (or to one deleted since).
func attachedInstance(ctx context.Context, tx store.Tx, v volumeRecord) (instanceRecord, bool, error) {
	if v.AttachedTo == "" {
		return instanceRecord{}, false, nil
	}
	inst, _, err := getAs[instanceRecord](ctx, tx, store.KindInstance, v.AttachedTo)
	switch {
	case ovm.KindOf(err) == ovm.KindNotFound:
		return inst, false, nil
	case err != nil:
		return inst, false, err
	}
	return inst, true, nil
}

// AttachVolume attaches a ready volume to a VM of its VDC in a
// volume.attach task: live when the VM runs and its host's engine
// attaches live, else to the stopped VM. Containers take volumes only
// when they are created (ovm.ErrUnsupported says so).
func (s *Service) AttachVolume(ctx context.Context, p auth.Principal, id, instID ovm.ID, ifVersion int64) (VolumeTask, error) {
	return s.volumeChange(ctx, p, id, ifVersion, func(ctx context.Context, tx store.Tx, v *volumeRecord) (*ovm.Task, error) {
		if v.Phase != ovm.PhaseReady {
			return nil, conflictf("volume %s is %s", v.Name, v.Phase)
		}
		cur, attached, err := attachedInstance(ctx, tx, *v)
		if err != nil {
			return nil, err
		}
		if attached {
			return nil, conflictf("volume %s is attached to instance %s (%s): detach it first", v.Name, cur.Name, cur.ID)
		}
		v.AttachedTo = ""
		ir, err := getVisible(ctx, tx, p, store.KindInstance, instID)
		if err != nil {
			return nil, fieldNotFound(err, "instanceId")
		}
		inst, err := decode[instanceRecord](ir)
		if err != nil {
			return nil, err
		}
		if inst.VDCID != v.VDCID {
			return nil, invalid("invalid attachment", "instanceId", "must be an instance of the volume's VDC")
		}
		if inst.Spec.Type == ovm.TypeContainer {
			return nil, ovm.Errorf(ovm.KindUnsupported, "cannot attach volume %s to container %s: %s", v.Name, inst.Name, containerAttach)
		}
		if inst.Status.Phase != ovm.PhaseReady || inst.PendingTask != "" {
			return nil, conflictf("instance %s is %s", inst.Name, inst.Status.Phase)
		}
		host := inst.Status.HostID
		ok, err := volumeReaches(ctx, tx, *v, host)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, invalid("invalid attachment", "instanceId", "runs on a host that does not reach the volume's storage pool")
		}
		t, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskVolumeAttach, VDCID: v.VDCID, TargetID: v.ID, HostID: host,
			Input: volumeInput{VolumeID: v.ID, HostID: host, InstanceID: inst.ID}})
		v.Phase, v.AttachingTo = ovm.PhaseAttaching, inst.ID
		return &t, err
	})
}

// DetachVolume detaches a volume from its VM in a volume.detach task; a
// volume whose VM was deleted is detached at once.
func (s *Service) DetachVolume(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) (VolumeTask, error) {
	return s.volumeChange(ctx, p, id, ifVersion, func(ctx context.Context, tx store.Tx, v *volumeRecord) (*ovm.Task, error) {
		if v.Phase != ovm.PhaseReady {
			return nil, conflictf("volume %s is %s", v.Name, v.Phase)
		}
		inst, attached, err := attachedInstance(ctx, tx, *v)
		if err != nil {
			return nil, err
		}
		if !attached {
			if v.AttachedTo == "" {
				return nil, conflictf("volume %s is not attached", v.Name)
			}
			v.AttachedTo = ""
			return nil, nil
		}
		if inst.PendingTask != "" {
			return nil, conflictf("instance %s is busy (task %s)", inst.Name, inst.PendingTask)
		}
		host := inst.Status.HostID
		t, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskVolumeDetach, VDCID: v.VDCID, TargetID: v.ID, HostID: host,
			Input: volumeInput{VolumeID: v.ID, HostID: host, InstanceID: inst.ID}})
		v.Phase = ovm.PhaseDetaching
		return &t, err
	})
}

// attacherOf connects to an attachment's host and returns its storage
// attacher, refusing a cold-only engine while the instance runs.
func (s *Service) attacherOf(ctx context.Context, in volumeInput) (storage.Attacher, bool, error) {
	h, err := viewAs[hostRecord](ctx, s, store.KindHost, in.HostID)
	if err != nil {
		return nil, false, err
	}
	conn, err := s.connect(ctx, h)
	if err != nil {
		return nil, false, err
	}
	at, ok := conn.Storage.(storage.Attacher)
	if conn.Storage == nil || !ok || !conn.Storage.Capabilities().Attach {
		return nil, false, ovm.Errorf(ovm.KindUnsupported, "host %s (%s) does not attach volumes after create", h.Name, h.Kind)
	}
	got, err := conn.Hypervisor.Get(ctx, hypervisor.ByID(in.InstanceID))
	if err != nil {
		return nil, false, err
	}
	live := got.Power == ovm.PowerRunning || got.Power == ovm.PowerPaused
	if live && !conn.Storage.Capabilities().HotAttach {
		return nil, false, ovm.Errorf(ovm.KindConflict, "host %s (%s) attaches and detaches volumes of stopped instances only: stop the instance first", h.Name, h.Kind)
	}
	return at, live, nil
}

// volumeAttachHandler is the volume.attach task kind.
type volumeAttachHandler struct{ s *Service }

// Steps attaches on the host, then records the attachment (tasks.Handler).
func (h volumeAttachHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[volumeInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	return []tasks.Step{{
		Name: "attach",
		Do: func(ctx context.Context, r *tasks.Run) error {
			at, live, err := s.attacherOf(ctx, in)
			if err != nil {
				return err
			}
			if err := at.AttachVolume(ctx, in.VolumeID, in.InstanceID); err != nil {
				return err
			}
			how := "to the stopped instance"
			if live {
				how = "live"
			}
			r.Logf(slog.LevelInfo, "attached volume %s to instance %s %s", in.VolumeID, in.InstanceID, how)
			return nil
		},
		Undo: func(ctx context.Context, r *tasks.Run) error {
			at, _, err := s.attacherOf(ctx, in)
			if err != nil {
				return ignore(err, ovm.KindNotFound)
			}
			return ignore(at.DetachVolume(ctx, in.VolumeID), ovm.KindNotFound)
		},
	}, {
		Name: "record",
		Do: func(ctx context.Context, r *tasks.Run) error {
			return s.updateVolume(ctx, in.VolumeID, func(_ context.Context, _ store.Tx, v *volumeRecord) error {
				v.Phase, v.AttachedTo, v.AttachingTo, v.Message, v.PendingTask = ovm.PhaseReady, in.InstanceID, "", "", ""
				return nil
			})
		},
	}}, nil
}

// Finish leaves a volume whose attach failed detached, with why.
func (h volumeAttachHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	if state == ovm.TaskSucceeded {
		return nil
	}
	return h.s.updateVolume(ctx, r.Task().TargetID, func(_ context.Context, _ store.Tx, v *volumeRecord) error {
		v.Phase, v.AttachingTo, v.Message, v.PendingTask = ovm.PhaseReady, "", "attach failed: "+causeText(cause), ""
		return nil
	})
}

// volumeDetachHandler is the volume.detach task kind.
type volumeDetachHandler struct{ s *Service }

// Steps detaches on the host, then records it (tasks.Handler).
func (h volumeDetachHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[volumeInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	return []tasks.Step{{
		Name: "detach",
		Do: func(ctx context.Context, r *tasks.Run) error {
			at, _, err := s.attacherOf(ctx, in)
			if err != nil {
				return err
			}
			return ignore(at.DetachVolume(ctx, in.VolumeID), ovm.KindNotFound)
		},
	}, {
		Name: "record",
		Do: func(ctx context.Context, r *tasks.Run) error {
			return s.updateVolume(ctx, in.VolumeID, func(_ context.Context, _ store.Tx, v *volumeRecord) error {
				v.Phase, v.AttachedTo, v.Message, v.PendingTask = ovm.PhaseReady, "", "", ""
				return nil
			})
		},
	}}, nil
}

// Finish leaves a volume whose detach failed attached, with why.
func (h volumeDetachHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	if state == ovm.TaskSucceeded {
		return nil
	}
	return h.s.updateVolume(ctx, r.Task().TargetID, func(_ context.Context, _ store.Tx, v *volumeRecord) error {
		v.Phase, v.Message, v.PendingTask = ovm.PhaseReady, "detach failed: "+causeText(cause), ""
		return nil
	})
}

// volumeStorage returns the recorded storage pool of a volume that an
// instance's disk names ("" when the volume is in its host's default pool,
// or gone: claimVolumes names that field).
func volumeStorage(ctx context.Context, tx store.Tx, id ovm.ID) (ovm.ID, error) {
	v, _, err := getAs[volumeRecord](ctx, tx, store.KindVolume, id)
	switch {
	case ovm.KindOf(err) == ovm.KindNotFound || !id.Valid():
		return "", nil
	case err != nil:
		return "", err
	}
	switch _, _, err := getAs[storagePoolRecord](ctx, tx, store.KindStoragePool, v.StoragePoolID); {
	case err == nil:
		return v.StoragePoolID, nil
	case ovm.KindOf(err) == ovm.KindNotFound:
		return "", nil
	default:
		return "", err
	}
}

// claimVolumes attaches the volumes a new container's disks name to it, in
// the transaction that records it: each must be a ready volume of the VDC,
// attached to no instance, in storage its host reaches.
func claimVolumes(ctx context.Context, tx store.Tx, vdc, instID ovm.ID, spec ovm.InstanceSpec, host ovm.ID) error {
	for i, d := range spec.Disks {
		if d.VolumeID.IsZero() {
			continue
		}
		field := "spec.disks[" + itoa(i) + "].volumeId"
		v, r, err := getAs[volumeRecord](ctx, tx, store.KindVolume, d.VolumeID)
		if err == nil && v.VDCID != vdc {
			err = ovm.NotFound("volume", d.VolumeID)
		}
		if err != nil {
			return fieldNotFound(err, field)
		}
		if v.Phase != ovm.PhaseReady {
			return conflictf("volume %s is %s", v.Name, v.Phase)
		}
		if cur, attached, err := attachedInstance(ctx, tx, v); err != nil {
			return err
		} else if attached {
			return conflictf("volume %s is attached to instance %s (%s)", v.Name, cur.Name, cur.ID)
		}
		ok, err := volumeReaches(ctx, tx, v, host)
		if err != nil {
			return err
		}
		if !ok {
			return invalid("invalid instance", field, fmt.Sprintf("volume %s is in storage the instance's host does not reach", v.Name))
		}
		v.AttachedTo = instID
		if err := save(ctx, tx, &r, v); err != nil {
			return err
		}
	}
	return nil
}

// volumeAttachments resolves the volumes a container's disks name for its
// driver on host: each volume with its storage pool (as that host names
// it) and mount path. A VM gets none (its volumes are attached once it
// exists). A migration recreating a container passes its target.
func (s *Service) volumeAttachments(ctx context.Context, inst instanceRecord, host ovm.ID) ([]hypervisor.DiskAttachment, error) {
	if inst.Spec.Type != ovm.TypeContainer {
		return nil, nil
	}
	var out []hypervisor.DiskAttachment
	for _, d := range inst.Spec.Disks {
		if d.VolumeID.IsZero() {
			continue
		}
		v, err := viewAs[volumeRecord](ctx, s, store.KindVolume, d.VolumeID)
		if err != nil {
			return nil, err
		}
		pool := ovm.StoragePool{ID: v.StoragePoolID, Kind: ovm.StorageLocal}
		switch rec, err := viewAs[storagePoolRecord](ctx, s, store.KindStoragePool, v.StoragePoolID); {
		case err == nil:
			pool = rec.StoragePool
			pool.ID = rec.native(host)
		case ovm.KindOf(err) != ovm.KindNotFound:
			return nil, err
		}
		out = append(out, hypervisor.DiskAttachment{Volume: v.Volume, Pool: pool, MountPath: d.MountPath})
	}
	return out, nil
}
