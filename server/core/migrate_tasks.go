package core

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// migrateInput is the input of an instance.migrate task.
type migrateInput struct {
	InstanceID ovm.ID                 `json:"instanceId"`
	Mode       apitypes.MigrationMode `json:"mode"`
	From       ovm.ID                 `json:"fromHostId"`
	To         ovm.ID                 `json:"toHostId"`
	PoolID     ovm.ID                 `json:"storagePoolId,omitempty"`
	// Recreate: a container, recreated on To from its image.
	Recreate bool `json:"recreate,omitempty"`
	// Start: the instance was running, and runs again after a cold move.
	Start bool `json:"start,omitempty"`
}

// migrateState is what the steps of a migration learn.
type migrateState struct {
	NativeID string `json:"nativeId,omitempty"`
}

// cancelPoll is how often a running migration looks for a cancel.
const cancelPoll = 250 * time.Millisecond

// migrateHandler is the instance.migrate task kind. A VM moves through its
// driver's Migrator (live, shared-nothing, storage, or cold where the
// engine cannot move a running VM), then the record step moves its host
// share and its record in one transaction. A container is recreated: stop
// it at the source, create and start it on the target from its image
// (its volumes are on shared storage), delete it at the source, record.
// A cancel stops the move and the compensations put the instance back
// running at its source.
type migrateHandler struct{ s *Service }

