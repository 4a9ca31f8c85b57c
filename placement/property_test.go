package placement_test

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
)

// ---- the oracle: a naive scan of every host, written from the package
// documentation and sharing no code with the package ----

// model is what the test knows of a host: its Host with live Allocated, and
// its groups as a multiset.
type model struct {
	placement.Host
	groups map[ovm.ID]int
}

type oracle struct {
	hosts []*model
	// cursor is the (name, id) of the last host PERFORMANCE chose; set
	// tells a real position from the start.
	set      bool
	cur      [2]string
	assigned []assignment
}

type assignment struct {
	host   ovm.ID
	demand ovm.Resources
	group  ovm.ID
}

func newOracle(hs []placement.Host) *oracle {
	o := &oracle{}
	for _, h := range hs {
		m := &model{Host: h, groups: map[ovm.ID]int{}}
		for _, g := range h.Groups {
			m.groups[g] = 1
		}
		o.hosts = append(o.hosts, m)
	}
	return o
}

func (o *oracle) byID(id ovm.ID) *model {
	for _, m := range o.hosts {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// reason is the first filter m fails, spelled as the package doc says.
func (o *oracle) reason(m *model, req placement.Request) string {
	free := m.Overcommit.Apply(m.Capacity).Sub(m.Allocated)
	if slices.Contains(req.Exclude, m.ID) {
		return "excluded"
	}
	if len(req.Kinds) > 0 && !slices.Contains(req.Kinds, m.Kind) {
		var ks []string
		for _, k := range req.Kinds {
			ks = append(ks, string(k))
		}
		return fmt.Sprintf("kind %s, image needs %s", m.Kind, strings.Join(ks, " or "))
	}
	if m.State != ovm.HostUp {
		return "state " + string(m.State)
	}
	if m.ReadOnly {
		return "read-only"
	}
	if !req.Demand.Fits(free) {
		return req.Demand.Short(free)
	}
	for _, n := range req.Networks {
		if !slices.Contains(m.Networks, n) {
			return fmt.Sprintf("network %s not reachable", n)
		}
	}
	for _, s := range req.SharedStorage {
		if !slices.Contains(m.SharedStorage, s) {
			return fmt.Sprintf("storage %s not reachable", s)
		}
	}
	if req.Group != "" && m.groups[req.Group] > 0 {
		return fmt.Sprintf("anti-affinity: group %s already has a member here", req.Group)
	}
	return ""
}

// score: the free share of the scarcest resource with any capacity.
func (o *oracle) score(m *model) float64 {
	a := m.Overcommit.Apply(m.Capacity)
	caps := []int64{int64(a.CPU), int64(a.Memory), int64(a.Disk)}
	used := []int64{int64(m.Allocated.CPU), int64(m.Allocated.Memory), int64(m.Allocated.Disk)}
	s, any := math.Inf(1), false
	for i := range caps {
		if caps[i] > 0 {
			s, any = math.Min(s, float64(caps[i]-used[i])/float64(caps[i])), true
		}
	}
	if !any {
		return 0
	}
	return s
}

func key(m *model) [2]string { return [2]string{m.Name, string(m.ID)} }

func less(a, b [2]string) bool { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) < 0 }

// place returns the host the package should choose, or the rejections.
func (o *oracle) place(req placement.Request, policy ovm.PlacementPolicy, scope ovm.Scope) (*model, []placement.Rejection) {
	var inScope []*model
	var rejections []placement.Rejection
	switch scope.Kind {
	case ovm.ScopeDatacenter, ovm.ScopePool:
		for _, m := range o.hosts {
			if (scope.Kind == ovm.ScopeDatacenter && m.DatacenterID == scope.DatacenterID) ||
				(scope.Kind == ovm.ScopePool && m.PoolID == scope.PoolID) {
				inScope = append(inScope, m)
			}
		}
		slices.SortFunc(inScope, func(a, b *model) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
		})
	case ovm.ScopeHosts:
		seen := map[ovm.ID]bool{}
		for _, id := range scope.HostIDs {
			if seen[id] {
				continue
			}
			seen[id] = true
			if m := o.byID(id); m != nil {
				inScope = append(inScope, m)
			} else {
				rejections = append(rejections, placement.Rejection{HostID: id, Reason: "unknown host"})
			}
		}
	}
	var ok []*model
	for _, m := range inScope {
		if r := o.reason(m, req); r != "" {
			rejections = append(rejections, placement.Rejection{HostID: m.ID, HostName: m.Name, Reason: r})
		} else {
			ok = append(ok, m)
		}
	}
	if len(ok) == 0 {
		// For a hosts scope, rejections follow the list (unknown ones in
		// place): rebuild that order.
		if scope.Kind == ovm.ScopeHosts {
			return nil, o.inListOrder(scope.HostIDs, rejections)
		}
		return nil, rejections
	}
	slices.SortFunc(ok, func(a, b *model) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	if policy == ovm.PolicyProgressive {
		return ok[0], nil
	}
	best := math.Inf(-1)
	for _, m := range ok {
		best = math.Max(best, o.score(m))
	}
	var tied []*model
	for _, m := range ok {
		if o.score(m) == best {
			tied = append(tied, m)
		}
	}
	for _, m := range tied {
		if !o.set || less(o.cur, key(m)) {
			return m, nil
		}
	}
	return tied[0], nil
}

func (o *oracle) inListOrder(ids []ovm.ID, rs []placement.Rejection) []placement.Rejection {
	var out []placement.Rejection
	seen := map[ovm.ID]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		for _, r := range rs {
			if r.HostID == id {
				out = append(out, r)
			}
		}
	}
	return out
}

