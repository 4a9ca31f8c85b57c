package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

var taskTests = []suiteTest{
	{"TaskCreateGetUpdate", testTaskCreateGetUpdate},
	{"TaskList", testTaskList},
	{"TaskClaimOrder", testTaskClaimOrder},
	{"TaskLeaseExpiry", testTaskLeaseExpiry},
	{"TaskClaimRace", testTaskClaimRace},
	{"TaskClaimByID", testTaskClaimByID},
}

var leaseTests = []suiteTest{
	{"LeaseEpochs", testLeaseEpochs},
	{"LeaseRace", testLeaseRace},
	{"LeaderOnlyWrite", testLeaderOnlyWrite},
}

// newTask returns a pending task of vdc, created at, on host.
func newTask(vdc, host ovm.ID, at time.Time) *store.TaskRecord {
	return &store.TaskRecord{
		Task: ovm.Task{ID: ovm.NewID(), Kind: "instance.create", VDCID: vdc, TargetID: ovm.NewID(),
			Steps: []ovm.TaskStep{{Name: "define", State: ovm.StepPending}}, CreatedAt: at},
		HostID: host,
		Input:  json.RawMessage(`{"name": "web"}`),
	}
}

// createTasks stores tasks in one transaction.
func createTasks(t *testing.T, s store.Store, ts ...*store.TaskRecord) {
	t.Helper()
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, tr := range ts {
			if err := tx.CreateTask(ctx, tr); err != nil {
				return err
			}
		}
		return nil
	})
}

// claim runs ClaimTask in a transaction of its own.
func claim(s store.Store, ctx context.Context, owner string, ttl time.Duration, busy ...ovm.ID) (store.TaskRecord, bool, error) {
	var tr store.TaskRecord
	var ok bool
	err := s.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		tr, ok, err = tx.ClaimTask(ctx, owner, ttl, busy)
		return err
	})
	return tr, ok, err
}

func testTaskCreateGetUpdate(t *testing.T, s store.Store) {
	tr := newTask(ovm.NewID(), ovm.NewID(), time.Time{})
	createTasks(t, s, tr)
	assert.Equal(t, int64(1), tr.Version, "version after create")
	assert.Equal(t, ovm.TaskPending, tr.Task.State, "an empty state is pending")
	assert.False(t, tr.Task.CreatedAt.IsZero(), "a zero CreatedAt becomes the database's time")

	var got store.TaskRecord
	do(t, s, func(ctx context.Context, tx store.Tx) (err error) {
		got, err = tx.GetTask(ctx, tr.Task.ID)
		return err
	})
	assert.JSONEq(t, string(tr.Input), string(got.Input))
	assert.Nil(t, got.State, "no state yet")
	assert.Equal(t, tr.HostID, got.HostID)
	assert.True(t, got.Task.CreatedAt.Equal(tr.Task.CreatedAt), "createdAt: got %s, want %s", got.Task.CreatedAt, tr.Task.CreatedAt)
	assert.Equal(t, tr.Task.Steps, got.Task.Steps)

	stale := got
	got.Task.State = ovm.TaskRunning
	got.Task.Progress = 50
	got.State = json.RawMessage(`{"domain": "ovm-web"}`)
	do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateTask(ctx, &got) })
	assert.Equal(t, int64(2), got.Version, "version after one update")

	tests := []struct {
		name     string
		task     func() store.TaskRecord
		kind     ovm.Kind
		mismatch bool
	}{
		{"stale version", func() store.TaskRecord { return stale }, ovm.KindConflict, true},
		{"missing", func() store.TaskRecord { return *newTask("", "", time.Time{}) }, ovm.KindInvalid, false},
		{"unknown id", func() store.TaskRecord {
			m := got
			m.Task.ID = ovm.NewID()
			return m
		}, ovm.KindNotFound, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.task()
			err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.UpdateTask(ctx, &m) })
			requireKind(t, err, tc.kind)
			assert.Equal(t, tc.mismatch, errors.Is(err, store.ErrVersionMismatch), "errors.Is(%q, ErrVersionMismatch)", err)
		})
	}
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		final, err := tx.GetTask(ctx, tr.Task.ID)
		require.NoError(t, err)
		assert.Equal(t, ovm.TaskRunning, final.Task.State)
		assert.Equal(t, 50, final.Task.Progress)
		assert.JSONEq(t, `{"domain": "ovm-web"}`, string(final.State))
		_, err = tx.GetTask(ctx, ovm.NewID())
		requireKind(t, err, ovm.KindNotFound)
		return nil
	})
	dup := *tr
	err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.CreateTask(ctx, &dup) })
	requireKind(t, err, ovm.KindConflict)
}

