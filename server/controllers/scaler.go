package controllers

import (
	"context"
	"errors"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
)

// LeaseScaler is the lease of the scaler.
const LeaseScaler = "controllers.scaler"

// ScalingPlatform is what the scaler needs of the platform; core.System
// implements it.
type ScalingPlatform interface {
	// ScalingGroupIDs lists every scaling group.
	ScalingGroupIDs(ctx context.Context) ([]ovm.ID, error)
	// ScaleGroup runs one decision of a group and carries it out.
	ScaleGroup(ctx context.Context, id ovm.ID, period time.Duration, guard core.Guard) error
}

var _ ScalingPlatform = (*core.System)(nil)

// runScaler is the scaler's loop: every ScalerInterval, one decision of
// each group. The period its rules count is the interval, at least the
// metrics interval, so that a period holds a sample.
func (c *Controllers) runScaler(ctx context.Context, lease Lease) error {
	guard := lease.Guard()
	period := max(c.o.ScalerInterval, c.o.MetricsInterval)
	return every(ctx, c.o.ScalerInterval, func(ctx context.Context) error {
		ids, err := c.scaling.ScalingGroupIDs(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("scaler: listing groups failed", "err", err)
			}
			return nil
		}
		for _, id := range ids {
			err := c.scaling.ScaleGroup(ctx, id, period, guard)
			switch {
			case errors.Is(err, ErrLeaseLost):
				return err
			case err != nil && ovm.KindOf(err) != ovm.KindNotFound && ctx.Err() == nil:
				c.log.Warn("scaler: group skipped", "group", id, "err", err)
			}
		}
		return nil
	})
}
