package tasks

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// BenchmarkEnqueueAndRun enqueues b.N tasks of two no-op steps on SQLite,
// each in a transaction of its own, while an engine with the default
// bounds runs them, and reports the throughput from the first enqueue to
// the last task's end.
func BenchmarkEnqueueAndRun(b *testing.B) {
	st := openStore(b, freshSQLite(b))
	var finished atomic.Int64
	all := make(chan struct{})
	var want atomic.Int64
	e := New(st, Options{Owner: "bench", Observe: func(string, ovm.TaskState, time.Duration) {
		if finished.Add(1) == want.Load() {
			close(all)
		}
	}})
	noop := func(context.Context, *Run) error { return nil }
	e.Register("noop", handlerFunc(func(*store.TaskRecord) ([]Step, error) {
		return []Step{{Name: "one", Do: noop}, {Name: "two", Do: noop}}, nil
	}))
	want.Store(int64(b.N))
	start(b, e)
	b.ReportAllocs()
	b.ResetTimer()
	began := time.Now()
	for range b.N {
		err := st.Tx(context.Background(), func(ctx context.Context, tx store.Tx) error {
			_, err := e.Enqueue(ctx, tx, Spec{Kind: "noop"})
			return err
		})
		if err != nil {
			b.Fatalf("Enqueue: %v", err)
		}
		e.Kick()
	}
	select {
	case <-all:
	case <-time.After(5 * time.Minute):
		b.Fatalf("%d of %d tasks finished", finished.Load(), b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "tasks/s")
}