func testTaskList(t *testing.T, s store.Store) {
	vdcA, vdcB := ovm.NewID(), ovm.NewID()
	var all, inA []ovm.ID
	var ts []*store.TaskRecord
	for i := range 7 { // 4 in A (i even), 3 in B
		vdc := vdcB
		if i%2 == 0 {
			vdc = vdcA
		}
		tr := newTask(vdc, "", time.Time{})
		ts = append(ts, tr)
		all = append(all, tr.Task.ID)
		if vdc == vdcA {
			inA = append(inA, tr.Task.ID)
		}
	}
	platform := newTask("", "", time.Time{})
	ts = append(ts, platform)
	all = append(all, platform.Task.ID)
	createTasks(t, s, ts...)
	slices.Sort(all)
	slices.Sort(inA)

	tests := []struct {
		name  string
		vdc   ovm.ID
		all   bool
		want  []ovm.ID
		sizes []int
	}{
		{"one vdc", vdcA, false, inA, []int{3, 1}},    // 4 = 3 + 1
		{"every task", "", true, all, []int{3, 3, 2}}, // 8 = 3 + 3 + 2
		{"platform", "", false, []ovm.ID{platform.Task.ID}, []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []ovm.ID
			var sizes []int
			do(t, s, func(ctx context.Context, tx store.Tx) error {
				after := ovm.ID("")
				for {
					page, next, err := tx.ListTasks(ctx, tc.vdc, tc.all, store.Page{After: after, Limit: 3})
					require.NoError(t, err)
					sizes = append(sizes, len(page))
					for _, tr := range page {
						got = append(got, tr.Task.ID)
					}
					if next == "" {
						return nil
					}
					after = next
				}
			})
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.sizes, sizes, "page sizes")
		})
	}
}

func testTaskClaimOrder(t *testing.T, s store.Store) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	busy := ovm.NewID()
	oldest := newTask("", ovm.NewID(), base)
	second := newTask("", "", base.Add(time.Second))
	onBusy := newTask("", busy, base.Add(2*time.Second))
	done := newTask("", "", base.Add(-time.Hour))
	done.Task.State = ovm.TaskSucceeded
	createTasks(t, s, onBusy, second, done, oldest)

	ctx := t.Context()
	steps := []struct {
		name string
		busy []ovm.ID
		want *store.TaskRecord // nil: nothing to claim
	}{
		{"the oldest unfinished", nil, oldest},
		{"the next, the oldest is leased", []ovm.ID{busy}, second},
		{"nothing but tasks on busy hosts", []ovm.ID{busy}, nil},
		{"the busy host is free again", nil, onBusy},
		{"nothing left: finished tasks are never claimed", nil, nil},
	}
	for _, st := range steps {
		got, ok, err := claim(s, ctx, "worker-1", time.Minute, st.busy...)
		require.NoError(t, err, st.name)
		if st.want == nil {
			assert.False(t, ok, "%s: claimed %s", st.name, got.Task.ID)
			continue
		}
		require.True(t, ok, "%s: nothing claimed", st.name)
		assert.Equal(t, st.want.Task.ID, got.Task.ID, st.name)
		assert.Equal(t, "worker-1", got.LeaseOwner, st.name)
		assert.Equal(t, st.want.Version+1, got.Version, "%s: a claim bumps the version", st.name)
	}
	_, _, err := claim(s, ctx, "", time.Minute)
	requireKind(t, err, ovm.KindInvalid)
}

