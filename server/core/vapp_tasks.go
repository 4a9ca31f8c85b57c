package core

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// The task kinds that act on a vApp as a whole.
const (
	// TaskVAppPower starts (in start-group order) or stops (in reverse
	// order) every member of a vApp.
	TaskVAppPower = "vapp.power"
)

// vappPowerInput is the input of a vapp.power task. Groups hold the
// members' ids in the order they are powered; Deploy marks the start that
// ends a deployment (its failure rolls the vApp back unless partial).
type vappPowerInput struct {
	VAppID ovm.ID     `json:"vappId"`
	Op     string     `json:"op"`
	Groups [][]ovm.ID `json:"groups"`
	Delay  int        `json:"delaySeconds,omitempty"`
	Deploy bool       `json:"deploy,omitempty"`
}

// memberSettled records, in tx, that the create task of the vApp member id
// ended (failure nil: its instance was made, stopped). The member that
// settles the last one moves the vApp on in the same transaction: every
// member made (or some, for a partial vApp) starts them all in a
// vapp.power task; a member that failed rolls every member back. Settling
// a member twice (a step run again after a crash) changes nothing.
func (s *Service) memberSettled(ctx context.Context, tx store.Tx, vappID, id ovm.ID, failure error) error {
	r, err := tx.Get(ctx, store.KindVApp, vappID)
	switch {
	case ovm.KindOf(err) == ovm.KindNotFound:
		return nil // deleted meanwhile: its members go with it
	case err != nil:
		return err
	}
	rec, err := decode[vappRecord](r)
	if err != nil {
		return err
	}
	if _, done := rec.Settled[id]; done || rec.Phase != ovm.PhaseCreating {
		return nil
	}
	if rec.Settled == nil {
		rec.Settled = map[ovm.ID]string{}
	}
	rec.Settled[id] = ""
	if failure != nil {
		rec.Settled[id] = "failed: " + failure.Error()
	}
	if len(rec.Settled) < len(rec.InstanceIDs) {
		return save(ctx, tx, &r, rec)
	}
	var made []ovm.ID
	var failed []string
	for i, iid := range rec.InstanceIDs {
		if why := rec.Settled[iid]; why != "" {
			failed = append(failed, fmt.Sprintf("member %s %s", rec.Members[i].Name, why))
		} else {
			made = append(made, iid)
		}
	}
	switch {
	case len(failed) > 0 && (!rec.Partial || len(made) == 0):
		return s.rollBackVApp(ctx, tx, &r, &rec, strings.Join(failed, "; "))
	case len(failed) > 0:
		rec.Message = strings.Join(failed, "; ")
	}
	task, err := s.enqueueVAppPower(ctx, tx, &rec, OpStart, made, true)
	if err != nil {
		return err
	}
	rec.TaskID = task.ID
	return save(ctx, tx, &r, rec)
}

// rollBackVApp deletes every member of a vApp whose deployment failed
// (one instance.delete task each, in tx) and marks the vApp failed with
// why; the vApp record stays for its owner to read and delete.
func (s *Service) rollBackVApp(ctx context.Context, tx store.Tx, r *store.Record, rec *vappRecord, why string) error {
	for _, iid := range rec.InstanceIDs {
		ir, err := tx.Get(ctx, store.KindInstance, iid)
		switch {
		case ovm.KindOf(err) == ovm.KindNotFound:
			continue
		case err != nil:
			return err
		}
		inst, err := decode[instanceRecord](ir)
		if err != nil {
			return err
		}
		if inst.Status.Phase == ovm.PhaseDeleting {
			continue
		}
		if inst.Status.Phase == ovm.PhaseFailed && inst.PendingTask == "" {
			// Its create failed and gave back everything it held (Finish):
			// nothing is left on a host, and the record goes at once.
			if err := tx.Delete(ctx, store.KindInstance, iid, ir.Version); err != nil {
				return err
			}
			continue
		}
		if inst.PendingTask == rec.TaskID {
			inst.PendingTask = "" // the vApp's own task, ending now
			if err := save(ctx, tx, &ir, inst); err != nil {
				return err
			}
		}
		if _, _, err := s.deleteInstance(ctx, tx, ir); err != nil {
			return err
		}
	}
	rec.Phase, rec.TaskID = ovm.PhaseFailed, ""
	rec.Message = "rolled back every member: " + why
	return save(ctx, tx, r, *rec)
}

