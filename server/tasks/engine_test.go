package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// TestStepsRunInOrder checks the order of the steps, the progress saved
// after each one, SetState, and the task's final record.
func TestStepsRunInOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		st := openStore(t, dsn)
		observed := make(chan string, 4)
		opts := testOptions("engine")
		opts.Observe = func(kind string, state ovm.TaskState, d time.Duration) {
			observed <- fmt.Sprintf("%s %s %t", kind, state, d >= 0)
		}
		e := New(st, opts)
		j := &journal{}
		names := []string{"one", "two", "three"}
		e.Register("ordered", handlerFunc(func(*store.TaskRecord) ([]Step, error) {
			steps := make([]Step, len(names))
			for i, name := range names {
				steps[i] = Step{Name: name, Do: func(ctx context.Context, r *Run) error {
					// What the store holds when step i starts: the steps
					// before it done, i itself running, the progress of i
					// steps out of 3 (0, 33, 66).
					rec, err := getTaskErr(ctx, r.Store(), r.Task().ID)
					if err != nil {
						return err
					}
					var stored []string
					if len(rec.State) > 0 {
						if err := json.Unmarshal(rec.State, &stored); err != nil {
							return err
						}
					}
					j.add("%s: stored progress %d, states %v, state %q", name, rec.Task.Progress, stepStates(rec.Task), stored)
					r.Progress(50)
					// Half of step i: (i*100+50)/3 = 16, 50, 83.
					j.add("%s: progress at half %d", name, r.Task().Progress)
					var seen []string
					if err := r.State(&seen); err != nil {
						return err
					}
					return r.SetState(append(seen, name))
				}}
			}
			return steps, nil
		}))
		stop := start(t, e)

		task := enqueue(t, st, e, Spec{Kind: "ordered", TargetID: ovm.NewID(), VDCID: ovm.NewID()})
		assert.Equal(t, ovm.TaskPending, task.State, "state of an enqueued task")
		assert.Equal(t, names, stepNames(task), "steps recorded at Enqueue")
		got := wait(t, e, task.ID)

		assert.Equal(t, ovm.TaskSucceeded, got.State, "final state; log:\n%s", logText(got))
		assert.Equal(t, 100, got.Progress, "final progress")
		assert.Equal(t, []ovm.StepState{ovm.StepDone, ovm.StepDone, ovm.StepDone}, stepStates(got), "final step states")
		assert.Empty(t, got.Error, "error of a task that succeeded")
		require.NotNil(t, got.FinishedAt, "finishedAt of a final task")
		assert.Equal(t, task.VDCID, got.VDCID, "vdc id kept")
		assert.Equal(t, task.TargetID, got.TargetID, "target id kept")
		assert.Equal(t, []string{
			`one: stored progress 0, states [running pending pending], state []`,
			`one: progress at half 16`,
			`two: stored progress 33, states [done running pending], state ["one"]`,
			`two: progress at half 50`,
			`three: stored progress 66, states [done done running], state ["one" "two"]`,
			`three: progress at half 83`,
		}, j.all(), "what each step saw")
		rec := getTask(t, st, task.ID)
		assert.JSONEq(t, `["one","two","three"]`, string(rec.State), "state saved with the last step")
		assert.Contains(t, logText(got), "info started on engine", "log")
		assert.Contains(t, logText(got), "info succeeded", "log")
		// Wait can see the final state (by polling) before the worker's
		// save returned and called Observe.
		select {
		case o := <-observed:
			assert.Equal(t, "ordered succeeded true", o, "Observe call")
		case <-time.After(waitFor):
			t.Fatalf("Observe was not called within %s", waitFor)
		}
		stop()
		assert.Empty(t, observed, "more Observe calls")
	})
}

// getTaskErr reads a task in a transaction of its own.
func getTaskErr(ctx context.Context, st store.Store, id ovm.ID) (store.TaskRecord, error) {
	var rec store.TaskRecord
	err := st.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		rec, err = tx.GetTask(ctx, id)
		return err
	})
	return rec, err
}

// plan is the input of a "planned" task: which step fails, which
// compensation fails (-1: none).
type plan struct {
	Steps    int  `json:"steps"`
	FailStep int  `json:"failStep"`
	FailUndo int  `json:"failUndo"`
	NoUndo   int  `json:"noUndo"` // a step without an Undo (-1: none)
	Panic    bool `json:"panic"`  // the failing step panics instead
}