// testTaskLeaseExpiry: a task whose owner stops renewing is claimed by
// another owner once the lease expires by the database's clock, and the
// old owner can neither save it nor renew it.
func testTaskLeaseExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	tr := newTask("", "", time.Time{})
	createTasks(t, s, tr)
	const ttl = 300 * time.Millisecond

	mine, ok, err := claim(s, ctx, "old", ttl)
	require.NoError(t, err)
	require.True(t, ok, "the first owner claims")
	at := now(t, s)
	assert.True(t, mine.LeaseExpires.After(at), "lease expires %s, not after now %s", mine.LeaseExpires, at)
	assert.WithinDuration(t, at.Add(ttl), mine.LeaseExpires, ttl, "lease expiry is now + ttl")

	_, ok, err = claim(s, ctx, "new", ttl)
	require.NoError(t, err)
	assert.False(t, ok, "a leased task is not claimed again before expiry")

	waitPast(t, s, mine.LeaseExpires)
	theirs, ok, err := claim(s, ctx, "new", time.Minute)
	require.NoError(t, err)
	require.True(t, ok, "the second owner claims after expiry")
	assert.Equal(t, mine.Task.ID, theirs.Task.ID)
	assert.Equal(t, mine.Version+1, theirs.Version, "a claim bumps the version")

	mine.Task.State = ovm.TaskFailed
	err = s.Tx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.UpdateTask(ctx, &mine) })
	requireKind(t, err, ovm.KindConflict)
	require.ErrorIs(t, err, store.ErrVersionMismatch, "the old owner's save")
	err = s.Tx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.RenewTask(ctx, mine.Task.ID, "old", ttl) })
	requireKind(t, err, ovm.KindConflict)
	err = s.Tx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.RenewTask(ctx, ovm.NewID(), "old", ttl) })
	requireKind(t, err, ovm.KindNotFound)

	do(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.RenewTask(ctx, theirs.Task.ID, "new", time.Hour); err != nil {
			return err
		}
		got, err := tx.GetTask(ctx, theirs.Task.ID)
		require.NoError(t, err)
		assert.True(t, got.LeaseExpires.After(theirs.LeaseExpires), "renewal moved expiry from %s to %s", theirs.LeaseExpires, got.LeaseExpires)
		assert.Equal(t, theirs.Version, got.Version, "a renewal keeps the version")
		theirs.Task.State = ovm.TaskSucceeded
		return tx.UpdateTask(ctx, &theirs)
	})
}

// testTaskClaimRace: owners racing for tasks; each task goes to exactly
// one owner.
func testTaskClaimRace(t *testing.T, s store.Store) {
	const tasks, owners = 3, 8
	for range tasks {
		createTasks(t, s, newTask("", "", time.Time{}))
	}
	type result struct {
		id ovm.ID
		ok bool
	}
	results := make([]result, owners)
	errs := parallel(owners, owners, func(i int) error {
		tr, ok, err := claim(s, t.Context(), "worker-"+string(rune('a'+i)), time.Minute)
		results[i] = result{tr.Task.ID, ok}
		return err
	})
	claimed := map[ovm.ID]int{}
	for i, err := range errs {
		require.NoError(t, err, "owner %d", i)
		if results[i].ok {
			claimed[results[i].id]++
		}
	}
	assert.Len(t, claimed, tasks, "every task claimed")
	for id, n := range claimed {
		assert.Equal(t, 1, n, "owners of task %s", id)
	}
}

// acquire runs AcquireLease in a transaction of its own.
func acquire(t *testing.T, s store.Store, name, holder string, ttl time.Duration) (int64, bool) {
	t.Helper()
	var epoch int64
	var held bool
	do(t, s, func(ctx context.Context, tx store.Tx) (err error) {
		epoch, held, err = tx.AcquireLease(ctx, name, holder, ttl)
		return err
	})
	return epoch, held
}

// checkLease runs CheckLease in a transaction of its own.
func checkLease(s store.Store, ctx context.Context, name, holder string, epoch int64) error {
	return s.Tx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.CheckLease(ctx, name, holder, epoch) })
}

func testLeaseEpochs(t *testing.T, s store.Store) {
	ctx := t.Context()
	const name, short = "host-monitor", 300 * time.Millisecond
	type step struct {
		holder    string
		ttl       time.Duration
		wantEpoch int64
		wantHeld  bool
	}
	run := func(steps ...step) {
		t.Helper()
		for _, st := range steps {
			epoch, held := acquire(t, s, name, st.holder, st.ttl)
			assert.Equal(t, st.wantHeld, held, "%s holds", st.holder)
			assert.Equal(t, st.wantEpoch, epoch, "epoch %s sees", st.holder)
		}
	}
	// a takes the lease and renews it; b cannot take it from a.
	run(step{"a", short, 1, true}, step{"a", short, 1, true}, step{"b", time.Minute, 1, false})
	require.NoError(t, checkLease(s, ctx, name, "a", 1))
	requireKind(t, checkLease(s, ctx, name, "b", 1), ovm.KindConflict)
	requireKind(t, checkLease(s, ctx, name, "a", 2), ovm.KindConflict)

	waitPast(t, s, now(t, s).Add(short))
	requireKind(t, checkLease(s, ctx, name, "a", 1), ovm.KindConflict) // expired
	// b takes over at the next epoch; a cannot take it back.
	run(step{"b", time.Minute, 2, true}, step{"a", short, 2, false})
	requireKind(t, checkLease(s, ctx, name, "a", 1), ovm.KindConflict)
	require.NoError(t, checkLease(s, ctx, name, "b", 2))

	do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.ReleaseLease(ctx, name, "a") }) // not a's: no effect
	require.NoError(t, checkLease(s, ctx, name, "b", 2))
	do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.ReleaseLease(ctx, name, "b") })
	requireKind(t, checkLease(s, ctx, name, "b", 2), ovm.KindConflict)
	run(step{"a", time.Minute, 3, true}) // released: free at once, and the epoch still grows

	epoch, held := acquire(t, s, "other-loop", "b", time.Minute)
	assert.True(t, held, "leases are independent by name")
	assert.Equal(t, int64(1), epoch, "a new lease's epoch")
	err := s.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, _, err := tx.AcquireLease(ctx, name, "", time.Minute)
		return err
	})
	requireKind(t, err, ovm.KindInvalid)
}

