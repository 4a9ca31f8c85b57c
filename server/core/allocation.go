package core

import (
	"bytes"
	"context"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// hostHold is what a record (an instance or a volume) holds on its host:
// its share of the host's stored allocation (store.Tx.AllocateHost). It is
// changed only through setHold, in the transaction that changes the
// record, so the stored allocation of a host is always the sum of the
// holds of the records on it.
type hostHold struct {
	HostID    ovm.ID        `json:"hostId,omitempty"`
	Resources ovm.Resources `json:"resources,omitzero"`
	Instances int64         `json:"instances,omitempty"`
	// Group is the anti-affinity group (vApp) the instance is a member of.
	Group ovm.ID `json:"group,omitempty"`
}

// alloc is the hold as a host allocation.
func (h hostHold) alloc() store.HostAllocation {
	a := store.HostAllocation{Resources: h.Resources, Instances: h.Instances}
	if h.Group != "" {
		a.Groups = map[ovm.ID]int64{h.Group: 1}
	}
	return a
}

// instanceHold is what an instance of spec on host holds there.
func instanceHold(host ovm.ID, spec ovm.InstanceSpec, group ovm.ID) hostHold {
	return hostHold{HostID: host, Resources: spec.Demand(), Instances: 1, Group: group}
}

// setHold moves a record's hold from *cur to next: it releases what *cur
// holds and allocates next on its host, growing within limit (a zero
// component does not limit), then sets *cur. Moving to the zero hold
// releases everything; releasing twice is harmless because the first
// release zeroes *cur.
func setHold(ctx context.Context, tx store.Tx, cur *hostHold, next hostHold, limit ovm.Resources) error {
	if *cur == next {
		return nil
	}
	if cur.HostID == next.HostID && cur.Group == next.Group && cur.HostID != "" {
		// The same host: one guarded change by the difference.
		d := store.HostAllocation{Resources: next.Resources.Sub(cur.Resources), Instances: next.Instances - cur.Instances}
		if err := tx.AllocateHost(ctx, next.HostID, d, limit); err != nil {
			return err
		}
		*cur = next
		return nil
	}
	if cur.HostID != "" {
		if err := tx.AllocateHost(ctx, cur.HostID, cur.alloc().Neg(), ovm.Resources{}); err != nil {
			return err
		}
	}
	if next.HostID != "" {
		if err := tx.AllocateHost(ctx, next.HostID, next.alloc(), limit); err != nil {
			return err
		}
	}
	*cur = next
	return nil
}

// growHold adds extra resources to a record's hold on its host, within
// limit.
func growHold(ctx context.Context, tx store.Tx, cur *hostHold, extra ovm.Resources, limit ovm.Resources) error {
	next := *cur
	next.Resources = next.Resources.Add(extra)
	return setHold(ctx, tx, cur, next, limit)
}

// hostFull turns a host's refused allocation into what a tenant may read:
// the pool has no room, naming no host.
func hostFull(err error, name string) error {
	if ovm.KindOf(err) != ovm.KindQuotaExceeded {
		return err
	}
	return ovm.Errorf(ovm.KindUnavailable, "the pool has no room for %s", name)
}

// allocatable returns the host's capacity with its pool's overcommit: the
// limit of what may be allocated on it.
func allocatable(ctx context.Context, tx store.Tx, hostID ovm.ID) (ovm.Resources, error) {
	h, _, err := getAs[hostRecord](ctx, tx, store.KindHost, hostID)
	if err != nil {
		return ovm.Resources{}, err
	}
	pool, _, err := getAs[ovm.ResourcePool](ctx, tx, store.KindPool, h.PoolID)
	if err != nil {
		return ovm.Resources{}, err
	}
	return pool.Overcommit.Apply(h.Capacity), nil
}

// holdBatch is how many records HoldExisting changes per transaction.
const holdBatch = 200

// HoldExisting gives every instance and volume recorded before hosts'
// allocations were stored (a record on a host without a hold) its share of
// its host: what hostHold would hold for it had it been made now (a failed
// instance or volume holds nothing). A record that holds already is left
// alone, so running it again, or on two replicas at once, changes nothing
// more. The server calls it at start; it returns how many records it
// changed.
func (y *System) HoldExisting(ctx context.Context) (int, error) {
	s := y.s
	var todo []store.Record
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		todo = todo[:0]
		for _, kind := range []store.Kind{store.KindInstance, store.KindVolume} {
			rs, err := listAll(ctx, tx, store.Filter{Kind: kind, AllVDCs: true})
			if err != nil {
				return err
			}
			for _, r := range rs {
				if r.HostID != "" && !bytes.Contains(r.Data, []byte(`"held":`)) {
					todo = append(todo, store.Record{Kind: r.Kind, ID: r.ID})
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for len(todo) > 0 {
		batch := todo[:min(holdBatch, len(todo))]
		todo = todo[len(batch):]
		changed := 0
		err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
			changed = 0
			for _, k := range batch {
				ok, err := holdExisting(ctx, tx, k.Kind, k.ID)
				if err != nil {
					return err
				}
				if ok {
					changed++
				}
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n += changed
	}
	return n, nil
}

// holdExisting gives one record without a hold its share of its host.
func holdExisting(ctx context.Context, tx store.Tx, kind store.Kind, id ovm.ID) (bool, error) {
	r, err := tx.Get(ctx, kind, id)
	switch {
	case ovm.KindOf(err) == ovm.KindNotFound:
		return false, nil
	case err != nil:
		return false, err
	}
	if kind == store.KindVolume {
		v, err := decode[volumeRecord](r)
		if err != nil || v.Held.HostID != "" || v.HostID == "" || v.Phase == ovm.PhaseFailed {
			return false, err
		}
		if err := setHold(ctx, tx, &v.Held, hostHold{HostID: v.HostID, Resources: ovm.Resources{Disk: v.Size}}, ovm.Resources{}); err != nil {
			return false, err
		}
		return true, save(ctx, tx, &r, v)
	}
	inst, err := decode[instanceRecord](r)
	if err != nil || inst.Held.HostID != "" || inst.Status.HostID == "" || inst.Status.Phase == ovm.PhaseFailed {
		return false, err
	}
	hold := instanceHold(inst.Status.HostID, inst.Spec, inst.VAppID)
	hold.Resources.Disk = max(hold.Resources.Disk, inst.Reserved.Disk) // with the disks counted at create
	if err := setHold(ctx, tx, &inst.Held, hold, ovm.Resources{}); err != nil {
		return false, err
	}
	return true, save(ctx, tx, &r, inst)
}