// hvError is an error as a hypervisor reports it.
const hvError = "libvirt: internal error: process exited while connecting to monitor: Could not open '/var/lib/libvirt/images/x.qcow2': Permission denied"

// plannedHandler builds steps s0..s(n-1) that follow their task's plan and
// write what they do to j.
func plannedHandler(j *journal) Handler {
	return handlerFunc(func(rec *store.TaskRecord) ([]Step, error) {
		var p plan
		if err := json.Unmarshal(rec.Input, &p); err != nil {
			return nil, err
		}
		steps := make([]Step, p.Steps)
		for i := range steps {
			name := fmt.Sprintf("s%d", i)
			steps[i] = Step{Name: name, Do: func(ctx context.Context, r *Run) error {
				j.add("%s do %s", r.Task().ID.Short(), name)
				if i == p.FailStep {
					if p.Panic {
						panic("boom in " + name)
					}
					return ovm.Wrap(ovm.KindConflict, errors.New(hvError), "create instance")
				}
				return nil
			}}
			if i != p.NoUndo {
				steps[i].Undo = func(ctx context.Context, r *Run) error {
					j.add("%s undo %s", r.Task().ID.Short(), name)
					if i == p.FailUndo {
						return errors.New("esx: the object has already been deleted or has not been completely created")
					}
					return nil
				}
			}
		}
		return steps, nil
	})
}

// runPlanned runs one planned task and returns it and what its steps did.
func runPlanned(t tb, st store.Store, e *Engine, j *journal, p plan) (ovm.Task, []string) {
	t.Helper()
	task := enqueue(t, st, e, Spec{Kind: "planned", Input: p})
	got := wait(t, e, task.ID)
	var mine []string
	for _, l := range j.all() {
		if len(l) > 9 && l[:8] == string(task.ID.Short()) {
			mine = append(mine, l[9:])
		}
	}
	return got, mine
}

