package controllers

import (
	"context"
	"errors"

	"github.com/openovm/ovm/server/core"
)

// runSync is the inventory sync loop: every SyncInterval it syncs every
// host. A host that does not answer is logged and skipped; the round goes
// on with the next one.
func (c *Controllers) runSync(ctx context.Context, lease Lease) error {
	guard := lease.Guard()
	return every(ctx, c.o.SyncInterval, func(ctx context.Context) error {
		hosts, err := c.o.Platform.ListHosts(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("inventory sync: listing hosts failed", "err", err)
			}
			return nil
		}
		for _, h := range hosts {
			if ctx.Err() != nil {
				return nil
			}
			rep, err := c.o.Platform.SyncHost(ctx, h.ID, guard)
			switch {
			case errors.Is(err, ErrLeaseLost):
				return err
			case err != nil:
				if ctx.Err() == nil {
					c.log.Warn("inventory sync: host skipped", "host", h.Name, "hostId", h.ID, "err", err)
				}
				continue
			}
			c.report(h.Name, rep)
		}
		return nil
	})
}

// report logs what a host's sync found.
func (c *Controllers) report(name string, rep core.SyncReport) {
	if rep.Added > 0 {
		c.log.Info("inventory sync: unmanaged objects discovered", "host", name, "new", rep.Added, "discovered", len(rep.Discovered))
	}
	for _, m := range rep.Missing {
		c.log.Warn("inventory sync: managed instance gone from its host, marked lost",
			"host", name, "instance", m.ID, "name", m.Name, "nativeId", m.NativeID)
	}
	for _, p := range rep.Powered {
		c.log.Info("inventory sync: power of a managed instance changed outside OVM, recorded",
			"host", name, "instance", p.ID, "name", p.Name, "from", p.From, "to", p.To)
	}
	for _, o := range rep.Orphans {
		c.log.Warn("inventory sync: orphan on host: its OVM id is not in the store",
			"host", name, "ovmId", o.OVMID, "name", o.Name, "nativeId", o.NativeID, "power", o.Power)
	}
}
