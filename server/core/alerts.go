package core

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// Alert is an HA alert as stored for administrators: what the host monitor
// raised (ha.Alert), how often, and whether it is resolved. An alert is
// open until its host is up again (partition alerts: until the partition
// clears) or an administrator acknowledges it. The same open alert (same
// kind and host, or kind and group for a partition) raised again counts
// up instead of making a new one.
type Alert = apitypes.Alert

// resolvedByMonitor is the ResolvedBy of the alerts the monitor resolves.
const resolvedByMonitor = "host-monitor"

// hostAlertKinds are the kinds of alert about one host: all resolved when
// it is up again.
var hostAlertKinds = []ha.AlertKind{ha.AlertFenceUnconfirmed, ha.AlertInstancesLost, ha.AlertNotRestarted, ha.AlertStaleCopies}

// openName is the record name of an open alert: one per kind and host (or
// kind and group), so that the unique record names keep one open alert of
// each. A resolved alert is renamed to its id.
func openName(kind ha.AlertKind, host ovm.ID, scope ovm.ScopeKind, group ovm.ID) string {
	if !host.IsZero() {
		return fmt.Sprintf("open:%s:%s", kind, host)
	}
	return fmt.Sprintf("open:%s:%s:%s", kind, scope, group)
}

// checkRaised validates an alert the monitor raises.
func checkRaised(a ha.Alert) error {
	var f ovm.Fields
	switch a.Kind {
	case ha.AlertPartition, ha.AlertPartitionCleared:
		if a.Group.IsZero() {
			f.Add("group", "is required for a "+string(a.Kind)+" alert")
		} else if !a.Group.Valid() {
			f.Add("group", "must be a lower-case UUID")
		}
	case ha.AlertFenceUnconfirmed, ha.AlertInstancesLost, ha.AlertNotRestarted, ha.AlertStaleCopies:
		if a.Host.IsZero() {
			f.Add("host", "is required for a "+string(a.Kind)+" alert")
		} else if !a.Host.Valid() {
			f.Add("host", "must be a lower-case UUID")
		}
	default:
		f.Addf("kind", "%q is not an alert kind", a.Kind)
	}
	return f.Err("invalid alert")
}

// RaiseAlert records an alert of the host monitor, in a transaction that
// first runs guard (the monitor's lease), and returns the stored alert.
// The same alert still open (same kind and host, or kind and group) gets
// its count, message and instances updated instead of a new record. A
// partition-cleared alert is not stored: it resolves the open partition
// alert of its group (the zero Alert when there is none).
func (y *System) RaiseAlert(ctx context.Context, a ha.Alert, guard Guard) (Alert, error) {
	s := y.s
	if err := checkRaised(a); err != nil {
		return Alert{}, err
	}
	at := a.At
	if at.IsZero() {
		at = s.now()
	}
	at = at.UTC()
	var out Alert
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		out = Alert{}
		if err := guard.check(ctx, tx); err != nil {
			return err
		}
		if a.Kind == ha.AlertPartitionCleared {
			r, err := tx.GetByName(ctx, store.KindAlert, "", openName(ha.AlertPartition, "", a.Scope, a.Group))
			switch {
			case ovm.KindOf(err) == ovm.KindNotFound:
				return nil
			case err != nil:
				return err
			}
			out, err = resolve(ctx, tx, &r, at, resolvedByMonitor)
			return err
		}
		name := openName(a.Kind, a.Host, a.Scope, a.Group)
		r, err := tx.GetByName(ctx, store.KindAlert, "", name)
		switch {
		case err == nil:
			if out, err = decode[Alert](r); err != nil {
				return err
			}
			out.Count++
			out.Message, out.InstanceIDs, out.HostIDs = a.Message, slices.Clone(a.Instances), slices.Clone(a.Hosts)
			if at.After(out.LastRaisedAt) {
				out.LastRaisedAt = at
			}
			return save(ctx, tx, &r, out)
		case ovm.KindOf(err) != ovm.KindNotFound:
			return err
		}
		out = Alert{ID: ovm.NewID(), Kind: a.Kind, HostID: a.Host, Scope: a.Scope, GroupID: a.Group, HostIDs: slices.Clone(a.Hosts),
			InstanceIDs: slices.Clone(a.Instances), Message: a.Message, RaisedAt: at, LastRaisedAt: at, Count: 1}
		rec := store.Record{Kind: store.KindAlert, ID: out.ID, ParentID: a.Group, HostID: a.Host, Name: name}
		if err := setData(&rec, out); err != nil {
			return err
		}
		return tx.Insert(ctx, &rec)
	})
	return out, err
}

// ResolveAlerts resolves the open alerts about a host that is up again, in
// a transaction that first runs guard (the monitor's lease), and returns
// them.
func (y *System) ResolveAlerts(ctx context.Context, hostID ovm.ID, guard Guard) ([]Alert, error) {
	s := y.s
	if !hostID.Valid() {
		return nil, invalid("invalid host", "hostId", "must be a lower-case UUID")
	}
	var out []Alert
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		out = nil
		if err := guard.check(ctx, tx); err != nil {
			return err
		}
		now := s.now().UTC()
		for _, kind := range hostAlertKinds {
			r, err := tx.GetByName(ctx, store.KindAlert, "", openName(kind, hostID, "", ""))
			switch {
			case ovm.KindOf(err) == ovm.KindNotFound:
				continue
			case err != nil:
				return err
			}
			a, err := resolve(ctx, tx, &r, now, resolvedByMonitor)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

// resolve marks an open alert's record resolved at by who, and renames it
// to its id so that the same alert raised again is a new one.
func resolve(ctx context.Context, tx store.Tx, r *store.Record, at time.Time, who string) (Alert, error) {
	a, err := decode[Alert](*r)
	if err != nil {
		return Alert{}, err
	}
	if !a.Open() {
		return a, nil
	}
	a.ResolvedAt, a.ResolvedBy = &at, who
	r.Name = string(r.ID)
	return a, save(ctx, tx, r, a)
}

// ListAlerts lists the HA alerts, open and resolved, in id order
// (administrators only).
func (s *Service) ListAlerts(ctx context.Context, p auth.Principal, o ListOptions) (Page[Alert], error) {
	return listPlatform[Alert](ctx, s, p, store.Filter{Kind: store.KindAlert}, o, "listing alerts")
}

// GetAlert returns an alert and its version (administrators; anyone else
// gets ovm.ErrNotFound).
func (s *Service) GetAlert(ctx context.Context, p auth.Principal, id ovm.ID) (Alert, int64, error) {
	return getPlatformAs[Alert](ctx, s, p, store.KindAlert, id)
}

// AckAlert acknowledges an alert: an administrator marks it resolved (an
// alert already resolved is returned unchanged). Anyone else gets
// ovm.ErrNotFound.
func (s *Service) AckAlert(ctx context.Context, p auth.Principal, id ovm.ID) (Alert, int64, error) {
	var out Alert
	var ver int64
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getPlatform(ctx, tx, p, store.KindAlert, id)
		if err != nil {
			return err
		}
		who := p.Name
		if who == "" {
			who = string(p.UserID)
		}
		out, err = resolve(ctx, tx, &r, s.now().UTC(), who)
		ver = r.Version
		return err
	})
	return out, ver, err
}
