package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

var txTests = []suiteTest{
	{"Engine", testEngine},
	{"TxErrorRollsBack", testTxErrorRollsBack},
	{"TxPanicRollsBack", testTxPanicRollsBack},
	{"TxNested", testTxNested},
	{"TxCanceled", testTxCanceled},
}

func testEngine(t *testing.T, s store.Store) {
	assert.Contains(t, []string{"sqlite", "postgres"}, s.Engine())
	require.NoError(t, s.Ping(t.Context()))
}

// testTxErrorRollsBack: an error that is not a serialization failure is
// returned at once, and the function's writes are gone.
func testTxErrorRollsBack(t *testing.T, s store.Store) {
	boom := errors.New("boom")
	r := record(t, store.KindPool, "", "p1", 1)
	calls := 0
	err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
		calls++
		if err := tx.Insert(ctx, &r); err != nil {
			return err
		}
		return fmt.Errorf("step two: %w", boom)
	})
	require.ErrorIs(t, err, boom)
	assert.Equal(t, 1, calls, "calls of fn")
	_, err = get(t, s, store.KindPool, r.ID)
	requireKind(t, err, ovm.KindNotFound)
}

func testTxPanicRollsBack(t *testing.T, s store.Store) {
	r := record(t, store.KindPool, "", "p1", 1)
	require.PanicsWithValue(t, "boom", func() {
		_ = s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
			if err := tx.Insert(ctx, &r); err != nil {
				return err
			}
			panic("boom")
		})
	})
	_, err := get(t, s, store.KindPool, r.ID)
	requireKind(t, err, ovm.KindNotFound)
	insert(t, s, r) // the store still works
}

// testTxNested: a transaction inside a transaction is refused, not a
// deadlock.
func testTxNested(t *testing.T, s store.Store) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var inner error
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		inner = s.Tx(ctx, func(context.Context, store.Tx) error { return nil })
		return nil
	})
	require.Error(t, inner, "a nested Tx")
	require.NoError(t, ctx.Err(), "the nested Tx waited for the outer one")
}

func testTxCanceled(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := 0
	err := s.Tx(ctx, func(context.Context, store.Tx) error {
		calls++
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, calls, "fn ran under a canceled context")
}

// Faults tells RunRetry how to make an engine's transactions fail.
type Faults struct {
	// Open returns a fresh, empty store that calls inject (when not nil)
	// with the attempt number (1, 2, ...) of each Tx after its function
	// returned nil and before COMMIT; an error from inject fails the
	// attempt as if the database had reported it.
	Open func(t *testing.T, inject func(attempt int) error) store.Store
	// SerializationFailure returns a genuine error of the engine that
	// means "run the transaction again": *pgconn.PgError with SQLSTATE
	// 40001 on PostgreSQL, SQLITE_BUSY on SQLite.
	SerializationFailure func(t *testing.T) error
	// Concurrent is true when the engine runs transactions at the same
	// time (PostgreSQL), so that write skew between two of them is
	// possible and must be caught by the database; SQLite runs one at a
	// time and cannot run those tests.
	Concurrent bool
}

// RunRetry proves the retry contract of Store.Tx: after a serialization
// failure the whole function runs again from BEGIN, its earlier attempts
// leave no trace, a failure that is not one is returned at once, and
// retries end with the context; and that Store.View retries the same way.
func RunRetry(t *testing.T, f Faults) {
	t.Run("InjectedFailures", func(t *testing.T) { testInjectedFailures(t, f) })
	t.Run("InjectedOtherFailure", func(t *testing.T) { testInjectedOtherFailure(t, f) })
	t.Run("RetriesEndWithContext", func(t *testing.T) { testRetriesEndWithContext(t, f) })
	t.Run("ViewRetries", func(t *testing.T) { testViewRetries(t, f) })
	if f.Concurrent {
		t.Run("WriteSkew", func(t *testing.T) { testWriteSkew(t, f) })
		t.Run("CockroachWriteSkew", func(t *testing.T) { testCockroachWriteSkew(t, f) })
	}
}

// injector fails armed attempts with what fail returns for them.
type injector struct {
	armed bool
	fail  func(attempt int) error
}

func (in *injector) inject(attempt int) error {
	if !in.armed {
		return nil
	}
	return in.fail(attempt)
}

// counterTx is the function the injected tests retry: it reads a counter
// record and a marker record, bumps the counter and inserts the marker,
// noting what each attempt saw.
type counterTx struct {
	counter, marker store.Record
	calls           int
	seenN           []int  // the counter at the start of each attempt
	seenMarker      []bool // whether an attempt found the marker
}

func (c *counterTx) run(ctx context.Context, tx store.Tx) error {
	c.calls++
	r, err := tx.Get(ctx, c.counter.Kind, c.counter.ID)
	if err != nil {
		return err
	}
	n, err := dataN(r)
	if err != nil {
		return err
	}
	c.seenN = append(c.seenN, n)
	_, err = tx.Get(ctx, c.marker.Kind, c.marker.ID)
	c.seenMarker = append(c.seenMarker, err == nil)
	r.Data = json.RawMessage(fmt.Sprintf(`{"n": %d}`, n+1))
	if err := tx.Update(ctx, &r, r.Version); err != nil {
		return err
	}
	m := c.marker
	return tx.Insert(ctx, &m)
}

func newCounterTx(t *testing.T, s store.Store) *counterTx {
	c := &counterTx{counter: record(t, store.KindVDC, "", "counter", 0), marker: record(t, store.KindInstance, "", "marker", 0)}
	insert(t, s, c.counter)
	return c
}

func testInjectedFailures(t *testing.T, f Faults) {
	tests := []struct {
		name     string
		failures int
	}{
		{"one failure", 1},
		{"three failures", 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fail := f.SerializationFailure(t)
			in := &injector{fail: func(attempt int) error {
				if attempt <= tc.failures {
					return fail
				}
				return nil
			}}
			s := f.Open(t, in.inject)
			c := newCounterTx(t, s)
			in.armed = true
			require.NoError(t, s.Tx(t.Context(), c.run))
			in.armed = false

			assert.Equal(t, tc.failures+1, c.calls, "calls of fn: one per failure, and the one that commits")
			assert.Equal(t, make([]int, tc.failures+1), c.seenN, "every attempt started from the committed counter")
			assert.Equal(t, make([]bool, tc.failures+1), c.seenMarker, "no attempt saw an earlier attempt's insert")
			got, err := get(t, s, c.counter.Kind, c.counter.ID)
			require.NoError(t, err)
			assert.Equal(t, 1, decodeN(t, got), "the counter was bumped once")
			assert.Equal(t, int64(2), got.Version, "the counter was updated once")
			_, err = get(t, s, c.marker.Kind, c.marker.ID)
			require.NoError(t, err, "the marker is there")
		})
	}
}