func (o *oracle) assign(id ovm.ID, d ovm.Resources, g ovm.ID) {
	m := o.byID(id)
	m.Allocated = m.Allocated.Add(d)
	if g != "" {
		m.groups[g]++
	}
	o.assigned = append(o.assigned, assignment{id, d, g})
}

func (o *oracle) release(i int) assignment {
	a := o.assigned[i]
	o.assigned = slices.Delete(o.assigned, i, i+1)
	m := o.byID(a.host)
	m.Allocated = m.Allocated.Sub(a.demand)
	if a.group != "" {
		m.groups[a.group]--
	}
	return a
}

// ---- generators ----

var (
	allKinds = []ovm.HostKind{ovm.HostKVM, ovm.HostESXi, ovm.HostDocker, ovm.HostFake}
	pools    = []ovm.ID{poolA, poolB, poolC}
	ratios   = []float64{0, 1, 1.5, 2, 4}
)

// subset draws each element of of with probability in out of 4 (rapid
// favours 0, so 0 means "in" when in > 2, "out" otherwise).
func subset[T any](t *rapid.T, label string, of []T, in int) []T {
	var out []T
	for _, v := range of {
		x := rapid.IntRange(0, 3).Draw(t, label)
		if (in > 2 && x < in) || (in <= 2 && x >= 4-in) {
			out = append(out, v)
		}
	}
	return out
}

