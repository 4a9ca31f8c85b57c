package core

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// Guard re-checks, inside the transaction of a controller's write, that the
// controller may still write: a leader-only loop passes a guard that checks
// its lease epoch (store.Tx.CheckLease), so that a paused old leader writes
// nothing once another replica took the lease over. A nil Guard checks
// nothing.
type Guard func(ctx context.Context, tx store.Tx) error

// check runs the guard, if any.
func (g Guard) check(ctx context.Context, tx store.Tx) error {
	if g == nil {
		return nil
	}
	return g(ctx, tx)
}

// SyncReport is what one inventory sync of a host found.
type SyncReport struct {
	HostID ovm.ID
	// Discovered are the host's unmanaged objects, recorded as discovered
	// (those found before are kept, those gone are dropped); Added counts
	// the ones recorded by this sync.
	Discovered []Discovered
	Added      int
	// Missing are managed instances recorded on the host whose object is
	// gone from it (removed behind OVM's back): they are now phase lost.
	Missing []MissingInstance
	// Powered are managed instances whose power on the host is not the
	// recorded one (started, stopped or paused outside OVM): their records
	// now have the host's.
	Powered []PowerChange
	// Orphans are objects on the host that carry an OVM id the store has no
	// instance for (deleted while the host was away, or a crash between a
	// create on the host and its record). Nothing is changed on the host.
	Orphans []Orphan
}

// MissingInstance is a managed instance whose object is gone from its host.
type MissingInstance struct {
	ID       ovm.ID `json:"id"`
	Name     string `json:"name"`
	VDCID    ovm.ID `json:"vdcId"`
	NativeID string `json:"nativeId"`
}

// PowerChange is a managed instance whose power changed outside OVM.
type PowerChange struct {
	ID    ovm.ID         `json:"id"`
	Name  string         `json:"name"`
	VDCID ovm.ID         `json:"vdcId"`
	From  ovm.PowerState `json:"from"`
	To    ovm.PowerState `json:"to"`
}

// Orphan is an object on a host with an OVM id the store does not know.
type Orphan struct {
	HostID   ovm.ID         `json:"hostId"`
	OVMID    ovm.ID         `json:"ovmId"`
	NativeID string         `json:"nativeId"`
	Name     string         `json:"name"`
	Power    ovm.PowerState `json:"power"`
}

// SyncHost is inventory sync for the controllers: it lists a host's
// objects and, in one transaction that first runs guard, records the
// unmanaged ones as discovered, marks lost the managed instances whose
// object is gone from the host, records the power of those whose power
// changed outside OVM, and reports the objects with an OVM id the store
// does not know (syncRecords, as Service.SyncHost does). A host that does not answer is
// ovm.ErrUnavailable with the driver's text, and nothing is written.
func (y *System) SyncHost(ctx context.Context, hostID ovm.ID, guard Guard) (SyncReport, error) {
	s := y.s
	var h hostRecord
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		h, _, err = getAs[hostRecord](ctx, tx, store.KindHost, hostID)
		return err
	})
	if err != nil {
		return SyncReport{}, err
	}
	listedAt := s.now()
	found, err := s.listHost(ctx, h)
	if err != nil {
		return SyncReport{}, err
	}
	var rep SyncReport
	err = s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := guard.check(ctx, tx); err != nil {
			return err
		}
		var err error
		rep, err = s.syncRecords(ctx, tx, h.Host, found, listedAt)
		return err
	})
	if err == nil {
		err = s.syncStoragePools(ctx, h, guard)
	}
	return rep, err
}

// syncRecords brings the records of a host in line with found, what the
// host listed at listedAt: its unmanaged objects are recorded as
// discovered, the settled instances whose object is gone are marked lost,
// and the settled instances whose power on the host is not the recorded
// one get the host's; it reports the objects with an OVM id the store does
// not know.
func (s *Service) syncRecords(ctx context.Context, tx store.Tx, h ovm.Host, found []hypervisor.Instance, listedAt time.Time) (SyncReport, error) {
	rep := SyncReport{HostID: h.ID}
	var err error
	if rep.Discovered, rep.Added, err = s.recordDiscovered(ctx, tx, h.ID, found); err != nil {
		return rep, err
	}
	if rep.Missing, rep.Powered, err = s.markMissing(ctx, tx, h, found, listedAt); err != nil {
		return rep, err
	}
	rep.Orphans, err = orphans(ctx, tx, h.ID, found)
	return rep, err
}

// listHost lists a host's objects through its driver, within the service's
// driver timeout.
func (s *Service) listHost(ctx context.Context, h hostRecord) ([]hypervisor.Instance, error) {
	cctx, cancel := context.WithTimeout(ctx, s.o.DriverTimeout)
	defer cancel()
	conn, err := s.connect(cctx, h)
	if err != nil {
		return nil, hostError(h.Host, err)
	}
	found, err := observed{Driver: conn.Hypervisor, s: s}.List(cctx)
	if err != nil {
		return nil, hostError(h.Host, err)
	}
	return found, nil
}