// testLeaseRace: holders racing for a new lease; exactly one gets it.
func testLeaseRace(t *testing.T, s store.Store) {
	const holders = 8
	held := make([]bool, holders)
	errs := parallel(holders, holders, func(i int) error {
		return s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) (err error) {
			_, held[i], err = tx.AcquireLease(ctx, "sync", "holder-"+string(rune('a'+i)), time.Minute)
			return err
		})
	})
	n := 0
	for i, err := range errs {
		require.NoError(t, err, "holder %d", i)
		if held[i] {
			n++
		}
	}
	assert.Equal(t, 1, n, "holders of one lease")
}

// testLeaderOnlyWrite: a write that checks the lease in its transaction
// is refused, and leaves nothing, once the writer lost the lease.
func testLeaderOnlyWrite(t *testing.T, s store.Store) {
	ctx := t.Context()
	const ttl = 200 * time.Millisecond
	epoch, held := acquire(t, s, "ha", "old", ttl)
	require.True(t, held)
	write := func(holder string, epoch int64, r store.Record) error {
		return s.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.Insert(ctx, &r); err != nil {
				return err
			}
			return tx.CheckLease(ctx, "ha", holder, epoch)
		})
	}
	require.NoError(t, write("old", epoch, record(t, store.KindHost, "", "h1", 1)))

	waitPast(t, s, now(t, s).Add(ttl))
	newEpoch, held := acquire(t, s, "ha", "new", time.Minute)
	require.True(t, held)
	assert.Equal(t, epoch+1, newEpoch, "the new leader's epoch")

	late := record(t, store.KindHost, "", "h2", 1)
	requireKind(t, write("old", epoch, late), ovm.KindConflict)
	_, err := get(t, s, store.KindHost, late.ID)
	requireKind(t, err, ovm.KindNotFound)
	require.NoError(t, write("new", newEpoch, late))
}

// claimByID runs ClaimTaskByID in a transaction of its own.
func claimByID(s store.Store, ctx context.Context, id ovm.ID, owner string, ttl time.Duration, busy ...ovm.ID) (store.TaskRecord, bool, error) {
	var tr store.TaskRecord
	var ok bool
	err := s.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		tr, ok, err = tx.ClaimTaskByID(ctx, id, owner, ttl, busy)
		return err
	})
	return tr, ok, err
}

func testTaskClaimByID(t *testing.T, s store.Store) {
	ctx := t.Context()
	host := ovm.NewID()
	older, wanted, busy, done := newTask("", "", time.Time{}), newTask("", "", time.Time{}), newTask("", host, time.Time{}), newTask("", "", time.Time{})
	done.Task.State = ovm.TaskSucceeded
	createTasks(t, s, older, wanted, busy, done)

	tests := []struct {
		name  string
		id    ovm.ID
		owner string
		ttl   time.Duration
		busy  []ovm.ID
		ok    bool
		bad   bool // refused as invalid
	}{
		{"missing task", ovm.NewID(), "a", time.Minute, nil, false, false},
		{"final task", done.Task.ID, "a", time.Minute, nil, false, false},
		{"host busy", busy.Task.ID, "a", time.Minute, []ovm.ID{host}, false, false},
		{"no owner", wanted.Task.ID, "", time.Minute, nil, false, true},
		{"no ttl", wanted.Task.ID, "a", 0, nil, false, true},
		{"the task named, not the oldest", wanted.Task.ID, "a", time.Minute, nil, true, false},
		{"leased already", wanted.Task.ID, "b", time.Minute, nil, false, false},
		{"host not busy", busy.Task.ID, "a", time.Minute, []ovm.ID{ovm.NewID()}, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, ok, err := claimByID(s, ctx, tc.id, tc.owner, tc.ttl, tc.busy...)
			if tc.bad {
				requireKind(t, err, ovm.KindInvalid)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.ok, ok, "claimed")
			if ok {
				assert.Equal(t, tc.id, tr.Task.ID)
				assert.Equal(t, tc.owner, tr.LeaseOwner)
			}
		})
	}
	// The older task is still there for a claim of the oldest.
	tr, ok, err := claim(s, ctx, "c", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, older.Task.ID, tr.Task.ID)
}
