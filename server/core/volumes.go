package core

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
	"github.com/openovm/ovm/storage"
)

// volumeRecord is a stored volume.
type volumeRecord struct {
	ovm.Volume
	HostID   ovm.ID    `json:"hostId,omitempty"`
	Phase    ovm.Phase `json:"phase"`
	Message  string    `json:"message,omitempty"`
	Reserved ovm.Usage `json:"reserved"`
	// Held is the volume's disk on its host (see hostHold).
	Held        hostHold `json:"held,omitzero"`
	PendingTask ovm.ID   `json:"pendingTask,omitempty"`
	// OldSize is the size before a resize in flight (0: none).
	OldSize ovm.Bytes `json:"oldSizeBytes,omitempty"`
	// PoolHeld is what the volume holds of its storage pool's capacity
	// (chargePool).
	PoolHeld ovm.Bytes `json:"poolHeldBytes,omitempty"`
	// AttachingTo is the instance an attach in flight attaches to.
	AttachingTo ovm.ID `json:"attachingTo,omitempty"`
}

// VolumeInfo is a volume as clients see it.
type VolumeInfo = apitypes.VolumeInfo

func (v volumeRecord) view(p auth.Principal) VolumeInfo {
	out := VolumeInfo{Volume: v.Volume, Phase: v.Phase, Message: v.Message}
	if !p.Admin() {
		out.NativeID, out.StoragePoolID = "", ""
	}
	return out
}

// VolumeTask is a volume and the task that acts on it.
type VolumeTask = apitypes.VolumeTask

// CreateVolume is the input of a new volume.
type CreateVolume = apitypes.VolumeCreate

// volumeRoot is where a host's default storage pool keeps volumes.
const volumeRoot = "/var/lib/ovm/volumes"

// defaultPoolID is the id of a host's default storage pool, derived from
// the host's id so that every step names the same pool.
func defaultPoolID(host ovm.ID) ovm.ID {
	b := sha256.Sum256([]byte("ovm-default-pool/" + host))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return ovm.ID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

// CreateVolume reserves disk quota, places a volume on a host of the VDC's
// pool and records it with the volume.create task that makes it.
func (s *Service) CreateVolume(ctx context.Context, p auth.Principal, in CreateVolume) (VolumeTask, error) {
	var f ovm.Fields
	if r := ovm.ValidateName(in.Name); r != "" {
		f.Add("name", r)
	}
	if in.Size <= 0 || in.Size > 64*ovm.TiB {
		f.Add("sizeBytes", "must be between 1 byte and 64TiB")
	}
	if err := f.Err("invalid volume"); err != nil {
		return VolumeTask{}, err
	}
	vdc, err := resolveVDC(p, in.VDCID, true)
	if err != nil {
		return VolumeTask{}, err
	}
	var out VolumeTask
	defer s.placing.lock(vdc)()
	err = s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return idempotent(ctx, tx, p, "volume.create", in.IdempotencyKey, in, &out, func() error {
			v, err := s.tenantVDC(ctx, tx, p, vdc)
			if err != nil {
				return err
			}
			if err := nameFree(ctx, tx, store.KindVolume, vdc, in.Name, "name"); err != nil {
				return err
			}
			usage := ovm.Usage{Disk: in.Size}
			if err := tx.Reserve(ctx, vdc, usage); err != nil {
				return err
			}
			reqs := []placement.Request{{Name: in.Name, Demand: ovm.Resources{Disk: in.Size}}}
			hostDisk := ovm.Resources{Disk: in.Size}
			var pool storagePoolRecord
			if in.StoragePoolID != "" {
				if pool, err = s.volumePool(ctx, tx, p, v, in.StoragePoolID); err != nil {
					return err
				}
				// The pool's capacity guards the volume (chargePool), not
				// the disk its host reports: placement picks a host the
				// pool reaches. A local pool's volume is still held on
				// its host; a shared pool's is not on the host's disks.
				reqs[0].SharedStorage, reqs[0].Demand = []ovm.ID{pool.ID}, ovm.Resources{}
				if pool.Kind.Shared() {
					hostDisk = ovm.Resources{}
				}
				if err := chargePool(ctx, tx, pool.ID, in.Size); err != nil {
					return poolFull(p, err, "sizeBytes")
				}
			}
			res, fl, err := s.place(ctx, tx, v, reqs)
			if err != nil {
				return err
			}
			if res[0].Err != nil {
				return noRoom(p, res[0].Err, reqs[0])
			}
			host := res[0].HostID
			var held hostHold
			if hostDisk.Disk > 0 {
				if err := setHold(ctx, tx, &held, hostHold{HostID: host, Resources: hostDisk}, fl.limit[host]); err != nil {
					return hostFull(err, in.Name)
				}
			}
			id := ovm.NewID()
			task, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskVolumeCreate, VDCID: vdc, TargetID: id, HostID: host,
				Input: volumeInput{VolumeID: id, HostID: host, PoolID: pool.ID}})
			if err != nil {
				return err
			}
			poolID := pool.ID
			if poolID == "" {
				poolID = defaultPoolID(host)
			}
			vol := volumeRecord{Volume: ovm.Volume{ID: id, Name: in.Name, VDCID: vdc, StoragePoolID: poolID,
				Size: in.Size, CreatedAt: s.now()}, HostID: host, Phase: ovm.PhaseCreating, Reserved: usage, Held: held, PendingTask: task.ID}
			if pool.ID != "" {
				vol.PoolHeld = in.Size
			}
			rec := store.Record{Kind: store.KindVolume, ID: id, VDCID: vdc, HostID: host, ParentID: poolID, Name: in.Name}
			if err := setData(&rec, vol); err != nil {
				return err
			}
			out = VolumeTask{Volume: vol.view(auth.Principal{Role: auth.RoleAdmin}), Task: &task}
			return tx.Insert(ctx, &rec)
		})
	})
	if err != nil {
		return VolumeTask{}, err
	}
	s.tasks.Kick()
	if !p.Admin() {
		out.Volume.NativeID, out.Volume.StoragePoolID = "", ""
	}
	return out, nil
}

