package placement

import (
	"math"
	"slices"
	"strings"

	"github.com/openovm/ovm/ovm"
)

// index finds hosts without scanning them all. Every eligible host (up and
// writable) sits in one bucket, that of its (datacenter, pool, kind); a
// datacenter or pool scope lists its buckets by kind. A request looks only
// at the buckets of its scope whose kind it accepts, whose hosts between
// them reach every network and storage pool it needs, and whose root shows
// room for its demand. A bucket is a 4-ary segment tree over its hosts in
// rank order (name, then id) whose every node holds the best score and, per
// resource, the most free capacity below it. A search prunes any subtree
// where no host can have enough CPU, memory or disk, or (PERFORMANCE) a good
// enough score, and checks what is left (the host's exact reach, from a
// small table of distinct reach sets, then anti-affinity and exclusion) only
// on the leaves it reaches; a leaf's node holds its host's exact free
// capacity. Assign and Release update one leaf and its ancestors, stopping
// where nothing changes: O(log n).
type index struct {
	buckets []bucket
	// slots says where each host (by rank) sits; b is -1 for none.
	slots []slot
	// reach holds every distinct reach of an eligible host.
	reach []reachSet
	// dc and pool list the buckets of each datacenter and pool, by kind.
	dc, pool map[ovm.ID]*byKind
	// netBit and storageBit number every network and shared storage pool
	// that some eligible host reaches, for the buckets' reach bitsets.
	netBit, storageBit map[ovm.ID]int
	words              int
}

// bits is a bitset of networks or storage pools.
type bits []uint64

func (b bits) set(i int) { b[i/64] |= 1 << (i % 64) }

func (b bits) or(o bits) {
	for i := range b {
		b[i] |= o[i]
	}
}

// covers reports whether b has every bit of want.
func (b bits) covers(want bits) bool {
	for i, w := range want {
		if b[i]&w != w {
			return false
		}
	}
	return true
}

// slot is where a host sits: bucket b (-1 for none), leaf, and its reach
// (an index into index.reach).
type slot struct{ b, leaf, reach int32 }

// reachSet is what one or more hosts reach, exactly.
type reachSet struct{ networks, storage bits }

// byKind lists buckets by their hosts' kind (see kindIndex).
type byKind [4][]int32

type bucket struct {
	kind kindSet
	// networks and storage are what some host of the bucket reaches:
	// a bucket that lacks one a request needs has nothing for it.
	networks, storage bits
	// ranks holds the bucket's hosts by rank, ascending; leaf i is ranks[i].
	ranks []int32
	// size is the number of leaves, a power of fan. nodes[1] is the root,
	// the children of node n are nodes[fan*n : fan*n+fan] (so siblings share
	// cache lines) and leaf i is nodes[size+i].
	size  int
	nodes []node
}

// node summarises the hosts below it.
type node struct {
	score float64  // best score
	free  [3]int64 // most free CPU, memory, disk (each on its own)
}

// emptyNode is an unused leaf: no demand fits it and no score loses to it.
func emptyNode() node {
	return node{score: math.Inf(-1), free: [3]int64{math.MinInt64, math.MinInt64, math.MinInt64}}
}

func leafOf(u *usage) node {
	f := u.free()
	return node{score: score(u.allocatable, u.allocated), free: [3]int64{int64(f.CPU), int64(f.Memory), int64(f.Disk)}}
}

// fan is the trees' fan-out: four 32-byte siblings fill two cache lines.
const fan = 4

// children merges the children of node n.
func (b *bucket) children(n int) node {
	c := b.nodes[fan*n : fan*n+fan]
	m := c[0]
	for _, x := range c[1:] {
		m = merge(m, x)
	}
	return m
}

func merge(a, b node) node {
	return node{
		score: max(a.score, b.score),
		free:  [3]int64{max(a.free[0], b.free[0]), max(a.free[1], b.free[1]), max(a.free[2], b.free[2])},
	}
}

