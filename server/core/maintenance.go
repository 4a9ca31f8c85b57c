package core

import (
	"context"
	"fmt"
	"strings"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// maintenanceReason is the reason of a host an administrator put into
// maintenance.
const maintenanceReason = "set by an administrator"

// SetMaintenance puts a host into maintenance or takes it out. Into
// maintenance, the host takes no new instances and is drained in the same
// transaction: each running instance on it gets an instance.migrate task
// to the host placement picks in its resource pool (a VM live where its
// host can, cold otherwise; a container recreated elsewhere when its
// volumes are on shared storage). While they move the host is "entering
// maintenance"; it is in maintenance once none is left. An instance that
// cannot move (no host fits, a container without shared volumes, another
// task on it, a migration that failed) keeps the host entering
// maintenance, with the reason in its state reason; asking again retries
// those. Stopped instances stay on the host. Out of maintenance, the host
// takes new instances again.
func (s *Service) SetMaintenance(ctx context.Context, p auth.Principal, id ovm.ID, on bool, ifVersion int64) (ovm.Host, int64, error) {
	if !p.Admin() || !id.Valid() {
		return ovm.Host{}, 0, ovm.NotFound(string(store.KindHost), id)
	}
	var caps hypervisor.Capabilities
	var capsErr error
	if on {
		h, err := viewAs[hostRecord](ctx, s, store.KindHost, id)
		if err != nil {
			return ovm.Host{}, 0, err
		}
		caps, capsErr = s.capabilities(ctx, h)
	}
	var out hostRecord
	var ver int64
	moved := false
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		moved = false
		r, err := getPlatform(ctx, tx, p, store.KindHost, id)
		if err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		h, err := decode[hostRecord](r)
		if err != nil {
			return err
		}
		switch {
		case !on && h.State.InMaintenance():
			h.State, h.StateReason = ovm.HostUp, ""
		case on:
			h.State, h.StateReason = ovm.HostEnteringMaintenance, "moving its instances away"
			if err := save(ctx, tx, &r, h); err != nil {
				return err
			}
			n, reasons, err := s.drain(ctx, tx, p, h, caps, capsErr)
			if err != nil {
				return err
			}
			moved = n > 0
			if r, err = tx.Get(ctx, store.KindHost, id); err != nil {
				return err
			}
			if h, err = decode[hostRecord](r); err != nil {
				return err
			}
			h.State, h.StateReason = drainState(n, reasons)
		}
		if err := save(ctx, tx, &r, h); err != nil {
			return err
		}
		out, ver = h, r.Version
		return nil
	})
	if err != nil {
		return ovm.Host{}, 0, err
	}
	if moved {
		s.tasks.Kick()
	}
	return out.Host, ver, nil
}

// drainState is the state of a host being drained with moving instances
// still on their way and reasons why others cannot move.
func drainState(moving int, reasons []string) (ovm.HostState, string) {
	if moving == 0 && len(reasons) == 0 {
		return ovm.HostMaintenance, maintenanceReason
	}
	var parts []string
	if moving > 0 {
		parts = append(parts, fmt.Sprintf("moving %d instances away", moving))
	}
	if len(reasons) > 0 {
		parts = append(parts, fmt.Sprintf("%d cannot move: %s", len(reasons), strings.Join(reasons, "; ")))
	}
	return ovm.HostEnteringMaintenance, strings.Join(parts, "; ")
}

// drain enqueues, in tx, the migration of every running instance of host
// h that is not moving already, and returns how many are moving (those
// already under way included) and why the others cannot.
func (s *Service) drain(ctx context.Context, tx store.Tx, p auth.Principal, h hostRecord, caps hypervisor.Capabilities, capsErr error) (int, []string, error) {
	rs, err := listAll(ctx, tx, store.Filter{Kind: store.KindInstance, AllVDCs: true, HostID: h.ID})
	if err != nil {
		return 0, nil, err
	}
	moving := 0
	var reasons []string
	var items []*moveItem
	for _, r := range rs {
		inst, err := decode[instanceRecord](r)
		if err != nil {
			return 0, nil, err
		}
		if m := inst.Migration; m != nil && m.From == h.ID && m.To != h.ID {
			moving++
			continue
		}
		if inst.Status.Phase != ovm.PhaseReady || inst.Status.Power != ovm.PowerRunning {
			continue // stopped (or not made yet): it stays
		}
		if err := busy(ctx, tx, inst); err != nil {
			if ovm.KindOf(err) != ovm.KindConflict {
				return 0, nil, err
			}
			reasons = append(reasons, err.Error())
			continue
		}
		if capsErr != nil {
			reasons = append(reasons, fmt.Sprintf("instance %s: %s", inst.Name, ovm.PublicMessage(capsErr)))
			continue
		}
		it := &moveItem{r: r, inst: inst}
		if err := s.prepareMove(ctx, tx, it, h, caps); err != nil {
			if !isRefusal(err) {
				return 0, nil, err
			}
			reasons = append(reasons, fmt.Sprintf("instance %s: %s", inst.Name, ovm.PublicMessage(err)))
			continue
		}
		items = append(items, it)
	}
	if err := s.placeMoves(ctx, tx, p, h, items); err != nil {
		return 0, nil, err
	}
	for _, it := range items {
		if it.err != nil {
			reasons = append(reasons, fmt.Sprintf("instance %s: %s", it.inst.Name, ovm.PublicMessage(it.err)))
			continue
		}
		if _, err := s.recordMove(ctx, tx, it, h); err != nil {
			if !isRefusal(err) {
				return 0, nil, err
			}
			reasons = append(reasons, fmt.Sprintf("instance %s: %s", it.inst.Name, ovm.PublicMessage(err)))
			continue
		}
		moving++
	}
	return moving, reasons, nil
}

// isRefusal reports whether err says why an instance cannot move (rather
// than a failure of the store).
func isRefusal(err error) bool {
	switch ovm.KindOf(err) {
	case ovm.KindInvalid, ovm.KindConflict, ovm.KindUnsupported, ovm.KindUnavailable, ovm.KindQuotaExceeded:
		return true
	}
	return false
}

// checkDrain looks again at a host entering maintenance once one of its
// migrations ended: with none left under way, it is in maintenance when
// no running instance is left on it, and otherwise stays entering
// maintenance, saying which instances could not move and why.
func (s *Service) checkDrain(ctx context.Context, hostID ovm.ID) error {
	return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		h, r, err := getAs[hostRecord](ctx, tx, store.KindHost, hostID)
		if err != nil {
			return ignore(err, ovm.KindNotFound)
		}
		if h.State != ovm.HostEnteringMaintenance {
			return nil
		}
		rs, err := listAll(ctx, tx, store.Filter{Kind: store.KindInstance, AllVDCs: true, HostID: hostID})
		if err != nil {
			return err
		}
		moving := 0
		var reasons []string
		for _, ir := range rs {
			inst, err := decode[instanceRecord](ir)
			if err != nil {
				return err
			}
			switch {
			case inst.Migration != nil && inst.Migration.From == hostID && inst.Migration.To != hostID:
				moving++
			case inst.Status.Phase == ovm.PhaseReady && inst.Status.Power == ovm.PowerRunning:
				reasons = append(reasons, fmt.Sprintf("instance %s: %s", inst.Name, inst.Status.Message))
			}
		}
		state, reason := drainState(moving, reasons)
		if moving > 0 && len(reasons) == 0 {
			return nil // still under way, nothing new to say
		}
		if h.State == state && h.StateReason == reason {
			return nil
		}
		h.State, h.StateReason = state, reason
		return save(ctx, tx, &r, h)
	})
}
