package client

import (
	"context"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// ListAlerts returns the HA alerts the host monitor raised, open and
// resolved (administrators).
func (c *Client) ListAlerts(ctx context.Context, o ListOptions) ([]apitypes.Alert, error) {
	return All[apitypes.Alert](ctx, c, "/v1/alerts", o)
}

// GetAlert returns an HA alert.
func (c *Client) GetAlert(ctx context.Context, id ovm.ID) (apitypes.Alert, error) {
	return get[apitypes.Alert](ctx, c, idPath("alerts", id))
}

// AckAlert acknowledges an HA alert: it is marked resolved by the caller.
func (c *Client) AckAlert(ctx context.Context, id ovm.ID) (apitypes.Alert, error) {
	return post[apitypes.Alert](ctx, c, idPath("alerts", id)+"/ack", nil, "")
}
