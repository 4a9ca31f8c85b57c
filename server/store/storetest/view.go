package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

var viewTests = []suiteTest{
	{"ViewSeesCommitted", testViewSeesCommitted},
	{"ViewWritesFail", testViewWritesFail},
	{"ViewSnapshot", testViewSnapshot},
	{"ViewBesideWriter", testViewBesideWriter},
	{"ViewNested", testViewNested},
	{"ViewCanceled", testViewCanceled},
	{"ViewError", testViewError},
}

// view reads one record in a view.
func view(t *testing.T, s store.Store, kind store.Kind, id ovm.ID) (store.Record, error) {
	t.Helper()
	var r store.Record
	err := s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		var err error
		r, err = tx.Get(ctx, kind, id)
		return err
	})
	return r, err
}

// testViewSeesCommitted: what a transaction committed, the next view
// reads, through every kind of read.
func testViewSeesCommitted(t *testing.T, s store.Store) {
	vdc := ovm.NewID()
	rs := insert(t, s, record(t, store.KindInstance, vdc, "a", 1), record(t, store.KindInstance, vdc, "b", 2))
	got, err := view(t, s, store.KindInstance, rs[0].ID)
	require.NoError(t, err)
	requireSameRecord(t, rs[0], got)

	upd := rs[0]
	upd.Data = json.RawMessage(`{"n": 7}`)
	do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.Update(ctx, &upd, upd.Version) })
	got, err = view(t, s, store.KindInstance, rs[0].ID)
	require.NoError(t, err)
	assert.Equal(t, int64(2), got.Version, "version after an update")
	assert.Equal(t, 7, decodeN(t, got), "data after an update")

	var list []store.Record
	var byName store.Record
	var count int64
	require.NoError(t, s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		var err error
		if list, _, err = tx.List(ctx, store.Filter{Kind: store.KindInstance, VDCID: vdc}, store.Page{}); err != nil {
			return err
		}
		if byName, err = tx.GetByName(ctx, store.KindInstance, vdc, "b"); err != nil {
			return err
		}
		count, err = tx.Count(ctx, store.Filter{Kind: store.KindInstance, VDCID: vdc})
		return err
	}))
	assert.ElementsMatch(t, []string{"a", "b"}, names(list), "listed in a view")
	requireSameRecord(t, rs[1], byName)
	assert.Equal(t, int64(2), count, "counted in a view")

	do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.Delete(ctx, store.KindInstance, rs[1].ID, 0) })
	_, err = view(t, s, store.KindInstance, rs[1].ID)
	requireKind(t, err, ovm.KindNotFound)
}

