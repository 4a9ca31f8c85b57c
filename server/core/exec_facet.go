package core

import (
	"context"
	"time"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// execFacet returns the exec facet of an instance's driver, the one way
// every caller (the exec route, Chef enrolment and converges) finds it: a
// driver that implements hypervisor.Executor and says Capabilities().Exec
// (docker exec, the QEMU guest agent, VMware Tools guest operations), with
// each call reported like the driver's other calls. Any other is
// ovm.ErrUnsupported naming the instance and the host kind.
func (s *Service) execFacet(hv hypervisor.Driver, instance string) (hypervisor.Executor, error) {
	d := hv
	if o, ok := d.(observed); ok {
		d = o.Driver
	}
	ex, ok := d.(hypervisor.Executor)
	if !ok || !d.Capabilities().Exec {
		return nil, ovm.Errorf(ovm.KindUnsupported, "cannot exec in instance %s: the host kind cannot exec (its %s host runs no commands inside instances)", instance, d.Kind())
	}
	return observedExec{ex: ex, kind: d.Kind(), s: s}, nil
}

// observedExec reports each Exec to the service's driver-call observer.
type observedExec struct {
	ex   hypervisor.Executor
	kind ovm.HostKind
	s    *Service
}

// Exec calls the driver and reports the call.
func (o observedExec) Exec(ctx context.Context, r hypervisor.Ref, spec hypervisor.ExecSpec) (hypervisor.ExecResult, error) {
	start := time.Now()
	res, err := o.ex.Exec(ctx, r, spec)
	o.s.observe(o.kind, "Exec", err, start)
	return res, err
}
