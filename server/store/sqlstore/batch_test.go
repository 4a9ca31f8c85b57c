package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// panicked is the outcome of a transaction whose function panicked.
type panicked struct{ v any }

func (p panicked) Error() string { return fmt.Sprint("panic: ", p.v) }

// inOneBatch runs fns as transactions of s that queue behind one holding
// the writer, so that they run in one batch, and returns each one's
// outcome (a panic as panicked). It checks they shared one database
// transaction.
func inOneBatch(t *testing.T, s *Store, fns ...func(ctx context.Context, tx store.Tx) error) []error {
	t.Helper()
	outs, used := runQueued(t, s, fns...)
	for i := range used {
		require.Same(t, used[0], used[i], "transaction %d ran in the batch's database transaction", i)
	}
	return outs
}

// runQueued runs fns as transactions of s that queue behind one holding
// the writer and returns each one's outcome (a panic as panicked) and the
// database transaction its first attempt ran in.
func runQueued(t *testing.T, s *Store, fns ...func(ctx context.Context, tx store.Tx) error) ([]error, []*sql.Tx) {
	t.Helper()
	release := holdWriter(t, s)
	outs := make([]error, len(fns))
	used := make([]*sql.Tx, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					outs[i] = panicked{v}
				}
			}()
			outs[i] = s.Tx(t.Context(), func(ctx context.Context, stx store.Tx) error {
				if used[i] == nil {
					used[i] = stx.(*tx).tx
				}
				return fn(ctx, stx)
			})
		})
	}
	waitQueued(t, s, len(fns))
	release()
	wg.Wait()
	for i := range used {
		require.NotNil(t, used[i], "transaction %d ran", i)
	}
	return outs, used
}

// holdWriter starts a transaction that holds the writer of s until the
// returned function is called; that function waits for it to commit.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	hold, holding := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- s.Tx(t.Context(), func(context.Context, store.Tx) error {
			close(holding)
			<-hold
			return nil
		})
	}()
	<-holding
	return func() {
		close(hold)
		require.NoError(t, <-held)
	}
}

// waitQueued waits until n transactions queue for the writer of s.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		s.batch.mu.Lock()
		defer s.batch.mu.Unlock()
		return len(s.batch.queue) == n
	}, 10*time.Second, time.Millisecond, "transactions queued")
}

// network returns a new network record of vdc.
func network(t *testing.T, vdc ovm.ID, name string) store.Record {
	t.Helper()
	r, err := store.NewRecord(store.KindNetwork, ovm.NewID(), vdc, name, map[string]string{"name": name})
	require.NoError(t, err)
	return r
}

// insert inserts r in a transaction of its own.
func insert(t *testing.T, s *Store, r *store.Record) {
	t.Helper()
	require.NoError(t, s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.Insert(ctx, r) }))
}

// exists reports whether a record is stored.
func exists(t *testing.T, s *Store, id ovm.ID) bool {
	t.Helper()
	err := s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Get(ctx, store.KindNetwork, id)
		return err
	})
	if errors.Is(err, ovm.ErrNotFound) {
		return false
	}
	require.NoError(t, err)
	return true
}

// TestBatchFailuresStayTheirs: in one batch, a function that returns an
// error, one that panics and one whose statement fails leave nothing, and
// their callers alone get their outcome; the others' writes commit.
func TestBatchFailuresStayTheirs(t *testing.T) {
	for _, exclusive := range []bool{false, true} {
		t.Run("exclusive="+strconv.FormatBool(exclusive), func(t *testing.T) {
			var opts []Option
			if exclusive {
				opts = append(opts, WithExclusive())
			}
			s := openSQLite(t, "", opts...)
			vdc := ovm.NewID()
			dup := network(t, vdc, "dup")
			insert(t, s, &dup)
			recs := make([]store.Record, 6)
			for i := range recs {
				recs[i] = network(t, vdc, "n"+strconv.Itoa(i))
			}
			boom := errors.New("boom")
			add := func(i int, then func(ctx context.Context, tx store.Tx) error) func(ctx context.Context, tx store.Tx) error {
				return func(ctx context.Context, tx store.Tx) error {
					if err := tx.Insert(ctx, &recs[i]); err != nil {
						return err
					}
					return then(ctx, tx)
				}
			}
			ok := func(context.Context, store.Tx) error { return nil }
			outs := inOneBatch(t, s,
				add(0, ok),
				add(1, func(context.Context, store.Tx) error { return boom }),
				add(2, ok),
				add(3, func(context.Context, store.Tx) error { panic("bad function") }),
				add(4, func(ctx context.Context, tx store.Tx) error {
					again := dup
					return tx.Insert(ctx, &again) // a unique violation
				}),
				add(5, ok),
			)
			assert.NoError(t, outs[0])
			assert.ErrorIs(t, outs[1], boom)
			assert.NoError(t, outs[2])
			assert.Equal(t, panicked{"bad function"}, outs[3])
			assert.ErrorIs(t, outs[4], ovm.ErrConflict)
			assert.NoError(t, outs[5])
			for i, want := range []bool{true, false, true, false, false, true} {
				assert.Equal(t, want, exists(t, s, recs[i].ID), "record %d stored", i)
			}
			// The writer is free again: a lone transaction commits.
			last := network(t, vdc, "last")
			insert(t, s, &last)
			assert.True(t, exists(t, s, last.ID))
		})
	}
}

