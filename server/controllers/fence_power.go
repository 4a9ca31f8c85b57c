package controllers

import (
	"context"
	"time"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/fence/ipmi"
)

// BMCs opens the BMCs of hosts (core.System.HostBMC).
type BMCs interface {
	// HostBMC returns a host's BMC with its password opened; a host without
	// one is ovm.ErrNotFound. timeout bounds each exchange (0: default).
	HostBMC(ctx context.Context, id ovm.ID, timeout time.Duration) (*ipmi.BMC, error)
}

// PowerFence fences a host that has a BMC (ovm.Host.BMC) by cutting its
// power through it (IPMI 2.0 lanplus) and reading the power back until it
// is off; a fence that cannot read it off is not confirmed. Hosts without
// a BMC are left to Next, when set.
type PowerFence struct {
	BMCs BMCs
	// Confirm bounds the wait for the power to read back off (default
	// 10s); the monitor's FenceTimeout bounds the whole fence.
	Confirm time.Duration
	// Next fences the hosts without a BMC (nil: none).
	Next Fencer
}

var _ Fencer = PowerFence{}

// Methods returns power-off for a host with a BMC, otherwise Next's
// methods.
func (f PowerFence) Methods(host ovm.Host) []ha.FenceMethod {
	if host.BMC != nil && f.BMCs != nil {
		return []ha.FenceMethod{ha.FencePowerOff}
	}
	if f.Next != nil {
		return f.Next.Methods(host)
	}
	return nil
}

// Fence powers a host off through its BMC and confirms it off; a host
// without a BMC goes to Next.
func (f PowerFence) Fence(ctx context.Context, host ovm.Host, m ha.FenceMethod) error {
	if host.BMC == nil || f.BMCs == nil {
		if f.Next != nil {
			return f.Next.Fence(ctx, host, m)
		}
		return ovm.Errorf(ovm.KindUnsupported, "host %s has no BMC to fence it", host.Name)
	}
	if m != ha.FencePowerOff {
		return ovm.Errorf(ovm.KindUnsupported, "fence %s is not available for host %s (it has a BMC: power-off)", m, host.Name)
	}
	bmc, err := f.BMCs.HostBMC(ctx, host.ID, 0)
	if err != nil {
		return err
	}
	confirm := f.Confirm
	if confirm <= 0 {
		confirm = 10 * time.Second
	}
	return bmc.Fence(ctx, confirm)
}
