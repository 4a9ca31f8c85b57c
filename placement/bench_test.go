package placement_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
)

// world is a generated estate: two datacenters of four pools each, mixed
// host kinds and sizes, some hosts in maintenance, and a stream of requests
// of mixed kinds, sizes and scopes.
type world struct {
	hosts []placement.Host
	reqs  []scoped
	// vapps are the anti-affinity groups that grouped requests join in
	// turn, about five members each.
	vapps []ovm.ID
}

// scoped is a request template. The step number picks its group (when
// grouped) and, for a hosts scope, which 8 of the candidates it lists, so
// that a template met again names other hosts and another vApp.
type scoped struct {
	req        placement.Request
	scope      ovm.Scope
	grouped    bool
	candidates []ovm.ID
}

// at returns the request and scope of template s at step i.
func (w *world) at(i int) (placement.Request, ovm.Scope) {
	s := &w.reqs[i&(len(w.reqs)-1)]
	req, scope := s.req, s.scope
	if s.grouped {
		req.Group = w.vapps[(i/25)%len(w.vapps)]
	}
	if n := len(s.candidates); n > 0 {
		k := min(8, n)
		off := (i * 8) % (n - k + 1)
		scope.HostIDs = s.candidates[off : off+k]
	}
	return req, scope
}

type machine struct {
	cpus         int64
	mem, disk    ovm.Bytes
	weightInPool int
}

var machines = []machine{
	{16, 64 * ovm.GiB, 1 * ovm.TiB, 3},
	{32, 128 * ovm.GiB, 2 * ovm.TiB, 4},
	{48, 256 * ovm.GiB, 4 * ovm.TiB, 2},
	{64, 512 * ovm.GiB, 8 * ovm.TiB, 1},
}

type flavor struct {
	kinds  []ovm.HostKind
	demand ovm.Resources
	vm     bool
}

