package client

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// SetHostBMC sets a host's BMC (IPMI 2.0 lanplus); the server checks it by
// reading the chassis power and returns the host, whose BMC never shows the
// password.
func (c *Client) SetHostBMC(ctx context.Context, id ovm.ID, in apitypes.HostBMCSet) (ovm.Host, error) {
	return Call[ovm.Host](ctx, c, Request{Method: http.MethodPut, Path: idPath("hosts", id) + "/bmc", Body: in})
}

// DeleteHostBMC removes a host's BMC.
func (c *Client) DeleteHostBMC(ctx context.Context, id ovm.ID) error {
	_, err := c.Do(ctx, Request{Method: http.MethodDelete, Path: idPath("hosts", id) + "/bmc"}, nil)
	return err
}

// PowerOnHost powers a host's machine on through its BMC and returns the
// host once the BMC reads the power on.
func (c *Client) PowerOnHost(ctx context.Context, id ovm.ID) (ovm.Host, error) {
	return Call[ovm.Host](ctx, c, Request{Method: http.MethodPost, Path: idPath("hosts", id) + "/bmc/power-on"})
}
