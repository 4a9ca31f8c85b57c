package tasks

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// vmInput and vmState are the input and state of the "vm" tasks below.
type vmInput struct {
	Name string `json:"name"`
}

type vmState struct {
	Reserved bool   `json:"reserved"`
	NativeID string `json:"nativeId"`
}

// vmHandler creates and starts an instance on host in three steps. When
// blockCreate is set, the create step signals entered once the instance
// exists and then blocks until its context ends, like a worker that dies
// in the middle of it.
func vmHandler(host *fake.Driver, j *journal, blockCreate bool, entered chan<- struct{}) Handler {
	return handlerFunc(func(*store.TaskRecord) ([]Step, error) {
		return []Step{{
			Name: "reserve",
			Do: func(ctx context.Context, r *Run) error {
				j.add("reserve")
				return r.SetState(vmState{Reserved: true})
			},
		}, {
			Name: "create",
			Do: func(ctx context.Context, r *Run) error {
				j.add("create")
				var in vmInput
				var s vmState
				if err := errors.Join(r.Input(&in), r.State(&s)); err != nil {
					return err
				}
				inst, err := host.Create(ctx, hypervisor.CreateSpec{ID: r.Task().TargetID, Name: in.Name, Spec: ovm.InstanceSpec{
					Type: ovm.TypeContainer, CPU: 500, Memory: 64 * ovm.MiB, Image: ovm.ContainerImage("busybox:1.36"),
				}})
				if err != nil {
					return err
				}
				s.NativeID = inst.NativeID
				if err := r.SetState(s); err != nil {
					return err
				}
				if blockCreate {
					entered <- struct{}{}
					<-ctx.Done()
					return ctx.Err()
				}
				return nil
			},
		}, {
			Name: "start",
			Do: func(ctx context.Context, r *Run) error {
				j.add("start")
				var s vmState
				if err := r.State(&s); err != nil {
					return err
				}
				if !s.Reserved || s.NativeID == "" {
					return errors.New("start: the state of the earlier steps is lost")
				}
				return host.Start(ctx, hypervisor.ByNative(s.NativeID))
			},
		}}, nil
	})
}

// TestResumeAfterInterruption checks that a task whose engine stopped in
// the middle of a step is resumed by another engine once the lease
// expired: at that step (which runs again, idempotently), with the state
// of the steps before it, and without running them again.
func TestResumeAfterInterruption(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		st := openStore(t, dsn)
		host := fake.New(fake.Options{Name: "kvm-1"})
		j := &journal{}
		entered := make(chan struct{}, 1)

		optsA := testOptions("A")
		optsA.LeaseTTL = shortTTL
		a := New(st, optsA)
		a.Register("vm", vmHandler(host, j, true, entered))
		stopA := start(t, a)
		task := enqueue(t, st, a, Spec{Kind: "vm", TargetID: ovm.NewID(), Input: vmInput{Name: "web-1"}})
		select {
		case <-entered:
		case <-time.After(waitFor):
			t.Fatalf("the create step did not start within %s", waitFor)
		}
		stopA() // a crash: Run's context ends, nothing more is written

		rec := getTask(t, st, task.ID)
		assert.Equal(t, ovm.TaskRunning, rec.Task.State, "state left by A")
		assert.Equal(t, []ovm.StepState{ovm.StepDone, ovm.StepRunning, ovm.StepPending}, stepStates(rec.Task), "steps left by A")
		assert.True(t, strings.HasPrefix(rec.LeaseOwner, "A/"), "lease owner: got %q, want A's", rec.LeaseOwner)

		b := New(st, testOptions("B"))
		b.Register("vm", vmHandler(host, j, false, nil))
		start(t, b)
		got := wait(t, b, task.ID)

		assert.Equal(t, ovm.TaskSucceeded, got.State, "final state; log:\n%s", logText(got))
		// reserve ran on A only; create on A (interrupted) and B; start on B.
		assert.Equal(t, []string{"reserve", "create", "create", "start"}, j.all(), "steps run")
		assert.Contains(t, logText(got), "info resumed on B at step create", "log")
		assert.Equal(t, 2, host.Calls(fake.MethodCreate), "Create calls")
		list, err := host.List(t.Context())
		require.NoError(t, err, "List")
		require.Len(t, list, 1, "instances on the host: an idempotent create makes one")
		assert.Equal(t, task.TargetID, list[0].OVMID, "the instance's OVM id")
		assert.Equal(t, ovm.PowerRunning, list[0].Power, "the instance's power state")
	})
}

