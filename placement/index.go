package placement

import (
	"math"
	"slices"
	"strings"

	"github.com/openovm/ovm/ovm"
)

// index finds hosts without scanning them all. Every eligible host (up and
// writable) sits in two buckets: one for its datacenter, one for its pool,
// each also keyed by the host's kind and by what it reaches (its set of
// networks and of shared storage pools; hosts of a pool usually share one).
// A request only looks at the buckets of its scope whose kind it accepts and
// whose reach covers what it needs. A bucket is a segment tree over its hosts
// in rank order (name, then id) whose every node holds the best score and,
// per resource, the most free capacity below it. A search prunes any subtree
// where no host can have enough CPU, memory or disk, or (PERFORMANCE) a good
// enough score, and checks the remaining filters (anti-affinity, exclusion,
// exact fit) only on the leaves it reaches. Assign and Release update one
// leaf per bucket and its ancestors: O(log n).
type index struct {
	buckets []bucket
	// slots says where each host (by rank) sits; b is -1 for none.
	slots [][2]slot
	// dc and pool list the buckets of each datacenter and pool.
	dc, pool map[ovm.ID][]int32
	// netBit and storageBit number every network and shared storage pool
	// that some eligible host reaches, for the buckets' reach bitsets.
	netBit, storageBit map[ovm.ID]int
	words              int
}

// bits is a bitset of networks or storage pools.
type bits []uint64

func (b bits) set(i int) { b[i/64] |= 1 << (i % 64) }

// covers reports whether b has every bit of want.
func (b bits) covers(want bits) bool {
	for i, w := range want {
		if b[i]&w != w {
			return false
		}
	}
	return true
}

type slot struct{ b, leaf int32 }

type bucket struct {
	kind ovm.HostKind
	// networks and storage are what every host of the bucket reaches.
	networks, storage bits
	// ranks holds the bucket's hosts by rank, ascending; leaf i is ranks[i].
	ranks []int32
	// size is the number of leaves, a power of two; nodes[1] is the root
	// and leaf i is nodes[size+i].
	size  int
	nodes []node
}

// node summarises the hosts below it.
type node struct {
	score float64  // best score
	free  [3]int64 // most free CPU, memory, disk (each on its own)
}

// empty is an unused leaf: no demand fits it and no score loses to it.
var empty = node{score: math.Inf(-1), free: [3]int64{math.MinInt64, math.MinInt64, math.MinInt64}}

func leafOf(h *host) node {
	f := h.free()
	return node{score: score(h.allocatable, h.Allocated), free: [3]int64{int64(f.CPU), int64(f.Memory), int64(f.Disk)}}
}

func merge(a, b node) node {
	return node{
		score: max(a.score, b.score),
		free:  [3]int64{max(a.free[0], b.free[0]), max(a.free[1], b.free[1]), max(a.free[2], b.free[2])},
	}
}

func buildIndex(hosts []host) index {
	type key struct {
		pool  bool
		id    ovm.ID
		kind  ovm.HostKind
		reach string
	}
	ix := index{
		slots: make([][2]slot, len(hosts)), dc: map[ovm.ID][]int32{}, pool: map[ovm.ID][]int32{},
		netBit: map[ovm.ID]int{}, storageBit: map[ovm.ID]int{},
	}
	for r := range hosts {
		if h := &hosts[r]; h.eligible() {
			number(ix.netBit, h.Networks)
			number(ix.storageBit, h.SharedStorage)
		}
	}
	ix.words = (max(len(ix.netBit), len(ix.storageBit)) + 63) / 64
	byKey := map[key]int32{}
	var sig strings.Builder
	for r := range hosts {
		h := &hosts[r]
		ix.slots[r] = [2]slot{{b: -1}, {b: -1}}
		if !h.eligible() {
			continue
		}
		sig.Reset()
		for _, n := range h.Networks {
			sig.WriteString(string(n))
			sig.WriteByte(',')
		}
		sig.WriteByte('|')
		for _, s := range h.SharedStorage {
			sig.WriteString(string(s))
			sig.WriteByte(',')
		}
		reach := sig.String()
		for i, k := range [2]key{{false, h.DatacenterID, h.Kind, reach}, {true, h.PoolID, h.Kind, reach}} {
			b, ok := byKey[k]
			if !ok {
				b = int32(len(ix.buckets))
				byKey[k] = b
				ix.buckets = append(ix.buckets, bucket{kind: k.kind,
					networks: ix.bitsOf(ix.netBit, h.Networks), storage: ix.bitsOf(ix.storageBit, h.SharedStorage)})
				if k.pool {
					ix.pool[k.id] = append(ix.pool[k.id], b)
				} else {
					ix.dc[k.id] = append(ix.dc[k.id], b)
				}
			}
			bk := &ix.buckets[b]
			ix.slots[r][i] = slot{b: b, leaf: int32(len(bk.ranks))}
			bk.ranks = append(bk.ranks, int32(r))
		}
	}
	for i := range ix.buckets {
		b := &ix.buckets[i]
		b.size = 1
		for b.size < len(b.ranks) {
			b.size *= 2
		}
		b.nodes = make([]node, 2*b.size)
		for j := range b.size {
			b.nodes[b.size+j] = empty
			if j < len(b.ranks) {
				b.nodes[b.size+j] = leafOf(&hosts[b.ranks[j]])
			}
		}
		for n := b.size - 1; n >= 1; n-- {
			b.nodes[n] = merge(b.nodes[2*n], b.nodes[2*n+1])
		}
	}
	return ix
}

func number(m map[ovm.ID]int, ids []ovm.ID) {
	for _, id := range ids {
		if _, ok := m[id]; !ok {
			m[id] = len(m)
		}
	}
}

