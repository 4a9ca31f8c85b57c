package app

import (
	"context"
	"log/slog"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// registerEngines registers the real hypervisor drivers (Docker, KVM
// through libvirt, standalone ESXi).
func registerEngines(reg *drivers.Registry, log *slog.Logger) {
	drivers.RegisterEngines(reg, drivers.EngineOptions{Logger: log})
}

// startControllers starts the singleton loops (inventory sync, host monitor
// and HA) under their leases in the store: with several replicas on one
// database, one replica runs each loop and another takes over when it dies.
// A failed host with a BMC is fenced by cutting its power through it
// (IPMI) and reading the power back off; other hosts by the fencer of
// Options.Fencer, when given (tests: fake hosts). A host without a fencing method cannot be confirmed down, so the
// instances of such a failed host are marked unknown with an alert instead
// of being restarted elsewhere.
func startControllers(ctx context.Context, s *Server) error {
	sys := core.NewSystem(s.svc)
	o := controllers.Options{
		Platform: sys, Store: s.st, Replica: s.cfg.Replica + "-" + string(ovm.NewID().Short()),
		SyncInterval: s.cfg.SyncInterval, MonitorInterval: s.cfg.MonitorInterval, MetricsInterval: s.cfg.MetricsInterval,
		Logger: s.log.With("component", "controllers"),
	}
	fence := controllers.PowerFence{BMCs: sys}
	if s.fencer != nil {
		fence.Next = s.fencer(s.fakes)
	}
	o.Fencer = fence
	c, err := controllers.New(o)
	if err != nil {
		return err
	}
	s.wg.Go(func() { s.fail("controllers", c.Run(ctx)) })
	return nil
}