// testViewWritesFail: every write inside a view fails with
// store.ErrReadOnly, and none of them is stored.
func testViewWritesFail(t *testing.T, s store.Store) {
	vdc, network := ovm.NewID(), ovm.NewID()
	rec := insert(t, s, record(t, store.KindInstance, vdc, "web", 1))[0]
	task := newTask(vdc, "", time.Time{})
	createTasks(t, s, task)
	tok := store.Token{ID: ovm.NewID(), UserID: ovm.NewID(), Name: "ci", Hash: []byte("hash-of-a-secret")}
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.SetQuota(ctx, vdc, ovm.Unlimited); err != nil {
			return err
		}
		return tx.CreateToken(ctx, tok)
	})
	ip := netip.MustParseAddr("10.0.0.5")
	writes := []struct {
		name string
		fn   func(ctx context.Context, tx store.Tx) error
	}{
		{"Insert", func(ctx context.Context, tx store.Tx) error {
			r := record(t, store.KindInstance, vdc, "db", 1)
			return tx.Insert(ctx, &r)
		}},
		{"Update", func(ctx context.Context, tx store.Tx) error {
			r := rec
			r.Data = json.RawMessage(`{"n": 9}`)
			return tx.Update(ctx, &r, r.Version)
		}},
		{"Delete", func(ctx context.Context, tx store.Tx) error { return tx.Delete(ctx, rec.Kind, rec.ID, 0) }},
		{"SetQuota", func(ctx context.Context, tx store.Tx) error { return tx.SetQuota(ctx, vdc, ovm.Quota{CPU: 1}) }},
		{"Reserve", func(ctx context.Context, tx store.Tx) error { return tx.Reserve(ctx, vdc, ovm.Usage{Instances: 1}) }},
		{"Allocate", func(ctx context.Context, tx store.Tx) error {
			return tx.Allocate(ctx, store.IPAllocation{NetworkID: network, IP: ip, Owner: rec.ID})
		}},
		{"ReleaseIP", func(ctx context.Context, tx store.Tx) error { return tx.ReleaseIP(ctx, network, ip) }},
		{"ReleaseOwner", func(ctx context.Context, tx store.Tx) error { return tx.ReleaseOwner(ctx, rec.ID) }},
		{"CreateToken", func(ctx context.Context, tx store.Tx) error {
			return tx.CreateToken(ctx, store.Token{ID: ovm.NewID(), UserID: tok.UserID, Name: "x", Hash: []byte("another")})
		}},
		{"DeleteToken", func(ctx context.Context, tx store.Tx) error { return tx.DeleteToken(ctx, tok.ID) }},
		{"TouchToken", func(ctx context.Context, tx store.Tx) error { return tx.TouchToken(ctx, tok.ID, time.Now()) }},
		{"CreateTask", func(ctx context.Context, tx store.Tx) error { return tx.CreateTask(ctx, newTask(vdc, "", time.Time{})) }},
		{"UpdateTask", func(ctx context.Context, tx store.Tx) error {
			tr := *task
			tr.Task.State = ovm.TaskRunning
			return tx.UpdateTask(ctx, &tr)
		}},
		{"ClaimTaskByID", func(ctx context.Context, tx store.Tx) error {
			_, _, err := tx.ClaimTaskByID(ctx, ovm.NewID(), "me", time.Minute, nil)
			return err
		}},
		{"ClaimTask", func(ctx context.Context, tx store.Tx) error {
			_, _, err := tx.ClaimTask(ctx, "me", time.Minute, nil)
			return err
		}},
		{"RenewTask", func(ctx context.Context, tx store.Tx) error {
			return tx.RenewTask(ctx, task.Task.ID, "me", time.Minute)
		}},
		{"AcquireLease", func(ctx context.Context, tx store.Tx) error {
			_, _, err := tx.AcquireLease(ctx, "leader", "me", time.Minute)
			return err
		}},
		{"ReleaseLease", func(ctx context.Context, tx store.Tx) error { return tx.ReleaseLease(ctx, "leader", "me") }},
		{"PutIdempotency", func(ctx context.Context, tx store.Tx) error {
			return tx.PutIdempotency(ctx, store.Idempotency{Scope: "s", Key: "k", Status: 201})
		}},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			var inner error
			err := s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
				inner = w.fn(ctx, tx)
				return inner
			})
			require.ErrorIs(t, inner, store.ErrReadOnly, "%s in a view", w.name)
			require.ErrorIs(t, err, store.ErrReadOnly, "View's error when %s failed", w.name)
			assert.Equal(t, ovm.KindInternal, ovm.KindOf(err), "kind of %q", err)
			requireCleanMessage(t, err)
		})
	}
	// Nothing changed.
	got, err := get(t, s, rec.Kind, rec.ID)
	require.NoError(t, err)
	requireSameRecord(t, rec, got)
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		n, err := tx.Count(ctx, store.Filter{Kind: store.KindInstance, VDCID: vdc})
		require.NoError(t, err)
		assert.Equal(t, int64(1), n, "instances")
		q, used, err := tx.Quota(ctx, vdc)
		require.NoError(t, err)
		assert.Equal(t, ovm.Unlimited, q, "quota")
		assert.Equal(t, ovm.Usage{}, used, "usage")
		allocs, err := tx.Allocations(ctx, network)
		require.NoError(t, err)
		assert.Empty(t, allocs, "allocations")
		tokens, err := tx.ListTokens(ctx, tok.UserID)
		require.NoError(t, err)
		require.Len(t, tokens, 1, "tokens")
		assert.True(t, tokens[0].LastUsed.IsZero(), "the token was never touched")
		tr, err := tx.GetTask(ctx, task.Task.ID)
		require.NoError(t, err)
		assert.Equal(t, task.Version, tr.Version, "task version")
		assert.Empty(t, tr.LeaseOwner, "task lease owner")
		_, err = tx.GetIdempotency(ctx, "s", "k")
		requireKind(t, err, ovm.KindNotFound)
		requireKind(t, tx.CheckLease(ctx, "leader", "me", 1), ovm.KindConflict) // never acquired
		return nil
	})
}

// testViewSnapshot: the reads of one view see one point in time, even when
// a transaction commits between them. Records a and b are always updated
// together, so a consistent view sees them at the same version.
func testViewSnapshot(t *testing.T, s store.Store) {
	rs := insert(t, s, record(t, store.KindVApp, "", "a", 0), record(t, store.KindVApp, "", "b", 0))
	outer := t.Context()
	bump := func() error {
		return s.Tx(outer, func(ctx context.Context, tx store.Tx) error {
			for _, r := range rs {
				cur, err := tx.Get(ctx, r.Kind, r.ID)
				if err != nil {
					return err
				}
				if err := tx.Update(ctx, &cur, cur.Version); err != nil {
					return err
				}
			}
			return nil
		})
	}
	var va, vb int64
	runs, bumps := 0, 0
	require.NoError(t, s.View(outer, func(ctx context.Context, tx store.Tx) error {
		runs++
		a, err := tx.Get(ctx, rs[0].Kind, rs[0].ID)
		if err != nil {
			return err
		}
		// A write commits between the two reads of every run.
		if err := bump(); err != nil {
			return err
		}
		bumps++
		b, err := tx.Get(ctx, rs[1].Kind, rs[1].ID)
		if err != nil {
			return err
		}
		va, vb = a.Version, b.Version
		return nil
	}))
	assert.Equal(t, va, vb, "versions of a and b seen by one view (after %d runs)", runs)
	got, err := get(t, s, rs[1].Kind, rs[1].ID)
	require.NoError(t, err)
	assert.Equal(t, int64(1+bumps), got.Version, "every bump committed")
	assert.Less(t, vb, got.Version, "the view's last run read before its bump")
}

