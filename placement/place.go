package placement

import (
	"cmp"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/openovm/ovm/ovm"
)

// Place chooses a host for req among the hosts of scope and does not change
// the fleet. A host qualifies when it passes every filter (see the package
// documentation); policy then picks one:
//
//   - PERFORMANCE: the host with the best score (the free share of its
//     scarcest resource, see the package documentation); among tied hosts,
//     the first after cur in (name, id) order, wrapping around. The
//     returned Decision.Cursor points at the chosen host.
//   - PROGRESSIVE: the first qualifying host in (name, id) order, so one
//     host fills up before the next is used. The cursor is returned as given.
//
// Bad input (unknown policy, invalid scope, negative demand, unknown kind)
// is ovm.ErrInvalid naming each field. When no host qualifies, the error is
// a *NoFitError (ovm.ErrUnavailable) listing every host of scope and why.
func (f *Fleet) Place(req Request, policy ovm.PlacementPolicy, scope ovm.Scope, cur Cursor) (Decision, error) {
	if err := validate(&req, policy, scope); err != nil {
		return Decision{}, err
	}
	r := f.choose(&req, policy, scope, cur)
	if r < 0 {
		return Decision{}, f.noFit(&req, scope)
	}
	h := &f.hosts[r]
	d := Decision{HostID: h.ID, Cursor: cur}
	if policy == ovm.PolicyPerformance {
		d.Cursor = Cursor{name: h.Name, id: h.ID}
	}
	return d, nil
}

// PlaceBatch places the members of a vApp in order. Each request sees the
// earlier choices of the batch: PlaceBatch Assigns every decision on f (with
// the request's demand and group) before placing the next. A request that
// does not fit gets its error in its Result and the others still go. It
// returns one Result per request and the cursor after the last decision.
func (f *Fleet) PlaceBatch(reqs []Request, policy ovm.PlacementPolicy, scope ovm.Scope, cur Cursor) ([]Result, Cursor) {
	out := make([]Result, len(reqs))
	for i, req := range reqs {
		d, err := f.Place(req, policy, scope, cur)
		if err == nil {
			err = f.Assign(d.HostID, req.Demand, req.Group)
		}
		if err != nil {
			out[i].Err = err
			continue
		}
		out[i].Decision = d
		cur = d.Cursor
	}
	return out, cur
}

func validate(req *Request, policy ovm.PlacementPolicy, scope ovm.Scope) error {
	var fs ovm.Fields
	if !policy.Valid() {
		fs.Addf("policy", "must be %q or %q", ovm.PolicyPerformance, ovm.PolicyProgressive)
	}
	fs.Merge("scope", scope.Validate())
	if req.Demand.Negative() {
		fs.Add("request.demand", "must not be negative")
	}
	for i, k := range req.Kinds {
		if !k.Valid() {
			fs.Addf(fmt.Sprintf("request.kinds[%d]", i), "unknown host kind %q", k)
		}
	}
	return fs.Err("invalid placement request")
}

// choose returns the rank of the chosen host, or -1.
func (f *Fleet) choose(req *Request, policy ovm.PlacementPolicy, scope ovm.Scope, cur Cursor) int32 {
	var words [8]uint64
	var buf [32]int32
	var lists *byKind
	switch scope.Kind {
	case ovm.ScopeDatacenter:
		lists = f.idx.dc[scope.DatacenterID]
	case ovm.ScopePool:
		lists = f.idx.pool[scope.PoolID]
	}
	s := newSearch(f, req, lists, words[:], buf[:])
	if scope.Kind == ovm.ScopeHosts {
		return s.listed(policy, scope.HostIDs, cur)
	}
	if policy == ovm.PolicyProgressive {
		return s.firstRank(0, math.MaxInt32, math.Inf(-1))
	}
	if s.best(); !s.found {
		return -1
	}
	// Only hosts with the best score can pass and score at least s.score.
	// The first of them is the answer unless another one ties with it;
	// then take the first from the cursor on, else the first.
	first := s.firstRank(0, math.MaxInt32, s.score)
	if s.firstRank(first+1, math.MaxInt32, s.score) < 0 {
		return first
	}
	if r := s.firstRank(f.after(cur), math.MaxInt32, s.score); r >= 0 {
		return r
	}
	return first
}

// after returns the rank of the first host after cursor c.
func (f *Fleet) after(c Cursor) int32 {
	if r, ok := f.rank(c.id); ok && f.hosts[r].Name == c.name {
		return r + 1 // the cursor is at one of our hosts
	}
	i := sort.Search(len(f.hosts), func(i int) bool {
		h := &f.hosts[i]
		return cmp.Or(strings.Compare(h.Name, c.name), strings.Compare(string(h.ID), string(c.id))) > 0
	})
	return int32(i)
}

// listed is Place for a hosts scope: the listed hosts, checked one by one.
func (s *search) listed(policy ovm.PlacementPolicy, ids []ovm.ID, cur Cursor) int32 {
	if !s.possible {
		return -1
	}
	p := int32(-1) // the cursor's position, found at the first tie
	best, bestScore := int32(-1), math.Inf(-1)
	for _, id := range ids {
		r, ok := s.f.rank(id)
		if !ok {
			continue
		}
		sc, ok := s.leaf(r)
		switch {
		case !ok:
		case best < 0:
			best, bestScore = r, sc
		case policy == ovm.PolicyProgressive:
			best = min(best, r)
		case sc > bestScore:
			best, bestScore = r, sc
		case sc == bestScore:
			// Among equal scores, prefer ranks from p on (smallest
			// first), then the smallest rank before p: round-robin.
			if p < 0 {
				p = s.f.after(cur)
			}
			if rrLess(r, best, p) {
				best = r
			}
		}
	}
	return best
}

// rrLess reports whether rank a comes before rank b in round-robin order
// starting at p.
func rrLess(a, b, p int32) bool {
	if (a >= p) != (b >= p) {
		return a >= p
	}
	return a < b
}

// noFit explains, host by host, why nothing in scope can take req.
func (f *Fleet) noFit(req *Request, scope ovm.Scope) *NoFitError {
	e := &NoFitError{Request: req.Name}
	add := func(r int32) {
		h, u := &f.hosts[r], &f.use[r]
		e.Rejections = append(e.Rejections, Rejection{HostID: h.ID, HostName: h.Name, Reason: reason(check(h, u, req), h, u, req)})
	}
	switch scope.Kind {
	case ovm.ScopeDatacenter, ovm.ScopePool:
		members := f.dcMembers[scope.DatacenterID]
		if scope.Kind == ovm.ScopePool {
			members = f.poolMembers[scope.PoolID]
		}
		if len(members) > 0 {
			e.Rejections = make([]Rejection, 0, len(members))
		}
		for _, r := range members {
			add(r)
		}
	case ovm.ScopeHosts:
		seen := make(map[ovm.ID]bool, len(scope.HostIDs))
		for _, id := range scope.HostIDs {
			if seen[id] {
				continue
			}
			seen[id] = true
			if r, ok := f.rank(id); ok {
				add(r)
			} else {
				e.Rejections = append(e.Rejections, Rejection{HostID: id, Reason: "unknown host"})
			}
		}
	}
	return e
}

// String renders the rejection as "name: reason".
func (r Rejection) String() string {
	var b strings.Builder
	if r.HostName != "" {
		b.WriteString(r.HostName)
	} else {
		b.WriteString(string(r.HostID))
	}
	b.WriteString(": ")
	b.WriteString(r.Reason)
	return b.String()
}
