package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

var auditTests = []suiteTest{
	{"AuditListAndFilter", testAuditListAndFilter},
	{"AuditRollsBackWithItsChange", testAuditRollsBack},
}

func auditTx(t *testing.T, tx store.Tx) store.AuditTx {
	t.Helper()
	at, ok := tx.(store.AuditTx)
	require.True(t, ok, "the engine's transactions keep the audit trail")
	return at
}

func testAuditListAndFilter(t *testing.T, s store.Store) {
	vdc := ovm.NewID()
	obj := ovm.NewID()
	base := time.Date(2026, 3, 1, 23, 59, 59, 0, time.UTC)
	// Seven events over two days: the pages cross the day's bucket.
	events := []store.AuditEvent{
		{At: base.Add(-2 * time.Second), User: "admin", Operation: "create-vdc", Outcome: "succeeded"},
		{At: base.Add(-time.Second), VDCID: vdc, User: "alice", Operation: "create-instance", Object: store.AuditObject{Kind: store.KindInstance, ID: obj}, Outcome: "succeeded"},
		{At: base, VDCID: vdc, User: "alice", Operation: "delete-instance", Outcome: "failed", Status: 409},
		{At: base.Add(time.Second), User: "mallory", Operation: "login", Outcome: "failed", Status: 401},
		{At: base.Add(2 * time.Second), User: "mallory", Operation: "login", Outcome: "throttled", Status: 429},
		{At: base.Add(3 * time.Second), VDCID: vdc, User: "admin", Operation: "update-instance", Object: store.AuditObject{Kind: store.KindInstance, ID: obj}, Outcome: "succeeded"},
		{At: base.Add(4 * time.Second), VDCID: ovm.NewID(), User: "bob", Operation: "create-network", Outcome: "succeeded"},
	}
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		for i := range events {
			if err := auditTx(t, tx).AppendAudit(ctx, &events[i]); err != nil {
				return err
			}
		}
		return nil
	})
	for _, e := range events {
		assert.True(t, e.ID.Valid(), "id filled in")
	}
	list := func(f store.AuditFilter, limit int) []store.AuditEvent {
		var out []store.AuditEvent
		var after ovm.ID
		for range 20 {
			var pg []store.AuditEvent
			var next ovm.ID
			require.NoError(t, s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
				var err error
				pg, next, err = auditTx(t, tx).ListAudit(ctx, f, store.Page{After: after, Limit: limit})
				return err
			}))
			out = append(out, pg...)
			if next == "" {
				return out
			}
			after = next
		}
		t.Fatal("the pages never end")
		return nil
	}
	ops := func(es []store.AuditEvent) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Operation+"/"+string(e.Outcome))
		}
		return out
	}
	tests := []struct {
		name string
		f    store.AuditFilter
		want []string
	}{
		{"everything newest first", store.AuditFilter{AllVDCs: true}, []string{"create-network/succeeded", "update-instance/succeeded",
			"login/throttled", "login/failed", "delete-instance/failed", "create-instance/succeeded", "create-vdc/succeeded"}},
		{"one vdc", store.AuditFilter{VDCID: vdc}, []string{"update-instance/succeeded", "delete-instance/failed", "create-instance/succeeded"}},
		{"platform scope", store.AuditFilter{}, []string{"login/throttled", "login/failed", "create-vdc/succeeded"}},
		{"user", store.AuditFilter{AllVDCs: true, User: "mallory"}, []string{"login/throttled", "login/failed"}},
		{"operation", store.AuditFilter{AllVDCs: true, Operation: "login"}, []string{"login/throttled", "login/failed"}},
		{"object", store.AuditFilter{AllVDCs: true, ObjectID: obj}, []string{"update-instance/succeeded", "create-instance/succeeded"}},
		{"outcome", store.AuditFilter{AllVDCs: true, Outcome: "failed"}, []string{"login/failed", "delete-instance/failed"}},
		{"since and until", store.AuditFilter{AllVDCs: true, Since: base, Until: base.Add(2 * time.Second)}, []string{"login/failed", "delete-instance/failed"}},
	}
	for _, tt := range tests {
		for _, limit := range []int{1, 2, 100} {
			got := ops(list(tt.f, limit))
			assert.Equal(t, tt.want, got, "%s, pages of %d", tt.name, limit)
		}
	}
	got := list(store.AuditFilter{AllVDCs: true, Outcome: "failed", User: "alice"}, 10)
	require.Len(t, got, 1)
	assert.Equal(t, 409, got[0].Status)
	assert.Equal(t, base, got[0].At, "time kept")
	err := s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, _, err := auditTx(t, tx).ListAudit(ctx, store.AuditFilter{}, store.Page{After: "nope"})
		return err
	})
	requireKind(t, err, ovm.KindInvalid)
}

func testAuditRollsBack(t *testing.T, s store.Store) {
	boom := errors.New("the change failed")
	err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
		r := record(t, store.KindDatacenter, "", "dc1", 1)
		if err := tx.Insert(ctx, &r); err != nil {
			return err
		}
		if err := auditTx(t, tx).AppendAudit(ctx, &store.AuditEvent{User: "admin", Operation: "create-datacenter", Outcome: "succeeded"}); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.NoError(t, s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		es, _, err := auditTx(t, tx).ListAudit(ctx, store.AuditFilter{AllVDCs: true}, store.Page{})
		assert.Empty(t, es, "the event went with its change")
		return err
	}))
	err = s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
		return auditTx(t, tx).AppendAudit(ctx, &store.AuditEvent{User: "admin"})
	})
	requireKind(t, err, ovm.KindInvalid)
}
