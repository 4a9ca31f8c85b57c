package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// Open returns a fresh, empty store for one test; the engine closes it and
// removes its data in t.Cleanup.
type Open func(t *testing.T) store.Store

type suiteTest struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// Run runs the conformance suite, each test on a store of its own.
func Run(t *testing.T, open Open) {
	tests := [][]suiteTest{recordTests, quotaTests, hostAllocTests, ipTests, tokenTests, taskTests, leaseTests, txTests, viewTests, auditTests, metricTests}
	for _, group := range tests {
		for _, tc := range group {
			t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
		}
	}
}

// do runs fn in a transaction and requires it to commit.
func do(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	require.NoError(t, s.Tx(t.Context(), fn))
}

// requireKind checks err's ovm kind and that its text holds no SQL.
func requireKind(t *testing.T, err error, kind ovm.Kind) {
	t.Helper()
	require.Error(t, err, "want an error of kind %s", kind)
	require.Equal(t, kind, ovm.KindOf(err), "kind of %q: got %s, want %s", err, ovm.KindOf(err), kind)
	requireCleanMessage(t, err)
}

// sqlWords are what must never show in the text of an ovm error.
var sqlWords = []string{"SQLSTATE", "INSERT ", "UPDATE ", "SELECT ", "DELETE ", "duplicate key", "constraint", "sql:"}

// requireCleanMessage checks that err's text names no SQL and no SQLSTATE.
func requireCleanMessage(t *testing.T, err error) {
	t.Helper()
	for _, w := range sqlWords {
		require.NotContains(t, err.Error(), w, "error text %q shows %q", err, w)
	}
}

// record returns a record of kind in vdc with data {"n": n}.
func record(t *testing.T, kind store.Kind, vdc ovm.ID, name string, n int) store.Record {
	t.Helper()
	r, err := store.NewRecord(kind, ovm.NewID(), vdc, name, map[string]int{"n": n})
	require.NoError(t, err)
	return r
}

// insert stores records in one transaction and returns them as stored.
func insert(t *testing.T, s store.Store, rs ...store.Record) []store.Record {
	t.Helper()
	out := make([]store.Record, len(rs))
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		for i := range rs {
			out[i] = rs[i]
			if err := tx.Insert(ctx, &out[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return out
}

// get reads one record.
func get(t *testing.T, s store.Store, kind store.Kind, id ovm.ID) (store.Record, error) {
	t.Helper()
	var r store.Record
	err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
		var err error
		r, err = tx.Get(ctx, kind, id)
		return err
	})
	return r, err
}

// requireSameRecord compares records; JSON data by meaning (PostgreSQL
// normalizes JSONB), times to the microsecond.
func requireSameRecord(t *testing.T, want, got store.Record) {
	t.Helper()
	wantData, gotData := want.Data, got.Data
	want.Data, got.Data = nil, nil
	require.True(t, want.CreatedAt.Equal(got.CreatedAt), "createdAt: got %s, want %s", got.CreatedAt, want.CreatedAt)
	require.True(t, want.UpdatedAt.Equal(got.UpdatedAt), "updatedAt: got %s, want %s", got.UpdatedAt, want.UpdatedAt)
	want.CreatedAt, got.CreatedAt, want.UpdatedAt, got.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	require.Equal(t, want, got)
	require.JSONEq(t, string(wantData), string(gotData))
}

// decodeN returns the "n" of a record made by record.
func decodeN(t *testing.T, r store.Record) int {
	t.Helper()
	var v struct {
		N int `json:"n"`
	}
	require.NoError(t, json.Unmarshal(r.Data, &v))
	return v.N
}

// now reads the database clock.
func now(t *testing.T, s store.Store) time.Time {
	t.Helper()
	var at time.Time
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		at, err = tx.Now(ctx)
		return err
	})
	return at
}

// waitPast waits until the database clock is after at (bounded).
func waitPast(t *testing.T, s store.Store, at time.Time) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !now(t, s).After(at) {
		require.True(t, time.Now().Before(deadline), "database clock never passed %s", at)
		time.Sleep(10 * time.Millisecond)
	}
}

// parallel runs n calls of fn, at most width at once, and returns their
// errors in call order.
func parallel(n, width int, fn func(i int) error) []error {
	errs := make([]error, n)
	sem := make(chan struct{}, width)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errs
}

// barrier lets n goroutines wait for each other once, or fail after a
// timeout instead of hanging a test.
type barrier struct {
	mu      sync.Mutex
	waiting int
	n       int
	done    chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, done: make(chan struct{})} }

// wait blocks until n goroutines called it, or returns an error after d.
func (b *barrier) wait(d time.Duration) error {
	b.mu.Lock()
	b.waiting++
	if b.waiting == b.n {
		close(b.done)
	}
	b.mu.Unlock()
	select {
	case <-b.done:
		return nil
	case <-time.After(d):
		return errors.New("barrier: the other transactions never arrived")
	}
}

// names returns the names of records, in order.
func names(rs []store.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return out
}

// ids returns the IDs of records, in order.
func ids(rs []store.Record) []ovm.ID {
	out := make([]ovm.ID, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// assertFieldsNamed checks that err lists exactly the given invalid
// fields, in any order.
func assertFieldsNamed(t *testing.T, err error, fields ...string) {
	t.Helper()
	var got []string
	for _, f := range ovm.FieldsOf(err) {
		got = append(got, f.Field)
	}
	assert.ElementsMatch(t, fields, got, "fields of %q: got %s, want %s", err, strings.Join(got, ","), strings.Join(fields, ","))
}