// TestFailureRollsBack checks rollback: compensations of the steps done in
// reverse order, the hypervisor's text in the error and the log, and a
// failing compensation that leaves the task failed.
func TestFailureRollsBack(t *testing.T) {
	tests := []struct {
		name      string
		plan      plan
		wantCalls []string
		wantState ovm.TaskState
		wantSteps []ovm.StepState
		wantErr   []string // substrings of the task's Error
		wantLog   []string // substrings of the log
	}{{
		name: "third of four fails",
		plan: plan{Steps: 4, FailStep: 2, FailUndo: -1, NoUndo: -1},
		// s0 and s1 done, s2 fails, then s1 and s0 undone, s3 never runs.
		wantCalls: []string{"do s0", "do s1", "do s2", "undo s1", "undo s0"},
		wantState: ovm.TaskRolledBack,
		wantSteps: []ovm.StepState{ovm.StepCompensated, ovm.StepCompensated, ovm.StepFailed, ovm.StepPending},
		wantErr:   []string{"step s2 failed: create instance: " + hvError},
		wantLog: []string{"error step s2 failed: create instance: " + hvError, "info step s1 undone",
			"info step s0 undone", "warn rolled back"},
	}, {
		name:      "first step fails: nothing to undo",
		plan:      plan{Steps: 2, FailStep: 0, FailUndo: -1, NoUndo: -1},
		wantCalls: []string{"do s0"},
		wantState: ovm.TaskRolledBack,
		wantSteps: []ovm.StepState{ovm.StepFailed, ovm.StepPending},
		wantErr:   []string{hvError},
		wantLog:   []string{hvError},
	}, {
		name: "a step without Undo is passed over",
		plan: plan{Steps: 3, FailStep: 2, FailUndo: -1, NoUndo: 1},
		// s1 has no compensation: only s0's runs.
		wantCalls: []string{"do s0", "do s1", "do s2", "undo s0"},
		wantState: ovm.TaskRolledBack,
		wantSteps: []ovm.StepState{ovm.StepCompensated, ovm.StepCompensated, ovm.StepFailed},
		wantLog:   []string{"info step s1: nothing to undo"},
	}, {
		name: "a failing compensation stops the rollback: failed",
		plan: plan{Steps: 4, FailStep: 3, FailUndo: 1, NoUndo: -1},
		// s2 undone, s1's undo fails, so s0 is left as it is.
		wantCalls: []string{"do s0", "do s1", "do s2", "do s3", "undo s2", "undo s1"},
		wantState: ovm.TaskFailed,
		wantSteps: []ovm.StepState{ovm.StepDone, ovm.StepDone, ovm.StepCompensated, ovm.StepFailed},
		wantErr: []string{"step s3 failed: create instance: " + hvError,
			"compensation of step s1 failed: esx: the object has already been deleted"},
		wantLog: []string{"error compensation of step s1 failed: esx: the object", "error rollback stopped", "error failed"},
	}, {
		name:      "a panic is a failure with the panic's message",
		plan:      plan{Steps: 3, FailStep: 1, FailUndo: -1, NoUndo: -1, Panic: true},
		wantCalls: []string{"do s0", "do s1", "undo s0"},
		wantState: ovm.TaskRolledBack,
		wantSteps: []ovm.StepState{ovm.StepCompensated, ovm.StepFailed, ovm.StepPending},
		wantErr:   []string{"step s1 failed: panic: boom in s1"},
		wantLog:   []string{"error step s1 failed: panic: boom in s1"},
	}}
	forEachBackend(t, func(t *testing.T, dsn string) {
		st := openStore(t, dsn)
		opts := testOptions("engine")
		logger, logs := bufferLogger()
		opts.Logger = logger
		e := New(st, opts)
		j := &journal{}
		e.Register("planned", plannedHandler(j))
		start(t, e)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, calls := runPlanned(t, st, e, j, tc.plan)
				assert.Equal(t, tc.wantCalls, calls, "calls of the steps")
				assert.Equal(t, tc.wantState, got.State, "final state; log:\n%s", logText(got))
				assert.Equal(t, tc.wantSteps, stepStates(got), "step states")
				for _, s := range tc.wantErr {
					assert.Contains(t, got.Error, s, "task error")
				}
				for _, s := range tc.wantLog {
					assert.Contains(t, logText(got), s, "task log")
				}
				assert.NotContains(t, got.Error, "goroutine", "a stack in the task's error")
				assert.NotContains(t, logText(got), "goroutine", "a stack in the task's log")
				assert.NotNil(t, got.FinishedAt, "finishedAt")
			})
		}
		assert.Contains(t, logs.String(), "boom in s1", "the engine's log has the panic")
		assert.Contains(t, logs.String(), "runtime/debug.Stack", "the engine's log has the stack")
	})
}

// TestRollbackProperties checks, for any number of steps, failing step and
// failing compensation, the calls made and the final state.
func TestRollbackProperties(t *testing.T) {
	st := newStore(t)
	e := New(st, testOptions("engine"))
	j := &journal{}
	e.Register("planned", plannedHandler(j))
	start(t, e)
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 6).Draw(rt, "steps")
		p := plan{
			Steps:    n,
			FailStep: rapid.IntRange(-1, n-1).Draw(rt, "failStep"),
			FailUndo: rapid.IntRange(-1, n-1).Draw(rt, "failUndo"),
			NoUndo:   rapid.IntRange(-1, n-1).Draw(rt, "noUndo"),
		}
		got, calls := runPlanned(rt, st, e, j, p)

		// The model: steps 0..f run (all when none fails); then the
		// compensations of the steps before f, last first, up to the
		// first that fails.
		var want []string
		last := n - 1
		if p.FailStep >= 0 {
			last = p.FailStep
		}
		for i := 0; i <= last; i++ {
			want = append(want, fmt.Sprintf("do s%d", i))
		}
		wantState := ovm.TaskSucceeded
		if p.FailStep >= 0 {
			wantState = ovm.TaskRolledBack
			for i := p.FailStep - 1; i >= 0; i-- {
				if i == p.NoUndo {
					continue
				}
				want = append(want, fmt.Sprintf("undo s%d", i))
				if i == p.FailUndo {
					wantState = ovm.TaskFailed
					break
				}
			}
		}
		if !assert.Equal(rt, want, calls, "calls for %+v", p) || !assert.Equal(rt, wantState, got.State, "state for %+v", p) {
			rt.Fatalf("log:\n%s", logText(got))
		}
	})
}

