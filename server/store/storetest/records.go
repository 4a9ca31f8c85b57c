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

var recordTests = []suiteTest{
	{"RecordInsertGet", testRecordInsertGet},
	{"RecordInsertConflicts", testRecordInsertConflicts},
	{"RecordConflictLeavesTxUsable", testRecordConflictLeavesTxUsable},
	{"RecordInvalid", testRecordInvalid},
	{"RecordUpdate", testRecordUpdate},
	{"RecordDelete", testRecordDelete},
	{"RecordListPages", testRecordListPages},
	{"RecordListFilters", testRecordListFilters},
}

func testRecordInsertGet(t *testing.T, s store.Store) {
	vdc := ovm.NewID()
	before := now(t, s)
	r := record(t, store.KindInstance, vdc, "web", 7)
	r.ParentID, r.HostID = ovm.NewID(), ovm.NewID()
	stored := insert(t, s, r)[0]

	assert.Equal(t, int64(1), stored.Version, "version after insert: got %d, want 1", stored.Version)
	assert.False(t, stored.CreatedAt.Before(before.Truncate(time.Millisecond)), "createdAt %s before the clock read earlier, %s", stored.CreatedAt, before)
	assert.True(t, stored.CreatedAt.Equal(stored.UpdatedAt), "a new record's times differ: %s and %s", stored.CreatedAt, stored.UpdatedAt)

	got, err := get(t, s, store.KindInstance, r.ID)
	require.NoError(t, err)
	requireSameRecord(t, stored, got)
	assert.Equal(t, 7, decodeN(t, got), "data round trip")

	do(t, s, func(ctx context.Context, tx store.Tx) error {
		byName, err := tx.GetByName(ctx, store.KindInstance, vdc, "web")
		require.NoError(t, err)
		requireSameRecord(t, stored, byName)

		_, err = tx.GetByName(ctx, store.KindInstance, ovm.NewID(), "web")
		requireKind(t, err, ovm.KindNotFound)
		_, err = tx.GetByName(ctx, store.KindVolume, vdc, "web")
		requireKind(t, err, ovm.KindNotFound)
		_, err = tx.Get(ctx, store.KindVolume, r.ID)
		requireKind(t, err, ovm.KindNotFound)
		_, err = tx.Get(ctx, store.KindInstance, ovm.NewID())
		requireKind(t, err, ovm.KindNotFound)
		return nil
	})
}

func testRecordInsertConflicts(t *testing.T, s store.Store) {
	vdcA, vdcB := ovm.NewID(), ovm.NewID()
	first := insert(t, s, record(t, store.KindInstance, vdcA, "web", 1))[0]

	tests := []struct {
		name     string
		record   func() store.Record
		conflict bool
	}{
		{"same id", func() store.Record {
			r := record(t, store.KindInstance, vdcA, "other", 2)
			r.ID = first.ID
			return r
		}, true},
		{"same name in the same vdc", func() store.Record { return record(t, store.KindInstance, vdcA, "web", 2) }, true},
		{"same name in another vdc", func() store.Record { return record(t, store.KindInstance, vdcB, "web", 2) }, false},
		{"same name in the platform scope", func() store.Record { return record(t, store.KindInstance, "", "web", 2) }, false},
		{"same name of another kind", func() store.Record { return record(t, store.KindVolume, vdcA, "web", 2) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.record()
			err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.Insert(ctx, &r) })
			if !tc.conflict {
				require.NoError(t, err)
				return
			}
			requireKind(t, err, ovm.KindConflict)
			require.Contains(t, err.Error(), string(store.KindInstance), "the conflict names the object: %q", err)
		})
	}
}

// testRecordConflictLeavesTxUsable: a refused insert is an answer, not a
// broken transaction; the function may go on and commit.
func testRecordConflictLeavesTxUsable(t *testing.T, s store.Store) {
	vdc := ovm.NewID()
	insert(t, s, record(t, store.KindNetwork, vdc, "lan", 1))
	second := record(t, store.KindNetwork, vdc, "wan", 2)
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		dup := record(t, store.KindNetwork, vdc, "lan", 3)
		requireKind(t, tx.Insert(ctx, &dup), ovm.KindConflict)
		return tx.Insert(ctx, &second)
	})
	_, err := get(t, s, store.KindNetwork, second.ID)
	require.NoError(t, err, "the insert after a refused one committed")
}

