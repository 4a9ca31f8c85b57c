package core

import (
	"context"
	"slices"
	"sync"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
	"github.com/openovm/ovm/server/store"
)

// fleet is a placement snapshot of the hosts a pool places on, built from
// the store inside the placing transaction.
type fleet struct {
	f      *placement.Fleet
	pool   ovm.ResourcePool
	scope  ovm.Scope
	policy ovm.PlacementPolicy
	cursor placement.Cursor
	// limit is each host's allocatable capacity (with its pool's
	// overcommit): the guard of the allocation a placement makes.
	limit map[ovm.ID]ovm.Resources
	// hosts are the hosts of the snapshot as placement sees them.
	hosts []placement.Host
}

// unknownDisk stands for the disk capacity of a host that reports none.
const unknownDisk = ovm.Bytes(1 << 60)

// snapshotOptions say what a snapshot fills besides capacity and
// allocation.
type snapshotOptions struct {
	// Sharing lists the storage pools whose reach each host gets (in
	// placement.Host.SharedStorage); requests name theirs already.
	Sharing []ovm.StoragePool
	// PoolOnly reads the hosts of the pool itself rather than of its
	// placement scope (evacuation stays in the pool).
	PoolOnly bool
	// Groups reads every host's anti-affinity groups even when no request
	// has a group.
	Groups bool
}

// snapshot builds the placement fleet of a pool's scope: the hosts of the
// scope only, each with its pool's overcommit, its stored allocation (and
// its anti-affinity groups when a request has a group), the networks and
// the shared storage pools of reqs it reaches, and the pool's stored
// round-robin cursor. Its cost grows with the hosts of the scope and what
// the requests name, never with the instances of the platform.
func (s *Service) snapshot(ctx context.Context, tx store.Tx, poolID ovm.ID, reqs []placement.Request, o snapshotOptions) (*fleet, error) {
	pool, _, err := getAs[ovm.ResourcePool](ctx, tx, store.KindPool, poolID)
	if err != nil {
		return nil, err
	}
	scope := pool.Scope
	if scope.Kind == "" || o.PoolOnly {
		scope = ovm.Scope{Kind: ovm.ScopePool, PoolID: pool.ID}
	}
	hrs, err := scopeHosts(ctx, tx, scope)
	if err != nil {
		return nil, err
	}
	pools := map[ovm.ID]ovm.ResourcePool{pool.ID: pool}
	ids := make([]ovm.ID, 0, len(hrs))
	hosts := make([]ovm.Host, 0, len(hrs))
	for _, r := range hrs {
		h, err := s.hosts.host(r)
		if err != nil {
			return nil, err
		}
		if _, ok := pools[h.PoolID]; !ok {
			p, _, err := getAs[ovm.ResourcePool](ctx, tx, store.KindPool, h.PoolID)
			if err != nil {
				return nil, err
			}
			pools[p.ID] = p
		}
		ids = append(ids, h.ID)
		hosts = append(hosts, h)
	}
	groups := o.Groups || slices.ContainsFunc(reqs, func(r placement.Request) bool { return r.Group != "" })
	allocs, err := tx.HostAllocations(ctx, ids, groups)
	if err != nil {
		return nil, err
	}
	nets, err := requestNetworks(ctx, tx, reqs)
	if err != nil {
		return nil, err
	}
	sharing, err := requestStorage(ctx, tx, reqs, o.Sharing)
	if err != nil {
		return nil, err
	}
	fl := &fleet{pool: pool, scope: scope, policy: pool.Policy,
		limit: make(map[ovm.ID]ovm.Resources, len(hosts))}
	if !fl.policy.Valid() {
		fl.policy = ovm.PolicyPerformance
	}
	ph := make([]placement.Host, 0, len(hosts))
	for _, h := range hosts {
		a := allocs[h.ID]
		over := pools[h.PoolID].Overcommit
		fl.limit[h.ID] = over.Apply(h.Capacity)
		p := placement.Host{
			ID: h.ID, DatacenterID: h.DatacenterID, PoolID: h.PoolID, Name: h.Name, Kind: h.Kind,
			State: h.State, ReadOnly: h.ReadOnly, Capacity: h.Capacity, Allocated: a.Resources, Overcommit: over,
		}
		if p.Capacity.Disk == 0 {
			// The host reports no disk capacity (KVM, Docker): its disk is
			// not placement's to count, as its allocation limit does not
			// count it (a zero component does not limit).
			p.Capacity.Disk = unknownDisk
		}
		for g, n := range a.Groups {
			if n > 0 {
				p.Groups = append(p.Groups, g)
			}
		}
		for _, n := range nets {
			if reachesNetwork(h, n) {
				p.Networks = append(p.Networks, n.ID)
			}
		}
		for _, sp := range sharing {
			if reachesStorage(h, sp) {
				p.SharedStorage = append(p.SharedStorage, sp.ID)
			}
		}
		slices.Sort(p.Groups)
		slices.Sort(p.Networks)
		slices.Sort(p.SharedStorage)
		ph = append(ph, p)
	}
	fl.hosts = ph
	if fl.f, err = placement.NewFleet(ph); err != nil {
		return nil, err
	}
	c, err := tx.PoolCursor(ctx, pool.ID)
	if err != nil {
		return nil, err
	}
	if err := fl.cursor.UnmarshalText([]byte(c)); err != nil {
		fl.cursor = placement.Cursor{} // a cursor of another format starts over
	}
	return fl, nil
}