// TestBatchCommitFailureReachesAll: when the batch's COMMIT fails, every
// caller whose function succeeded gets that failure, a caller whose
// function failed its own error, and nothing is stored.
func TestBatchCommitFailureReachesAll(t *testing.T) {
	s := openSQLite(t, "", WithExclusive())
	failed := errors.New("disk on fire")
	var commits atomic.Int32
	s.commit = func(tx *sql.Tx) error {
		if commits.Add(1) == 1 {
			return tx.Commit() // the transaction that holds the writer
		}
		return errors.Join(failed, tx.Rollback())
	}
	vdc := ovm.NewID()
	recs := make([]store.Record, 4)
	fns := make([]func(ctx context.Context, tx store.Tx) error, len(recs))
	mine := errors.New("mine")
	for i := range recs {
		recs[i] = network(t, vdc, "n"+strconv.Itoa(i))
		fns[i] = func(ctx context.Context, tx store.Tx) error {
			if err := tx.Insert(ctx, &recs[i]); err != nil {
				return err
			}
			if i == 2 {
				return mine
			}
			return nil
		}
	}
	outs := inOneBatch(t, s, fns...)
	assert.Equal(t, int32(2), commits.Load(), "COMMITs: the holder's and the batch's")
	for i, err := range outs {
		if i == 2 {
			assert.ErrorIs(t, err, mine)
			assert.NotErrorIs(t, err, failed)
		} else {
			assert.ErrorIs(t, err, failed, "transaction %d", i)
			assert.ErrorIs(t, err, ovm.ErrInternal, "transaction %d", i)
		}
		assert.False(t, exists(t, s, recs[i].ID), "record %d stored", i)
	}
}

// TestBatchCacheDropsEveryWrite: an exclusive store's record cache never
// shows a write that a batch rolled back to its savepoint, and drops
// every record a committed function of the batch changed.
func TestBatchCacheDropsEveryWrite(t *testing.T) {
	s := openSQLite(t, "", WithExclusive())
	vdc := ovm.NewID()
	a, b := network(t, vdc, "a"), network(t, vdc, "b")
	insert(t, s, &a)
	insert(t, s, &b)
	get := func(id ovm.ID) store.Record {
		var r store.Record
		require.NoError(t, s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
			var err error
			r, err = tx.Get(ctx, store.KindNetwork, id)
			return err
		}))
		return r
	}
	for _, r := range []store.Record{a, b} {
		get(r.ID)
		_, _, cached := s.cache.get(recKey{store.KindNetwork, r.ID})
		require.True(t, cached, "record %s cached", r.Name)
	}
	boom := errors.New("boom")
	update := func(r store.Record, fail bool) func(ctx context.Context, tx store.Tx) error {
		return func(ctx context.Context, tx store.Tx) error {
			r.Data = []byte(`{"name":"changed"}`)
			if err := tx.Update(ctx, &r, r.Version); err != nil {
				return err
			}
			if fail {
				return boom
			}
			return nil
		}
	}
	outs := inOneBatch(t, s, update(a, true), update(b, false))
	require.ErrorIs(t, outs[0], boom)
	require.NoError(t, outs[1])
	gotA, gotB := get(a.ID), get(b.ID)
	assert.Equal(t, int64(1), gotA.Version)
	assert.JSONEq(t, `{"name":"a"}`, string(gotA.Data), "the rolled back update is not seen")
	assert.Equal(t, int64(2), gotB.Version)
	assert.JSONEq(t, `{"name":"changed"}`, string(gotB.Data), "the committed update is seen")
	// What the views see is what the database holds.
	for _, r := range []store.Record{gotA, gotB} {
		var data string
		var version int64
		require.NoError(t, s.db.QueryRowContext(t.Context(), `SELECT data, version FROM records WHERE id = ?`, string(r.ID)).Scan(&data, &version))
		assert.JSONEq(t, data, string(r.Data))
		assert.Equal(t, version, r.Version)
	}
}

