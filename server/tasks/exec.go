package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// errLeaseLost is the cause of a run's context once the engine lost its
// task to another claim.
var errLeaseLost = errors.New("tasks: lease lost")

// execute runs one claimed task until it is final, interrupted or lost.
func (e *Engine) execute(ctx context.Context, c claimed) {
	ctx, cancel := context.WithCancelCause(ctx)
	r := &Run{e: e, token: c.token, rec: c.rec, lastRenew: c.at, cancel: cancel}
	r.rec.Task = copyTask(c.rec.Task)
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		r.keep(ctx)
	}()
	defer func() {
		cancel(nil)
		<-kept
	}()
	if c.h != nil {
		e.forward(ctx, r, c.h, c.steps, true)
		return
	}
	e.drive(ctx, r)
}

// drive finds the task's handler and steps and moves the task on from
// where it is.
func (e *Engine) drive(ctx context.Context, r *Run) {
	kind := r.rec.Task.Kind
	h, ok := e.handler(kind)
	if !ok {
		e.abort(ctx, r, nil,
			fmt.Sprintf("no handler is registered for task kind %q on the server that claimed it (%s)", kind, e.o.Owner))
		return
	}
	r.mu.Lock()
	rec := r.rec
	rec.Task = copyTask(r.rec.Task)
	r.mu.Unlock()
	steps, err := buildSteps(h, &rec)
	if err != nil {
		e.abort(ctx, r, h, err.Error())
		return
	}
	if recorded, names, same := sameSteps(steps, rec.Task); !same {
		e.abort(ctx, r, h, fmt.Sprintf(
			"the steps of task kind %q changed since the task was recorded: it has %q, the handler now gives %q",
			kind, recorded, names))
		return
	}
	switch rec.Task.State {
	case ovm.TaskPending, ovm.TaskRunning:
		e.forward(ctx, r, h, steps, false)
	case ovm.TaskRollingBack:
		r.mu.Lock()
		r.appendLog(slog.LevelInfo, fmt.Sprintf("resumed on %s, rolling back", e.o.Owner))
		r.mu.Unlock()
		e.rollback(ctx, r, h, steps)
	}
}

// abort fails a task that cannot run here, with msg as its error.
func (e *Engine) abort(ctx context.Context, r *Run, h Handler, msg string) {
	r.mu.Lock()
	r.appendLog(slog.LevelError, msg)
	r.mu.Unlock()
	e.finish(ctx, r, h, ovm.TaskFailed, msg)
}

// startTask turns a pending or interrupted task running, at its first
// step not done, and returns that step's index.
func startTask(t *ovm.Task, steps []Step, owner string, now time.Time) int {
	n := len(steps)
	first := 0
	for first < n && t.Steps[first].State == ovm.StepDone {
		first++
	}
	switch {
	case t.State == ovm.TaskPending:
		addLog(t, now, slog.LevelInfo, fmt.Sprintf("started on %s", owner))
	case first < n:
		addLog(t, now, slog.LevelInfo, fmt.Sprintf("resumed on %s at step %s", owner, steps[first].Name))
	default:
		addLog(t, now, slog.LevelInfo, fmt.Sprintf("resumed on %s after its last step", owner))
	}
	t.State = ovm.TaskRunning
	if first < n {
		t.Steps[first].State = ovm.StepRunning
	}
	return first
}

// forward runs the steps from the first one not done, then finishes the
// task, or rolls it back when a step fails. started says the claim already
// saved the task running.
func (e *Engine) forward(ctx context.Context, r *Run, h Handler, steps []Step, started bool) {
	n := len(steps)
	r.mu.Lock()
	t := &r.rec.Task
	first := 0
	if started {
		for first < n && t.Steps[first].State == ovm.StepDone {
			first++
		}
	} else {
		first = startTask(t, steps, e.o.Owner, e.o.Now())
		r.gen++
	}
	r.mu.Unlock()
	if !started && r.save(ctx) != nil {
		return
	}
	for i := first; i < n; i++ {
		r.mu.Lock()
		r.step, r.forward, r.pending = i, true, nil
		r.mu.Unlock()
		err := e.call(ctx, r, "step", steps[i].Name, steps[i].Do)
		if ctx.Err() != nil {
			return // interrupted: the step runs again where the task resumes
		}
		r.mu.Lock()
		r.forward = false
		if err != nil {
			text := err.Error()
			r.pending = nil
			t.Steps[i].State = ovm.StepFailed
			t.Steps[i].Error = text
			t.Error = fmt.Sprintf("step %s failed: %s", steps[i].Name, text)
			t.State = ovm.TaskRollingBack
			r.appendLog(slog.LevelError, t.Error)
			r.mu.Unlock()
			if r.save(ctx) != nil {
				return
			}
			e.rollback(ctx, r, h, steps)
			return
		}
		r.commitState()
		t.Steps[i].State = ovm.StepDone
		t.Progress = progress(i+1, 0, n)
		last := i == n-1
		if !last {
			t.Steps[i+1].State = ovm.StepRunning
		}
		r.mu.Unlock()
		if last {
			break // saved together with the final state
		}
		if r.save(ctx) != nil {
			return
		}
	}
	e.finish(ctx, r, h, ovm.TaskSucceeded, "")
}

