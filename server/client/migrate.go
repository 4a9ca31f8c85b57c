package client

import (
	"context"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// MigrateInstance moves an instance in a task: to the host placement picks
// (or the one in.HostID names, administrators only), live, shared-nothing,
// cold, or its disks to another storage pool.
func (c *Client) MigrateInstance(ctx context.Context, id ovm.ID, in apitypes.InstanceMigrate) (apitypes.InstanceTask, error) {
	return post[apitypes.InstanceTask](ctx, c, idPath("instances", id)+"/migrate", in, "")
}

// CancelMigration stops an instance's migration under way; the instance
// keeps running where it was. It returns the migration's task.
func (c *Client) CancelMigration(ctx context.Context, id ovm.ID) (apitypes.InstanceTask, error) {
	return post[apitypes.InstanceTask](ctx, c, idPath("instances", id)+"/migrate/cancel", nil, "")
}
