// Package controllerstest has test helpers for the controllers: a fencer
// of the in-memory fake hosts. It is imported by tests only.
package controllerstest

import (
	"context"
	"errors"
	"fmt"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/drivers"
)

// FakePowerFence powers off in-memory hosts of kind "fake", as an
// out-of-band controller would a real host: every instance on the host is
// forced off and the host stops answering; the fence is confirmed when the
// host's Ping then fails as unavailable. Other host kinds have no method.
type FakePowerFence struct {
	Hosts *drivers.FakeHosts
}

var _ controllers.Fencer = FakePowerFence{}

// Methods returns power-off for fake hosts.
func (f FakePowerFence) Methods(host ovm.Host) []ha.FenceMethod {
	if host.Kind != ovm.HostFake || f.Hosts == nil {
		return nil
	}
	return []ha.FenceMethod{ha.FencePowerOff}
}

// Fence powers a fake host off and reads its state back.
func (f FakePowerFence) Fence(ctx context.Context, host ovm.Host, m ha.FenceMethod) error {
	if m != ha.FencePowerOff || host.Kind != ovm.HostFake || f.Hosts == nil {
		return ovm.Errorf(ovm.KindUnsupported, "fence %s is not available for host %s", m, host.Name)
	}
	fh, err := f.Hosts.Host(host.Endpoint)
	if err != nil {
		return err
	}
	hv := fh.Hypervisor
	// Power off: the host's instances stop with it, and it answers no more.
	hv.SetUnreachable(false)
	insts, err := hv.List(ctx)
	if err == nil {
		for _, i := range insts {
			if i.Power == ovm.PowerRunning || i.Power == ovm.PowerPaused {
				if serr := hv.Stop(ctx, hypervisor.ByNative(i.NativeID), hypervisor.StopOptions{Force: true}); serr != nil {
					err = errors.Join(err, serr)
				}
			}
		}
	}
	hv.SetUnreachable(true)
	if err != nil {
		return fmt.Errorf("power off fake host %s: %w", host.Name, err)
	}
	// Read back: a powered-off host does not answer.
	switch perr := hv.Ping(ctx); {
	case perr == nil:
		return ovm.Errorf(ovm.KindConflict, "fake host %s still answers after power-off", host.Name)
	case !errors.Is(perr, ovm.ErrUnavailable):
		return fmt.Errorf("read back the power of fake host %s: %w", host.Name, perr)
	}
	return nil
}