func (ix *index) bitsOf(m map[ovm.ID]int, ids []ovm.ID) bits {
	b := make(bits, ix.words)
	for _, id := range ids {
		b.set(m[id])
	}
	return b
}

// want fills b with the bits of ids and reports false when some id is
// reached by no eligible host at all.
func (ix *index) want(b bits, m map[ovm.ID]int, ids []ovm.ID) bool {
	for _, id := range ids {
		i, ok := m[id]
		if !ok {
			return false
		}
		b.set(i)
	}
	return true
}

// clone copies what Assign and Release change: the nodes.
func (ix index) clone() index {
	c := ix
	c.buckets = slices.Clone(ix.buckets)
	for i := range c.buckets {
		c.buckets[i].nodes = slices.Clone(c.buckets[i].nodes)
	}
	return c
}

// update refreshes the host of rank r after its allocation changed.
func (ix *index) update(r int32, h *host) {
	leaf := leafOf(h)
	for _, s := range ix.slots[r] {
		if s.b < 0 {
			continue
		}
		b := &ix.buckets[s.b]
		n := b.size + int(s.leaf)
		b.nodes[n] = leaf
		for n /= 2; n >= 1; n /= 2 {
			b.nodes[n] = merge(b.nodes[2*n], b.nodes[2*n+1])
		}
	}
}

// search is one request's walk over the buckets of a scope.
type search struct {
	f      *Fleet
	req    *Request
	demand [3]int64
	// buckets are those of the scope that can hold an answer.
	buckets []int32
	// best score found by bestScore.
	found bool
	score float64
}

func newSearch(f *Fleet, req *Request, scope []int32, buf []int32) search {
	s := search{f: f, req: req, demand: [3]int64{int64(req.Demand.CPU), int64(req.Demand.Memory), int64(req.Demand.Disk)}}
	s.buckets = buf[:0]
	ix := &f.idx
	var wordBuf [8]uint64
	need := wordBuf[:]
	if 2*ix.words > len(need) {
		need = make([]uint64, 2*ix.words)
	}
	nets, stor := bits(need[:ix.words]), bits(need[ix.words:2*ix.words])
	if !ix.want(nets, ix.netBit, req.Networks) || !ix.want(stor, ix.storageBit, req.SharedStorage) {
		return s
	}
	for _, bi := range scope {
		b := &ix.buckets[bi]
		if kindOK(b.kind, req.Kinds) && b.networks.covers(nets) && b.storage.covers(stor) && s.fits(&b.nodes[1]) {
			s.buckets = append(s.buckets, bi)
		}
	}
	return s
}

func (s *search) fits(n *node) bool {
	return n.free[0] >= s.demand[0] && n.free[1] >= s.demand[1] && n.free[2] >= s.demand[2]
}

// ok runs the filters the index does not guarantee on the host of rank r:
// the bucket took care of kind, state, read-only, networks and storage.
func (s *search) ok(r int32) bool {
	h := &s.f.hosts[r]
	return s.req.Demand.Fits(h.free()) && (s.req.Group == "" || !h.hasGroup(s.req.Group)) &&
		(len(s.req.Exclude) == 0 || !containsID(s.req.Exclude, h.ID))
}

// best finds the best score of a host that passes every filter.
func (s *search) best() {
	for _, bi := range s.buckets {
		s.bestScore(&s.f.idx.buckets[bi], 1)
	}
}

// bestScore raises s.score to the best score of a host of b that passes
// every filter: branch and bound, better child first.
func (s *search) bestScore(b *bucket, n int) {
	nd := &b.nodes[n]
	if !s.fits(nd) || (s.found && nd.score <= s.score) {
		return
	}
	if n >= b.size {
		if s.ok(b.ranks[n-b.size]) {
			s.found, s.score = true, nd.score
		}
		return
	}
	l, r := 2*n, 2*n+1
	if b.nodes[r].score > b.nodes[l].score {
		l, r = r, l
	}
	s.bestScore(b, l)
	s.bestScore(b, r)
}

// first returns the first leaf in [lo, hi) of b whose host scores at least
// minScore and passes every filter, or -1. Node n covers leaves [nlo, nhi).
func (s *search) first(b *bucket, n, nlo, nhi, lo, hi int, minScore float64) int {
	if nhi <= lo || nlo >= hi {
		return -1
	}
	nd := &b.nodes[n]
	if nd.score < minScore || !s.fits(nd) {
		return -1
	}
	if n >= b.size {
		if s.ok(b.ranks[nlo]) {
			return nlo
		}
		return -1
	}
	mid := (nlo + nhi) / 2
	if l := s.first(b, 2*n, nlo, mid, lo, hi, minScore); l >= 0 {
		return l
	}
	return s.first(b, 2*n+1, mid, nhi, lo, hi, minScore)
}

// firstRank returns the lowest rank in [loRank, hiRank) of a host that
// scores at least minScore and passes every filter, or -1.
func (s *search) firstRank(loRank, hiRank int32, minScore float64) int32 {
	best := int32(-1)
	for _, bi := range s.buckets {
		b := &s.f.idx.buckets[bi]
		lo, _ := slices.BinarySearch(b.ranks, loRank)
		limit := hiRank
		if best >= 0 {
			limit = min(limit, best)
		}
		hi, _ := slices.BinarySearch(b.ranks, limit)
		if lo >= hi {
			continue
		}
		if leaf := s.first(b, 1, 0, b.size, lo, hi, minScore); leaf >= 0 {
			best = b.ranks[leaf]
		}
	}
	return best
}

func kindOK(k ovm.HostKind, kinds []ovm.HostKind) bool {
	return len(kinds) == 0 || slices.Contains(kinds, k)
}
