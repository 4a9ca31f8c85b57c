package client

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// ListChefServers returns the registered Chef servers (tenants read each
// one's id, name and organisation).
func (c *Client) ListChefServers(ctx context.Context, o ListOptions) ([]apitypes.ChefServer, error) {
	return All[apitypes.ChefServer](ctx, c, "/v1/chef/servers", o)
}

// GetChefServer returns a Chef server.
func (c *Client) GetChefServer(ctx context.Context, id ovm.ID) (apitypes.ChefServer, error) {
	return get[apitypes.ChefServer](ctx, c, idPath("chef/servers", id))
}

// RegisterChefServer registers a Chef server (administrators); the server
// checks the connection with the client's key first.
func (c *Client) RegisterChefServer(ctx context.Context, in apitypes.ChefServerCreate) (apitypes.ChefServer, error) {
	return post[apitypes.ChefServer](ctx, c, "/v1/chef/servers", in, in.IdempotencyKey)
}

// UpdateChefServer changes a Chef server's key, guest URL, TLS settings
// or converge command.
func (c *Client) UpdateChefServer(ctx context.Context, id ovm.ID, patch apitypes.ChefServerPatch) (apitypes.ChefServer, error) {
	return Call[apitypes.ChefServer](ctx, c, Request{Method: http.MethodPatch, Path: idPath("chef/servers", id), Body: patch})
}

// DeleteChefServer removes a Chef server no instance is enrolled in.
func (c *Client) DeleteChefServer(ctx context.Context, id ovm.ID) error {
	_, err := c.Do(ctx, Request{Method: http.MethodDelete, Path: idPath("chef/servers", id)}, nil)
	return err
}

// ChefCatalog reads a Chef server's cookbooks, roles and environments.
func (c *Client) ChefCatalog(ctx context.Context, id ovm.ID) (apitypes.ChefCatalog, error) {
	return get[apitypes.ChefCatalog](ctx, c, idPath("chef/servers", id)+"/catalog")
}

// EnrolInstance enrols an instance in a Chef server; the answer carries
// the task that does it.
func (c *Client) EnrolInstance(ctx context.Context, id ovm.ID, in apitypes.ChefEnrol) (apitypes.ChefNodeTask, error) {
	return post[apitypes.ChefNodeTask](ctx, c, idPath("instances", id)+"/chef", in, "")
}

// GetInstanceChef returns an instance's enrolment.
func (c *Client) GetInstanceChef(ctx context.Context, id ovm.ID) (apitypes.ChefNode, error) {
	return get[apitypes.ChefNode](ctx, c, idPath("instances", id)+"/chef")
}

// UnenrolInstance removes an instance's node and client from its Chef
// server, through a task.
func (c *Client) UnenrolInstance(ctx context.Context, id ovm.ID) (apitypes.ChefNodeTask, error) {
	return del[apitypes.ChefNodeTask](ctx, c, idPath("instances", id)+"/chef")
}

// ListChefRuns returns the converge runs of the caller's VDC.
func (c *Client) ListChefRuns(ctx context.Context, o ListOptions) ([]apitypes.ChefRun, error) {
	return All[apitypes.ChefRun](ctx, c, "/v1/chef/runs", o)
}

// GetChefRun returns a converge run with its per-instance results.
func (c *Client) GetChefRun(ctx context.Context, id ovm.ID) (apitypes.ChefRun, error) {
	return get[apitypes.ChefRun](ctx, c, idPath("chef/runs", id))
}

// CreateChefRun converges instances ("install X on Y", "update all").
func (c *Client) CreateChefRun(ctx context.Context, in apitypes.ChefRunCreate) (apitypes.ChefRunTask, error) {
	return post[apitypes.ChefRunTask](ctx, c, "/v1/chef/runs", in, in.IdempotencyKey)
}

// CancelChefRun asks a running converge run to stop.
func (c *Client) CancelChefRun(ctx context.Context, id ovm.ID) (apitypes.ChefRun, error) {
	return post[apitypes.ChefRun](ctx, c, idPath("chef/runs", id)+"/cancel", nil, "")
}

// RetryChefRun converges again the instances of a finished run that did
// not succeed.
func (c *Client) RetryChefRun(ctx context.Context, id ovm.ID, key string) (apitypes.ChefRunTask, error) {
	return post[apitypes.ChefRunTask](ctx, c, idPath("chef/runs", id)+"/retry", nil, key)
}
