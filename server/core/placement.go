package core

import (
	"context"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
	"github.com/openovm/ovm/server/store"
)

// fleet is a placement snapshot of a VDC's pool, built from the store inside
// the placing transaction.
type fleet struct {
	f      *placement.Fleet
	pool   ovm.ResourcePool
	scope  ovm.Scope
	policy ovm.PlacementPolicy
}

// snapshot builds the placement fleet of a pool: every host, with its
// pool's overcommit, allocated = the demands of the instances on it.
func snapshot(ctx context.Context, tx store.Tx, poolID ovm.ID) (*fleet, error) {
	pool, _, err := getAs[ovm.ResourcePool](ctx, tx, store.KindPool, poolID)
	if err != nil {
		return nil, err
	}
	pools := map[ovm.ID]ovm.ResourcePool{}
	prs, err := listAll(ctx, tx, store.Filter{Kind: store.KindPool})
	if err != nil {
		return nil, err
	}
	for _, r := range prs {
		p, err := decode[ovm.ResourcePool](r)
		if err != nil {
			return nil, err
		}
		pools[p.ID] = p
	}
	hrs, err := listAll(ctx, tx, store.Filter{Kind: store.KindHost})
	if err != nil {
		return nil, err
	}
	demand, groups, err := hostDemand(ctx, tx)
	if err != nil {
		return nil, err
	}
	hosts := make([]placement.Host, 0, len(hrs))
	for _, r := range hrs {
		h, err := decode[hostRecord](r)
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, placement.Host{
			ID: h.ID, DatacenterID: h.DatacenterID, PoolID: h.PoolID, Name: h.Name, Kind: h.Kind,
			State: h.State, ReadOnly: h.ReadOnly, Capacity: h.Capacity, Allocated: demand[h.ID],
			Overcommit: pools[h.PoolID].Overcommit, Groups: groups[h.ID],
		})
	}
	f, err := placement.NewFleet(hosts)
	if err != nil {
		return nil, err
	}
	scope := pool.Scope
	if scope.Kind == "" {
		scope = ovm.Scope{Kind: ovm.ScopePool, PoolID: pool.ID}
	}
	policy := pool.Policy
	if !policy.Valid() {
		policy = ovm.PolicyPerformance
	}
	return &fleet{f: f, pool: pool, scope: scope, policy: policy}, nil
}

// request is the placement request of an instance.
func request(name string, spec ovm.InstanceSpec, group ovm.ID) placement.Request {
	return placement.Request{Name: name, Demand: spec.Demand(), Kinds: spec.Image.HostKinds(), Group: group}
}

// place places a batch on the pool's fleet, continuing the pool's
// round-robin cursor.
func (s *Service) place(fl *fleet, reqs []placement.Request) []placement.Result {
	s.curMu.Lock()
	cur := s.cursors[fl.pool.ID]
	s.curMu.Unlock()
	res, next := fl.f.PlaceBatch(reqs, fl.policy, fl.scope, cur)
	s.curMu.Lock()
	s.cursors[fl.pool.ID] = next
	s.curMu.Unlock()
	return res
}