// TestResumeRollback checks that a rollback interrupted in a compensation
// goes on in another engine, which runs that compensation again.
func TestResumeRollback(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		st := openStore(t, dsn)
		j := &journal{}
		entered := make(chan struct{}, 1)
		handler := func(block bool) Handler {
			return handlerFunc(func(*store.TaskRecord) ([]Step, error) {
				return []Step{{
					Name: "volume",
					Do:   func(context.Context, *Run) error { j.add("do volume"); return nil },
					Undo: func(ctx context.Context, r *Run) error {
						j.add("undo volume")
						if block {
							entered <- struct{}{}
							<-ctx.Done()
							return ctx.Err()
						}
						return nil
					},
				}, {
					Name: "instance",
					Do: func(context.Context, *Run) error {
						j.add("do instance")
						return errors.New("esx: Insufficient resources to satisfy configured failover level")
					},
				}}, nil
			})
		}
		optsA := testOptions("A")
		optsA.LeaseTTL = shortTTL
		a := New(st, optsA)
		a.Register("k", handler(true))
		stopA := start(t, a)
		task := enqueue(t, st, a, Spec{Kind: "k"})
		select {
		case <-entered:
		case <-time.After(waitFor):
			t.Fatalf("the compensation did not start within %s", waitFor)
		}
		stopA()
		assert.Equal(t, ovm.TaskRollingBack, getTask(t, st, task.ID).Task.State, "state left by A")

		b := New(st, testOptions("B"))
		b.Register("k", handler(false))
		start(t, b)
		got := wait(t, b, task.ID)
		assert.Equal(t, ovm.TaskRolledBack, got.State, "final state; log:\n%s", logText(got))
		// A failed step is not recorded done, so an engine that lost its
		// lease under load may run "instance" again before it rolls back;
		// what matters is one volume, then the compensation run by A and
		// run again by B.
		calls := j.all()
		require.GreaterOrEqual(t, len(calls), 4, "calls: %v", calls)
		assert.Equal(t, "do volume", calls[0], "calls: %v", calls)
		for _, c := range calls[1 : len(calls)-2] {
			assert.Equal(t, "do instance", c, "calls: %v", calls)
		}
		assert.Equal(t, []string{"undo volume", "undo volume"}, calls[len(calls)-2:], "calls")
		assert.Contains(t, got.Error, "Insufficient resources to satisfy configured failover level", "error")
		assert.Contains(t, logText(got), "resumed on B, rolling back", "log")
	})
}

// TestLostLeaseStopsTheStep checks that an engine that cannot renew its
// lease stops the step before another engine takes the task over, so that
// the task never runs in two places, and that its later writes are
// refused.
func TestLostLeaseStopsTheStep(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		base := openStore(t, dsn)
		cut := &renewFaults{Store: base}
		c := newConcurrency()
		j := &journal{}
		stoppedBy := make(chan error, 1)
		handler := func(owner string, block bool) Handler {
			return handlerFunc(func(*store.TaskRecord) ([]Step, error) {
				return []Step{{Name: "long", Do: func(ctx context.Context, r *Run) error {
					c.enter("task")
					defer c.leave("task")
					j.add("%s runs", owner)
					if block {
						cut.set(true) // from now on A cannot renew
						<-ctx.Done()
						select {
						case stoppedBy <- context.Cause(ctx):
						default:
						}
						return ctx.Err()
					}
					return nil
				}}}, nil
			})
		}
		optsA := testOptions("A")
		// A gives up at half the TTL; the other half is the margin in which
		// the test stops A before it could claim the task again.
		optsA.LeaseTTL = 3 * shortTTL
		a := New(cut, optsA)
		a.Register("k", handler("A", true))
		stopA := start(t, a)
		task := enqueue(t, base, a, Spec{Kind: "k"})

		var cause error
		select {
		case cause = <-stoppedBy:
		case <-time.After(waitFor):
			t.Fatalf("A's step was not stopped within %s", waitFor)
		}
		assert.ErrorIs(t, cause, errLeaseLost, "why A's step stopped")
		stopA() // so that A does not claim the task again once the lease expired

		b := New(base, testOptions("B"))
		b.Register("k", handler("B", false))
		start(t, b)
		got := wait(t, b, task.ID)
		assert.Equal(t, ovm.TaskSucceeded, got.State, "final state; log:\n%s", logText(got))
		assert.Equal(t, []string{"A runs", "B runs"}, j.all(), "runs")
		_, maxes, _, _ := c.snapshot()
		assert.Equal(t, 1, maxes["task"], "runs of the task at once")
	})
}

