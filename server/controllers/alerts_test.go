package controllers_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
)

// alerts lists the stored alerts of a kind about a host ("" matches any).
func (c *cluster) alerts(kind ha.AlertKind, host ovm.ID) []core.Alert {
	c.t.Helper()
	page, err := c.svc.ListAlerts(c.t.Context(), c.admin, core.ListOptions{Limit: core.MaxLimit})
	require.NoError(c.t, err)
	var out []core.Alert
	for _, a := range page.Items {
		if (kind == "" || a.Kind == kind) && (host == "" || a.HostID == host) {
			out = append(out, a)
		}
	}
	return out
}

// TestPausedLeaderCannotRaiseAlerts: a monitor leader whose lease another
// replica took can neither raise nor resolve an alert; the new leader can.
func TestPausedLeaderCannotRaiseAlerts(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := newCluster(t, b.open(t), clusterOptions{hosts: 2, haEnabled: true})
			h1, h2 := c.hosts[0], c.hosts[1]
			old, cur := c.takeOver(controllers.LeaseMonitor)

			// An open alert of host2, raised by the current leader.
			open, err := core.NewSystem(c.svc).RaiseAlert(t.Context(), ha.Alert{Kind: ha.AlertInstancesLost, Host: h2.ID, Message: "lost"}, cur.Guard())
			require.NoError(t, err)

			writes := []struct {
				name  string
				write func(ctx context.Context) error
			}{
				{"raise", func(ctx context.Context) error {
					_, err := core.NewSystem(c.svc).RaiseAlert(ctx, ha.Alert{Kind: ha.AlertFenceUnconfirmed, Host: h1.ID, Message: "no fence"}, old.Guard())
					return err
				}},
				{"raise again", func(ctx context.Context) error {
					_, err := core.NewSystem(c.svc).RaiseAlert(ctx, ha.Alert{Kind: ha.AlertInstancesLost, Host: h2.ID, Message: "lost"}, old.Guard())
					return err
				}},
				{"resolve", func(ctx context.Context) error {
					_, err := core.NewSystem(c.svc).ResolveAlerts(ctx, h2.ID, old.Guard())
					return err
				}},
			}
			for _, w := range writes {
				t.Run(w.name, func(t *testing.T) {
					err := w.write(t.Context())
					require.ErrorIs(t, err, controllers.ErrLeaseLost, "%s by the paused old leader", w.name)
					assert.Equal(t, ovm.KindConflict, ovm.KindOf(err), "kind of the refused write: %v", err)
				})
			}
			assert.Empty(t, c.alerts(ha.AlertFenceUnconfirmed, ""), "alerts raised by the old leader")
			got := c.alerts(ha.AlertInstancesLost, h2.ID)
			require.Len(t, got, 1, "host2's alerts")
			assert.Equal(t, open, got[0], "host2's alert after the old leader's writes")

			// The new leader's writes go through.
			raised, err := core.NewSystem(c.svc).RaiseAlert(t.Context(), ha.Alert{Kind: ha.AlertFenceUnconfirmed, Host: h1.ID, Message: "no fence"}, cur.Guard())
			require.NoError(t, err)
			assert.True(t, raised.Open(), "the new leader's alert")
			done, err := core.NewSystem(c.svc).ResolveAlerts(t.Context(), h2.ID, cur.Guard())
			require.NoError(t, err)
			require.Len(t, done, 1, "alerts the new leader resolved")
			assert.Equal(t, open.ID, done[0].ID)
			assert.False(t, done[0].Open(), "host2's alert after the new leader resolved it")
		})
	}
}
