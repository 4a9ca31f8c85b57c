package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// SnapshotOf names what snapshots are of: an instance or a volume (one of
// the two ids; neither lists every snapshot of the VDC).
type SnapshotOf struct {
	InstanceID ovm.ID
	VolumeID   ovm.ID
}

// path is the collection of the snapshots of o.
func (o SnapshotOf) path() string {
	switch {
	case o.VolumeID != "":
		return idPath("volumes", o.VolumeID) + "/snapshots"
	case o.InstanceID != "":
		return idPath("instances", o.InstanceID) + "/snapshots"
	}
	return "/v1/snapshots"
}

// snapshotPath is the path of one snapshot of o.
func (o SnapshotOf) snapshotPath(id ovm.ID) string {
	return o.path() + "/" + url.PathEscape(string(id))
}

// ListSnapshots returns every snapshot of an instance or a volume, or with
// of zero every snapshot of the VDC (of o.VDCID when set).
func (c *Client) ListSnapshots(ctx context.Context, of SnapshotOf, o ListOptions) ([]apitypes.SnapshotInfo, error) {
	return All[apitypes.SnapshotInfo](ctx, c, of.path(), o)
}

// GetSnapshot returns a snapshot of an instance or a volume.
func (c *Client) GetSnapshot(ctx context.Context, of SnapshotOf, id ovm.ID) (apitypes.SnapshotInfo, error) {
	return get[apitypes.SnapshotInfo](ctx, c, of.snapshotPath(id))
}

// CreateSnapshot records a snapshot of an instance or a volume and returns
// it with the task that takes it.
func (c *Client) CreateSnapshot(ctx context.Context, of SnapshotOf, in apitypes.SnapshotCreate) (apitypes.SnapshotTask, error) {
	return post[apitypes.SnapshotTask](ctx, c, of.path(), in, in.IdempotencyKey)
}

// RevertSnapshot puts an instance or a volume back to a snapshot and
// returns the snapshot with the task that reverts.
func (c *Client) RevertSnapshot(ctx context.Context, of SnapshotOf, id ovm.ID) (apitypes.SnapshotTask, error) {
	return Call[apitypes.SnapshotTask](ctx, c, Request{Method: http.MethodPost, Path: of.snapshotPath(id) + "/revert"})
}

// DeleteSnapshot deletes a snapshot and returns it with the task that
// deletes it.
func (c *Client) DeleteSnapshot(ctx context.Context, of SnapshotOf, id ovm.ID) (apitypes.SnapshotTask, error) {
	return del[apitypes.SnapshotTask](ctx, c, of.snapshotPath(id))
}
