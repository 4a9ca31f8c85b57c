package tasks

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// gatedHandler has two steps, each of which waits for its gate.
func gatedHandler(gates map[string]chan struct{}) Handler {
	return handlerFunc(func(*store.TaskRecord) ([]Step, error) {
		var steps []Step
		for _, name := range []string{"a", "b"} {
			steps = append(steps, Step{Name: name, Do: func(ctx context.Context, r *Run) error {
				r.Logf(slog.LevelDebug, "waiting at %s", name)
				select {
				case <-gates[name]:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}})
		}
		return steps, nil
	})
}

// summary is a task's state and its steps' states, as a line.
func summary(t ovm.Task) string { return fmt.Sprintf("%s %v", t.State, stepStates(t)) }

// TestWatch checks that a watcher in the engine running the task gets
// every change pushed (its own polls are too rare to see them), and that a
// watcher in another engine gets them by polling the store.
func TestWatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		st := openStore(t, dsn)
		gates := map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{})}
		opts := testOptions("runner")
		opts.PollInterval = time.Hour // so what its watcher sees was pushed
		runner := New(st, opts)
		runner.Register("k", gatedHandler(gates))
		other := New(openStore(t, dsn), testOptions("other"))

		task := enqueue(t, st, runner, Spec{Kind: "k"})
		ctx, cancel := context.WithTimeout(t.Context(), waitFor)
		defer cancel()
		pushed, err := runner.Watch(ctx, task.ID)
		require.NoError(t, err, "Watch on the runner")
		polled, err := other.Watch(ctx, task.ID)
		require.NoError(t, err, "Watch on the other engine")
		otherSeen := make(chan []ovm.Task, 1)
		go func() {
			var all []ovm.Task
			for t := range polled {
				all = append(all, t)
			}
			otherSeen <- all
		}()

		// next reads pushed changes until one matches want.
		next := func(want string) ovm.Task {
			t.Helper()
			for {
				select {
				case got, ok := <-pushed:
					require.True(t, ok, "the watch ended before %q", want)
					if summary(got) == want {
						return got
					}
				case <-ctx.Done():
					t.Fatalf("no change to %q within %s", want, waitFor)
				}
			}
		}
		first := next("pending [pending pending]")
		assert.Equal(t, task.ID, first.ID, "id of the watched task")
		start(t, runner)
		next("running [running pending]")
		close(gates["a"])
		next("running [done running]")
		close(gates["b"])
		final := next("succeeded [done done]")
		assert.Equal(t, 100, final.Progress, "final progress")
		_, open := <-pushed
		assert.False(t, open, "the watch goes on after the final state")

		all := <-otherSeen
		require.NotEmpty(t, all, "changes seen by the other engine")
		assert.Equal(t, "succeeded [done done]", summary(all[len(all)-1]), "last change seen by the other engine")
		for i := 1; i < len(all); i++ {
			assert.False(t, all[i-1].State.Final(), "a change sent after a final one: %v", summary(all[i]))
		}
		got, err := other.Wait(ctx, task.ID)
		require.NoError(t, err, "Wait on a final task")
		assert.Equal(t, ovm.TaskSucceeded, got.State, "Wait")
	})
}

// TestWaitErrors checks Wait and Watch on a task that does not exist and
// on one that never ends.
func TestWaitErrors(t *testing.T) {
	st := newStore(t)
	e := New(st, testOptions("engine"))
	e.Register("k", gatedHandler(nil))
	tests := []struct {
		name     string
		id       func() ovm.ID
		timeout  time.Duration
		wantKind ovm.Kind
		wantCtx  bool
	}{
		{name: "no such task", id: func() ovm.ID { return ovm.NewID() }, timeout: waitFor, wantKind: ovm.KindNotFound},
		{name: "never run", id: func() ovm.ID { return enqueue(t, st, e, Spec{Kind: "k"}).ID }, timeout: 5 * testPoll, wantCtx: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), tc.timeout)
			defer cancel()
			id := tc.id()
			got, err := e.Wait(ctx, id)
			require.Error(t, err, "Wait: got nil, want an error")
			if tc.wantCtx {
				assert.ErrorIs(t, err, context.DeadlineExceeded, "Wait's error")
				assert.Equal(t, ovm.TaskPending, got.State, "the task as last seen")
				return
			}
			assert.Equal(t, tc.wantKind, ovm.KindOf(err), "kind of %q", err)
			_, err = e.Watch(ctx, id)
			assert.Equal(t, tc.wantKind, ovm.KindOf(err), "kind of Watch's error %q", err)
		})
	}
}