// Steps returns the steps of a migrate task (tasks.Handler).
func (h migrateHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[migrateInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	record := tasks.Step{Name: "record", Do: func(ctx context.Context, r *tasks.Run) error {
		var st migrateState
		if err := r.State(&st); err != nil {
			return err
		}
		var present map[ovm.ID]bool
		if in.To != in.From && !in.Recreate {
			var err error
			if present, err = s.snapshotsAt(ctx, in.InstanceID, in.To); err != nil {
				// The instance runs there: the move stands, its
				// snapshots are not checked.
				r.Logf(slog.LevelWarn, "could not list the instance's snapshots where it runs now: %v", err)
			}
		}
		return s.recordMigrated(ctx, in, r.Task().ID, st.NativeID, present)
	}}
	if !in.Recreate {
		return []tasks.Step{{Name: "migrate", Do: func(ctx context.Context, r *tasks.Run) error {
			return s.migrateStep(ctx, r, in)
		}}, record}, nil
	}
	ends := s.endsOnce(in)
	dst := func(ctx context.Context) (target, error) {
		e, err := ends(ctx)
		return e.dst, err
	}
	return []tasks.Step{{
		Name: "stop at source",
		Do: func(ctx context.Context, r *tasks.Run) error {
			e, err := s.cancelledOr(ctx, r, in, ends)
			if err != nil || !in.Start {
				return err
			}
			return ensurePower(ctx, e.src.hv, ref(e.src.inst), OpStop)
		},
		Undo: func(ctx context.Context, r *tasks.Run) error {
			e, err := ends(ctx)
			if err != nil || !in.Start {
				return err
			}
			return ensurePower(ctx, e.src.hv, ref(e.src.inst), OpStart)
		},
	}, {
		Name: "create at target",
		Do: func(ctx context.Context, r *tasks.Run) error {
			e, err := s.cancelledOr(ctx, r, in, ends)
			if err != nil {
				return err
			}
			if err := s.pullImage(ctx, r, dst); err != nil {
				return err
			}
			tg := e.dst
			spec := hypervisor.CreateSpec{ID: tg.inst.ID, Name: hvName(tg.inst.Instance), VDCID: tg.inst.VDCID, Spec: tg.inst.Spec}
			if spec.NICs, err = s.realiseNetworks(ctx, r, tg); err != nil {
				return err
			}
			if spec.Disks, err = s.volumeAttachments(ctx, tg.inst, tg.host.ID); err != nil {
				return err
			}
			got, err := tg.hv.Create(ctx, spec)
			if err != nil {
				return err
			}
			r.Logf(slog.LevelInfo, "created %s on host %s", spec.Name, tg.host.Name)
			return r.SetState(migrateState{NativeID: got.NativeID})
		},
		Undo: func(ctx context.Context, r *tasks.Run) error {
			tg, err := dst(ctx)
			if err != nil {
				return ignore(err, ovm.KindNotFound)
			}
			if err := forceOff(ctx, tg.hv, hypervisor.ByID(in.InstanceID)); err != nil {
				return err
			}
			if err := ignore(tg.hv.Delete(ctx, hypervisor.ByID(in.InstanceID)), ovm.KindNotFound); err != nil || in.To == in.From {
				return err // on the same host the reservations are the source's
			}
			return releaseAddresses(ctx, r, tg)
		},
	}, {
		Name: "start at target",
		Do: func(ctx context.Context, r *tasks.Run) error {
			e, err := s.cancelledOr(ctx, r, in, ends)
			if err != nil || !in.Start {
				return err
			}
			return ensurePower(ctx, e.dst.hv, hypervisor.ByID(in.InstanceID), OpStart)
		},
		Undo: func(ctx context.Context, r *tasks.Run) error {
			tg, err := dst(ctx)
			if err != nil {
				return ignore(err, ovm.KindNotFound)
			}
			return forceOff(ctx, tg.hv, hypervisor.ByID(in.InstanceID))
		},
	}, {
		// The point of no return: a cancel seen here still rolls back.
		Name: "delete at source",
		Do: func(ctx context.Context, r *tasks.Run) error {
			e, err := s.cancelledOr(ctx, r, in, ends)
			if err != nil {
				return err
			}
			if err := ignore(e.src.hv.Delete(ctx, ref(e.src.inst)), ovm.KindNotFound); err != nil {
				return err
			}
			if in.To == in.From {
				return nil // the reservations are the instance's there still
			}
			return releaseAddresses(ctx, r, e.src)
		},
	}, record}, nil
}

// ends are the two sides of a migration.
type ends struct{ src, dst target }

// endsOnce loads both sides of a migration once per run (see loadOnce).
func (s *Service) endsOnce(in migrateInput) func(ctx context.Context) (ends, error) {
	src, dst := s.loadOnce(in.InstanceID, in.From), s.loadOnce(in.InstanceID, in.To)
	return func(ctx context.Context) (ends, error) {
		var e ends
		var err error
		if e.src, err = src(ctx); err != nil {
			return e, err
		}
		e.dst, err = dst(ctx)
		return e, err
	}
}

// cancelledOr loads the ends of a migration, or fails the step when its
// cancel was asked.
func (s *Service) cancelledOr(ctx context.Context, r *tasks.Run, in migrateInput, load func(context.Context) (ends, error)) (ends, error) {
	inst, err := viewAs[instanceRecord](ctx, s, store.KindInstance, in.InstanceID)
	if err != nil {
		return ends{}, err
	}
	if m := inst.Migration; m != nil && m.Task == r.Task().ID && m.CancelledBy != "" {
		return ends{}, errCancelled(m.CancelledBy)
	}
	return load(ctx)
}

// errCancelled is the failure of a migration step that saw a cancel.
func errCancelled(by string) error {
	return ovm.Errorf(ovm.KindConflict, "the migration was cancelled by %s", by)
}

// migrateStep moves a VM through its source driver's Migrator, reporting
// libvirt's (or the engine's) progress in the task and aborting the move
// when a cancel is asked.
func (s *Service) migrateStep(ctx context.Context, r *tasks.Run, in migrateInput) error {
	inst, err := viewAs[instanceRecord](ctx, s, store.KindInstance, in.InstanceID)
	if err != nil {
		return err
	}
	conn := func(id ovm.ID) (hostRecord, hypervisor.Driver, error) {
		h, err := viewAs[hostRecord](ctx, s, store.KindHost, id)
		if err != nil {
			return h, nil, err
		}
		c, err := s.connect(ctx, h)
		if err != nil {
			return h, nil, hostError(h.Host, err)
		}
		return h, c.Hypervisor, nil
	}
	srcHost, src, err := conn(in.From)
	if err != nil {
		return err
	}
	mig, ok := src.(hypervisor.Migrator)
	if !ok {
		return ovm.Errorf(ovm.KindUnsupported, "host %s cannot migrate instances", srcHost.Name)
	}
	to := hypervisor.MigrationTarget{Kind: hypervisor.MigrationKind(in.Mode)}
	var dstHost hostRecord
	if in.To != in.From {
		if dstHost, to.Destination, err = conn(in.To); err != nil {
			return err
		}
		if len(inst.Spec.NICs) > 0 {
			// The instance's networks must be on the target before it
			// arrives (idempotent, by network id).
			tg, err := s.load(ctx, in.InstanceID, in.To)
			if err != nil {
				return err
			}
			if _, err := s.realiseNetworks(ctx, r, tg); err != nil {
				return err
			}
		}
	}
	if !in.PoolID.IsZero() {
		if to.Pool, err = viewAs[ovm.StoragePool](ctx, s, store.KindStoragePool, in.PoolID); err != nil {
			return err
		}
	}
	mctx, stop := s.watchMigrationCancel(ctx, in.InstanceID, r.Task().ID)
	defer stop()
	rep := &migrationReport{r: r}
	start := time.Now()
	err = mig.Migrate(mctx, ref(inst), to, rep.report)
	s.observe(srcHost.Kind, "Migrate", err, start)
	if err != nil {
		if c, ok := context.Cause(mctx).(cancelCause); ok && ctx.Err() == nil {
			return errCancelled(string(c))
		}
		return err
	}
	r.Progress(100)
	if to.Destination == nil {
		r.Logf(slog.LevelInfo, "moved the disks to storage pool %s in %s", to.Pool.Name, time.Since(start).Round(time.Millisecond))
		return nil
	}
	r.Logf(slog.LevelInfo, "moved (%s) to host %s in %s", in.Mode, dstHost.Name, time.Since(start).Round(time.Millisecond))
	got, err := to.Destination.Get(ctx, hypervisor.ByID(inst.ID))
	if err != nil {
		return err
	}
	return r.SetState(migrateState{NativeID: got.NativeID})
}

// cancelCause is the cause of a migration's context when a cancel was
// asked: who asked.
type cancelCause string

func (c cancelCause) Error() string { return "cancelled by " + string(c) }

// watchMigrationCancel returns a context that ends when the migration task's cancel
// is recorded in its instance, and the function that stops watching.
func (s *Service) watchMigrationCancel(ctx context.Context, instID, taskID ovm.ID) (context.Context, func()) {
	mctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(cancelPoll)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-mctx.Done():
				return
			case <-tick.C:
			}
			inst, err := viewAs[instanceRecord](mctx, s, store.KindInstance, instID)
			if err == nil && inst.Migration != nil && inst.Migration.Task == taskID && inst.Migration.CancelledBy != "" {
				cancel(cancelCause(inst.Migration.CancelledBy))
				return
			}
		}
	})
	return mctx, func() {
		close(done)
		wg.Wait()
		cancel(nil)
	}
}

