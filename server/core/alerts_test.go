package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// allAlerts lists every stored alert.
func (f *fixture) allAlerts(t *testing.T) []core.Alert {
	t.Helper()
	page, err := f.svc.ListAlerts(t.Context(), f.admin, core.ListOptions{Limit: core.MaxLimit})
	require.NoError(t, err)
	return page.Items
}

func TestRaiseAlertRefusesBadAlerts(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		alert ha.Alert
		field string
	}{
		{"unknown kind", ha.Alert{Kind: "meteor", Host: ovm.NewID()}, "kind"},
		{"no kind", ha.Alert{Host: ovm.NewID()}, "kind"},
		{"host alert without host", ha.Alert{Kind: ha.AlertFenceUnconfirmed}, "host"},
		{"host alert with a bad host", ha.Alert{Kind: ha.AlertStaleCopies, Host: "H1"}, "host"},
		{"partition without group", ha.Alert{Kind: ha.AlertPartition, Scope: ovm.ScopePool}, "group"},
		{"partition cleared with a bad group", ha.Alert{Kind: ha.AlertPartitionCleared, Group: "pool-1"}, "group"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := core.NewSystem(f.svc).RaiseAlert(t.Context(), tc.alert, nil)
			require.Error(t, err)
			assert.Equal(t, ovm.KindInvalid, ovm.KindOf(err), "kind of %v", err)
			assert.Contains(t, err.Error(), tc.field)
		})
	}
	assert.Empty(t, f.allAlerts(t), "alerts stored by refused raises")
}

func TestRaiseAlertCountsTheSameOpenAlert(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	h1, h2, pool := ovm.NewID(), ovm.NewID(), ovm.NewID()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	i1, i2 := ovm.NewID(), ovm.NewID()
	steps := []struct {
		name      string
		alert     ha.Alert
		same      int // index of the step whose alert this one is; -1: a new one
		wantCount int
	}{
		{"first", ha.Alert{Kind: ha.AlertFenceUnconfirmed, Host: h1, At: t0, Instances: []ovm.ID{i1}, Message: "m1"}, -1, 1},
		{"again", ha.Alert{Kind: ha.AlertFenceUnconfirmed, Host: h1, At: t0.Add(time.Minute), Instances: []ovm.ID{i1, i2}, Message: "m2"}, 0, 2},
		{"other kind, same host", ha.Alert{Kind: ha.AlertInstancesLost, Host: h1, At: t0, Message: "lost"}, -1, 1},
		{"same kind, other host", ha.Alert{Kind: ha.AlertFenceUnconfirmed, Host: h2, At: t0, Message: "m"}, -1, 1},
		{"partition", ha.Alert{Kind: ha.AlertPartition, Scope: ovm.ScopePool, Group: pool, Hosts: []ovm.ID{h1, h2}, At: t0, Message: "p"}, -1, 1},
		{"partition again", ha.Alert{Kind: ha.AlertPartition, Scope: ovm.ScopePool, Group: pool, At: t0.Add(time.Second), Message: "p"}, 4, 2},
		{"third time", ha.Alert{Kind: ha.AlertFenceUnconfirmed, Host: h1, At: t0.Add(2 * time.Minute), Message: "m3"}, 0, 3},
	}
	var ids []ovm.ID
	for _, st := range steps {
		got, err := core.NewSystem(f.svc).RaiseAlert(ctx, st.alert, nil)
		require.NoError(t, err, st.name)
		if st.same >= 0 {
			assert.Equal(t, ids[st.same], got.ID, "%s: the same alert", st.name)
		} else {
			assert.NotContains(t, ids, got.ID, "%s: a new alert", st.name)
		}
		ids = append(ids, got.ID)
		assert.Equal(t, st.wantCount, got.Count, "%s: count", st.name)
		assert.Equal(t, st.alert.Message, got.Message, "%s: message", st.name)
		assert.True(t, got.Open(), "%s: open", st.name)
	}
	assert.Len(t, f.allAlerts(t), 4, "stored alerts")
	a, _, err := f.svc.GetAlert(ctx, f.admin, ids[0])
	require.NoError(t, err)
	assert.True(t, a.RaisedAt.Equal(t0), "first raise kept: %s", a.RaisedAt)
	assert.True(t, a.LastRaisedAt.Equal(t0.Add(2*time.Minute)), "last raise: %s", a.LastRaisedAt)
	assert.Empty(t, a.InstanceIDs, "instances of the last raise")

	// The partition clears: its alert is resolved, nothing new is stored.
	cleared, err := core.NewSystem(f.svc).RaiseAlert(ctx, ha.Alert{Kind: ha.AlertPartitionCleared, Scope: ovm.ScopePool, Group: pool, At: t0.Add(time.Hour)}, nil)
	require.NoError(t, err)
	assert.Equal(t, ids[4], cleared.ID, "the cleared partition alert")
	assert.False(t, cleared.Open(), "the partition alert once cleared")
	assert.Len(t, f.allAlerts(t), 4, "stored alerts after the partition cleared")
	// Cleared again (no open partition alert): nothing.
	none, err := core.NewSystem(f.svc).RaiseAlert(ctx, ha.Alert{Kind: ha.AlertPartitionCleared, Scope: ovm.ScopePool, Group: pool}, nil)
	require.NoError(t, err)
	assert.Equal(t, core.Alert{}, none)
}