// genHosts draws a small fleet where ties are common: few names, small
// integer capacities. fitting keeps every initial allocation within the
// overcommitted capacity.
func genHosts(t *rapid.T, fitting bool) []placement.Host {
	n := rapid.IntRange(1, 32).Draw(t, "hosts")
	out := make([]placement.Host, n)
	for i := range out {
		p := rapid.IntRange(0, 2).Draw(t, "pool")
		dc := dc1
		if p == 2 {
			dc = dc2
		}
		h := placement.Host{
			ID:           idOf(fmt.Sprint("host-", i)),
			Name:         fmt.Sprint("h", rapid.IntRange(0, 9).Draw(t, "name")),
			DatacenterID: dc, PoolID: pools[p],
			Kind:     rapid.SampledFrom(allKinds).Draw(t, "kind"),
			State:    ovm.HostUp,
			ReadOnly: rapid.IntRange(0, 9).Draw(t, "readOnly") == 9,
			Capacity: ovm.Resources{
				CPU:    ovm.MilliCPU(rapid.IntRange(0, 16).Draw(t, "cpu") * 1000),
				Memory: ovm.Bytes(rapid.IntRange(0, 16).Draw(t, "mem")) * ovm.GiB,
				Disk:   ovm.Bytes(rapid.IntRange(0, 8).Draw(t, "disk")) * 10 * ovm.GiB,
			},
			Overcommit: ovm.Overcommit{
				CPU: rapid.SampledFrom(ratios).Draw(t, "ocCPU"), Memory: rapid.SampledFrom(ratios).Draw(t, "ocMem"),
				Disk: rapid.SampledFrom(ratios).Draw(t, "ocDisk"),
			},
			Networks:      subset(t, "net", []ovm.ID{netA, netB}, 3),
			SharedStorage: subset(t, "nfs", []ovm.ID{nfs1, nfs2}, 3),
			Groups:        subset(t, "group", []ovm.ID{app1, app2}, 1),
		}
		if x := rapid.IntRange(0, 9).Draw(t, "state"); x >= 7 {
			h.State = []ovm.HostState{ovm.HostMaintenance, ovm.HostSuspect, ovm.HostFailed}[x-7]
		}
		a := h.Overcommit.Apply(h.Capacity)
		if rapid.IntRange(0, 1).Draw(t, "light?") == 0 {
			a = ovm.Resources{CPU: a.CPU / 2, Memory: a.Memory / 2, Disk: a.Disk / 2}
		}
		if !fitting && rapid.IntRange(0, 4).Draw(t, "over?") == 0 {
			a = a.Add(res(2, 2, 10)) // some hosts start over-allocated
		}
		h.Allocated = ovm.Resources{
			CPU:    ovm.MilliCPU(rapid.Int64Range(0, int64(a.CPU)/500).Draw(t, "allocCPU") * 500),
			Memory: ovm.Bytes(rapid.Int64Range(0, int64(a.Memory/ovm.GiB)).Draw(t, "allocMem")) * ovm.GiB,
			Disk:   ovm.Bytes(rapid.Int64Range(0, int64(a.Disk/ovm.GiB)).Draw(t, "allocDisk")) * ovm.GiB,
		}
		out[i] = h
	}
	return out
}

func genRequest(t *rapid.T, hs []placement.Host) placement.Request {
	req := placement.Request{
		Name: "r",
		Demand: ovm.Resources{
			CPU:    ovm.MilliCPU(rapid.IntRange(0, 6).Draw(t, "dCPU") * 500),
			Memory: ovm.Bytes(rapid.IntRange(0, 4).Draw(t, "dMem")) * ovm.GiB,
			Disk:   ovm.Bytes(rapid.IntRange(0, 2).Draw(t, "dDisk")) * 10 * ovm.GiB,
		},
		Networks:      subset(t, "rNet", []ovm.ID{netA, netB}, 1),
		SharedStorage: subset(t, "rNfs", []ovm.ID{nfs1, nfs2}, 1),
		Group:         rapid.SampledFrom([]ovm.ID{"", "", app1, app2}).Draw(t, "rGroup"),
	}
	if x := rapid.IntRange(0, 9).Draw(t, "kinds") - 4; x > 0 { // half the requests take any kind
		// What images run on (see ovm.ImageRef.HostKinds), or two kinds.
		req.Kinds = [][]ovm.HostKind{{ovm.HostKVM, ovm.HostFake}, {ovm.HostESXi, ovm.HostFake},
			{ovm.HostDocker, ovm.HostFake}, {ovm.HostKVM, ovm.HostDocker}, {ovm.HostESXi}}[x-1]
	}
	if rapid.IntRange(0, 5).Draw(t, "exclude?") == 5 {
		req.Exclude = []ovm.ID{hs[rapid.IntRange(0, len(hs)-1).Draw(t, "exclude")].ID}
	}
	return req
}