// rollback runs the compensations of the steps done, last first, and
// finishes the task rolled back, or failed at the first compensation that
// fails.
func (e *Engine) rollback(ctx context.Context, r *Run, h Handler, steps []Step) {
	r.mu.Lock()
	t := &r.rec.Task
	r.mu.Unlock()
	for j := len(steps) - 1; j >= 0; j-- {
		r.mu.Lock()
		done := t.Steps[j].State == ovm.StepDone
		if done && steps[j].Undo == nil {
			t.Steps[j].State = ovm.StepCompensated
			r.appendLog(slog.LevelInfo, fmt.Sprintf("step %s: nothing to undo", steps[j].Name))
			done = false
		}
		r.pending = nil
		r.mu.Unlock()
		if !done {
			continue
		}
		err := e.call(ctx, r, "compensation of step", steps[j].Name, steps[j].Undo)
		if ctx.Err() != nil {
			return // interrupted: the rollback goes on where the task resumes
		}
		r.mu.Lock()
		if err != nil {
			text := err.Error()
			r.pending = nil
			t.Steps[j].Error = "undo failed: " + text
			msg := fmt.Sprintf("compensation of step %s failed: %s", steps[j].Name, text)
			r.appendLog(slog.LevelError, msg)
			r.appendLog(slog.LevelError, "rollback stopped: the steps before it were not undone either")
			if t.Error == "" {
				t.Error = msg
			} else {
				t.Error += "; " + msg
			}
			errText := t.Error
			r.mu.Unlock()
			e.finish(ctx, r, h, ovm.TaskFailed, errText)
			return
		}
		r.commitState()
		t.Steps[j].State = ovm.StepCompensated
		r.appendLog(slog.LevelInfo, fmt.Sprintf("step %s undone", steps[j].Name))
		r.mu.Unlock()
		if r.save(ctx) != nil {
			return
		}
	}
	r.mu.Lock()
	errText := t.Error
	r.mu.Unlock()
	e.finish(ctx, r, h, ovm.TaskRolledBack, errText)
}

// finish calls the handler's Finisher, when it has one, and saves the task
// in its final state with errText as its Error.
func (e *Engine) finish(ctx context.Context, r *Run, h Handler, state ovm.TaskState, errText string) {
	if f, ok := h.(Finisher); ok {
		var cause error
		if errText != "" {
			cause = errors.New(errText)
		}
		r.mu.Lock()
		r.pending = nil
		r.mu.Unlock()
		err := e.call(ctx, r, "finish of task kind", r.rec.Task.Kind, func(ctx context.Context, r *Run) error {
			return f.Finish(ctx, r, state, cause)
		})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			r.Logf(slog.LevelWarn, "finishing the task: %s", err)
			e.log.WarnContext(ctx, "tasks: finish", "task", r.rec.Task.ID, "kind", r.rec.Task.Kind, "err", err)
		}
	}
	now := e.o.Now()
	r.mu.Lock()
	t := &r.rec.Task
	r.commitState()
	t.State, t.Error, t.FinishedAt = state, errText, &now
	switch state {
	case ovm.TaskSucceeded:
		t.Progress = 100
		r.appendLog(slog.LevelInfo, "succeeded")
	case ovm.TaskRolledBack:
		r.appendLog(slog.LevelWarn, "rolled back: every step done was undone")
	default:
		r.appendLog(slog.LevelError, "failed")
	}
	kind, created := t.Kind, t.CreatedAt
	r.mu.Unlock()
	if r.save(ctx) != nil {
		return
	}
	e.log.InfoContext(ctx, "tasks: finished", "task", r.rec.Task.ID, "kind", kind, "state", state)
	if e.o.Observe != nil {
		e.o.Observe(kind, state, max(now.Sub(created), 0))
	}
}