// TestUnknownKind checks that a task no handler serves fails with a clear
// error and that the engine goes on with the next task.
func TestUnknownKind(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		st := openStore(t, dsn)
		// An older replica recorded a kind this one does not know.
		older := New(st, testOptions("older"))
		older.Register("retired", handlerFunc(func(*store.TaskRecord) ([]Step, error) {
			return []Step{{Name: "x", Do: func(context.Context, *Run) error { return nil }}}, nil
		}))
		e := New(st, testOptions("newer"))
		ran := &journal{}
		e.Register("current", handlerFunc(func(*store.TaskRecord) ([]Step, error) {
			return []Step{{Name: "x", Do: func(context.Context, *Run) error { ran.add("current"); return nil }}}, nil
		}))
		orphan := enqueue(t, st, older, Spec{Kind: "retired"})
		next := enqueue(t, st, e, Spec{Kind: "current"})
		start(t, e)

		got := wait(t, e, orphan.ID)
		assert.Equal(t, ovm.TaskFailed, got.State, "state of a task of an unknown kind")
		assert.Contains(t, got.Error, `no handler is registered for task kind "retired"`, "error")
		assert.Contains(t, logText(got), `error no handler is registered for task kind "retired"`, "log")
		assert.Equal(t, []ovm.StepState{ovm.StepPending}, stepStates(got), "its steps never ran")
		assert.Equal(t, ovm.TaskSucceeded, wait(t, e, next.ID).State, "the next task")
		assert.Equal(t, []string{"current"}, ran.all(), "steps run")
	})
}

// TestStepsChanged checks that a task whose handler now gives other steps
// than those recorded fails instead of running the wrong ones.
func TestStepsChanged(t *testing.T) {
	st := newStore(t)
	mk := func(names ...string) Handler {
		return handlerFunc(func(*store.TaskRecord) ([]Step, error) {
			var steps []Step
			for _, n := range names {
				steps = append(steps, Step{Name: n, Do: func(context.Context, *Run) error { return nil }})
			}
			return steps, nil
		})
	}
	old := New(st, testOptions("old"))
	old.Register("k", mk("a", "b"))
	e := New(st, testOptions("new"))
	e.Register("k", mk("a", "c"))
	task := enqueue(t, st, old, Spec{Kind: "k"})
	start(t, e)
	got := wait(t, e, task.ID)
	assert.Equal(t, ovm.TaskFailed, got.State, "state")
	assert.Contains(t, got.Error, `it has ["a" "b"], the handler now gives ["a" "c"]`, "error")
}

// TestEnqueueRefuses checks what Enqueue refuses, and that nothing is
// recorded then.
func TestEnqueueRefuses(t *testing.T) {
	st := newStore(t)
	e := New(st, testOptions("engine"))
	noop := func(context.Context, *Run) error { return nil }
	e.Register("fine", handlerFunc(func(*store.TaskRecord) ([]Step, error) {
		return []Step{{Name: "a", Do: noop}}, nil
	}))
	e.Register("bad-input", handlerFunc(func(rec *store.TaskRecord) ([]Step, error) {
		return nil, ovm.Invalid("invalid instance", ovm.FieldError{Field: "name", Reason: "must not be empty"})
	}))
	e.Register("twice", handlerFunc(func(*store.TaskRecord) ([]Step, error) {
		return []Step{{Name: "a", Do: noop}, {Name: "a", Do: noop}}, nil
	}))
	e.Register("no-do", handlerFunc(func(*store.TaskRecord) ([]Step, error) {
		return []Step{{Name: "a"}}, nil
	}))
	tests := []struct {
		name     string
		spec     Spec
		wantKind ovm.Kind
		wantText string
	}{
		{"unknown kind", Spec{Kind: "nope"}, ovm.KindInvalid, `kind: no handler is registered for task kind "nope"`},
		{"host id not an id", Spec{Kind: "fine", HostID: "host-1"}, ovm.KindInvalid, "hostId: must be an OVM id"},
		{"input that is not JSON", Spec{Kind: "fine", Input: func() {}}, ovm.KindInvalid, "encode the input"},
		{"the handler refuses the input", Spec{Kind: "bad-input"}, ovm.KindInvalid, "name: must not be empty"},
		{"two steps of one name", Spec{Kind: "twice"}, ovm.KindInternal, `two steps named "a"`},
		{"a step without Do", Spec{Kind: "no-do"}, ovm.KindInternal, `step "a" of a no-do task has no Do`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := st.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
				_, err := e.Enqueue(ctx, tx, tc.spec)
				return err
			})
			require.Error(t, err, "Enqueue: got nil, want an error")
			assert.Equal(t, tc.wantKind, ovm.KindOf(err), "kind of %q", err)
			assert.Contains(t, err.Error(), tc.wantText, "error text")
		})
	}
	var n int
	require.NoError(t, st.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
		list, _, err := tx.ListTasks(ctx, "", true, store.Page{})
		n = len(list)
		return err
	}))
	assert.Zero(t, n, "tasks recorded: got %d, want 0", n)
}

