package client

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// ListScalingGroups returns every scaling group the caller sees.
func (c *Client) ListScalingGroups(ctx context.Context, o ListOptions) ([]apitypes.ScalingGroup, error) {
	return All[apitypes.ScalingGroup](ctx, c, "/v1/scaling-groups", o)
}

// CreateScalingGroup makes a scaling group at its minimum size.
func (c *Client) CreateScalingGroup(ctx context.Context, in apitypes.ScalingGroupCreate) (apitypes.ScalingGroup, error) {
	return post[apitypes.ScalingGroup](ctx, c, "/v1/scaling-groups", in, in.IdempotencyKey)
}

// GetScalingGroup returns a scaling group.
func (c *Client) GetScalingGroup(ctx context.Context, id ovm.ID) (apitypes.ScalingGroup, error) {
	return get[apitypes.ScalingGroup](ctx, c, idPath("scaling-groups", id))
}

// UpdateScalingGroup changes a scaling group's bounds, desired count or
// rules.
func (c *Client) UpdateScalingGroup(ctx context.Context, id ovm.ID, in apitypes.ScalingGroupPatch) (apitypes.ScalingGroup, error) {
	return Call[apitypes.ScalingGroup](ctx, c, Request{Method: http.MethodPatch, Path: idPath("scaling-groups", id), Body: in})
}

// DeleteScalingGroup deletes a scaling group and its members.
func (c *Client) DeleteScalingGroup(ctx context.Context, id ovm.ID) error {
	_, err := c.Do(ctx, Request{Method: http.MethodDelete, Path: idPath("scaling-groups", id)}, nil)
	return err
}

// ScalingDecisions returns a scaling group's decisions, newest first.
func (c *Client) ScalingDecisions(ctx context.Context, id ovm.ID) ([]apitypes.ScalingEvent, error) {
	return get[[]apitypes.ScalingEvent](ctx, c, idPath("scaling-groups", id)+"/decisions")
}