// migrationReport turns a driver's progress into the task's progress and a
// line of its log every quarter.
type migrationReport struct {
	r      *tasks.Run
	mu     sync.Mutex
	logged int
}

func (m *migrationReport) report(percent int, msg string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.r.Progress(percent)
	if percent/25 > m.logged/25 || (percent == 0 && m.logged == 0) {
		m.logged = max(percent, 1)
		m.r.Logf(slog.LevelInfo, "migration %d%%: %s", percent, msg)
	}
}

// recordMigrated records a migration done, in one transaction: the
// instance's share of its source host is released and the share it took
// on its target when the migration was asked is its own, its record and
// its snapshots' are on the target (a snapshot present does not list is
// marked failed), and the migration is over. Run again, it changes
// nothing.
func (s *Service) recordMigrated(ctx context.Context, in migrateInput, taskID ovm.ID, native string, present map[ovm.ID]bool) error {
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		inst, rec, err := getAs[instanceRecord](ctx, tx, store.KindInstance, in.InstanceID)
		if err != nil {
			return ignore(err, ovm.KindNotFound)
		}
		m := inst.Migration
		if m == nil || m.Task != taskID {
			return nil
		}
		from, _, err := getAs[hostRecord](ctx, tx, store.KindHost, m.From)
		if err != nil {
			return err
		}
		inst.Status.Message = fmt.Sprintf("disks moved to storage pool %s", m.PoolID)
		if m.To != m.From {
			to, _, err := getAs[hostRecord](ctx, tx, store.KindHost, m.To)
			if err != nil {
				return err
			}
			if err := setHold(ctx, tx, &inst.Held, hostHold{}, ovm.Resources{}); err != nil {
				return err
			}
			inst.Held = m.Hold // allocated on the target when the migration was asked
			if err := moveSnapshots(ctx, tx, inst, m.To, fmt.Sprintf("in the instance's %s migration", m.Mode), present); err != nil {
				return err
			}
			rec.HostID = m.To
			inst.Status.HostID = m.To
			if native != "" {
				inst.Status.NativeID = native
			}
			inst.Status.Message = fmt.Sprintf("moved (%s) from host %s to host %s", m.Mode, from.Name, to.Name)
		} else if sp, _, err := getAs[ovm.StoragePool](ctx, tx, store.KindStoragePool, m.PoolID); err == nil {
			inst.Status.Message = fmt.Sprintf("disks moved to storage pool %s", sp.Name)
		}
		if in.Start {
			inst.Status.Power = ovm.PowerRunning
		}
		inst.Migration, inst.PendingTask = nil, ""
		inst.Status.UpdatedAt = s.now()
		return save(ctx, tx, &rec, inst)
	})
	return err
}

// Finish ends a migration that did not happen: the share taken on the
// target is given back and the instance stays where it runs, with the
// reason in its message. Either way, a host entering maintenance whose
// instance this was is checked again.
func (h migrateHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	var in migrateInput
	if err := r.Input(&in); err != nil {
		return err
	}
	s, t := h.s, r.Task()
	if state != ovm.TaskSucceeded {
		err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
			inst, rec, err := getAs[instanceRecord](ctx, tx, store.KindInstance, in.InstanceID)
			if err != nil {
				return ignore(err, ovm.KindNotFound)
			}
			m := inst.Migration
			if m == nil || m.Task != t.ID {
				return nil
			}
			if err := setHold(ctx, tx, &m.Hold, hostHold{}, ovm.Resources{}); err != nil {
				return err
			}
			from, _, err := getAs[hostRecord](ctx, tx, store.KindHost, m.From)
			if err != nil {
				return err
			}
			inst.Migration = nil
			if inst.PendingTask == t.ID {
				inst.PendingTask = ""
			}
			inst.Status.Message = fmt.Sprintf("the %s migration did not happen, the instance stays on host %s: %s", m.Mode, from.Name, causeText(cause))
			inst.Status.UpdatedAt = s.now()
			return save(ctx, tx, &rec, inst)
		})
		if err != nil {
			return err
		}
	}
	return s.checkDrain(ctx, in.From)
}