// GetVolume returns a volume the principal may see and its version.
func (s *Service) GetVolume(ctx context.Context, p auth.Principal, id ovm.ID) (VolumeInfo, int64, error) {
	v, ver, err := getVisibleAs[volumeRecord](ctx, s, p, store.KindVolume, id)
	out := v.view(p)
	s.redactFor(ctx, p, &out.Message)
	return out, ver, err
}

// ListVolumes lists the volumes of the principal's VDC (or any, for an
// administrator).
func (s *Service) ListVolumes(ctx context.Context, p auth.Principal, o ListOptions) (Page[VolumeInfo], error) {
	pg, err := listVisible(ctx, s, p, store.KindVolume, o, func(r store.Record) (VolumeInfo, error) {
		v, err := decode[volumeRecord](r)
		return v.view(p), err
	})
	texts := make([]*string, len(pg.Items))
	for i := range pg.Items {
		texts[i] = &pg.Items[i].Message
	}
	s.redactFor(ctx, p, texts...)
	return pg, err
}

// volumeChange runs change on a visible, idle volume under If-Match.
func (s *Service) volumeChange(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64,
	change func(ctx context.Context, tx store.Tx, v *volumeRecord) (*ovm.Task, error)) (VolumeTask, error) {
	var out VolumeTask
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getVisible(ctx, tx, p, store.KindVolume, id)
		if err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		v, err := decode[volumeRecord](r)
		if err != nil {
			return err
		}
		if v.Phase != ovm.PhaseReady && v.Phase != ovm.PhaseFailed {
			return conflictf("volume %s is %s", v.Name, v.Phase)
		}
		if err := volumeIdle(ctx, tx, v, "change"); err != nil && v.Phase == ovm.PhaseReady {
			return err
		}
		t, err := change(ctx, tx, &v)
		if err != nil {
			return err
		}
		if t != nil {
			v.PendingTask = t.ID
		}
		out = VolumeTask{Volume: v.view(p), Task: t}
		return save(ctx, tx, &r, v)
	})
	if err == nil && out.Task != nil {
		s.tasks.Kick()
	}
	return out, err
}