// TestBatchGuardedUpdates: quota reservations and host allocations of
// one batch never exceed their limits.
func TestBatchGuardedUpdates(t *testing.T) {
	s := openSQLite(t, "", WithExclusive())
	vdc, host := ovm.NewID(), ovm.NewID()
	require.NoError(t, s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
		return tx.SetQuota(ctx, vdc, ovm.Quota{CPU: 1 << 40, Memory: 1 << 50, Disk: 1 << 50, Instances: 3, Networks: 10})
	}))
	limit := ovm.Resources{CPU: 3000}
	const callers = 8
	fns := make([]func(ctx context.Context, tx store.Tx) error, callers)
	for i := range fns {
		fns[i] = func(ctx context.Context, tx store.Tx) error {
			if err := tx.Reserve(ctx, vdc, ovm.Usage{CPU: 1, Instances: 1}); err != nil {
				return err
			}
			return tx.AllocateHost(ctx, host, store.HostAllocation{Resources: ovm.Resources{CPU: 1000}, Instances: 1}, limit)
		}
	}
	outs := inOneBatch(t, s, fns...)
	ok := 0
	for _, err := range outs {
		if err == nil {
			ok++
		} else {
			assert.ErrorIs(t, err, ovm.ErrQuotaExceeded)
		}
	}
	assert.Equal(t, 3, ok, "transactions within the limits")
	require.NoError(t, s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, used, err := tx.Quota(ctx, vdc)
		if err != nil {
			return err
		}
		assert.Equal(t, int64(3), used.Instances)
		assert.Equal(t, ovm.MilliCPU(3), used.CPU)
		allocs, err := tx.HostAllocations(ctx, []ovm.ID{host}, false)
		if err != nil {
			return err
		}
		assert.Equal(t, ovm.MilliCPU(3000), allocs[host].Resources.CPU)
		assert.Equal(t, int64(3), allocs[host].Instances)
		return nil
	}))
}

// TestBatchCanceledWhileQueued: a transaction whose context ends while it
// waits for the writer leaves the queue without running; the others run.
func TestBatchCanceledWhileQueued(t *testing.T) {
	s := openSQLite(t, "")
	release := holdWriter(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan struct{}, 2)
	canceled := make(chan error, 1)
	go func() {
		canceled <- s.Tx(ctx, func(context.Context, store.Tx) error { ran <- struct{}{}; return nil })
	}()
	waitQueued(t, s, 1)
	cancel()
	require.ErrorIs(t, <-canceled, context.Canceled)
	s.batch.mu.Lock()
	assert.Empty(t, s.batch.queue, "the canceled transaction left the queue")
	s.batch.mu.Unlock()
	release()
	require.NoError(t, s.Tx(t.Context(), func(context.Context, store.Tx) error { return nil }))
	assert.Empty(t, ran, "the canceled function never ran")
}

// BenchmarkTxParallel: write transactions from 8 goroutines at once, the
// way API requests and the task engine write (group commits).
func BenchmarkTxParallel(b *testing.B) {
	s := openSQLite(b, "", WithExclusive())
	vdc := ovm.NewID()
	b.ReportAllocs()
	b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			err := s.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
				r := store.Record{Kind: store.KindInstance, ID: ovm.NewID(), VDCID: vdc, Name: "vm-" + string(ovm.NewID()),
					Data: []byte(`{"state":"creating"}`)}
				return tx.Insert(ctx, &r)
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestBatchLostTransactionRunsAgain: when the batch's database
// transaction is lost before COMMIT (here the batch's last function ends
// it itself, as SQLite does on some failures), the functions that had
// succeeded get a serialization failure, so Tx runs them again, and their
// writes are stored once.
func TestBatchLostTransactionRunsAgain(t *testing.T) {
	s := openSQLite(t, "", WithExclusive(), WithRetryBackoff(time.Millisecond, time.Millisecond))
	vdc := ovm.NewID()
	recs := make([]store.Record, 4)
	runs := make([]atomic.Int32, len(recs))
	var calls atomic.Int32
	fns := make([]func(ctx context.Context, tx store.Tx) error, len(recs))
	for i := range recs {
		recs[i] = network(t, vdc, "n"+strconv.Itoa(i))
		fns[i] = func(ctx context.Context, stx store.Tx) error {
			runs[i].Add(1)
			r := recs[i]
			if err := stx.Insert(ctx, &r); err != nil {
				return err
			}
			if calls.Add(1) == int32(len(recs)) { // the batch's last
				_, err := stx.(*tx).exec(ctx, "ROLLBACK")
				return err
			}
			return nil
		}
	}
	outs := inOneBatch(t, s, fns...)
	for i, err := range outs {
		assert.NoError(t, err, "transaction %d", i)
		assert.True(t, exists(t, s, recs[i].ID), "record %d stored", i)
		assert.Equal(t, int32(2), runs[i].Load(), "transaction %d ran in the lost batch and again", i)
	}
	var n int
	require.NoError(t, s.db.QueryRowContext(t.Context(), `SELECT count(*) FROM records WHERE vdc_id = ?`, string(vdc)).Scan(&n))
	assert.Equal(t, len(recs), n, "records stored")
}
