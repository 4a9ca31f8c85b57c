package client

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// ListStoragePools returns every storage pool (administrators).
func (c *Client) ListStoragePools(ctx context.Context, o ListOptions) ([]apitypes.StoragePoolInfo, error) {
	return All[apitypes.StoragePoolInfo](ctx, c, "/v1/storage-pools", o)
}

// GetStoragePool returns a storage pool.
func (c *Client) GetStoragePool(ctx context.Context, id ovm.ID) (apitypes.StoragePoolInfo, error) {
	return get[apitypes.StoragePoolInfo](ctx, c, idPath("storage-pools", id))
}

// RegisterStoragePool records a storage pool on hosts and returns it with
// the task that makes it there.
func (c *Client) RegisterStoragePool(ctx context.Context, in apitypes.StoragePoolCreate) (apitypes.StoragePoolTask, error) {
	return post[apitypes.StoragePoolTask](ctx, c, "/v1/storage-pools", in, in.IdempotencyKey)
}

// UpdateStoragePool changes a storage pool; the task is set when hosts
// were added.
func (c *Client) UpdateStoragePool(ctx context.Context, id ovm.ID, in apitypes.StoragePoolPatch) (apitypes.StoragePoolTask, error) {
	return Call[apitypes.StoragePoolTask](ctx, c, Request{Method: http.MethodPatch, Path: idPath("storage-pools", id), Body: in})
}

// DeleteStoragePool deletes a storage pool that holds nothing OVM made;
// the task is set when the pool is removed from its hosts.
func (c *Client) DeleteStoragePool(ctx context.Context, id ovm.ID) (apitypes.StoragePoolTask, error) {
	return del[apitypes.StoragePoolTask](ctx, c, idPath("storage-pools", id))
}

// AttachVolume attaches a volume to a VM.
func (c *Client) AttachVolume(ctx context.Context, id, instanceID ovm.ID) (apitypes.VolumeTask, error) {
	return post[apitypes.VolumeTask](ctx, c, idPath("volumes", id)+"/attach", apitypes.VolumeAttach{InstanceID: instanceID}, "")
}

// DetachVolume detaches a volume from its VM.
func (c *Client) DetachVolume(ctx context.Context, id ovm.ID) (apitypes.VolumeTask, error) {
	return post[apitypes.VolumeTask](ctx, c, idPath("volumes", id)+"/detach", nil, "")
}