func testRecordInvalid(t *testing.T, s store.Store) {
	tests := []struct {
		name   string
		mutate func(r *store.Record)
		fields []string
	}{
		{"no kind", func(r *store.Record) { r.Kind = "" }, []string{"kind"}},
		{"id not a uuid", func(r *store.Record) { r.ID = "web-1" }, []string{"id"}},
		{"no name", func(r *store.Record) { r.Name = "" }, []string{"name"}},
		{"bad links", func(r *store.Record) { r.VDCID, r.HostID = "x", "y" }, []string{"vdcId", "hostId"}},
		{"data not json", func(r *store.Record) { r.Data = json.RawMessage("{") }, []string{"data"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := record(t, store.KindHost, "", "h1", 1)
			tc.mutate(&r)
			err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.Insert(ctx, &r) })
			requireKind(t, err, ovm.KindInvalid)
			assertFieldsNamed(t, err, tc.fields...)
		})
	}
}

func testRecordUpdate(t *testing.T, s store.Store) {
	vdc := ovm.NewID()
	stored := insert(t, s, record(t, store.KindVolume, vdc, "data", 1), record(t, store.KindVolume, vdc, "logs", 1))
	r := stored[0]

	// Version 1 -> 2 with the right version, 2 -> 3 with no check.
	r.Data = json.RawMessage(`{"n": 2}`)
	r.HostID = ovm.NewID()
	do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.Update(ctx, &r, 1) })
	assert.Equal(t, int64(2), r.Version, "version after one update")
	assert.True(t, r.CreatedAt.Equal(stored[0].CreatedAt), "createdAt changed: got %s, want %s", r.CreatedAt, stored[0].CreatedAt)
	assert.False(t, r.UpdatedAt.Before(r.CreatedAt), "updatedAt %s before createdAt %s", r.UpdatedAt, r.CreatedAt)
	do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.Update(ctx, &r, 0) })
	assert.Equal(t, int64(3), r.Version, "version after two updates")

	got, err := get(t, s, store.KindVolume, r.ID)
	require.NoError(t, err)
	requireSameRecord(t, r, got)

	tests := []struct {
		name      string
		record    func() store.Record
		ifVersion int64
		kind      ovm.Kind
		mismatch  bool
	}{
		{"stale version", func() store.Record { return r }, 2, ovm.KindConflict, true},
		{"missing record", func() store.Record {
			m := r
			m.ID = ovm.NewID()
			return m
		}, 0, ovm.KindNotFound, false},
		{"name taken", func() store.Record {
			m := r
			m.Name = "logs"
			return m
		}, 3, ovm.KindConflict, false},
		{"negative version", func() store.Record { return r }, -1, ovm.KindInvalid, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.record()
			err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.Update(ctx, &m, tc.ifVersion) })
			requireKind(t, err, tc.kind)
			assert.Equal(t, tc.mismatch, errors.Is(err, store.ErrVersionMismatch), "errors.Is(%q, ErrVersionMismatch)", err)
		})
	}
	got, err = get(t, s, store.KindVolume, r.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(3), got.Version, "failed updates changed the version")
	assert.Equal(t, "data", got.Name, "failed updates changed the name")
}

func testRecordDelete(t *testing.T, s store.Store) {
	r := insert(t, s, record(t, store.KindVApp, ovm.NewID(), "app", 1), record(t, store.KindVApp, "", "app", 1))

	err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.Delete(ctx, store.KindVApp, r[0].ID, 2) })
	requireKind(t, err, ovm.KindConflict)
	require.ErrorIs(t, err, store.ErrVersionMismatch)
	_, err = get(t, s, store.KindVApp, r[0].ID)
	require.NoError(t, err, "a refused delete removed the record")

	do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.Delete(ctx, store.KindVApp, r[0].ID, 1) })
	do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.Delete(ctx, store.KindVApp, r[1].ID, 0) })
	for _, rec := range r {
		_, err = get(t, s, store.KindVApp, rec.ID)
		requireKind(t, err, ovm.KindNotFound)
	}
	err = s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.Delete(ctx, store.KindVApp, r[0].ID, 0) })
	requireKind(t, err, ovm.KindNotFound)
}

