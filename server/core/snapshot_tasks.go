package core

import (
	"context"
	"log/slog"
	"sync"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
	"github.com/openovm/ovm/storage"
)

// snapshotInput is the input of the snapshot task kinds.
type snapshotInput struct {
	SnapshotID ovm.ID `json:"snapshotId"`
}

// snapshotState is what a snapshot.create task learns.
type snapshotState struct {
	NativeID string `json:"nativeId,omitempty"`
	Memory   bool   `json:"memory,omitempty"`
}

// snapshotTarget is what the steps of a snapshot task act on.
type snapshotTarget struct {
	sn    snapshotRecord
	facet snapshotFacet
	// hv and ref name the instance of an instance snapshot (hv is nil
	// for a volume snapshot); memory says whether its engine snapshots
	// the memory of a running instance.
	hv     hypervisor.Driver
	ref    hypervisor.Ref
	memory bool
	// st and vol are the storage driver and the record of a volume
	// snapshot's volume (st nil for an instance snapshot).
	st  storage.Driver
	vol volumeRecord
}

// loadSnapshot reads a snapshot, what it is of and its host, and connects
// to the host. A missing snapshot, instance or volume is ovm.ErrNotFound.
func (s *Service) loadSnapshot(ctx context.Context, id ovm.ID) (snapshotTarget, error) {
	var t snapshotTarget
	var err error
	if t.sn, err = viewAs[snapshotRecord](ctx, s, store.KindSnapshot, id); err != nil {
		return t, err
	}
	host, err := viewAs[hostRecord](ctx, s, store.KindHost, t.sn.HostID)
	if err != nil {
		return t, err
	}
	if t.sn.VolumeID != "" {
		v, err := viewAs[volumeRecord](ctx, s, store.KindVolume, t.sn.VolumeID)
		if err != nil {
			return t, err
		}
		conn, err := s.connect(ctx, host)
		if err != nil {
			return t, err
		}
		st, err := storageSnapshots(conn.Storage, host.Kind, v)
		t.facet, t.st, t.vol = volumeSnapshots{sn: st, id: v.ID}, conn.Storage, v
		return t, err
	}
	inst, err := viewAs[instanceRecord](ctx, s, store.KindInstance, t.sn.InstanceID)
	if err != nil {
		return t, err
	}
	conn, err := s.connect(ctx, host)
	if err != nil {
		return t, err
	}
	hs, err := hypervisorSnapshots(conn.Hypervisor, inst)
	if err != nil {
		return t, err
	}
	t.hv, t.ref, t.memory = observed{Driver: conn.Hypervisor, s: s}, ref(inst), conn.Hypervisor.Capabilities().SnapshotMemory
	t.facet = instanceSnapshots{sn: hs, ref: t.ref}
	return t, nil
}

// keepSize grows a reverted volume back to the size its record has (and
// its quota and pool count): the engines revert a volume to its size at the
// snapshot, and a volume grown since would otherwise be smaller than
// recorded, for good (a resize must grow the recorded size).
func (t snapshotTarget) keepSize(ctx context.Context, r *tasks.Run) error {
	if t.st == nil {
		return nil
	}
	got, err := t.st.GetVolume(ctx, t.vol.ID)
	if err != nil || got.Size >= t.vol.Size {
		return err
	}
	if _, err := t.st.ResizeVolume(ctx, t.vol.ID, t.vol.Size); err != nil {
		return err
	}
	r.Logf(slog.LevelInfo, "grew the volume from %s (its size at the snapshot) back to %s", got.Size, t.vol.Size)
	return nil
}

// snapshotRun is what the steps of one run of a snapshot task share.
type snapshotRun struct {
	id, task ovm.ID // the snapshot, the task
	load     func(ctx context.Context) (snapshotTarget, error)
}

// snapshotRun decodes a snapshot task's input for the steps of one run.
func (s *Service) snapshotRun(t *store.TaskRecord) (snapshotRun, error) {
	in, err := input[snapshotInput](t)
	if err != nil {
		return snapshotRun{}, err
	}
	return snapshotRun{id: in.SnapshotID, task: t.Task.ID, load: s.loadSnapshotOnce(in.SnapshotID)}, nil
}