// enqueueVAppPower enqueues, in tx, a vapp.power task over the members ids
// of rec, grouped by start group (reversed to stop), and makes it their
// pending task.
func (s *Service) enqueueVAppPower(ctx context.Context, tx store.Tx, rec *vappRecord, op string, ids []ovm.ID, deploy bool) (ovm.Task, error) {
	group := map[ovm.ID]int{}
	for i, iid := range rec.InstanceIDs {
		if i < len(rec.Members) {
			group[iid] = rec.Members[i].StartGroup
		}
	}
	order := slices.Clone(ids)
	slices.SortStableFunc(order, func(a, b ovm.ID) int { return cmp.Compare(group[a], group[b]) })
	var groups [][]ovm.ID
	for i, iid := range order {
		if i == 0 || group[iid] != group[order[i-1]] {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], iid)
	}
	if op == OpStop {
		slices.Reverse(groups)
	}
	task, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskVAppPower, VDCID: rec.VDCID, TargetID: rec.ID,
		Input: vappPowerInput{VAppID: rec.ID, Op: op, Groups: groups, Delay: rec.StartDelaySeconds, Deploy: deploy}})
	if err != nil {
		return ovm.Task{}, err
	}
	for _, iid := range ids {
		inst, ir, err := getAs[instanceRecord](ctx, tx, store.KindInstance, iid)
		if err != nil {
			return ovm.Task{}, err
		}
		inst.PendingTask = task.ID
		if err := save(ctx, tx, &ir, inst); err != nil {
			return ovm.Task{}, err
		}
	}
	return task, nil
}

// VAppTask is a vApp and the task that acts on it as a whole.
type VAppTask = apitypes.VAppTask

// vappPowerHandler is the vapp.power task kind: one step per start group,
// whose members are powered in parallel; the wait between groups opens
// each group after the first.
type vappPowerHandler struct{ s *Service }

// Steps returns the steps of a vapp.power task (tasks.Handler).
func (h vappPowerHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[vappPowerInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	var steps []tasks.Step
	for gi, group := range in.Groups {
		delay := time.Duration(0)
		if gi > 0 && in.Op == OpStart {
			delay = time.Duration(in.Delay) * time.Second
		}
		steps = append(steps, tasks.Step{
			Name: fmt.Sprintf("%s group %d", in.Op, gi+1),
			Do: func(ctx context.Context, r *tasks.Run) error {
				if delay > 0 {
					select {
					case <-time.After(delay):
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				return s.powerMembers(ctx, r, in.Op, gi+1, group)
			},
		})
	}
	steps = append(steps, tasks.Step{
		Name: "record",
		Do: func(ctx context.Context, r *tasks.Run) error {
			return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
				return s.endVAppTask(ctx, tx, in, r.Task().ID, "")
			})
		},
	})
	return steps, nil
}

// powerMembers starts or stops the members ids at once and records each
// one's power; the first failure fails the step once all have returned.
func (s *Service) powerMembers(ctx context.Context, r *tasks.Run, op string, group int, ids []ovm.ID) error {
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			errs[i] = s.powerMember(ctx, op, id)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.Logf(slog.LevelInfo, "%s group %d: %d members", op, group, len(ids))
	return nil
}

// powerMember starts or stops one member on its host and records its power.
func (s *Service) powerMember(ctx context.Context, op string, id ovm.ID) error {
	var hostID ovm.ID
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		inst, _, err := getAs[instanceRecord](ctx, tx, store.KindInstance, id)
		hostID = inst.Status.HostID
		return err
	})
	if err != nil {
		return ignore(err, ovm.KindNotFound)
	}
	tg, err := s.load(ctx, id, hostID)
	if err != nil {
		return ignore(err, ovm.KindNotFound)
	}
	if err := ensurePower(ctx, tg.hv, ref(tg.inst), op); err != nil {
		return fmt.Errorf("%s instance %s: %w", op, tg.inst.Name, err)
	}
	return s.update(ctx, id, func(_ context.Context, _ store.Tx, inst *instanceRecord) error {
		inst.Status.Power = ovm.PowerRunning
		if op == OpStop {
			inst.Status.Power = ovm.PowerStopped
		}
		inst.Status.Message = ""
		return nil
	})
}