// finishing is a handler that records its Finish calls.
type finishing struct {
	fail   bool
	finish *journal
}

func (f finishing) Steps(*store.TaskRecord) ([]Step, error) {
	return []Step{{Name: "only", Do: func(ctx context.Context, r *Run) error {
		if f.fail {
			return errors.New("docker: Error response from daemon: No such image: busybox:0")
		}
		return nil
	}}}, nil
}

func (f finishing) Finish(ctx context.Context, r *Run, state ovm.TaskState, err error) error {
	f.finish.add("%s %v", state, err)
	return nil
}

// TestFinisher checks that a Finisher learns how each task ended.
func TestFinisher(t *testing.T) {
	tests := []struct {
		name string
		fail bool
		want string
	}{
		{"succeeded", false, "succeeded <nil>"},
		{"rolled back", true, "rolled-back step only failed: docker: Error response from daemon: No such image: busybox:0"},
	}
	st := newStore(t)
	e := New(st, testOptions("engine"))
	j := map[bool]*journal{false: {}, true: {}}
	e.Register("ok", finishing{fail: false, finish: j[false]})
	e.Register("ko", finishing{fail: true, finish: j[true]})
	start(t, e)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind := map[bool]string{false: "ok", true: "ko"}[tc.fail]
			task := enqueue(t, st, e, Spec{Kind: kind})
			wait(t, e, task.ID)
			assert.Equal(t, []string{tc.want}, j[tc.fail].all(), "Finish calls")
		})
	}
}

// TestFinisherSavesLikeAnyTask checks that a task whose handler is a
// Finisher and that succeeds is saved as often as one whose handler is
// not: its last step is saved done with the final state.
func TestFinisherSavesLikeAnyTask(t *testing.T) {
	st := newStore(t)
	e := New(st, testOptions("engine"))
	e.Register("finisher", finishing{finish: &journal{}})
	e.Register("plain", handlerFunc(func(*store.TaskRecord) ([]Step, error) {
		return []Step{{Name: "only", Do: func(context.Context, *Run) error { return nil }}}, nil
	}))
	start(t, e)
	versions := map[string]int64{}
	for _, kind := range []string{"finisher", "plain"} {
		task := enqueue(t, st, e, Spec{Kind: kind})
		done := wait(t, e, task.ID)
		require.Equal(t, ovm.TaskSucceeded, done.State, kind)
		rec := getTask(t, st, task.ID)
		assert.Equal(t, []ovm.StepState{ovm.StepDone}, stepStates(rec.Task), kind)
		versions[kind] = rec.Version
	}
	assert.Equal(t, versions["plain"], versions["finisher"], "versions of the tasks saved")
}

// TestRunTwice checks that an engine runs one Run at a time.
func TestRunTwice(t *testing.T) {
	e := New(newStore(t), testOptions("engine"))
	start(t, e)
	require.Eventually(t, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.running
	}, waitFor, testPoll, "the first Run did not start")
	err := e.Run(t.Context())
	require.Error(t, err, "a second Run: got nil, want an error")
	assert.Contains(t, err.Error(), "already running", "error text")
}

// TestRegisterPanics checks that registration mistakes are loud.
func TestRegisterPanics(t *testing.T) {
	h := handlerFunc(func(*store.TaskRecord) ([]Step, error) { return nil, nil })
	tests := []struct {
		name string
		do   func(e *Engine)
	}{
		{"empty kind", func(e *Engine) { e.Register("", h) }},
		{"nil handler", func(e *Engine) { e.Register("k", nil) }},
		{"twice", func(e *Engine) { e.Register("k", h); e.Register("k", h) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New(newStore(t), Options{})
			assert.Panics(t, func() { tc.do(e) }, "Register")
		})
	}
}

