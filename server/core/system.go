package core

import (
	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// System is the platform's operations that the server runs on its own
// behalf, not a principal's: the first administrator, and what the
// controllers need (host list and probe, host state, inventory sync,
// evacuation, reconciliation of a returned host, alerts). It shares the
// Service's store, task engine, drivers and caches; the tenant-facing
// Service has none of these operations, and every one of its operations
// takes a principal.
type System struct{ s *Service }

// NewSystem returns the system operations over the store, tasks, drivers
// and caches of s.
func NewSystem(s *Service) *System { return &System{s: s} }

// Store returns the store (the controllers' leases live there; readiness
// checks ping it).
func (y *System) Store() store.Store { return y.s.st }

// Tasks returns the task engine.
func (y *System) Tasks() *tasks.Engine { return y.s.tasks }

// Planner plans the evacuation of a failed host; the controllers pass
// ha.PlanEvacuation.
type Planner func(ha.Evacuation) (ha.Plan, error)

// Reconciler compares what a returned host runs with the records; the
// controllers pass ha.Reconcile.
type Reconciler func(ha.Return) (ha.Reconciliation, error)