// testViewBesideWriter: a view neither waits for a transaction in progress
// nor sees its uncommitted writes.
func testViewBesideWriter(t *testing.T, s store.Store) {
	rec := insert(t, s, record(t, store.KindHost, "", "h1", 1))[0]
	pending := record(t, store.KindHost, "", "h2", 2)
	inside, release := make(chan struct{}), make(chan struct{})
	txErr := make(chan error, 1)
	go func() {
		txErr <- s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
			r := rec
			r.Data = json.RawMessage(`{"n": 5}`)
			if err := tx.Update(ctx, &r, r.Version); err != nil {
				return err
			}
			p := pending
			if err := tx.Insert(ctx, &p); err != nil {
				return err
			}
			select {
			case <-inside:
			default:
				close(inside)
			}
			<-release
			return nil
		})
	}()
	select {
	case <-inside:
	case err := <-txErr:
		t.Fatalf("the writing transaction ended early: %v", err)
	}
	// The writer holds its transaction until the view is done; a view
	// that waited for it would wait until this context ends.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var got store.Record
	var missing error
	err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if got, err = tx.Get(ctx, rec.Kind, rec.ID); err != nil {
			return err
		}
		_, missing = tx.Get(ctx, pending.Kind, pending.ID)
		return nil
	})
	close(release)
	require.NoError(t, err, "a view while a transaction is in progress")
	require.NoError(t, <-txErr)
	requireSameRecord(t, rec, got)
	requireKind(t, missing, ovm.KindNotFound)
	after, err := view(t, s, rec.Kind, rec.ID)
	require.NoError(t, err)
	assert.Equal(t, 5, decodeN(t, after), "the committed update")
}

// testViewNested: a view inside a transaction or a view, or a transaction
// inside a view, is refused, not a deadlock.
func testViewNested(t *testing.T, s store.Store) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	noop := func(context.Context, store.Tx) error { return nil }
	var inView, txInView, viewInView error
	require.NoError(t, s.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
		inView = s.View(ctx, noop)
		return nil
	}))
	require.NoError(t, s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		txInView = s.Tx(ctx, noop)
		viewInView = s.View(ctx, noop)
		return nil
	}))
	assert.Error(t, inView, "a View inside a Tx")
	assert.Error(t, txInView, "a Tx inside a View")
	assert.Error(t, viewInView, "a View inside a View")
	require.NoError(t, ctx.Err(), "a nested call waited")
}

func testViewCanceled(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := 0
	err := s.View(ctx, func(context.Context, store.Tx) error {
		calls++
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, calls, "fn ran under a canceled context")
}

// testViewError: fn's own error comes back as it is, once.
func testViewError(t *testing.T, s store.Store) {
	boom := errors.New("boom")
	rec := insert(t, s, record(t, store.KindPool, "", "p1", 1))[0]
	calls := 0
	err := s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		calls++
		if _, err := tx.Get(ctx, rec.Kind, rec.ID); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	assert.Equal(t, 1, calls, "calls of a one-read fn that failed")
}

// testViewRetries: a view whose attempts fail with a serialization failure
// runs again until one succeeds, and what it returns is from that one.
func testViewRetries(t *testing.T, f Faults) {
	fail := f.SerializationFailure(t)
	const failures = 3
	in := &injector{fail: func(attempt int) error {
		if attempt <= failures {
			return fail
		}
		return nil
	}}
	s := f.Open(t, in.inject)
	rec := insert(t, s, record(t, store.KindNetwork, ovm.NewID(), "lan", 4))[0]
	for _, reads := range []int{1, 2} {
		calls := 0
		var seen []int
		in.armed = true
		err := s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
			calls++
			seen = seen[:0]
			for range reads {
				r, err := tx.Get(ctx, rec.Kind, rec.ID)
				if err != nil {
					return err
				}
				seen = append(seen, decodeN(t, r))
			}
			return nil
		})
		in.armed = false
		require.NoError(t, err, "a view of %d reads with %d serialization failures", reads, failures)
		assert.GreaterOrEqual(t, calls, failures+1, "calls of fn: one per failure, and the one that ends")
		assert.Equal(t, slices.Repeat([]int{4}, reads), seen, "what the last run read")
	}

	// A failure that is not a serialization failure ends the view at once.
	fire := errors.New("disk on fire")
	in.fail = func(int) error { return fire }
	in.armed = true
	calls := 0
	err := s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		calls++
		_, err := tx.Get(ctx, rec.Kind, rec.ID)
		return err
	})
	in.armed = false
	require.ErrorIs(t, err, fire)
	assert.Equal(t, 1, calls, "calls of fn")
}
