package client_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/client"
	"github.com/openovm/ovm/server/core"
)

// TestAlerts: the typed alert calls list, get and acknowledge the alerts
// the host monitor raised; a tenant is refused each.
func TestAlerts(t *testing.T) {
	srv, admin, tenant := setup(t, quota)
	ctx := t.Context()
	hosts, err := admin.ListHosts(ctx)
	require.NoError(t, err)
	require.Len(t, hosts, 1)
	raised, err := core.NewSystem(srv.Service).RaiseAlert(ctx, ha.Alert{Kind: ha.AlertStaleCopies, Host: hosts[0].ID, Message: "stale copies on h1"}, nil)
	require.NoError(t, err)

	list, err := admin.ListAlerts(ctx, client.ListOptions{})
	require.NoError(t, err)
	require.Len(t, list, 1, "alerts listed")
	assert.Equal(t, raised.ID, list[0].ID)
	got, err := admin.GetAlert(ctx, raised.ID)
	require.NoError(t, err)
	assert.Equal(t, "stale copies on h1", got.Message)
	assert.True(t, got.Open(), "the alert before the ack")
	acked, err := admin.AckAlert(ctx, raised.ID)
	require.NoError(t, err)
	assert.False(t, acked.Open(), "the alert after the ack")
	assert.Equal(t, "admin", acked.ResolvedBy)

	for _, c := range []struct {
		name   string
		call   func(ctx context.Context) error
		status int
	}{
		{"list", func(ctx context.Context) error { _, err := tenant.ListAlerts(ctx, client.ListOptions{}); return err }, 403},
		{"get", func(ctx context.Context) error { _, err := tenant.GetAlert(ctx, raised.ID); return err }, 404},
		{"ack", func(ctx context.Context) error { _, err := tenant.AckAlert(ctx, raised.ID); return err }, 404},
		{"get unknown", func(ctx context.Context) error { _, err := admin.GetAlert(ctx, ovm.NewID()); return err }, 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.call(t.Context())
			require.Error(t, err)
			assert.Equal(t, c.status, client.StatusOf(err), "status of %v", err)
		})
	}
}