// TestParallelismBounds checks the bounds on the tasks an engine runs at
// once, per host and in all, and that a busy host does not hold back the
// tasks of the others queued behind its own.
func TestParallelismBounds(t *testing.T) {
	tests := []struct {
		name             string
		workers, perHost int
		// Tasks: perHostTasks on each of two hosts, the first host's all
		// enqueued first, then hostless ones.
		perHostTasks, hostless int
		wantPeak               int
		wantHostPeak           int
	}{
		// Two hosts at 2 each plus 2 hostless tasks: 2+2+2 = 6 <= 8 workers.
		{name: "per host", workers: 8, perHost: 2, perHostTasks: 5, hostless: 2, wantPeak: 6, wantHostPeak: 2},
		// Three workers for 2 hosts × 4 tasks: the workers are the bound;
		// the three oldest tasks, all on the first host, run at once.
		{name: "overall", workers: 3, perHost: 4, perHostTasks: 4, hostless: 0, wantPeak: 3, wantHostPeak: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			c := newConcurrency()
			release := make(chan struct{})
			opts := testOptions("engine")
			opts.Workers, opts.PerHost = tc.workers, tc.perHost
			e := New(st, opts)
			e.Register("k", handlerFunc(func(rec *store.TaskRecord) ([]Step, error) {
				host := string(rec.HostID)
				return []Step{{Name: "work", Do: func(ctx context.Context, r *Run) error {
					c.enter(host)
					defer c.leave(host)
					select {
					case <-release:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				}}}, nil
			}))
			hosts := []ovm.ID{ovm.NewID(), ovm.NewID()}
			var ids []ovm.ID
			for _, h := range hosts {
				for range tc.perHostTasks {
					ids = append(ids, enqueue(t, st, e, Spec{Kind: "k", HostID: h}).ID)
				}
			}
			for range tc.hostless {
				ids = append(ids, enqueue(t, st, e, Spec{Kind: "k"}).ID)
			}
			start(t, e)
			require.Eventually(t, func() bool {
				_, _, total, _ := c.snapshot()
				return total == tc.wantPeak
			}, waitFor, testPoll, "tasks running at once never reached %d", tc.wantPeak)
			// Give the engine time to overshoot, were it to: many polls.
			time.Sleep(20 * testPoll)
			_, maxes, _, maxAll := c.snapshot()
			assert.Equal(t, tc.wantPeak, maxAll, "most tasks at once")
			hostPeak := 0
			for _, h := range hosts {
				assert.LessOrEqual(t, maxes[string(h)], tc.perHost, "most tasks at once on host %s", h)
				hostPeak = max(hostPeak, maxes[string(h)])
			}
			assert.Equal(t, tc.wantHostPeak, hostPeak, "most tasks at once on one host")
			close(release)
			for _, id := range ids {
				assert.Equal(t, ovm.TaskSucceeded, wait(t, e, id).State, "task %s", id)
			}
		})
	}
}

// TestTwoEnginesShareTheWork checks that two engines on one database
// (two replicas) never run one task at once and run every task once.
func TestTwoEnginesShareTheWork(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		stores := []store.Store{openStore(t, dsn), openStore(t, dsn)}
		c := newConcurrency()
		j := &journal{}
		// Steps wait until both engines run one, so that neither can take
		// every task while the other waits for the database.
		var seen sync.Map
		var once sync.Once
		bothIn := make(chan struct{})
		engines := make([]*Engine, 2)
		for i, owner := range []string{"A", "B"} {
			opts := testOptions(owner)
			opts.Workers = 3
			engines[i] = New(stores[i], opts)
			engines[i].Register("k", handlerFunc(func(rec *store.TaskRecord) ([]Step, error) {
				id := string(rec.Task.ID)
				work := func(step string) func(ctx context.Context, r *Run) error {
					return func(ctx context.Context, r *Run) error {
						c.enter(id)
						defer c.leave(id)
						j.add("%s %s %s", owner, id, step)
						seen.Store(owner, true)
						_, a := seen.Load("A")
						_, b := seen.Load("B")
						if a && b {
							once.Do(func() { close(bothIn) })
						}
						select {
						case <-bothIn:
						case <-ctx.Done():
							return ctx.Err()
						}
						time.Sleep(time.Millisecond)
						return nil
					}
				}
				return []Step{{Name: "one", Do: work("one")}, {Name: "two", Do: work("two")}}, nil
			}))
		}
		const n = 30
		ids := make([]ovm.ID, n)
		for i := range ids {
			ids[i] = enqueue(t, stores[i%2], engines[i%2], Spec{Kind: "k"}).ID
		}
		for _, e := range engines {
			start(t, e)
		}
		byOwner := map[string]int{}
		for _, id := range ids {
			got := wait(t, engines[0], id)
			require.Equal(t, ovm.TaskSucceeded, got.State, "task %s; log:\n%s", id, logText(got))
			// The final save is the one of the engine that ran the task.
			owner := getTask(t, stores[0], id).LeaseOwner[:1]
			byOwner[owner]++
			for _, step := range []string{"one", "two"} {
				assert.Equal(t, 1, j.count(owner+" "+string(id)+" "+step), "runs of step %s of task %s by %s", step, id, owner)
			}
		}
		assert.Len(t, j.all(), 2*n, "step runs: 2 steps × %d tasks", n)
		_, maxes, _, _ := c.snapshot()
		for _, id := range ids {
			assert.Equal(t, 1, maxes[string(id)], "runs of task %s at once", id)
		}
		assert.Positive(t, byOwner["A"], "tasks run by A")
		assert.Positive(t, byOwner["B"], "tasks run by B")
	})
}