// native loads the run's target and finds the snapshot on its engine.
func (sr snapshotRun) native(ctx context.Context) (snapshotTarget, ovm.ID, error) {
	tg, err := sr.load(ctx)
	if err != nil {
		return tg, "", err
	}
	native, err := findSnapshot(ctx, tg.facet, tg.sn, "")
	return tg, native, err
}

// loadSnapshotOnce loads a snapshot task's target when a step of a run
// first asks for it and hands the same target to the run's later steps; a
// failed load is not kept.
func (s *Service) loadSnapshotOnce(id ovm.ID) func(ctx context.Context) (snapshotTarget, error) {
	var (
		mu     sync.Mutex
		loaded *snapshotTarget
	)
	return func(ctx context.Context) (snapshotTarget, error) {
		mu.Lock()
		defer mu.Unlock()
		if loaded != nil {
			return *loaded, nil
		}
		t, err := s.loadSnapshot(ctx, id)
		if err != nil {
			return t, err
		}
		loaded = &t
		return t, nil
	}
}

// findSnapshot returns the engine's id of a snapshot: the one recorded, or
// the one the engine lists under the snapshot's OVM id (the name a
// snapshot.create gives it on its engine). None is ovm.ErrNotFound.
func findSnapshot(ctx context.Context, f snapshotFacet, sn snapshotRecord, native string) (ovm.ID, error) {
	if native == "" {
		native = sn.NativeID
	}
	if native != "" {
		return ovm.ID(native), nil
	}
	list, err := f.ListSnapshots(ctx)
	if err != nil {
		return "", err
	}
	for _, x := range list {
		if x.Name == string(sn.ID) {
			return x.ID, nil
		}
	}
	return "", ovm.NotFound("snapshot", sn.ID)
}

// running reports whether the instance of a snapshot target runs (false
// for a volume).
func (t snapshotTarget) running(ctx context.Context) (bool, error) {
	if t.hv == nil {
		return false, nil
	}
	got, err := t.hv.Get(ctx, t.ref)
	return got.Power == ovm.PowerRunning, err
}

// updateSnapshot changes a snapshot record, and the pending task of what
// it is of when it is task (cleared), in a transaction of its own; a
// missing snapshot is left alone.
func (s *Service) updateSnapshot(ctx context.Context, id, task ovm.ID, change func(ctx context.Context, tx store.Tx, sn *snapshotRecord) error) error {
	return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		sn, r, err := getAs[snapshotRecord](ctx, tx, store.KindSnapshot, id)
		switch {
		case ovm.KindOf(err) == ovm.KindNotFound:
			return nil
		case err != nil:
			return err
		}
		if err := change(ctx, tx, &sn); err != nil {
			return err
		}
		if sn.PendingTask == task {
			sn.PendingTask = ""
		}
		if err := setPending(ctx, tx, sn.of(), task, ""); err != nil {
			return err
		}
		return save(ctx, tx, &r, sn)
	})
}

// failSnapshot is the Finish of the snapshot task kinds: a failed task
// leaves its message on the snapshot, and frees what it is of.
func (s *Service) failSnapshot(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error,
	change func(ctx context.Context, tx store.Tx, sn *snapshotRecord) error) error {
	if state == ovm.TaskSucceeded {
		return nil
	}
	t := r.Task()
	return s.updateSnapshot(ctx, t.TargetID, t.ID, change)
}

// takeSnapshot takes the snapshot of a target on its engine, named by its
// OVM id; when the engine has one of that name already (a step that runs
// again after a crash), it takes none and returns that one (took false).
func takeSnapshot(ctx context.Context, tg snapshotTarget) (st snapshotState, took bool, err error) {
	running, err := tg.running(ctx)
	if err != nil {
		return st, false, err
	}
	st.Memory = running && tg.memory
	native, err := findSnapshot(ctx, tg.facet, tg.sn, "")
	switch {
	case err == nil:
		st.NativeID = string(native)
		return st, false, nil
	case ovm.KindOf(err) != ovm.KindNotFound:
		return st, false, err
	}
	got, err := tg.facet.CreateSnapshot(ctx, string(tg.sn.ID))
	if err != nil {
		return st, false, err
	}
	st.NativeID = string(got.ID)
	return st, true, nil
}