func testRecordListPages(t *testing.T, s store.Store) {
	vdc := ovm.NewID()
	const n = 25
	var rs []store.Record
	for i := range n {
		rs = append(rs, record(t, store.KindInstance, vdc, "vm-"+string(rune('a'+i)), i))
	}
	// Noise that the filter must leave out.
	rs = append(rs, record(t, store.KindInstance, ovm.NewID(), "vm-a", 0), record(t, store.KindVolume, vdc, "vm-a", 0))
	stored := insert(t, s, rs...)
	want := ids(stored[:n])
	slices.Sort(want)

	tests := []struct {
		name  string
		limit int
		pages []int // sizes
	}{
		{"limit 10", 10, []int{10, 10, 5}},   // 25 = 10 + 10 + 5
		{"limit 5", 5, []int{5, 5, 5, 5, 5}}, // 25 = 5 × 5: the last full page ends the list
		{"limit 24", 24, []int{24, 1}},       // 25 = 24 + 1
		{"default limit", 0, []int{25}},      // the default, 100, holds all 25
		{"above the maximum", 5000, []int{25}},
	}
	f := store.Filter{Kind: store.KindInstance, VDCID: vdc}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []ovm.ID
			var sizes []int
			after := ovm.ID("")
			do(t, s, func(ctx context.Context, tx store.Tx) error {
				for range len(tc.pages) + 1 {
					page, next, err := tx.List(ctx, f, store.Page{After: after, Limit: tc.limit})
					require.NoError(t, err)
					sizes = append(sizes, len(page))
					got = append(got, ids(page)...)
					if next == "" {
						return nil
					}
					require.Equal(t, page[len(page)-1].ID, next, "the cursor is the last id of the page")
					after = next
				}
				return errors.New("more pages than expected")
			})
			assert.Equal(t, tc.pages, sizes, "page sizes")
			assert.Equal(t, want, got, "every record once, in id order")
		})
	}
	err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, _, err := tx.List(ctx, f, store.Page{Limit: -1})
		return err
	})
	requireKind(t, err, ovm.KindInvalid)
}

func testRecordListFilters(t *testing.T, s store.Store) {
	vdcA, vdcB := ovm.NewID(), ovm.NewID()
	host1, host2, parent := ovm.NewID(), ovm.NewID(), ovm.NewID()
	mk := func(vdc ovm.ID, name string, parentID, host ovm.ID) store.Record {
		r := record(t, store.KindInstance, vdc, name, 0)
		r.ParentID, r.HostID = parentID, host
		return r
	}
	insert(t, s,
		mk(vdcA, "a1", parent, host1),
		mk(vdcA, "a2", "", host2),
		mk(vdcB, "b1", parent, host1),
		mk("", "p1", "", host1),
		record(t, store.KindVolume, vdcA, "v1", 0),
	)
	tests := []struct {
		name   string
		filter store.Filter
		want   []string
	}{
		{"tenancy: one vdc", store.Filter{Kind: store.KindInstance, VDCID: vdcA}, []string{"a1", "a2"}},
		{"tenancy: the other vdc", store.Filter{Kind: store.KindInstance, VDCID: vdcB}, []string{"b1"}},
		{"tenancy: platform scope", store.Filter{Kind: store.KindInstance}, []string{"p1"}},
		{"tenancy: unknown vdc", store.Filter{Kind: store.KindInstance, VDCID: ovm.NewID()}, nil},
		{"all vdcs", store.Filter{Kind: store.KindInstance, AllVDCs: true}, []string{"a1", "a2", "b1", "p1"}},
		{"all vdcs with a vdc", store.Filter{Kind: store.KindInstance, AllVDCs: true, VDCID: vdcB}, []string{"b1"}},
		{"host across vdcs", store.Filter{Kind: store.KindInstance, AllVDCs: true, HostID: host1}, []string{"a1", "b1", "p1"}},
		{"host in a vdc", store.Filter{Kind: store.KindInstance, VDCID: vdcA, HostID: host1}, []string{"a1"}},
		{"parent", store.Filter{Kind: store.KindInstance, AllVDCs: true, ParentID: parent}, []string{"a1", "b1"}},
		{"parent and host", store.Filter{Kind: store.KindInstance, AllVDCs: true, ParentID: parent, HostID: host2}, nil},
		{"kind", store.Filter{Kind: store.KindVolume, AllVDCs: true}, []string{"v1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			do(t, s, func(ctx context.Context, tx store.Tx) error {
				page, next, err := tx.List(ctx, tc.filter, store.Page{})
				require.NoError(t, err)
				assert.Empty(t, next, "one page holds them all")
				assert.ElementsMatch(t, tc.want, names(page))
				n, err := tx.Count(ctx, tc.filter)
				require.NoError(t, err)
				assert.Equal(t, int64(len(tc.want)), n, "count")
				return nil
			})
		})
	}
	err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Count(ctx, store.Filter{})
		return err
	})
	requireKind(t, err, ovm.KindInvalid)
}
