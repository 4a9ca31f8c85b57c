package app

import (
	"context"
	"log/slog"

	"github.com/openovm/ovm/server/drivers"
)

// registerEngines registers the real hypervisor drivers (Docker, KVM
// through libvirt, standalone ESXi).
func registerEngines(reg *drivers.Registry, log *slog.Logger) {
	drivers.RegisterEngines(reg, drivers.EngineOptions{Logger: log})
}

// startControllers starts the singleton loops.
func startControllers(ctx context.Context, s *Server) error { return nil }