func TestResolveAlertsOfAHostThatIsUp(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	h1, h2 := ovm.NewID(), ovm.NewID()
	var h1Alerts []ovm.ID
	for _, k := range []ha.AlertKind{ha.AlertFenceUnconfirmed, ha.AlertInstancesLost, ha.AlertNotRestarted, ha.AlertStaleCopies} {
		a, err := core.NewSystem(f.svc).RaiseAlert(ctx, ha.Alert{Kind: k, Host: h1, Message: string(k)}, nil)
		require.NoError(t, err)
		h1Alerts = append(h1Alerts, a.ID)
	}
	other, err := core.NewSystem(f.svc).RaiseAlert(ctx, ha.Alert{Kind: ha.AlertFenceUnconfirmed, Host: h2, Message: "h2"}, nil)
	require.NoError(t, err)

	done, err := core.NewSystem(f.svc).ResolveAlerts(ctx, h1, nil)
	require.NoError(t, err)
	var doneIDs []ovm.ID
	for _, a := range done {
		doneIDs = append(doneIDs, a.ID)
		assert.False(t, a.Open(), "alert %s", a.Kind)
		assert.Equal(t, "host-monitor", a.ResolvedBy)
	}
	assert.ElementsMatch(t, h1Alerts, doneIDs, "host1's alerts resolved")
	got, _, err := f.svc.GetAlert(ctx, f.admin, other.ID)
	require.NoError(t, err)
	assert.True(t, got.Open(), "host2's alert")

	// Nothing left to resolve; raised again, the alert is a new one.
	done, err = core.NewSystem(f.svc).ResolveAlerts(ctx, h1, nil)
	require.NoError(t, err)
	assert.Empty(t, done, "alerts resolved twice")
	again, err := core.NewSystem(f.svc).RaiseAlert(ctx, ha.Alert{Kind: ha.AlertFenceUnconfirmed, Host: h1, Message: "again"}, nil)
	require.NoError(t, err)
	assert.NotEqual(t, h1Alerts[0], again.ID, "an alert raised after its host came back")
	assert.Equal(t, 1, again.Count)

	_, err = core.NewSystem(f.svc).ResolveAlerts(ctx, "not-a-host", nil)
	assert.Equal(t, ovm.KindInvalid, ovm.KindOf(err), "resolve with a bad host id: %v", err)
}

func TestAlertWritesRunTheGuard(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	h1 := ovm.NewID()
	open, err := core.NewSystem(f.svc).RaiseAlert(ctx, ha.Alert{Kind: ha.AlertStaleCopies, Host: h1, Message: "stale"}, nil)
	require.NoError(t, err)
	lost := errors.New("lease lost")
	refuse := core.Guard(func(context.Context, store.Tx) error { return ovm.Wrap(ovm.KindConflict, lost, "not the leader") })
	writes := []struct {
		name  string
		write func() error
	}{
		{"raise new", func() error {
			_, err := core.NewSystem(f.svc).RaiseAlert(ctx, ha.Alert{Kind: ha.AlertFenceUnconfirmed, Host: h1, Message: "x"}, refuse)
			return err
		}},
		{"raise again", func() error {
			_, err := core.NewSystem(f.svc).RaiseAlert(ctx, ha.Alert{Kind: ha.AlertStaleCopies, Host: h1, Message: "y"}, refuse)
			return err
		}},
		{"resolve", func() error { _, err := core.NewSystem(f.svc).ResolveAlerts(ctx, h1, refuse); return err }},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			require.ErrorIs(t, w.write(), lost)
		})
	}
	all := f.allAlerts(t)
	require.Len(t, all, 1, "alerts after refused writes")
	assert.Equal(t, open, all[0], "the open alert after refused writes")
}

func TestAlertsAreForAdministrators(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	v, _ := f.platform(t, ovm.PolicyPerformance, 1)
	a, err := core.NewSystem(f.svc).RaiseAlert(ctx, ha.Alert{Kind: ha.AlertFenceUnconfirmed, Host: ovm.NewID(), Message: "m"}, nil)
	require.NoError(t, err)
	for _, role := range []auth.Role{auth.RoleVDCAdmin, auth.RoleVDCMember} {
		p := auth.Principal{UserID: ovm.NewID(), Name: "tenant", Role: role, VDCID: v.ID}
		t.Run(string(role), func(t *testing.T) {
			_, err := f.svc.ListAlerts(ctx, p, core.ListOptions{})
			assert.ErrorIs(t, err, core.ErrForbidden, "list")
			_, _, err = f.svc.GetAlert(ctx, p, a.ID)
			assert.Equal(t, ovm.KindNotFound, ovm.KindOf(err), "get: %v", err)
			_, _, err = f.svc.AckAlert(ctx, p, a.ID)
			assert.Equal(t, ovm.KindNotFound, ovm.KindOf(err), "ack: %v", err)
		})
	}
	got, v1, err := f.svc.GetAlert(ctx, f.admin, a.ID)
	require.NoError(t, err)
	assert.True(t, got.Open(), "the alert after the tenants' acks")

	acked, v2, err := f.svc.AckAlert(ctx, f.admin, a.ID)
	require.NoError(t, err)
	assert.False(t, acked.Open())
	assert.Equal(t, "root", acked.ResolvedBy)
	assert.Greater(t, v2, v1, "version after the ack")
	_, v3, err := f.svc.GetAlert(ctx, f.admin, a.ID)
	require.NoError(t, err)
	assert.Equal(t, v2, v3, "the version the ack returned is the stored one")
	twice, v4, err := f.svc.AckAlert(ctx, f.admin, a.ID)
	require.NoError(t, err)
	assert.Equal(t, acked, twice, "a second ack")
	assert.Equal(t, v2, v4, "version after a second ack")
}
