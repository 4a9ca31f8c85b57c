package tasks

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/store/sqlstore"
)

// claimCounter is a store that counts the claims its transactions make,
// and those that found no task, and the claims by id.
type claimCounter struct {
	store.Store
	claims, none, byID, byIDNone atomic.Int64
}

func (s *claimCounter) Tx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return wrapTx(ctx, s.Store, fn, func(tx store.Tx) store.Tx { return &claimCounterTx{Tx: tx, s: s} })
}

type claimCounterTx struct {
	store.Tx
	s *claimCounter
}

func (t *claimCounterTx) ClaimTask(ctx context.Context, owner string, ttl time.Duration, busy []ovm.ID) (store.TaskRecord, bool, error) {
	rec, ok, err := t.Tx.ClaimTask(ctx, owner, ttl, busy)
	if err == nil {
		t.s.claims.Add(1)
		if !ok {
			t.s.none.Add(1)
		}
	}
	return rec, ok, err
}

func (t *claimCounterTx) ClaimTaskByID(ctx context.Context, id ovm.ID, owner string, ttl time.Duration, busy []ovm.ID) (store.TaskRecord, bool, error) {
	rec, ok, err := t.Tx.ClaimTaskByID(ctx, id, owner, ttl, busy)
	if err == nil {
		t.s.byID.Add(1)
		if !ok {
			t.s.byIDNone.Add(1)
		}
	}
	return rec, ok, err
}

// quickHandler is a task kind of one step that does nothing.
var quickHandler = handlerFunc(func(*store.TaskRecord) ([]Step, error) {
	return []Step{{Name: "only", Do: func(context.Context, *Run) error { return nil }}}, nil
})

// TestReleaseAtBoundClaimsNext: tasks held back by a bound (the engine's
// workers, a host's slots) run as soon as a slot frees, without waiting
// for a poll.
func TestReleaseAtBoundClaimsNext(t *testing.T) {
	host := ovm.NewID()
	for _, tc := range []struct {
		name             string
		workers, perHost int
	}{
		{"workers", 1, 4},
		{"per host", 4, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			opts := testOptions("engine")
			opts.PollInterval = time.Hour // only kicks wake the engine
			opts.Workers, opts.PerHost = tc.workers, tc.perHost
			e := New(st, opts)
			e.Register("quick", quickHandler)
			var ids []ovm.ID
			for range 3 {
				ids = append(ids, enqueue(t, st, e, Spec{Kind: "quick", HostID: host}).ID)
			}
			start(t, e)
			e.Kick()
			for _, id := range ids {
				assert.Equal(t, ovm.TaskSucceeded, wait(t, e, id).State, "task %s", id)
			}
		})
	}
}

// TestIdleEngineClaimsOnce: a task that an idle engine runs costs one claim
// that finds it and one that finds no other, in the same transaction: no
// claim again at once after a claim that left slots free, none after a
// task ends with slots to spare.
func TestIdleEngineClaimsOnce(t *testing.T) {
	st := &claimCounter{Store: newStore(t)}
	opts := testOptions("engine")
	opts.PollInterval = time.Hour
	e := New(st, opts)
	e.Register("quick", quickHandler)
	start(t, e)
	time.Sleep(50 * time.Millisecond) // the engine's first look, which finds none
	for i := range 3 {
		before, beforeNone := st.claims.Load(), st.none.Load()
		id := enqueue(t, st, e, Spec{Kind: "quick"}).ID
		require.Equal(t, ovm.TaskSucceeded, wait(t, e, id).State)
		time.Sleep(50 * time.Millisecond) // a claim after the end would run now
		assert.Equal(t, int64(2), st.claims.Load()-before, "claims of task %d", i)
		assert.Equal(t, int64(1), st.none.Load()-beforeNone, "claims of task %d that found none", i)
	}
}