// TestLogBounds checks that a task's log keeps its first entries, a count
// of the dropped ones and the newest, and cuts long messages.
func TestLogBounds(t *testing.T) {
	tests := []struct {
		name      string
		lines     int
		wantLen   int
		wantCount string // message of entry logHead; "" when nothing dropped
		wantLast  string
	}{
		{"under the bound", 10, 10, "", "line 9"},
		{"at the bound", maxLogEntries, maxLogEntries, "", fmt.Sprintf("line %d", maxLogEntries-1)},
		// N lines over the bound keep logHead (20) first lines, the count
		// and the 479 newest: N-499 dropped, 2 for N = 501.
		{"one over", maxLogEntries + 1, maxLogEntries, "2 earlier entries dropped", fmt.Sprintf("line %d", maxLogEntries)},
		// N = 1500: 1500-499 = 1001 dropped.
		{"far over", maxLogEntries + 1000, maxLogEntries, "1001 earlier entries dropped", fmt.Sprintf("line %d", maxLogEntries+999)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Run{e: New(nil, Options{})}
			for i := range tc.lines {
				r.Logf(slog.LevelInfo, "line %d", i)
			}
			log := r.Task().Log
			require.Len(t, log, tc.wantLen, "entries")
			assert.Equal(t, "line 0", log[0].Message, "first entry kept")
			head := min(logHead, tc.lines) - 1
			assert.Equal(t, fmt.Sprintf("line %d", head), log[head].Message, "head kept")
			assert.Equal(t, tc.wantLast, log[len(log)-1].Message, "newest entry")
			if tc.wantCount != "" {
				assert.Equal(t, tc.wantCount, log[logHead].Message, "count of dropped entries")
			}
		})
	}
	t.Run("long message", func(t *testing.T) {
		r := &Run{e: New(nil, Options{})}
		r.Logf(slog.LevelError, "%s", string(make([]byte, 3*maxLogMessage)))
		msg := r.Task().Log[0].Message
		assert.Len(t, msg, maxLogMessage+len(" [truncated]"), "length of a cut message")
		assert.Equal(t, "error", r.Task().Log[0].Level, "level")
	})
}

// TestRunInputState checks Run's decoding of input and state.
func TestRunInputState(t *testing.T) {
	r := &Run{e: New(nil, Options{}), rec: store.TaskRecord{Input: json.RawMessage(`{"n":3}`)}}
	var in struct{ N int }
	require.NoError(t, r.Input(&in), "Input")
	assert.Equal(t, 3, in.N, "input")
	var st struct{ X string }
	require.NoError(t, r.State(&st), "State with nothing recorded")
	assert.Empty(t, st.X, "state with nothing recorded")
	require.NoError(t, r.SetState(map[string]string{"X": "vm-17"}), "SetState")
	require.NoError(t, r.State(&st), "State")
	assert.Equal(t, "vm-17", st.X, "state after SetState")
	require.Error(t, r.SetState(func() {}), "SetState of a func: got nil, want an error")
	var wrong []int
	assert.Error(t, r.Input(&wrong), "Input into the wrong type: got nil, want an error")
}

// concurrency tracks how many calls run at once, per key and in all.
type concurrency struct {
	mu      sync.Mutex
	cur     map[string]int
	max     map[string]int
	total   int
	maxAll  int
	entered atomic.Int64
}

func newConcurrency() *concurrency {
	return &concurrency{cur: map[string]int{}, max: map[string]int{}}
}

func (c *concurrency) enter(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur[key]++
	c.max[key] = max(c.max[key], c.cur[key])
	c.total++
	c.maxAll = max(c.maxAll, c.total)
	c.entered.Add(1)
}

func (c *concurrency) leave(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur[key]--
	c.total--
}

func (c *concurrency) snapshot() (cur, maxes map[string]int, total, maxAll int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, maxes = map[string]int{}, map[string]int{}
	for k, v := range c.cur {
		cur[k] = v
	}
	for k, v := range c.max {
		maxes[k] = v
	}
	return cur, maxes, c.total, c.maxAll
}