func genScope(t *rapid.T, hs []placement.Host) ovm.Scope {
	switch rapid.IntRange(0, 2).Draw(t, "scope") {
	case 0:
		return dcScope(rapid.SampledFrom([]ovm.ID{dc1, dc2}).Draw(t, "dc"))
	case 1:
		return poolScope(rapid.SampledFrom(pools).Draw(t, "pool"))
	}
	ids := []ovm.ID{}
	for range rapid.IntRange(1, 12).Draw(t, "listed") {
		if rapid.IntRange(0, 7).Draw(t, "ghost?") == 7 {
			ids = append(ids, idOf("ghost"))
			continue
		}
		ids = append(ids, hs[rapid.IntRange(0, len(hs)-1).Draw(t, "listedHost")].ID)
	}
	return hostsScope(ids...)
}

// ---- properties ----

// run drives a fleet and the oracle through random Place, Assign and
// Release calls, checking every decision against the oracle and, after
// every step, check.
func run(t *rapid.T, hs []placement.Host, check func(*rapid.T, *placement.Fleet)) {
	f, err := placement.NewFleet(hs)
	require.NoError(t, err)
	o := newOracle(hs)
	cur := placement.Cursor{}
	// compare checks one Place against the oracle and returns the decision.
	compare := func(t *rapid.T, req placement.Request, policy ovm.PlacementPolicy, scope ovm.Scope) (placement.Decision, bool) {
		d, err := f.Place(req, policy, scope, cur)
		want, rejections := o.place(req, policy, scope)
		if want == nil {
			var nf *placement.NoFitError
			require.ErrorAs(t, err, &nf, "%s %v: got %v, want no fit", policy, scope, err)
			require.Equal(t, rejections, nf.Rejections, "rejections: got %v, want %v", nf.Rejections, rejections)
			return d, false
		}
		require.NoError(t, err, "%s %v: got an error, want %s (%s)", policy, scope, want.Name, want.ID)
		require.Equal(t, want.ID, d.HostID, "%s %v chose %s, the naive scan %s", policy, scope, d.HostID, want.ID)
		if policy == ovm.PolicyProgressive {
			require.Equal(t, cur, d.Cursor, "PROGRESSIVE moved the cursor")
		}
		return d, true
	}
	place := func(t *rapid.T, assign bool) {
		req := genRequest(t, hs)
		policy := rapid.SampledFrom([]ovm.PlacementPolicy{ovm.PolicyPerformance, ovm.PolicyProgressive}).Draw(t, "policy")
		scope := genScope(t, hs)
		// Place changes nothing, so every policy and scope can be checked
		// against the oracle before the drawn one is carried out.
		for _, p := range []ovm.PlacementPolicy{ovm.PolicyPerformance, ovm.PolicyProgressive} {
			for _, s := range []ovm.Scope{dcScope(dc1), dcScope(dc2), poolScope(poolA), poolScope(poolB), poolScope(poolC)} {
				compare(t, req, p, s)
			}
		}
		d, ok := compare(t, req, policy, scope)
		if !ok {
			return
		}
		if policy == ovm.PolicyPerformance {
			h, _ := f.Host(d.HostID)
			o.set, o.cur = true, [2]string{h.Name, string(h.ID)}
		}
		cur = d.Cursor
		if assign {
			require.NoError(t, f.Assign(d.HostID, req.Demand, req.Group))
			o.assign(d.HostID, req.Demand, req.Group)
		}
	}
	release := func(t *rapid.T) {
		if len(o.assigned) == 0 {
			return
		}
		a := o.release(rapid.IntRange(0, len(o.assigned)-1).Draw(t, "which"))
		require.NoError(t, f.Release(a.host, a.demand, a.group))
	}
	t.Repeat(map[string]func(*rapid.T){
		"":               func(t *rapid.T) { check(t, f) },
		"place+assign":   func(t *rapid.T) { place(t, true) },
		"place+assign 2": func(t *rapid.T) { place(t, true) },
		"place only":     func(t *rapid.T) { place(t, false) },
		"release":        release,
		"release 2":      release,
	})
}