// TestWaitReadsWithoutTransaction: waiting for a task that ended reads it
// in one statement, without a transaction of its own.
func TestWaitReadsWithoutTransaction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		st := openStore(t, dsn)
		counted, ok := st.(interface{ Stats() sqlstore.Stats })
		require.True(t, ok, "the store counts its work")
		opts := testOptions("engine")
		opts.PollInterval = time.Hour // no claims while it counts
		e := New(st, opts)
		e.Register("quick", quickHandler)
		// Enqueued before the engine starts: its first claim takes the
		// task and its kick, so that nothing claims while it counts.
		id := enqueue(t, st, e, Spec{Kind: "quick"}).ID
		start(t, e)
		require.Equal(t, ovm.TaskSucceeded, wait(t, e, id).State)
		before := counted.Stats()
		assert.Equal(t, ovm.TaskSucceeded, wait(t, e, id).State)
		after := counted.Stats()
		assert.Equal(t, before.Transactions, after.Transactions, "transactions of a Wait for an ended task")
		assert.Equal(t, before.Statements+1, after.Statements, "statements of a Wait for an ended task")
	})
}

// TestKickWithIDsClaimsByID: tasks whose ids Kick is given are claimed by
// id, without looking for the oldest task in the store (which, on a
// serializable database, conflicts with the tasks created and saved
// meanwhile); an offered task its host's bound holds back runs once a slot
// frees.
func TestKickWithIDsClaimsByID(t *testing.T) {
	host := ovm.NewID()
	for _, tc := range []struct {
		name        string
		perHost     int
		tasks       int
		scansAtMost int64
	}{
		{"room for all", 4, 3, 0},
		// The two held back are found by the scans that follow releases:
		// each release at the bound scans twice (the task it takes, then
		// none, with the host at its bound again), and the last release
		// scans once more, since the store cannot tell the engine that no
		// task waits for that host. The count is read once the engine
		// stopped: the last scan follows the last task's end.
		{"one per host", 1, 3, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &claimCounter{Store: newStore(t)}
			opts := testOptions("engine")
			opts.PollInterval = time.Hour // only kicks wake the engine
			opts.PerHost = tc.perHost
			e := New(st, opts)
			e.Register("quick", quickHandler)
			stop := start(t, e)
			time.Sleep(50 * time.Millisecond) // the engine's first look, which finds none
			before := st.claims.Load()
			var ids []ovm.ID
			err := st.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
				ids = ids[:0]
				for range tc.tasks {
					task, err := e.Enqueue(ctx, tx, Spec{Kind: "quick", HostID: host})
					if err != nil {
						return err
					}
					ids = append(ids, task.ID)
				}
				return nil
			})
			require.NoError(t, err)
			e.Kick(ids...)
			for _, id := range ids {
				assert.Equal(t, ovm.TaskSucceeded, wait(t, e, id).State, "task %s", id)
			}
			stop()
			assert.Equal(t, int64(tc.tasks), st.byID.Load(), "claims by id")
			assert.LessOrEqual(t, st.claims.Load()-before, tc.scansAtMost, "claims of the oldest task")
		})
	}
}

// TestScanWaitsForOffers: a scan that falls due while more tasks are
// offered than the engine has free slots waits until the offers are
// through. Scanning then takes the oldest tasks, those offered next, and
// their claims by id find them gone; each such miss frees a slot that the
// next scan fills with the next offered task, and so on (a wasted
// statement each, a transaction of its own on PostgreSQL). Here the first
// offer is a task that ended already.
func TestScanWaitsForOffers(t *testing.T) {
	st := &claimCounter{Store: newStore(t)}
	opts := testOptions("engine")
	opts.PollInterval = time.Hour // only kicks wake the engine
	opts.Workers = 2
	e := New(st, opts)
	e.Register("quick", quickHandler)
	start(t, e)
	done := enqueue(t, st, e, Spec{Kind: "quick"}).ID
	require.Equal(t, ovm.TaskSucceeded, wait(t, e, done).State)
	const n = 16
	var ids []ovm.ID
	err := st.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
		ids = ids[:0]
		for range n {
			task, err := e.Enqueue(ctx, tx, Spec{Kind: "quick", HostID: ovm.NewID()})
			if err != nil {
				return err
			}
			ids = append(ids, task.ID)
		}
		return nil
	})
	require.NoError(t, err)
	before := st.byIDNone.Load()
	e.Kick()                                  // a scan falls due...
	e.Kick(append([]ovm.ID{done}, ids...)...) // ...with more offers than free slots
	for _, id := range ids {
		assert.Equal(t, ovm.TaskSucceeded, wait(t, e, id).State, "task %s", id)
	}
	assert.Equal(t, int64(1), st.byIDNone.Load()-before, "claims by id that found their task gone: only the ended one")
}
