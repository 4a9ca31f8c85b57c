package client

import (
	"context"

	"github.com/openovm/ovm/server/apitypes"
)

// ConvertImage starts a conversion between a container image and a VM
// template; follow the returned task (WatchTask), whose Result is an
// apitypes.ConversionResult once it succeeded.
func (c *Client) ConvertImage(ctx context.Context, in apitypes.ImageConversion) (apitypes.ConversionTask, error) {
	return post[apitypes.ConversionTask](ctx, c, "/v1/image-conversions", in, in.IdempotencyKey)
}