// TestPropertyIndexMatchesNaiveScan: the indexed search chooses exactly the
// host that a naive scan of every host chooses, and a failure lists exactly
// the rejections the scan finds, through any sequence of Place, Assign and
// Release, with hosts that may start over-allocated.
func TestPropertyIndexMatchesNaiveScan(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		run(t, genHosts(t, false), func(*rapid.T, *placement.Fleet) {})
	})
}

// TestPropertyNeverOverCapacity: after any sequence of Place+Assign (and
// Release), every host's allocation fits its overcommitted capacity.
func TestPropertyNeverOverCapacity(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		hs := genHosts(t, true)
		run(t, hs, func(t *rapid.T, f *placement.Fleet) {
			for _, h := range hs {
				now, _ := f.Host(h.ID)
				limit := now.Overcommit.Apply(now.Capacity)
				require.True(t, now.Allocated.Fits(limit), "%s: allocated %v, over its capacity %v", now.Name, now.Allocated, limit)
			}
		})
	})
}

// TestPropertyPerformanceSpreadsIdenticalInstances: N identical instances
// on N identical empty hosts land one per host under PERFORMANCE, from any
// cursor, whether or not each is Assigned before the next is placed.
func TestPropertyPerformanceSpreadsIdenticalInstances(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 40).Draw(t, "n")
		capacity := res(int64(rapid.IntRange(1, 64).Draw(t, "cpu")), int64(rapid.IntRange(1, 256).Draw(t, "mem")), 100)
		demand := ovm.Resources{
			CPU:    ovm.MilliCPU(rapid.Int64Range(0, int64(capacity.CPU)).Draw(t, "dCPU")),
			Memory: ovm.Bytes(rapid.Int64Range(0, int64(capacity.Memory)).Draw(t, "dMem")),
		}
		assign := rapid.Bool().Draw(t, "assign")
		var hs []placement.Host
		for i := range n {
			hs = append(hs, newHost(fmt.Sprintf("node-%03d", i)).capacity(capacity).build())
		}
		f, err := placement.NewFleet(hs)
		require.NoError(t, err)
		cur := placement.Cursor{}
		if start := rapid.IntRange(-1, n-1).Draw(t, "start"); start >= 0 {
			// Move the cursor by placing once on a one-host scope.
			d, err := f.Place(placement.Request{}, ovm.PolicyPerformance, hostsScope(hs[start].ID), cur)
			require.NoError(t, err)
			cur = d.Cursor
		}
		scope := rapid.SampledFrom([]ovm.Scope{poolScope(poolA), dcScope(dc1), hostsScope(hostIDs(rapid.Permutation(hs).Draw(t, "listed"))...)}).Draw(t, "scope")
		seen := map[ovm.ID]bool{}
		for i := range n {
			d, err := f.Place(placement.Request{Demand: demand}, ovm.PolicyPerformance, scope, cur)
			require.NoError(t, err)
			require.False(t, seen[d.HostID], "instance %d: got host %s a second time, want one instance per host", i, d.HostID)
			seen[d.HostID] = true
			cur = d.Cursor
			if assign {
				require.NoError(t, f.Assign(d.HostID, demand, ""))
			}
		}
		require.Len(t, seen, n, "hosts used: got %d, want %d", len(seen), n)
	})
}

