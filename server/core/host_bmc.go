package core

import (
	"context"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/fence/ipmi"
	"github.com/openovm/ovm/server/store"
)

// HostBMCSet is the input of a host's BMC settings.
type HostBMCSet = apitypes.HostBMCSet

// bmcAAD binds a sealed BMC password to its host (and apart from the
// host's own credentials, sealed with the bare id).
func bmcAAD(id ovm.ID) []byte { return []byte(string(id) + "/bmc") }

// SetHostBMC sets a host's BMC after checking it: the BMC must answer a
// power status with these settings. A BMC that does not answer is
// ovm.ErrUnavailable, refused credentials are invalid naming the field,
// both with the BMC's own words. The password is sealed and never returned.
func (s *Service) SetHostBMC(ctx context.Context, p auth.Principal, id ovm.ID, in HostBMCSet, ifVersion int64) (ovm.Host, int64, error) {
	// The host must exist for p (tenants see none), and the version match,
	// before the settings are checked and the BMC is asked.
	h, ver, err := s.GetHost(ctx, p, id)
	if err != nil {
		return ovm.Host{}, 0, err
	}
	cfg := ipmi.Config{Address: in.Address, Port: in.Port, Username: in.Username, Password: in.Password}
	bmc, err := ipmi.New(cfg)
	if err != nil {
		return ovm.Host{}, 0, err
	}
	if err := checkVersion(store.Record{Version: ver}, ifVersion); err != nil {
		return ovm.Host{}, 0, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.o.DriverTimeout)
	defer cancel()
	on, err := bmc.Power(cctx)
	if err != nil {
		if ovm.KindOf(err) == ovm.KindInvalid {
			return ovm.Host{}, 0, err // names the field
		}
		return ovm.Host{}, 0, ovm.Wrap(ovm.KindOf(err), err, "the BMC of host %s did not answer", h.Name)
	}
	sealed, err := s.box.Seal([]byte(in.Password), bmcAAD(id))
	if err != nil {
		return ovm.Host{}, 0, err
	}
	if cfg.Port == 0 {
		cfg.Port = ipmi.DefaultPort
	}
	power := ovm.ChassisOff
	if on {
		power = ovm.ChassisOn
	}
	info := &ovm.HostBMC{Address: cfg.Address, Port: cfg.Port, Username: cfg.Username, Power: power, CheckedAt: s.now()}
	rec, ver, err := updatePlatform(ctx, s, p, store.KindHost, id, ifVersion, func(h *hostRecord) error {
		h.BMC, h.BMCSealed = info, sealed
		return nil
	})
	return rec.Host, ver, err
}

// DeleteHostBMC removes a host's BMC: the host can no longer be fenced by
// power.
func (s *Service) DeleteHostBMC(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) error {
	_, _, err := updatePlatform(ctx, s, p, store.KindHost, id, ifVersion, func(h *hostRecord) error {
		if h.BMC == nil {
			return ovm.NotFound("BMC of host", h.Name)
		}
		h.BMC, h.BMCSealed = nil, nil
		return nil
	})
	return err
}

// PowerOnHost powers a host's machine on through its BMC (a host that was
// fenced, when an administrator brings it back) and waits until the BMC
// reads the power on. A host without a BMC is a conflict.
func (s *Service) PowerOnHost(ctx context.Context, p auth.Principal, id ovm.ID) (ovm.Host, int64, error) {
	h, _, err := s.GetHost(ctx, p, id)
	if err != nil {
		return ovm.Host{}, 0, err
	}
	if h.BMC == nil {
		return ovm.Host{}, 0, conflictf("host %s has no BMC: set one first", h.Name)
	}
	bmc, err := s.openBMC(ctx, id, 0)
	if err != nil {
		return ovm.Host{}, 0, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.o.DriverTimeout)
	defer cancel()
	if err := bmc.PowerOn(cctx); err != nil {
		return ovm.Host{}, 0, err
	}
	if err := bmc.WaitPower(cctx, true, s.o.DriverTimeout); err != nil {
		return ovm.Host{}, 0, err
	}
	now := s.now()
	rec, ver, err := updatePlatform(ctx, s, p, store.KindHost, id, 0, func(h *hostRecord) error {
		if h.BMC != nil {
			h.BMC.Power, h.BMC.CheckedAt = ovm.ChassisOn, now
		}
		return nil
	})
	return rec.Host, ver, err
}

// HostBMC returns how to reach a host's BMC, with its password opened, for
// the fencer; a host without one is ovm.ErrNotFound. timeout bounds each
// exchange with the BMC (0: the package's default).
func (y *System) HostBMC(ctx context.Context, id ovm.ID, timeout time.Duration) (*ipmi.BMC, error) {
	return y.s.openBMC(ctx, id, timeout)
}

// openBMC reads a host's BMC settings and opens its password.
func (s *Service) openBMC(ctx context.Context, id ovm.ID, timeout time.Duration) (*ipmi.BMC, error) {
	var rec hostRecord
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := tx.Get(ctx, store.KindHost, id)
		if err != nil {
			return err
		}
		rec, err = decode[hostRecord](r)
		return err
	})
	if err != nil {
		return nil, err
	}
	if rec.BMC == nil {
		return nil, ovm.NotFound("BMC of host", rec.Name)
	}
	pw, err := s.box.Open(rec.BMCSealed, bmcAAD(id))
	if err != nil {
		return nil, ovm.Internal(err, "core: BMC password of host %s", rec.Name)
	}
	return ipmi.New(ipmi.Config{Address: rec.BMC.Address, Port: rec.BMC.Port, Username: rec.BMC.Username,
		Password: string(pw), Timeout: timeout})
}