// scopeHosts reads the host records of a scope.
func scopeHosts(ctx context.Context, tx store.Tx, scope ovm.Scope) ([]store.Record, error) {
	switch scope.Kind {
	case ovm.ScopeHosts:
		out := make([]store.Record, 0, len(scope.HostIDs))
		for _, id := range scope.HostIDs {
			r, err := tx.Get(ctx, store.KindHost, id)
			switch {
			case ovm.KindOf(err) == ovm.KindNotFound:
				continue // a host deleted since: not a candidate
			case err != nil:
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	case ovm.ScopeDatacenter:
		prs, err := listAll(ctx, tx, store.Filter{Kind: store.KindPool, ParentID: scope.DatacenterID})
		if err != nil {
			return nil, err
		}
		var out []store.Record
		for _, p := range prs {
			hrs, err := listAll(ctx, tx, store.Filter{Kind: store.KindHost, ParentID: p.ID})
			if err != nil {
				return nil, err
			}
			out = append(out, hrs...)
		}
		return out, nil
	}
	return listAll(ctx, tx, store.Filter{Kind: store.KindHost, ParentID: scope.PoolID})
}

// requestNetworks reads the networks the requests need (those that exist:
// the address allocation names a missing one).
func requestNetworks(ctx context.Context, tx store.Tx, reqs []placement.Request) ([]ovm.Network, error) {
	return readEach[ovm.Network](ctx, tx, store.KindNetwork, reqs, func(r placement.Request) []ovm.ID { return r.Networks }, nil)
}

// requestStorage reads the shared storage pools the requests need (a
// missing one is refused when the request is made), plus extra.
func requestStorage(ctx context.Context, tx store.Tx, reqs []placement.Request, extra []ovm.StoragePool) ([]ovm.StoragePool, error) {
	skip := make([]ovm.ID, len(extra))
	for i, sp := range extra {
		skip[i] = sp.ID
	}
	out, err := readEach[ovm.StoragePool](ctx, tx, store.KindStoragePool, reqs, func(r placement.Request) []ovm.ID { return r.SharedStorage }, skip)
	return append(slices.Clone(extra), out...), err
}

// readEach reads, once each, the records of kind that ids names in the
// requests, but those of skip; a record that does not exist is left out.
func readEach[T any](ctx context.Context, tx store.Tx, kind store.Kind, reqs []placement.Request,
	ids func(placement.Request) []ovm.ID, skip []ovm.ID) ([]T, error) {
	var out []T
	seen := map[ovm.ID]bool{}
	for _, id := range skip {
		seen[id] = true
	}
	for _, r := range reqs {
		for _, id := range ids(r) {
			if seen[id] {
				continue
			}
			seen[id] = true
			v, _, err := getAs[T](ctx, tx, kind, id)
			switch {
			case ovm.KindOf(err) == ovm.KindNotFound:
				continue
			case err != nil:
				return nil, err
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// reachesNetwork reports whether a host can carry a network: listed in its
// networks, or made there by its network driver at create (an untagged
// segment anywhere; a VLAN where the kind's driver carries tags: ESXi port
// groups, Docker with an uplink, the fake driver; not libvirt's bridges).
func reachesNetwork(h ovm.Host, n ovm.Network) bool {
	if slices.Contains(h.Networks, n.ID) || n.VLAN == 0 {
		return true
	}
	switch h.Kind {
	case ovm.HostESXi, ovm.HostFake:
		return true
	case ovm.HostDocker:
		return h.Options["uplink"] != ""
	}
	return false
}

// reachesStorage reports whether a host sees a shared storage pool.
func reachesStorage(h ovm.Host, sp ovm.StoragePool) bool {
	return len(sp.HostIDs) == 0 || slices.Contains(sp.HostIDs, h.ID) || slices.Contains(h.StoragePools, sp.ID)
}

// request is the placement request of an instance: its demand, the host
// kinds its image runs on, its networks, the shared storage pools its
// disks name, and its anti-affinity group.
func request(ctx context.Context, tx store.Tx, name string, spec ovm.InstanceSpec, group ovm.ID) (placement.Request, error) {
	req := placement.Request{Name: name, Demand: spec.Demand(), Kinds: spec.Image.HostKinds(), Group: group}
	for _, n := range spec.NICs {
		if slices.Contains(req.Networks, n.NetworkID) {
			continue
		}
		// A network that does not exist is left to the address
		// allocation, which names the field.
		switch _, err := tx.Get(ctx, store.KindNetwork, n.NetworkID); {
		case err == nil:
			req.Networks = append(req.Networks, n.NetworkID)
		case ovm.KindOf(err) != ovm.KindNotFound:
			return req, err
		}
	}
	for _, d := range spec.Disks {
		if !d.VolumeID.IsZero() {
			pool, err := volumeStorage(ctx, tx, d.VolumeID)
			if err != nil {
				return req, err
			}
			if pool != "" && !slices.Contains(req.SharedStorage, pool) {
				req.SharedStorage = append(req.SharedStorage, pool)
			}
			continue
		}
		if d.StoragePoolID.IsZero() || slices.Contains(req.SharedStorage, d.StoragePoolID) {
			continue
		}
		sp, _, err := getAs[ovm.StoragePool](ctx, tx, store.KindStoragePool, d.StoragePoolID)
		if err != nil {
			return req, fieldNotFound(err, "spec.disks.storagePoolId")
		}
		if sp.Kind.Shared() {
			req.SharedStorage = append(req.SharedStorage, sp.ID)
		}
	}
	return req, nil
}

// place places a batch of a VDC on a snapshot of its pool's scope from the
// pool's stored cursor, and stores the cursor it ends at. It returns the
// snapshot too: its limits guard the allocations the caller makes.
func (s *Service) place(ctx context.Context, tx store.Tx, v ovm.VDC, reqs []placement.Request) ([]placement.Result, *fleet, error) {
	s.placing.learn(v.ID, v.PoolID)
	fl, err := s.snapshot(ctx, tx, v.PoolID, reqs, snapshotOptions{})
	if err != nil {
		return nil, nil, err
	}
	res, next := fl.f.PlaceBatch(reqs, fl.policy, fl.scope, fl.cursor)
	if next != fl.cursor {
		if err := saveCursor(ctx, tx, fl.pool.ID, next); err != nil {
			return nil, nil, err
		}
		fl.cursor = next
	}
	return res, fl, nil
}

// saveCursor stores a pool's round-robin cursor.
func saveCursor(ctx context.Context, tx store.Tx, poolID ovm.ID, c placement.Cursor) error {
	b, err := c.MarshalText()
	if err != nil {
		return err
	}
	return tx.SetPoolCursor(ctx, poolID, string(b))
}

// placeLocks serializes this replica's placing transactions per resource
// pool. Two creates on one pool read the same hosts' allocations and the
// pool's cursor and write them: run at once, one of them fails to
// serialize and runs again after a backoff; waiting here instead keeps
// the database's work for what other replicas do at the same time. It is
// only a lock: correctness comes from the transaction's guarded updates,
// and the pool of a VDC is a hint learnt from its last placement (a VDC
// moved to another pool locks the old one once). On a store with one
// writer (off) it takes nothing: the store already runs one transaction
// at a time, and creates that queue there together commit together,
// which holding them here would prevent (it halved the create rate on
// SQLite).
type placeLocks struct {
	off   bool
	mu    sync.Mutex
	pools map[ovm.ID]*sync.Mutex
	vdcs  sync.Map // vdc id → pool id
}

// lock takes the lock of the pool vdc placed on last (of the VDC itself
// before its first placement) and returns its unlock.
func (l *placeLocks) lock(vdc ovm.ID) func() {
	if l.off {
		return func() {}
	}
	key := vdc
	if p, ok := l.vdcs.Load(vdc); ok {
		key = p.(ovm.ID)
	}
	l.mu.Lock()
	if l.pools == nil {
		l.pools = map[ovm.ID]*sync.Mutex{}
	}
	m := l.pools[key]
	if m == nil {
		m = &sync.Mutex{}
		l.pools[key] = m
	}
	l.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// learn records the pool a VDC places on.
func (l *placeLocks) learn(vdc, pool ovm.ID) {
	if p, ok := l.vdcs.Load(vdc); !ok || p.(ovm.ID) != pool {
		l.vdcs.Store(vdc, pool)
	}
}