func buildIndex(hosts []Host, use []usage) index {
	type key struct {
		dc, pool ovm.ID
		kind     ovm.HostKind
	}
	ix := index{
		slots: make([]slot, len(hosts)), dc: map[ovm.ID]*byKind{}, pool: map[ovm.ID]*byKind{},
		netBit: map[ovm.ID]int{}, storageBit: map[ovm.ID]int{},
	}
	for r := range hosts {
		if h := &hosts[r]; eligible(h) {
			number(ix.netBit, h.Networks)
			number(ix.storageBit, h.SharedStorage)
		}
	}
	ix.words = (max(len(ix.netBit), len(ix.storageBit)) + 63) / 64
	byKey := map[key]int32{}
	reachOf := map[string]int32{}
	var sig strings.Builder
	for r := range hosts {
		h := &hosts[r]
		ix.slots[r] = slot{b: -1}
		if !eligible(h) {
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
		reach, ok := reachOf[sig.String()]
		if !ok {
			reach = int32(len(ix.reach))
			reachOf[sig.String()] = reach
			ix.reach = append(ix.reach, reachSet{ix.bitsOf(ix.netBit, h.Networks), ix.bitsOf(ix.storageBit, h.SharedStorage)})
		}
		k := key{h.DatacenterID, h.PoolID, h.Kind}
		b, ok := byKey[k]
		if !ok {
			b = int32(len(ix.buckets))
			byKey[k] = b
			ix.buckets = append(ix.buckets, bucket{kind: kindsOf([]ovm.HostKind{k.kind}),
				networks: make(bits, ix.words), storage: make(bits, ix.words)})
			ki := kindIndex(k.kind)
			for _, l := range [2]struct {
				m  map[ovm.ID]*byKind
				id ovm.ID
			}{{ix.dc, k.dc}, {ix.pool, k.pool}} {
				lists := l.m[l.id]
				if lists == nil {
					lists = &byKind{}
					l.m[l.id] = lists
				}
				lists[ki] = append(lists[ki], b)
			}
		}
		bk := &ix.buckets[b]
		bk.networks.or(ix.reach[reach].networks)
		bk.storage.or(ix.reach[reach].storage)
		ix.slots[r] = slot{b: b, leaf: int32(len(bk.ranks)), reach: reach}
		bk.ranks = append(bk.ranks, int32(r))
	}
	for i := range ix.buckets {
		b := &ix.buckets[i]
		b.size = 1
		for b.size < len(b.ranks) {
			b.size *= fan
		}
		b.nodes = make([]node, 2*b.size)
		for j := range b.size {
			b.nodes[b.size+j] = emptyNode()
			if j < len(b.ranks) {
				b.nodes[b.size+j] = leafOf(&use[b.ranks[j]])
			}
		}
		for lvl := b.size / fan; lvl >= 1; lvl /= fan { // each level: [lvl, 2*lvl)
			for n := lvl; n < 2*lvl; n++ {
				b.nodes[n] = b.children(n)
			}
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
func (ix *index) update(r int32, u *usage) {
	leaf := leafOf(u)
	if s := ix.slots[r]; s.b >= 0 {
		b := &ix.buckets[s.b]
		n := b.size + int(s.leaf)
		b.nodes[n] = leaf
		for n /= fan; n >= 1; n /= fan {
			m := b.children(n)
			if m == b.nodes[n] {
				break // nothing above changes either
			}
			b.nodes[n] = m
		}
	}
}

// search is one request's walk over the buckets of a scope.
type search struct {
	f      *Fleet
	req    *Request
	demand [3]int64
	kinds  kindSet
	// nets and stor are the networks and storage the request needs, as
	// bits; possible is false when some eligible host reaches none of one.
	nets, stor bits
	possible   bool
	// buckets are those of the scope that can hold an answer.
	buckets []int32
	// best score found by bestScore.
	found bool
	score float64
}

// newSearch prepares req's search; words and buf are scratch space that the
// search keeps. It selects the buckets of lists (nil: none) that can hold
// an answer.
func newSearch(f *Fleet, req *Request, lists *byKind, words []uint64, buf []int32) search {
	ix := &f.idx
	s := search{f: f, req: req, demand: [3]int64{int64(req.Demand.CPU), int64(req.Demand.Memory), int64(req.Demand.Disk)},
		kinds: kindsOf(req.Kinds), buckets: buf[:0]}
	if 2*ix.words > len(words) {
		words = make([]uint64, 2*ix.words)
	}
	clear(words)
	s.nets, s.stor = bits(words[:ix.words]), bits(words[ix.words:2*ix.words])
	s.possible = ix.want(s.nets, ix.netBit, req.Networks) && ix.want(s.stor, ix.storageBit, req.SharedStorage)
	if !s.possible || lists == nil {
		return s
	}
	for k, bs := range lists {
		if s.kinds&(1<<k) == 0 {
			continue
		}
		for _, bi := range bs {
			b := &ix.buckets[bi]
			if b.networks.covers(s.nets) && b.storage.covers(s.stor) && s.fits(&b.nodes[1]) {
				s.buckets = append(s.buckets, bi)
			}
		}
	}
	return s
}

// leaf checks the host of rank r against the request through the index,
// as check would but without touching the host: it must be eligible (in
// the index), of an accepted kind, have room and pass ok. It returns the
// host's score.
func (s *search) leaf(r int32) (float64, bool) {
	ix := &s.f.idx
	sl := ix.slots[r]
	if sl.b < 0 {
		return 0, false
	}
	b := &ix.buckets[sl.b]
	nd := &b.nodes[b.size+int(sl.leaf)]
	if b.kind&s.kinds == 0 || !s.fits(nd) || !s.ok(r) {
		return 0, false
	}
	return nd.score, true
}

func (s *search) fits(n *node) bool {
	return n.free[0] >= s.demand[0] && n.free[1] >= s.demand[1] && n.free[2] >= s.demand[2]
}

// ok runs the filters the index does not guarantee on the host of rank r:
// the bucket took care of kind, state and read-only, and the leaf's node
// holds the host's exact free capacity, which the caller has checked. What
// is left is reach (from a small table), then anti-affinity and exclusion,
// which most requests do not ask for.
func (s *search) ok(r int32) bool {
	ix := &s.f.idx
	if rs := &ix.reach[ix.slots[r].reach]; !rs.networks.covers(s.nets) || !rs.storage.covers(s.stor) {
		return false
	}
	if s.req.Group == "" && len(s.req.Exclude) == 0 {
		return true
	}
	return (s.req.Group == "" || s.f.use[r].group(s.req.Group) < 0) &&
		(len(s.req.Exclude) == 0 || !containsID(s.req.Exclude, s.f.hosts[r].ID))
}

// best finds the best score of a host that passes every filter, visiting
// the buckets best root first so that the bound prunes the others early.
func (s *search) best() {
	bs := s.f.idx.buckets
	for i := 1; i < len(s.buckets); i++ { // insertion sort: a few buckets
		for j := i; j > 0 && bs[s.buckets[j]].nodes[1].score > bs[s.buckets[j-1]].nodes[1].score; j-- {
			s.buckets[j], s.buckets[j-1] = s.buckets[j-1], s.buckets[j]
		}
	}
	for _, bi := range s.buckets {
		s.bestScore(&bs[bi], 1)
	}
}

// bestScore raises s.score to the best score of a host of b that passes
// every filter: branch and bound, better children first.
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
	// Visit the children by falling score (an insertion sort of fan).
	var order [fan]int
	for i := range order {
		order[i] = fan*n + i
	}
	for i := 1; i < fan; i++ {
		for j := i; j > 0 && b.nodes[order[j]].score > b.nodes[order[j-1]].score; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	for _, m := range order {
		s.bestScore(b, m)
	}
}

// first returns the first leaf in [lo, hi) of b whose host scores at least
// minScore and passes every filter, or -1. Node n covers leaves
// [nlo, nlo+width).
func (s *search) first(b *bucket, n, nlo, width, lo, hi int, minScore float64) int {
	if nlo+width <= lo || nlo >= hi {
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
	w := width / fan
	for i := range fan {
		if l := s.first(b, fan*n+i, nlo+i*w, w, lo, hi, minScore); l >= 0 {
			return l
		}
	}
	return -1
}

// firstRank returns the lowest rank in [loRank, hiRank) of a host that
// scores at least minScore and passes every filter, or -1.
func (s *search) firstRank(loRank, hiRank int32, minScore float64) int32 {
	best := int32(-1)
	for _, bi := range s.buckets {
		b := &s.f.idx.buckets[bi]
		if root := &b.nodes[1]; root.score < minScore || !s.fits(root) {
			continue
		}
		lo, hi := 0, len(b.ranks)
		if loRank > 0 {
			lo, _ = slices.BinarySearch(b.ranks, loRank)
		}
		limit := hiRank
		if best >= 0 {
			limit = min(limit, best)
		}
		if limit <= b.ranks[len(b.ranks)-1] {
			hi, _ = slices.BinarySearch(b.ranks, limit)
		}
		if lo >= hi {
			continue
		}
		if leaf := s.first(b, 1, 0, b.size, lo, hi, minScore); leaf >= 0 {
			best = b.ranks[leaf]
		}
	}
	return best
}

// kindSet is a set of host kinds as bits (1 << kindIndex); an empty
// request means all.
type kindSet uint8

func kindsOf(ks []ovm.HostKind) kindSet {
	if len(ks) == 0 {
		return ^kindSet(0)
	}
	var s kindSet
	for _, k := range ks {
		if i := kindIndex(k); i >= 0 {
			s |= 1 << i
		}
	}
	return s
}

func kindIndex(k ovm.HostKind) int {
	switch k {
	case ovm.HostKVM:
		return 0
	case ovm.HostESXi:
		return 1
	case ovm.HostDocker:
		return 2
	case ovm.HostFake:
		return 3
	}
	return -1
}
