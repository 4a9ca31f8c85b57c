package core

import (
	"context"
	"sync"
	"time"

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

// decodedHosts keeps the last decoded form of host records, keyed by id and
// checked against the record's version and update time on every use, like
// decodedInstances: placement reads every host of its scope on every
// create, and decodes only those that changed.
type decodedHosts struct {
	mu sync.RWMutex
	m  map[ovm.ID]decodedHost
}

type decodedHost struct {
	version int64
	updated time.Time
	host    ovm.Host
}

// host returns the host of a host record (without its sealed credentials).
// The value is shared: callers never write into its slices or maps.
func (c *decodedHosts) host(r store.Record) (ovm.Host, error) {
	c.mu.RLock()
	d, ok := c.m[r.ID]
	c.mu.RUnlock()
	if ok && d.version == r.Version && d.updated.Equal(r.UpdatedAt) {
		return d.host, nil
	}
	h, err := decode[hostRecord](r)
	if err != nil {
		return ovm.Host{}, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxDecoded {
		c.m = map[ovm.ID]decodedHost{}
	}
	c.m[r.ID] = decodedHost{version: r.Version, updated: r.UpdatedAt, host: h.Host}
	c.mu.Unlock()
	return h.Host, nil
}