// testInjectedOtherFailure: a failure that is not a serialization failure
// ends the transaction at once, with nothing written.
func testInjectedOtherFailure(t *testing.T, f Faults) {
	fire := errors.New("disk on fire")
	in := &injector{fail: func(int) error { return fire }}
	s := f.Open(t, in.inject)
	c := newCounterTx(t, s)
	in.armed = true
	err := s.Tx(t.Context(), c.run)
	in.armed = false
	require.ErrorIs(t, err, fire)
	assert.Equal(t, 1, c.calls, "calls of fn")
	got, err := get(t, s, c.counter.Kind, c.counter.ID)
	require.NoError(t, err)
	assert.Equal(t, 0, decodeN(t, got), "the counter is untouched")
	_, err = get(t, s, c.marker.Kind, c.marker.ID)
	requireKind(t, err, ovm.KindNotFound)
}

// testRetriesEndWithContext: a transaction that can never commit is
// retried until its context ends, and the error says both.
func testRetriesEndWithContext(t *testing.T, f Faults) {
	fail := f.SerializationFailure(t)
	in := &injector{fail: func(int) error { return fail }}
	s := f.Open(t, in.inject)
	c := newCounterTx(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	in.armed = true
	start := time.Now()
	err := s.Tx(ctx, c.run)
	in.armed = false
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, fail, "the error names the serialization failure")
	assert.Less(t, time.Since(start), 5*time.Second, "retries stopped with the context")
	assert.Greater(t, c.calls, 1, "calls of fn")
	got, err := get(t, s, c.counter.Kind, c.counter.ID)
	require.NoError(t, err)
	assert.Equal(t, 0, decodeN(t, got), "no attempt committed")
}

// dataN reads the "n" of a record's data without failing the test, for
// goroutines.
func dataN(r store.Record) (int, error) {
	var v struct {
		N int `json:"n"`
	}
	err := json.Unmarshal(r.Data, &v)
	return v.N, err
}