var flavors = []flavor{
	{[]ovm.HostKind{ovm.HostKVM, ovm.HostFake}, res(1, 2, 20), true},
	{[]ovm.HostKind{ovm.HostKVM, ovm.HostFake}, res(2, 4, 40), true},
	{[]ovm.HostKind{ovm.HostKVM, ovm.HostFake}, res(4, 8, 80), true},
	{[]ovm.HostKind{ovm.HostKVM, ovm.HostFake}, res(8, 32, 200), true},
	{[]ovm.HostKind{ovm.HostESXi, ovm.HostFake}, res(2, 4, 40), true},
	{[]ovm.HostKind{ovm.HostESXi, ovm.HostFake}, res(4, 16, 100), true},
	{[]ovm.HostKind{ovm.HostDocker, ovm.HostFake}, ovm.Resources{CPU: 250, Memory: 256 * ovm.MiB, Disk: 1 * ovm.GiB}, false},
	{[]ovm.HostKind{ovm.HostDocker, ovm.HostFake}, ovm.Resources{CPU: 500, Memory: 512 * ovm.MiB, Disk: 2 * ovm.GiB}, false},
	{[]ovm.HostKind{ovm.HostDocker, ovm.HostFake}, res(2, 4, 10), false},
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func newWorld(n int, seed uint64) world {
	rng := rand.New(rand.NewPCG(seed, 1))
	type pool struct {
		id, dc   ovm.ID
		oc       ovm.Overcommit
		networks []ovm.ID
		storage  []ovm.ID
		byKind   map[ovm.HostKind][]ovm.ID
	}
	var pools []*pool
	for d := range 2 {
		dc := idOf(fmt.Sprint("bench-dc-", d))
		var dcNets []ovm.ID
		for i := range 12 {
			dcNets = append(dcNets, idOf(fmt.Sprintf("bench-net-%d-%d", d, i)))
		}
		for p := range 4 {
			pl := &pool{
				id: idOf(fmt.Sprintf("bench-pool-%d-%d", d, p)), dc: dc,
				oc:      ovm.Overcommit{CPU: 4, Memory: pick(rng, []float64{1, 1.5}), Disk: pick(rng, []float64{1, 2})},
				storage: []ovm.ID{idOf(fmt.Sprintf("bench-nfs-%d-%d-a", d, p)), idOf(fmt.Sprintf("bench-nfs-%d-%d-b", d, p))},
				byKind:  map[ovm.HostKind][]ovm.ID{},
			}
			for _, i := range rng.Perm(len(dcNets))[:6] {
				pl.networks = append(pl.networks, dcNets[i])
			}
			pools = append(pools, pl)
		}
	}
	var w world
	var weighted []machine
	for _, m := range machines {
		for range m.weightInPool {
			weighted = append(weighted, m)
		}
	}
	for i := range n {
		pl := pools[rng.IntN(len(pools))]
		m := pick(rng, weighted)
		h := placement.Host{
			ID: idOf(fmt.Sprint("bench-host-", i)), DatacenterID: pl.dc, PoolID: pl.id,
			Name:       fmt.Sprintf("host-%05d", rng.IntN(n*10)),
			Kind:       pick(rng, []ovm.HostKind{ovm.HostKVM, ovm.HostKVM, ovm.HostESXi, ovm.HostDocker}),
			State:      ovm.HostUp,
			Capacity:   ovm.Resources{CPU: ovm.CPUs(m.cpus), Memory: m.mem, Disk: m.disk},
			Overcommit: pl.oc,
			Networks:   pl.networks,
		}
		switch x := rng.IntN(1000); {
		case x < 30:
			h.State = ovm.HostMaintenance
		case x < 40:
			h.State = ovm.HostSuspect
		case x < 45:
			h.State = ovm.HostFailed
		case x < 55:
			h.ReadOnly = true
		}
		if rng.IntN(20) == 0 { // a host that lost one of its pool's networks
			h.Networks = h.Networks[1:]
		}
		for _, s := range pl.storage {
			if rng.IntN(20) > 0 {
				h.SharedStorage = append(h.SharedStorage, s)
			}
		}
		a := h.Overcommit.Apply(h.Capacity)
		used := rng.Float64() * 0.6 // 0-60% already allocated
		h.Allocated = ovm.Resources{
			CPU:    ovm.MilliCPU(float64(a.CPU) * used * rng.Float64()),
			Memory: ovm.Bytes(float64(a.Memory) * used),
			Disk:   ovm.Bytes(float64(a.Disk) * used * rng.Float64()),
		}
		pl.byKind[h.Kind] = append(pl.byKind[h.Kind], h.ID)
		w.hosts = append(w.hosts, h)
	}
	for i := range 4096 {
		pl := pools[rng.IntN(len(pools))]
		fl := pick(rng, flavors)
		req := placement.Request{
			Name: fmt.Sprint("inst-", i), Demand: fl.demand, Kinds: fl.kinds,
			Networks: []ovm.ID{pick(rng, pl.networks)},
		}
		if rng.IntN(3) == 0 {
			req.Networks = append(req.Networks, pick(rng, pl.networks))
		}
		if fl.vm && rng.IntN(2) == 0 {
			req.SharedStorage = []ovm.ID{pick(rng, pl.storage)}
		}
		grouped := rng.IntN(5) == 0
		if rng.IntN(20) == 0 {
			req.Exclude = []ovm.ID{pick(rng, w.hosts).ID}
		}
		var scope ovm.Scope
		var cands []ovm.ID
		switch x := rng.IntN(10); {
		case x < 5:
			scope = poolScope(pl.id)
		case x < 9:
			scope = dcScope(pl.dc)
		default:
			cands = pl.byKind[fl.kinds[0]]
			scope = hostsScope(cands...) // narrowed to 8 by world.at
			if len(cands) == 0 {
				scope = poolScope(pl.id)
			}
		}
		w.reqs = append(w.reqs, scoped{req, scope, grouped, cands})
	}
	for i := range max(1, n/5) {
		w.vapps = append(w.vapps, idOf(fmt.Sprint("bench-vapp-", i)))
	}
	for _, pl := range pools { // hosts scopes take windows of a shuffled list
		for _, ids := range pl.byKind {
			rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		}
	}
	return w
}

// BenchmarkPlace places instances one after another (Place, then Assign)
// on a mixed fleet; once 5 instances per host run, each new one releases the
// oldest, so the fleet neither fills up nor empties. Requests mix kinds,
// sizes, networks, shared storage, vApps (anti-affinity), exclusions and
// all three scopes.
func BenchmarkPlace(b *testing.B) {
	for _, policy := range []ovm.PlacementPolicy{ovm.PolicyPerformance, ovm.PolicyProgressive} {
		b.Run("policy="+string(policy), func(b *testing.B) {
			for _, n := range []int{1000, 10000} {
				b.Run(fmt.Sprint("hosts=", n), func(b *testing.B) {
					benchPlace(b, policy, n)
				})
			}
		})
	}
}

func benchPlace(b *testing.B, policy ovm.PlacementPolicy, n int) {
	w := newWorld(n, 42)
	f, err := placement.NewFleet(w.hosts)
	if err != nil {
		b.Fatal(err)
	}
	type running struct {
		host   ovm.ID
		demand ovm.Resources
		group  ovm.ID
	}
	ring := make([]running, 5*n)
	head, size := 0, 0
	cur := placement.Cursor{}
	nofit := 0
	step := func(i int) {
		req, scope := w.at(i)
		d, err := f.Place(req, policy, scope, cur)
		if err != nil {
			nofit++
			return
		}
		cur = d.Cursor
		if err := f.Assign(d.HostID, req.Demand, req.Group); err != nil {
			b.Fatal(err)
		}
		if size == len(ring) {
			old := ring[head]
			if err := f.Release(old.host, old.demand, old.group); err != nil {
				b.Fatal(err)
			}
			size--
			head = (head + 1) % len(ring)
		}
		ring[(head+size)%len(ring)] = running{d.HostID, req.Demand, req.Group}
		size++
	}
	for i := range len(ring) + len(w.reqs) { // reach the steady state first
		step(i)
	}
	nofit = 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step(i)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	b.ReportMetric(float64(nofit)/float64(b.N), "nofit/op")
}