// call runs fn, turning a panic into an error with the panic's message;
// the stack goes to the engine's logger only.
func (e *Engine) call(ctx context.Context, r *Run, what, name string, fn func(context.Context, *Run) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			e.log.ErrorContext(ctx, "tasks: panic", "task", r.rec.Task.ID, "in", what+" "+name,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(ctx, r)
}

// commitState makes the state set during a step or compensation the one
// saved; r.mu is held.
func (r *Run) commitState() {
	if r.pending != nil {
		r.rec.State = r.pending
		r.pending = nil
		r.gen++
	}
}

// save writes the task with a version-checked update. Losing the task
// (a version mismatch) cancels the run.
func (r *Run) save(ctx context.Context) error {
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	r.mu.Lock()
	snap := r.rec
	snap.Task = copyTask(r.rec.Task)
	snap.Task.UpdatedAt = r.e.o.Now()
	gen := r.gen
	r.mu.Unlock()
	saved, err := r.e.saveTask(ctx, snap)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrVersionMismatch), errors.Is(err, ovm.ErrNotFound):
		r.lose(ctx, "its update was refused", err)
		return err
	default:
		if ctx.Err() == nil {
			// The task stays with its lease, which expires unrenewed: any
			// engine resumes it then.
			r.e.log.WarnContext(ctx, "tasks: save a task; leaving it to be resumed", "task", snap.Task.ID, "err", err)
			r.cancel(err)
		}
		return err
	}
	r.mu.Lock()
	r.rec.Version = saved.Version
	r.rec.Task.UpdatedAt = saved.Task.UpdatedAt
	r.saved = gen
	r.mu.Unlock()
	r.e.publish(saved)
	return nil
}

// keep renews the task's lease every LeaseTTL/3 and saves the log and
// progress a running step reports, until ctx ends.
func (r *Run) keep(ctx context.Context) {
	ttl := r.e.o.LeaseTTL
	tick := time.NewTicker(max(min(r.e.o.PollInterval, ttl/6), time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		r.saveMu.Lock()
		due := time.Since(r.lastRenew) >= ttl/3
		r.saveMu.Unlock()
		if due {
			r.renew(ctx)
		}
		r.mu.Lock()
		dirty := r.gen != r.saved
		r.mu.Unlock()
		if dirty && ctx.Err() == nil {
			_ = r.save(ctx)
		}
	}
}

// renew extends the lease. A refusal loses the task, and so does failing
// to renew it for half a LeaseTTL: the run stops while the lease still
// holds, before another engine may claim the task, so that the interrupted
// step has the rest of the TTL to return.
func (r *Run) renew(ctx context.Context) {
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	id, ttl := r.rec.Task.ID, r.e.o.LeaseTTL
	start := time.Now()
	var got store.TaskRecord
	err := r.e.st.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.RenewTask(ctx, id, r.token, ttl); err != nil {
			return err
		}
		var err error
		got, err = tx.GetTask(ctx, id)
		return err
	})
	switch {
	case ctx.Err() != nil:
	case err == nil && got.LeaseOwner == r.token:
		r.lastRenew = start
		r.mu.Lock()
		// The version is adopted in case the store counts renewals as
		// updates; only this claim writes under its token.
		r.rec.Version = got.Version
		r.rec.LeaseOwner, r.rec.LeaseExpires = got.LeaseOwner, got.LeaseExpires
		r.mu.Unlock()
	case err == nil, errors.Is(err, ovm.ErrConflict), errors.Is(err, ovm.ErrNotFound):
		r.lose(ctx, "its lease renewal was refused", err)
	default:
		r.e.log.WarnContext(ctx, "tasks: renew a lease", "task", id, "err", err)
		if time.Since(r.lastRenew) >= ttl/2 {
			r.lose(ctx, "its lease could not be renewed for half its TTL", err)
		}
	}
}

// lose stops the run without another write: another claim owns the task.
func (r *Run) lose(ctx context.Context, why string, err error) {
	r.e.log.WarnContext(ctx, "tasks: lost a task: "+why, "task", r.rec.Task.ID, "err", err)
	r.cancel(errLeaseLost)
}