// ResizeVolume grows a volume through a task; the extra disk is reserved
// now and given back if the task fails.
func (s *Service) ResizeVolume(ctx context.Context, p auth.Principal, id ovm.ID, size ovm.Bytes, ifVersion int64) (VolumeTask, error) {
	return s.volumeChange(ctx, p, id, ifVersion, func(ctx context.Context, tx store.Tx, v *volumeRecord) (*ovm.Task, error) {
		if size <= v.Size || size > 64*ovm.TiB {
			return nil, invalid("invalid size", "sizeBytes", fmt.Sprintf("must grow the volume: more than %s, at most 64TiB", v.Size))
		}
		if v.Phase != ovm.PhaseReady {
			return nil, conflictf("volume %s is %s", v.Name, v.Phase)
		}
		delta := ovm.Usage{Disk: size - v.Size}
		if err := tx.Reserve(ctx, v.VDCID, delta); err != nil {
			return nil, err
		}
		if v.PoolHeld > 0 {
			if err := chargePool(ctx, tx, v.StoragePoolID, delta.Disk); err != nil {
				return nil, poolFull(p, err, "sizeBytes")
			}
			v.PoolHeld += delta.Disk
		}
		if v.Held.HostID != "" {
			limit, err := allocatable(ctx, tx, v.Held.HostID)
			if err != nil {
				return nil, err
			}
			if err := growHold(ctx, tx, &v.Held, ovm.Resources{Disk: delta.Disk}, limit); err != nil {
				return nil, hostFull(err, v.Name)
			}
		}
		t, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskVolumeResize, VDCID: v.VDCID, TargetID: v.ID, HostID: v.HostID,
			Input: volumeInput{VolumeID: v.ID, HostID: v.HostID, Size: size}})
		v.OldSize, v.Size, v.Reserved, v.Phase = v.Size, size, v.Reserved.Add(delta), ovm.PhaseResizing
		return &t, err
	})
}

// DeleteVolume deletes a detached volume through a task and releases its
// quota.
func (s *Service) DeleteVolume(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) (VolumeTask, error) {
	return s.volumeChange(ctx, p, id, ifVersion, func(ctx context.Context, tx store.Tx, v *volumeRecord) (*ovm.Task, error) {
		if _, attached, err := attachedInstance(ctx, tx, *v); err != nil {
			return nil, err
		} else if attached {
			return nil, conflictf("volume %s is attached to instance %s: detach it first", v.Name, v.AttachedTo)
		}
		t, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskVolumeDelete, VDCID: v.VDCID, TargetID: v.ID, HostID: v.HostID,
			Input: volumeInput{VolumeID: v.ID, HostID: v.HostID}})
		v.Phase = ovm.PhaseDeleting
		return &t, err
	})
}

// volumeInput is the input of the volume task kinds.
type volumeInput struct {
	VolumeID ovm.ID    `json:"volumeId"`
	HostID   ovm.ID    `json:"hostId"`
	Size     ovm.Bytes `json:"sizeBytes,omitempty"`
	// PoolID is the recorded storage pool of a create (empty: the host's
	// default pool).
	PoolID ovm.ID `json:"poolId,omitempty"`
	// InstanceID is the instance of an attach or a detach.
	InstanceID ovm.ID `json:"instanceId,omitempty"`
}