// snapshotCreateHandler is the snapshot.create task kind: take the
// snapshot on the engine (found again by its OVM id when a resumed step
// took it already), then record it ready.
type snapshotCreateHandler struct{ s *Service }

// Steps returns the steps of a snapshot.create task (tasks.Handler).
func (h snapshotCreateHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	sr, err := h.s.snapshotRun(t)
	if err != nil {
		return nil, err
	}
	s, task, load := h.s, sr.task, sr.load
	return []tasks.Step{{
		Name: "snapshot",
		Do: func(ctx context.Context, r *tasks.Run) error {
			tg, err := load(ctx)
			if err != nil {
				return err
			}
			st, took, err := takeSnapshot(ctx, tg)
			if err != nil {
				return err
			}
			if took {
				r.Logf(slog.LevelInfo, "took snapshot %s (memory: %t)", tg.sn.Name, st.Memory)
			}
			return r.SetState(st)
		},
		Undo: func(ctx context.Context, r *tasks.Run) error {
			tg, err := load(ctx)
			if err != nil {
				return ignore(err, ovm.KindNotFound)
			}
			var st snapshotState
			if err := r.State(&st); err != nil {
				return err
			}
			native, err := findSnapshot(ctx, tg.facet, tg.sn, st.NativeID)
			if err != nil {
				return ignore(err, ovm.KindNotFound)
			}
			return ignore(tg.facet.DeleteSnapshot(ctx, native), ovm.KindNotFound)
		},
	}, {
		Name: "record",
		Do: func(ctx context.Context, r *tasks.Run) error {
			var st snapshotState
			if err := r.State(&st); err != nil {
				return err
			}
			return s.updateSnapshot(ctx, sr.id, task, func(ctx context.Context, tx store.Tx, sn *snapshotRecord) error {
				if err := s.chargeSnapshot(ctx, tx, sn, st.Memory); err != nil {
					return err
				}
				sn.Phase, sn.NativeID, sn.Memory, sn.Message = ovm.PhaseReady, st.NativeID, st.Memory, ""
				return nil
			})
		},
	}}, nil
}

// chargeSnapshot brings what an instance snapshot holds of its VDC's quota
// and its host to its bound now that the task knows whether it holds the
// memory; more than the VDC or the host has left fails the step (and the
// snapshot is deleted again).
func (s *Service) chargeSnapshot(ctx context.Context, tx store.Tx, sn *snapshotRecord, memory bool) error {
	if sn.InstanceID == "" || sn.Reserved.Disk == 0 {
		return nil
	}
	inst, _, err := getAs[instanceRecord](ctx, tx, store.KindInstance, sn.InstanceID)
	if err != nil {
		return err
	}
	want := instanceSnapshotBound(inst, memory)
	delta := ovm.Usage{Disk: want - sn.Reserved.Disk}
	if delta.Disk == 0 {
		return nil
	}
	if err := tx.Reserve(ctx, sn.VDCID, delta); err != nil {
		return err
	}
	var limit ovm.Resources
	if delta.Disk > 0 && sn.Held.HostID != "" {
		if limit, err = allocatable(ctx, tx, sn.Held.HostID); err != nil {
			return err
		}
	}
	if sn.Held.HostID != "" {
		if err := growHold(ctx, tx, &sn.Held, ovm.Resources{Disk: delta.Disk}, limit); err != nil {
			return hostFull(err, "snapshot "+sn.Name)
		}
	}
	sn.Reserved, sn.Size = sn.Reserved.Add(delta), want
	return nil
}

// Finish releases a failed snapshot's quota and marks it failed.
func (h snapshotCreateHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	return h.s.failSnapshot(ctx, r, state, cause, func(ctx context.Context, tx store.Tx, sn *snapshotRecord) error {
		if err := releaseSnapshot(ctx, tx, sn); err != nil {
			return err
		}
		sn.Phase, sn.Message = ovm.PhaseFailed, causeText(cause)
		return nil
	})
}