// recordDiscovered records the unmanaged objects of found as the host's
// discovered objects, in tx: those recorded before are kept, those gone or
// imported (claimed by an instance) are dropped. It returns the host's discovered objects and how many of them
// it recorded.
func (s *Service) recordDiscovered(ctx context.Context, tx store.Tx, hostID ovm.ID, found []hypervisor.Instance) ([]Discovered, int, error) {
	var out []Discovered
	added := 0
	rs, err := listAll(ctx, tx, store.Filter{Kind: store.KindDiscovered, HostID: hostID})
	if err != nil {
		return nil, 0, err
	}
	known := map[string]store.Record{}
	for _, r := range rs {
		d, err := decode[Discovered](r)
		if err != nil {
			return nil, 0, err
		}
		known[d.NativeID] = r
	}
	claimed, err := claimedObjects(ctx, tx, hostID)
	if err != nil {
		return nil, 0, err
	}
	now := s.now()
	seen := map[string]bool{}
	for _, i := range found {
		if i.Managed() || claimed[i.NativeID] {
			continue // managed, or imported where the engine cannot mark it
		}
		seen[i.NativeID] = true
		if r, ok := known[i.NativeID]; ok {
			d, err := decode[Discovered](r)
			if err != nil {
				return nil, 0, err
			}
			if now := (Discovered{ID: d.ID, HostID: d.HostID, NativeID: d.NativeID, Name: i.Name, Type: i.Type,
				CPU: i.CPU, Memory: i.Memory, Image: i.Image, Power: i.Power, FoundAt: d.FoundAt}); !reflect.DeepEqual(now, d) {
				// Changed on the host since it was found (powered, renamed, resized).
				d = now
				if err := save(ctx, tx, &r, d); err != nil {
					return nil, 0, err
				}
			}
			out = append(out, d)
			continue
		}
		d := Discovered{ID: ovm.NewID(), HostID: hostID, NativeID: i.NativeID, Name: i.Name, Type: i.Type,
			CPU: i.CPU, Memory: i.Memory, Image: i.Image, Power: i.Power, FoundAt: now}
		r := store.Record{Kind: store.KindDiscovered, ID: d.ID, ParentID: hostID, HostID: hostID, Name: string(d.ID)}
		if err := setData(&r, d); err != nil {
			return nil, 0, err
		}
		if err := tx.Insert(ctx, &r); err != nil {
			return nil, 0, err
		}
		out = append(out, d)
		added++
	}
	for native, r := range known {
		if !seen[native] {
			if err := tx.Delete(ctx, store.KindDiscovered, r.ID, 0); err != nil {
				return nil, 0, err
			}
		}
	}
	return out, added, nil
}

// settled reports whether an instance record says it exists on its host
// and no task acts on it: only such an instance can be missing.
func settled(inst instanceRecord) bool {
	return inst.PendingTask == "" && inst.Status.NativeID != "" &&
		(inst.Status.Phase == ovm.PhaseReady || inst.Status.Phase == ovm.PhaseUnknown)
}

// markMissing marks lost the settled instances recorded on host that are
// not in found, and records the power found for the settled ready ones
// whose record says another. An instance whose record changed since
// listedAt (a task finished after the host was listed) is left for the
// next sync.
func (s *Service) markMissing(ctx context.Context, tx store.Tx, host ovm.Host, found []hypervisor.Instance, listedAt time.Time) ([]MissingInstance, []PowerChange, error) {
	byID := map[ovm.ID]hypervisor.Instance{}
	byNative := map[string]hypervisor.Instance{}
	for _, i := range found {
		byNative[i.NativeID] = i
		if i.Managed() {
			byID[i.OVMID] = i
		}
	}
	rs, err := listAll(ctx, tx, store.Filter{Kind: store.KindInstance, AllVDCs: true, HostID: host.ID})
	if err != nil {
		return nil, nil, err
	}
	var out []MissingInstance
	var powered []PowerChange
	for _, r := range rs {
		inst, err := decode[instanceRecord](r)
		if err != nil {
			return nil, nil, err
		}
		if !settled(inst) || !inst.Status.UpdatedAt.Before(listedAt) {
			continue
		}
		on, ok := byID[inst.ID]
		if !ok {
			on, ok = byNative[inst.Status.NativeID]
		}
		switch {
		case !ok:
			out = append(out, MissingInstance{ID: inst.ID, Name: inst.Name, VDCID: inst.VDCID, NativeID: inst.Status.NativeID})
			inst.Status.Phase, inst.Status.Power = ovm.PhaseLost, ovm.PowerUnknown
			inst.Status.Message = fmt.Sprintf("its object %s is gone from host %s: it was removed outside OVM", inst.Status.NativeID, host.Name)
		case inst.Status.Phase == ovm.PhaseReady && known(on.Power) && on.Power != inst.Status.Power:
			powered = append(powered, PowerChange{ID: inst.ID, Name: inst.Name, VDCID: inst.VDCID, From: inst.Status.Power, To: on.Power})
			inst.Status.Power = on.Power
			inst.Status.Message = fmt.Sprintf("found %s on its host: its power was changed outside OVM", on.Power)
		default:
			continue
		}
		inst.Status.UpdatedAt = s.now()
		if err := save(ctx, tx, &r, inst); err != nil {
			return nil, nil, err
		}
	}
	return out, powered, nil
}

// known reports whether a power state a host reports is one to record.
func known(p ovm.PowerState) bool {
	switch p {
	case ovm.PowerRunning, ovm.PowerStopped, ovm.PowerPaused:
		return true
	}
	return false
}

// orphans returns the objects of found whose OVM id has no instance record.
func orphans(ctx context.Context, tx store.Tx, hostID ovm.ID, found []hypervisor.Instance) ([]Orphan, error) {
	var out []Orphan
	for _, i := range found {
		if !i.Managed() {
			continue
		}
		_, err := tx.Get(ctx, store.KindInstance, i.OVMID)
		switch {
		case ovm.KindOf(err) == ovm.KindNotFound:
			out = append(out, Orphan{HostID: hostID, OVMID: i.OVMID, NativeID: i.NativeID, Name: i.Name, Power: i.Power})
		case err != nil:
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b Orphan) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