// testWriteSkew: two doctors are on call and each may leave if the other
// stays. Two serializable transactions both read that both are on call,
// then each takes its own doctor off: disjoint writes that only
// serializable isolation refuses. The database fails one with 40001, Tx
// runs it again, and the outcome is a serial one: one doctor stays. The
// "swallowed" case ignores the error of the write, as a careless function
// might: the attempt is void all the same.
func testWriteSkew(t *testing.T, f Faults) {
	tests := []struct {
		name    string
		swallow bool
	}{
		{"error passed on", false},
		{"error swallowed", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := f.Open(t, nil)
			doctors := insert(t, s, record(t, store.KindUser, "", "alice", 1), record(t, store.KindUser, "", "bob", 1))
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			bar := newBarrier(2)
			var attempts [2]int
			errs := parallel(2, 2, func(i int) error {
				return s.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
					attempts[i]++
					onCall := 0
					var mine store.Record
					for j, d := range doctors {
						r, err := tx.Get(ctx, d.Kind, d.ID)
						if err != nil {
							return err
						}
						n, err := dataN(r)
						if err != nil {
							return err
						}
						onCall += n
						if j == i {
							mine = r
						}
					}
					if attempts[i] == 1 {
						if err := bar.wait(30 * time.Second); err != nil {
							return err
						}
					}
					if onCall < 2 {
						return nil // the other one left: stay
					}
					mine.Data = json.RawMessage(`{"n": 0}`)
					err := tx.Update(ctx, &mine, 0)
					if tc.swallow {
						return nil
					}
					return err
				})
			})
			for i, err := range errs {
				require.NoError(t, err, "transaction %d", i)
			}
			assert.GreaterOrEqual(t, attempts[0]+attempts[1], 3, "attempts %v: one transaction ran again", attempts)
			total := 0
			for _, d := range doctors {
				r, err := get(t, s, d.Kind, d.ID)
				require.NoError(t, err)
				total += decodeN(t, r)
			}
			assert.Equal(t, 1, total, "doctors on call after both transactions")
		})
	}
}

// testCockroachWriteSkew runs cockroach-go's own test of retry loops
// (two transactions moving money between two accounts, interleaved so
// that one must restart) against Store.Tx.
func testCockroachWriteSkew(t *testing.T, f Faults) {
	w := &crdbWriteSkew{s: f.Open(t, nil)}
	require.NoError(t, crdb.ExecuteTxGenericTest(t.Context(), w))
	require.NoError(t, w.initErr)
}

// crdbWriteSkew adapts a store to crdb.WriteSkewTest: the accounts are two
// records whose "n" is the balance.
type crdbWriteSkew struct {
	s       store.Store
	accts   [2]store.Record
	initErr error
}

var _ crdb.WriteSkewTest = (*crdbWriteSkew)(nil)

// Init creates both accounts with 100.
func (w *crdbWriteSkew) Init(ctx context.Context) error {
	w.initErr = w.s.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
		for i := range w.accts {
			r, err := store.NewRecord(store.KindUser, ovm.NewID(), "", fmt.Sprintf("account-%d", i+1), map[string]int{"n": 100})
			if err != nil {
				return err
			}
			if err := tx.Insert(ctx, &r); err != nil {
				return err
			}
			w.accts[i] = r
		}
		return nil
	})
	return w.initErr
}

// ExecuteTx runs fn through Store.Tx.
func (w *crdbWriteSkew) ExecuteTx(ctx context.Context, fn func(tx any) error) error {
	return w.s.Tx(ctx, func(_ context.Context, tx store.Tx) error { return fn(tx) })
}

// GetBalances reads both accounts.
func (w *crdbWriteSkew) GetBalances(ctx context.Context, txi any) (int, int, error) {
	var bal [2]int
	for i, a := range w.accts {
		r, err := txi.(store.Tx).Get(ctx, a.Kind, a.ID)
		if err != nil {
			return 0, 0, err
		}
		if bal[i], err = dataN(r); err != nil {
			return 0, 0, err
		}
	}
	return bal[0], bal[1], nil
}

// UpdateBalance adds delta to account acct (1 or 2).
func (w *crdbWriteSkew) UpdateBalance(ctx context.Context, txi any, acct, delta int) error {
	tx := txi.(store.Tx)
	a := w.accts[acct-1]
	r, err := tx.Get(ctx, a.Kind, a.ID)
	if err != nil {
		return err
	}
	n, err := dataN(r)
	if err != nil {
		return err
	}
	r.Data = json.RawMessage(fmt.Sprintf(`{"n": %d}`, n+delta))
	return tx.Update(ctx, &r, r.Version)
}