// storageOf connects to a volume's host and returns its storage driver.
func (s *Service) storageOf(ctx context.Context, in volumeInput) (storage.Driver, volumeRecord, error) {
	var v volumeRecord
	var h hostRecord
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if v, _, err = getAs[volumeRecord](ctx, tx, store.KindVolume, in.VolumeID); err != nil {
			return err
		}
		h, _, err = getAs[hostRecord](ctx, tx, store.KindHost, in.HostID)
		return err
	})
	if err != nil {
		return nil, v, err
	}
	conn, err := s.connect(ctx, h)
	if err != nil {
		return nil, v, err
	}
	if conn.Storage == nil {
		return nil, v, ovm.Errorf(ovm.KindUnsupported, "host %s (%s) has no storage driver", h.Name, h.Kind)
	}
	return conn.Storage, v, nil
}

// updateVolume changes a volume record in a transaction of its own.
func (s *Service) updateVolume(ctx context.Context, id ovm.ID, change func(ctx context.Context, tx store.Tx, v *volumeRecord) error) error {
	return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		v, r, err := getAs[volumeRecord](ctx, tx, store.KindVolume, id)
		switch {
		case ovm.KindOf(err) == ovm.KindNotFound:
			return nil
		case err != nil:
			return err
		}
		if err := change(ctx, tx, &v); err != nil {
			return err
		}
		return save(ctx, tx, &r, v)
	})
}

// volumeCreateState is what a volume.create task's create step made: the
// volume's engine id and the format its engine gave it.
type volumeCreateState struct {
	NativeID string          `json:"nativeId,omitempty"`
	Format   ovm.ImageFormat `json:"format,omitempty"`
}

// volumeCreateHandler is the volume.create task kind.
type volumeCreateHandler struct{ s *Service }

