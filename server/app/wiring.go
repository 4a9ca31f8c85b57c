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
// Fake hosts are fenced by powering them off; real hosts have no fencing
// method yet, so the instances of a failed real host are marked unknown
// with an alert instead of being restarted elsewhere.
func startControllers(ctx context.Context, s *Server) error {
	o := controllers.Options{
		Platform: core.NewSystem(s.svc), Store: s.st, Replica: s.cfg.Replica + "-" + string(ovm.NewID().Short()),
		SyncInterval: s.cfg.SyncInterval, MonitorInterval: s.cfg.MonitorInterval, MetricsInterval: s.cfg.MetricsInterval,
		Logger: s.log.With("component", "controllers"),
	}
	if s.fakes != nil {
		o.Fencer = controllers.FakePowerFence{Hosts: s.fakes}
	}
	c, err := controllers.New(o)
	if err != nil {
		return err
	}
	s.wg.Go(func() { s.fail("controllers", c.Run(ctx)) })
	return nil
}