// Finish ends a vapp.power task that failed: its members are free again;
// a deployment's start that failed rolls the vApp back unless it is
// partial.
func (h vappPowerHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	if state == ovm.TaskSucceeded {
		return nil
	}
	var in vappPowerInput
	if err := r.Input(&in); err != nil {
		return err
	}
	return h.s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return h.s.endVAppTask(ctx, tx, in, r.Task().ID, causeText(cause))
	})
}

// endVAppTask frees the members of the vApp task taskID and records the
// vApp's outcome: failure "" for success.
func (s *Service) endVAppTask(ctx context.Context, tx store.Tx, in vappPowerInput, taskID ovm.ID, failure string) error {
	r, err := tx.Get(ctx, store.KindVApp, in.VAppID)
	switch {
	case ovm.KindOf(err) == ovm.KindNotFound:
		return nil
	case err != nil:
		return err
	}
	rec, err := decode[vappRecord](r)
	if err != nil {
		return err
	}
	if in.Deploy && failure != "" && !rec.Partial {
		return s.rollBackVApp(ctx, tx, &r, &rec, "the start failed: "+failure)
	}
	for _, iid := range rec.InstanceIDs {
		inst, ir, err := getAs[instanceRecord](ctx, tx, store.KindInstance, iid)
		switch {
		case ovm.KindOf(err) == ovm.KindNotFound:
			continue
		case err != nil:
			return err
		}
		if inst.PendingTask != taskID {
			continue
		}
		inst.PendingTask = ""
		if failure != "" {
			inst.Status.Message = failure
		}
		if err := save(ctx, tx, &ir, inst); err != nil {
			return err
		}
	}
	if rec.TaskID == taskID {
		rec.TaskID = ""
	}
	switch {
	case failure != "":
		rec.Message = fmt.Sprintf("%s failed: %s", in.Op, failure)
		if in.Deploy {
			rec.Phase = ovm.PhaseReady // partial: what was made stays, with the reason
		}
	case in.Deploy:
		rec.Phase = ovm.PhaseReady // a partial vApp keeps the reason of its missing members
	default:
		rec.Message = ""
	}
	return save(ctx, tx, &r, rec)
}

// VAppAction starts or stops every member of a vApp as a unit, in start
// group order (stop in reverse), through one vapp.power task. A vApp still
// deploying, or a member busy with another task, is ovm.ErrConflict.
func (s *Service) VAppAction(ctx context.Context, p auth.Principal, id ovm.ID, op string, ifVersion int64) (VAppTask, error) {
	if op != OpStart && op != OpStop {
		return VAppTask{}, invalid("invalid action", "action", "must be start or stop")
	}
	var out VAppTask
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getVisible(ctx, tx, p, store.KindVApp, id)
		if err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		rec, err := decode[vappRecord](r)
		if err != nil {
			return err
		}
		switch rec.Phase {
		case ovm.PhaseCreating:
			return conflictf("vapp %s is still deploying", rec.Name)
		case ovm.PhaseFailed:
			return conflictf("vapp %s failed to deploy and was rolled back: delete it", rec.Name)
		}
		var ids []ovm.ID
		for _, iid := range rec.InstanceIDs {
			inst, _, err := getAs[instanceRecord](ctx, tx, store.KindInstance, iid)
			switch {
			case ovm.KindOf(err) == ovm.KindNotFound:
				continue
			case err != nil:
				return err
			}
			if err := busy(ctx, tx, inst); err != nil {
				return err
			}
			if inst.Status.Phase != ovm.PhaseReady {
				return conflictf("cannot %s vapp %s: member %s is %s", op, rec.Name, inst.Name, inst.Status.Phase)
			}
			ids = append(ids, iid)
		}
		if len(ids) == 0 {
			return conflictf("vapp %s has no member left", rec.Name)
		}
		task, err := s.enqueueVAppPower(ctx, tx, &rec, op, ids, false)
		if err != nil {
			return err
		}
		rec.TaskID = task.ID
		if err := save(ctx, tx, &r, rec); err != nil {
			return err
		}
		if out.VApp, err = vappView(ctx, tx, r); err != nil {
			return err
		}
		out.Task = task
		return nil
	})
	if err != nil {
		return VAppTask{}, err
	}
	s.tasks.Kick()
	s.redactFor(ctx, p, memberTexts(&out.VApp)...)
	return out, nil
}