// snapshotRevertHandler is the snapshot.revert task kind: revert on the
// engine, then record the instance's power as the engine left it. A
// revert replaces the current state: it has no compensation.
type snapshotRevertHandler struct{ s *Service }

// Steps returns the steps of a snapshot.revert task (tasks.Handler).
func (h snapshotRevertHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	sr, err := h.s.snapshotRun(t)
	if err != nil {
		return nil, err
	}
	s, task, load := h.s, sr.task, sr.load
	return []tasks.Step{{
		Name: "revert",
		Do: func(ctx context.Context, r *tasks.Run) error {
			tg, native, err := sr.native(ctx)
			if err != nil {
				return err
			}
			if err := tg.facet.RevertSnapshot(ctx, native); err != nil {
				return err
			}
			r.Logf(slog.LevelInfo, "reverted to snapshot %s", tg.sn.Name)
			return tg.keepSize(ctx, r)
		},
	}, {
		Name: "record",
		Do: func(ctx context.Context, r *tasks.Run) error {
			tg, err := load(ctx)
			if err != nil {
				return err
			}
			power := ovm.PowerUnknown
			if tg.hv != nil {
				got, err := tg.hv.Get(ctx, tg.ref)
				if err != nil {
					return err
				}
				power = got.Power
				r.Logf(slog.LevelInfo, "the instance is %s after the revert", power)
			}
			return s.updateSnapshot(ctx, sr.id, task, func(ctx context.Context, tx store.Tx, sn *snapshotRecord) error {
				sn.Message = ""
				if sn.InstanceID == "" {
					return nil
				}
				inst, rec, err := getAs[instanceRecord](ctx, tx, store.KindInstance, sn.InstanceID)
				if err != nil {
					return ignore(err, ovm.KindNotFound)
				}
				inst.Status.Power, inst.Status.UpdatedAt = power, s.now()
				return save(ctx, tx, &rec, inst)
			})
		},
	}}, nil
}

// Finish leaves a failed revert's error on its snapshot.
func (h snapshotRevertHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	return h.s.failSnapshot(ctx, r, state, cause, func(_ context.Context, _ store.Tx, sn *snapshotRecord) error {
		sn.Message = "revert failed: " + causeText(cause)
		return nil
	})
}

// snapshotDeleteHandler is the snapshot.delete task kind: delete on the
// engine (a snapshot already gone is success), then release its quota and
// remove its record.
type snapshotDeleteHandler struct{ s *Service }

// Steps returns the steps of a snapshot.delete task (tasks.Handler).
func (h snapshotDeleteHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	sr, err := h.s.snapshotRun(t)
	if err != nil {
		return nil, err
	}
	s, task := h.s, sr.task
	return []tasks.Step{{
		Name: "delete",
		Do: func(ctx context.Context, r *tasks.Run) error {
			tg, native, err := sr.native(ctx)
			if err != nil {
				return ignore(err, ovm.KindNotFound)
			}
			return ignore(tg.facet.DeleteSnapshot(ctx, native), ovm.KindNotFound)
		},
	}, {
		Name: "release",
		Do: func(ctx context.Context, r *tasks.Run) error {
			return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
				sn, _, err := getAs[snapshotRecord](ctx, tx, store.KindSnapshot, sr.id)
				switch {
				case ovm.KindOf(err) == ovm.KindNotFound:
					return nil
				case err != nil:
					return err
				}
				if err := releaseSnapshot(ctx, tx, &sn); err != nil {
					return err
				}
				if err := setPending(ctx, tx, sn.of(), task, ""); err != nil {
					return err
				}
				return tx.Delete(ctx, store.KindSnapshot, sn.ID, 0)
			})
		},
	}}, nil
}

// Finish marks a snapshot whose delete failed.
func (h snapshotDeleteHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	return h.s.failSnapshot(ctx, r, state, cause, func(_ context.Context, _ store.Tx, sn *snapshotRecord) error {
		sn.Phase, sn.Message = ovm.PhaseFailed, "delete failed: "+causeText(cause)
		return nil
	})
}