// Steps returns the steps of a volumeCreate task (tasks.Handler).
func (h volumeCreateHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[volumeInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	return []tasks.Step{{
		Name: "create",
		Do: func(ctx context.Context, r *tasks.Run) error {
			st, v, err := s.storageOf(ctx, in)
			if err != nil {
				return err
			}
			pool, err := s.ensureVolumePool(ctx, st, in)
			if err != nil {
				return err
			}
			got, err := st.CreateVolume(ctx, storage.VolumeSpec{ID: v.ID, Name: hvName(ovm.Instance{ID: v.ID, Name: v.Name}), PoolID: pool, Size: v.Size})
			if err != nil {
				return err
			}
			return r.SetState(volumeCreateState{NativeID: got.NativeID, Format: got.Format})
		},
		Undo: func(ctx context.Context, r *tasks.Run) error {
			st, _, err := s.storageOf(ctx, in)
			if err != nil {
				return ignore(err, ovm.KindNotFound)
			}
			return ignore(st.DeleteVolume(ctx, in.VolumeID), ovm.KindNotFound)
		},
	}, {
		Name: "record",
		Do: func(ctx context.Context, r *tasks.Run) error {
			var st volumeCreateState
			if err := r.State(&st); err != nil {
				return err
			}
			return s.updateVolume(ctx, in.VolumeID, func(_ context.Context, _ store.Tx, v *volumeRecord) error {
				v.Phase, v.NativeID, v.Format, v.Message, v.PendingTask = ovm.PhaseReady, st.NativeID, st.Format, "", ""
				return nil
			})
		},
	}}, nil
}

// Finish releases a failed create's quota, once, and marks it failed.
func (h volumeCreateHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	if state == ovm.TaskSucceeded {
		return nil
	}
	return h.s.updateVolume(ctx, r.Task().TargetID, func(ctx context.Context, tx store.Tx, v *volumeRecord) error {
		if err := releaseVolume(ctx, tx, v); err != nil {
			return err
		}
		v.Phase, v.Message, v.PendingTask = ovm.PhaseFailed, causeText(cause), ""
		return nil
	})
}

// volumeResizeHandler is the volume.resize task kind.
type volumeResizeHandler struct{ s *Service }

// Steps returns the steps of a volumeResize task (tasks.Handler).
func (h volumeResizeHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[volumeInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	return []tasks.Step{{
		Name: "resize",
		Do: func(ctx context.Context, r *tasks.Run) error {
			st, _, err := s.storageOf(ctx, in)
			if err != nil {
				return err
			}
			_, err = st.ResizeVolume(ctx, in.VolumeID, in.Size)
			return err
		},
	}, {
		Name: "record",
		Do: func(ctx context.Context, r *tasks.Run) error {
			return s.updateVolume(ctx, in.VolumeID, func(_ context.Context, _ store.Tx, v *volumeRecord) error {
				v.Phase, v.OldSize, v.Message, v.PendingTask = ovm.PhaseReady, 0, "", ""
				return nil
			})
		},
	}}, nil
}

// Finish gives back the reserved growth of a failed resize, once.
func (h volumeResizeHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	if state == ovm.TaskSucceeded {
		return nil
	}
	return h.s.updateVolume(ctx, r.Task().TargetID, func(ctx context.Context, tx store.Tx, v *volumeRecord) error {
		if v.OldSize > 0 {
			delta := ovm.Usage{Disk: v.Size - v.OldSize}
			if err := tx.Reserve(ctx, v.VDCID, ovm.Usage{}.Sub(delta)); err != nil {
				return err
			}
			v.Reserved, v.Size, v.OldSize = v.Reserved.Sub(delta), v.OldSize, 0
			if v.PoolHeld > 0 {
				if err := chargePool(ctx, tx, v.StoragePoolID, -delta.Disk); err != nil {
					return err
				}
				v.PoolHeld -= delta.Disk
			}
			if v.Held.HostID != "" {
				if err := growHold(ctx, tx, &v.Held, ovm.Resources{Disk: -delta.Disk}, ovm.Resources{}); err != nil {
					return err
				}
			}
		}
		v.Phase, v.Message, v.PendingTask = ovm.PhaseReady, "resize failed: "+causeText(cause), ""
		return nil
	})
}

// volumeDeleteHandler is the volume.delete task kind.
type volumeDeleteHandler struct{ s *Service }

// Steps returns the steps of a volumeDelete task (tasks.Handler).
func (h volumeDeleteHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[volumeInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	return []tasks.Step{{
		Name: "delete",
		Do: func(ctx context.Context, r *tasks.Run) error {
			st, _, err := s.storageOf(ctx, in)
			if err != nil {
				return ignore(err, ovm.KindNotFound)
			}
			return ignore(st.DeleteVolume(ctx, in.VolumeID), ovm.KindNotFound)
		},
	}, {
		Name: "release",
		Do: func(ctx context.Context, r *tasks.Run) error {
			return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
				v, _, err := getAs[volumeRecord](ctx, tx, store.KindVolume, in.VolumeID)
				switch {
				case ovm.KindOf(err) == ovm.KindNotFound:
					return nil
				case err != nil:
					return err
				}
				if err := releaseVolume(ctx, tx, &v); err != nil {
					return err
				}
				if err := dropSnapshots(ctx, tx, v.VDCID, v.ID); err != nil {
					return err
				}
				return tx.Delete(ctx, store.KindVolume, v.ID, 0)
			})
		},
	}}, nil
}

// Finish marks a volume whose delete failed.
func (h volumeDeleteHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	if state == ovm.TaskSucceeded {
		return nil
	}
	return h.s.updateVolume(ctx, r.Task().TargetID, func(_ context.Context, _ store.Tx, v *volumeRecord) error {
		v.Phase, v.Message, v.PendingTask = ovm.PhaseFailed, "delete failed: "+causeText(cause), ""
		return nil
	})
}

// releaseVolume gives back a volume's quota and its disk on its host, once.
func releaseVolume(ctx context.Context, tx store.Tx, v *volumeRecord) error {
	if v.Reserved != (ovm.Usage{}) {
		if err := tx.Reserve(ctx, v.VDCID, ovm.Usage{}.Sub(v.Reserved)); err != nil {
			return err
		}
		v.Reserved = ovm.Usage{}
	}
	if err := chargePool(ctx, tx, v.StoragePoolID, -v.PoolHeld); err != nil {
		return err
	}
	v.PoolHeld = 0
	return setHold(ctx, tx, &v.Held, hostHold{}, ovm.Resources{})
}