// TestPropertyProgressiveFillsInOrder: PROGRESSIVE never uses a host while
// an earlier one (by name, id) could take the instance; with identical
// instances it fills the first host before it touches the second.
func TestPropertyProgressiveFillsInOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var hs []placement.Host
		for i := range rapid.IntRange(1, 12).Draw(t, "n") {
			hs = append(hs, newHost(fmt.Sprint("h", rapid.IntRange(0, 5).Draw(t, "name"))).withID(idOf(fmt.Sprint(i))).
				capacity(res(int64(rapid.IntRange(0, 16).Draw(t, "cpu")), int64(rapid.IntRange(0, 32).Draw(t, "mem")), 100)).build())
		}
		order := slices.Clone(hs)
		slices.SortFunc(order, func(a, b placement.Host) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
		})
		f, err := placement.NewFleet(hs)
		require.NoError(t, err)
		identical := rapid.Bool().Draw(t, "identical")
		one := res(int64(rapid.IntRange(0, 4).Draw(t, "cpu")), int64(rapid.IntRange(0, 4).Draw(t, "mem")), 1)
		last := -1
		for i := range rapid.IntRange(1, 60).Draw(t, "instances") {
			d := one
			if !identical {
				d = res(int64(rapid.IntRange(0, 4).Draw(t, "cpu")), int64(rapid.IntRange(0, 4).Draw(t, "mem")), 1)
			}
			dec, err := f.Place(placement.Request{Demand: d}, ovm.PolicyProgressive, poolScope(poolA), placement.Cursor{})
			if err != nil {
				require.ErrorIs(t, err, ovm.ErrUnavailable)
				for _, h := range order {
					now, _ := f.Host(h.ID)
					require.False(t, d.Fits(now.Capacity.Sub(now.Allocated)), "instance %d: no fit, yet %s has room", i, h.Name)
				}
				continue
			}
			pos := slices.IndexFunc(order, func(h placement.Host) bool { return h.ID == dec.HostID })
			for _, h := range order[:pos] {
				now, _ := f.Host(h.ID)
				require.False(t, d.Fits(now.Capacity.Sub(now.Allocated)),
					"instance %d went to %s while the earlier %s had room", i, order[pos].Name, h.Name)
			}
			if identical {
				require.GreaterOrEqual(t, pos, last, "instance %d went back to an earlier host", i)
			}
			last = pos
			require.NoError(t, f.Assign(dec.HostID, d, ""))
		}
	})
}

// TestPropertyDeterministic: the same hosts (given in any order) and the
// same requests give the same decisions and the same errors, and a clone
// behaves as the fleet it was cloned from.
func TestPropertyDeterministic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		hs := genHosts(t, false)
		shuffled := rapid.Permutation(hs).Draw(t, "shuffled")
		type step struct {
			req    placement.Request
			policy ovm.PlacementPolicy
			scope  ovm.Scope
		}
		var steps []step
		for range rapid.IntRange(1, 30).Draw(t, "steps") {
			steps = append(steps, step{genRequest(t, hs),
				rapid.SampledFrom([]ovm.PlacementPolicy{ovm.PolicyPerformance, ovm.PolicyProgressive}).Draw(t, "policy"), genScope(t, hs)})
		}
		a, err := placement.NewFleet(hs)
		require.NoError(t, err)
		b, err := placement.NewFleet(shuffled)
		require.NoError(t, err)
		c := a.Clone()
		outcome := func(f *placement.Fleet) []string {
			var out []string
			cur := placement.Cursor{}
			for _, s := range steps {
				d, err := f.Place(s.req, s.policy, s.scope, cur)
				if err != nil {
					out = append(out, "error: "+err.Error())
					continue
				}
				out = append(out, fmt.Sprintf("%s %v", d.HostID, d.Cursor))
				cur = d.Cursor
				require.NoError(t, f.Assign(d.HostID, s.req.Demand, s.req.Group))
			}
			return out
		}
		first := outcome(a)
		require.Equal(t, first, outcome(b), "fleet from shuffled hosts: got other decisions")
		require.Equal(t, first, outcome(c), "clone: got other decisions")
	})
}
