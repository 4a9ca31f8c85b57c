package network

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"math/bits"
	"net/netip"
	"slices"
	"strings"

	"github.com/openovm/ovm/ovm"
)

// Allocation is one address of a network held by an owner (an instance, a
// NIC or anything else the caller identifies by an OVM id). The server
// persists allocations and rebuilds an IPAM from them.
type Allocation struct {
	IP    netip.Addr `json:"ip"`
	Owner ovm.ID     `json:"owner"`
}

// ErrFull is in the chain of the error Allocate returns when no address is
// left in the network's ranges; that error's kind is ovm.ErrConflict (the
// request conflicts with the network's state: retrying does not help until
// an address is released), so errors.Is(err, ErrFull) tells a full network
// from another conflict.
var ErrFull = errors.New("no free address")

// IPAM allocates the addresses of one network. It is pure and deterministic:
// built from the network and the allocations already made, it hands out the
// lowest free address of the network's ranges (or of its subnet when it has
// none), less the network address, the IPv4 broadcast address and the
// gateway, which are never allocated.
//
// Its cost is proportional to the number of allocations, never to the size
// of the ranges: an IPv6 /64 is as cheap as an IPv4 /24. An IPAM is not safe
// for concurrent use; the server builds one inside each transaction.
type IPAM struct {
	net ovm.Network
	is4 bool
	// bcast is the IPv4 broadcast address; invalid for IPv6.
	bcast netip.Addr
	// excluded holds the addresses never allocated: network, IPv4
	// broadcast and gateway, sorted.
	excluded []u128
	// pools are the allocatable spans: the ranges less excluded, sorted
	// and disjoint. Immutable after NewIPAM.
	pools []span
	// free is pools less the allocated addresses, sorted and disjoint.
	// Adjacent spans may be merged across pool boundaries.
	free []span
	// nfree is the number of addresses in free.
	nfree u128
	// owners holds every allocation, inside the pools or not (a static
	// address outside the ranges).
	owners map[netip.Addr]ovm.ID
}

// NewIPAM returns the allocator of network n holding the given allocations.
// The network must be valid (ovm.Network.Validate); each allocation must be
// an address Reserve would accept, and no address may appear twice
// (ovm.ErrConflict).
func NewIPAM(n ovm.Network, allocated []Allocation) (*IPAM, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	n.Ranges = slices.Clone(n.Ranges)
	n.DNS = slices.Clone(n.DNS)
	m := &IPAM{net: n, is4: n.Subnet.Addr().Is4(), owners: make(map[netip.Addr]ovm.ID, len(allocated))}

	first, last := subnetBounds(n.Subnet)
	m.excluded = []u128{first}
	if m.is4 {
		m.excluded = append(m.excluded, last)
		m.bcast = last.addr(true)
	}
	if n.Gateway.IsValid() {
		m.excluded = append(m.excluded, fromAddr(n.Gateway))
	}
	slices.SortFunc(m.excluded, u128.cmp)
	m.excluded = slices.Compact(m.excluded)

	ranges := []span{{first, last}}
	if len(n.Ranges) > 0 {
		ranges = ranges[:0]
		for _, r := range n.Ranges {
			ranges = append(ranges, span{fromAddr(r.Start), fromAddr(r.End)})
		}
		slices.SortFunc(ranges, func(a, b span) int { return a.lo.cmp(b.lo) })
	}
	m.pools = subtract(ranges, m.excluded)

	taken := make([]u128, 0, len(allocated))
	for i, a := range allocated {
		var f ovm.Fields
		if a.Owner.IsZero() {
			f.Add(fmt.Sprintf("allocated[%d].owner", i), "must not be empty")
		}
		if reason := m.checkAddr(a.IP); reason != "" {
			f.Add(fmt.Sprintf("allocated[%d].ip", i), reason)
		}
		if err := f.Err("invalid allocation"); err != nil {
			return nil, err
		}
		if owner, ok := m.owners[a.IP]; ok {
			return nil, &ovm.Error{
				Kind:    ovm.KindConflict,
				Message: fmt.Sprintf("address %s is allocated twice", a.IP),
				Fields: []ovm.FieldError{{
					Field: fmt.Sprintf("allocated[%d].ip", i), Value: a.IP.String(),
					Reason: fmt.Sprintf("already allocated to %s, cannot also be allocated to %s", owner, a.Owner),
				}},
			}
		}
		m.owners[a.IP] = a.Owner
		taken = append(taken, fromAddr(a.IP))
	}
	slices.SortFunc(taken, u128.cmp)
	m.free = subtract(m.pools, taken)
	for _, s := range m.free {
		m.nfree = m.nfree.add(s.hi.sub(s.lo).add(u128{lo: 1}))
	}
	return m, nil
}

// Allocate gives owner the lowest free address of the network's ranges. A
// network with no free address left is an error of kind ovm.ErrConflict
// wrapping ErrFull.
func (m *IPAM) Allocate(owner ovm.ID) (netip.Addr, error) {
	if owner.IsZero() {
		return netip.Addr{}, ovm.Invalid("invalid allocation", ovm.FieldError{Field: "owner", Reason: "must not be empty"})
	}
	if len(m.free) == 0 {
		return netip.Addr{}, &ovm.Error{
			Kind:    ovm.KindConflict,
			Message: fmt.Sprintf("network %s (%s) is full", m.net.Name, m.net.ID),
			Fields:  []ovm.FieldError{{Field: "ip", Reason: "every address of " + m.describeRanges() + " is allocated"}},
			Err:     ErrFull,
		}
	}
	u := m.free[0].lo
	if u == m.free[0].hi {
		m.free = m.free[1:]
	} else {
		m.free[0].lo = u.add1()
	}
	m.nfree = m.nfree.sub1()
	a := u.addr(m.is4)
	m.owners[a] = owner
	return a, nil
}

// Reserve gives owner the address ip, a static pick. ip must be inside the
// subnet and must not be the network, IPv4 broadcast or gateway address; it
// may lie outside the ranges. An address held by another owner is
// ovm.ErrConflict naming that owner; reserving an address its owner already
// holds changes nothing and succeeds, so a retried step is harmless.
func (m *IPAM) Reserve(ip netip.Addr, owner ovm.ID) error {
	var f ovm.Fields
	if owner.IsZero() {
		f.Add("owner", "must not be empty")
	}
	if reason := m.checkAddr(ip); reason != "" {
		f.Add("ip", reason)
	}
	if err := f.Err("invalid reservation"); err != nil {
		return err
	}
	if held, ok := m.owners[ip]; ok {
		if held == owner {
			return nil
		}
		return &ovm.Error{
			Kind:    ovm.KindConflict,
			Message: fmt.Sprintf("address %s is taken", ip),
			Fields:  []ovm.FieldError{{Field: "ip", Reason: "already allocated to " + string(held), Value: ip.String()}},
		}
	}
	m.owners[ip] = owner
	u := fromAddr(ip)
	i, found := slices.BinarySearchFunc(m.free, u, func(s span, u u128) int { return s.hi.cmp(u) })
	if !found && (i == len(m.free) || u.less(m.free[i].lo)) {
		return nil // outside the ranges
	}
	m.nfree = m.nfree.sub1()
	s := m.free[i]
	switch {
	case s.lo == s.hi:
		m.free = slices.Delete(m.free, i, i+1)
	case u == s.lo:
		m.free[i].lo = u.add1()
	case u == s.hi:
		m.free[i].hi = u.sub1()
	default:
		m.free[i].hi = u.sub1()
		m.free = slices.Insert(m.free, i+1, span{u.add1(), s.hi})
	}
	return nil
}

// Release frees ip; an address inside the ranges becomes allocatable again.
// An address that is not allocated is ovm.ErrNotFound.
func (m *IPAM) Release(ip netip.Addr) error {
	if !ip.IsValid() {
		return ovm.Invalid("invalid release", ovm.FieldError{Field: "ip", Reason: "must be an IP address"})
	}
	if _, ok := m.owners[ip]; !ok {
		return &ovm.Error{
			Kind:    ovm.KindNotFound,
			Message: fmt.Sprintf("address %s not found", ip),
			Fields:  []ovm.FieldError{{Field: "ip", Reason: fmt.Sprintf("is not allocated on network %s", m.net.Name), Value: ip.String()}},
		}
	}
	delete(m.owners, ip)
	u := fromAddr(ip)
	if i, found := slices.BinarySearchFunc(m.pools, u, func(s span, u u128) int { return s.hi.cmp(u) }); !found && (i == len(m.pools) || u.less(m.pools[i].lo)) {
		return nil // a static address outside the ranges
	}
	m.nfree = m.nfree.add(u128{lo: 1})
	// i is the first free span after u.
	i, _ := slices.BinarySearchFunc(m.free, u, func(s span, u u128) int { return s.lo.cmp(u) })
	left := i > 0 && m.free[i-1].hi.add1() == u
	right := i < len(m.free) && m.free[i].lo == u.add1()
	switch {
	case left && right:
		m.free[i-1].hi = m.free[i].hi
		m.free = slices.Delete(m.free, i, i+1)
	case left:
		m.free[i-1].hi = u
	case right:
		m.free[i].lo = u
	default:
		m.free = slices.Insert(m.free, i, span{u, u})
	}
	return nil
}

// Owner returns the owner of ip, and whether ip is allocated.
func (m *IPAM) Owner(ip netip.Addr) (ovm.ID, bool) {
	o, ok := m.owners[ip]
	return o, ok
}

// Allocations returns every allocation, ordered by address. NewIPAM of the
// same network and these allocations rebuilds an identical allocator.
func (m *IPAM) Allocations() []Allocation {
	out := make([]Allocation, 0, len(m.owners))
	for _, ip := range slices.SortedFunc(maps.Keys(m.owners), netip.Addr.Compare) {
		out = append(out, Allocation{IP: ip, Owner: m.owners[ip]})
	}
	return out
}

// Free returns how many addresses Allocate can still hand out. It is a
// big.Int because an IPv6 subnet may hold more than 2^64 of them.
func (m *IPAM) Free() *big.Int {
	return m.nfree.big()
}

// checkAddr returns why ip cannot be allocated on the network, or "".
func (m *IPAM) checkAddr(ip netip.Addr) string {
	switch {
	case !ip.IsValid():
		return "must be an IP address"
	case ip.Zone() != "":
		return "must not carry a zone"
	case !m.net.Subnet.Contains(ip):
		return fmt.Sprintf("%s is outside subnet %s", ip, m.net.Subnet)
	case ip == m.net.Gateway:
		return fmt.Sprintf("%s is the gateway", ip)
	case ip == m.net.Subnet.Addr():
		return fmt.Sprintf("%s is the network address", ip)
	case ip == m.bcast:
		return fmt.Sprintf("%s is the broadcast address", ip)
	}
	return ""
}

// describeRanges renders the ranges, or the subnet when there are none.
func (m *IPAM) describeRanges() string {
	if len(m.net.Ranges) == 0 {
		return "subnet " + m.net.Subnet.String()
	}
	parts := make([]string, len(m.net.Ranges))
	for i, r := range m.net.Ranges {
		parts[i] = r.Start.String() + "-" + r.End.String()
	}
	return "ranges " + strings.Join(parts, ", ")
}

// subnetBounds returns the first and last address of p.
func subnetBounds(p netip.Prefix) (first, last u128) {
	first = fromAddr(p.Masked().Addr())
	hostBits := p.Addr().BitLen() - p.Bits()
	return first, first.or(u128{}.not().shr(uint(128 - hostBits)))
}

// subtract returns spans less the points in pts. Both inputs are sorted;
// spans are disjoint, pts distinct.
func subtract(spans []span, pts []u128) []span {
	out := make([]span, 0, len(spans)+len(pts))
	j := 0
	for _, s := range spans {
		for j < len(pts) && pts[j].less(s.lo) {
			j++
		}
		lo, done := s.lo, false
		for ; j < len(pts) && !s.hi.less(pts[j]); j++ {
			p := pts[j]
			if lo.less(p) {
				out = append(out, span{lo, p.sub1()})
			}
			if p == s.hi {
				done = true
				j++
				break
			}
			lo = p.add1()
		}
		if !done {
			out = append(out, span{lo, s.hi})
		}
	}
	return out
}

// span is an inclusive run of addresses.
type span struct{ lo, hi u128 }

// u128 is an address as a 128-bit integer; an IPv4 address is held in its
// IPv4-mapped IPv6 form, so arithmetic inside an IPv4 subnet stays in the
// low 32 bits.
type u128 struct{ hi, lo uint64 }

func fromAddr(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (u u128) addr(is4 bool) netip.Addr {
	if is4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(u.lo))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], u.hi)
	binary.BigEndian.PutUint64(b[8:], u.lo)
	return netip.AddrFrom16(b)
}

func (u u128) cmp(v u128) int {
	if c := cmp.Compare(u.hi, v.hi); c != 0 {
		return c
	}
	return cmp.Compare(u.lo, v.lo)
}

func (u u128) less(v u128) bool { return u.cmp(v) < 0 }

func (u u128) add(v u128) u128 {
	lo, carry := bits.Add64(u.lo, v.lo, 0)
	hi, _ := bits.Add64(u.hi, v.hi, carry)
	return u128{hi, lo}
}

func (u u128) sub(v u128) u128 {
	lo, borrow := bits.Sub64(u.lo, v.lo, 0)
	hi, _ := bits.Sub64(u.hi, v.hi, borrow)
	return u128{hi, lo}
}

func (u u128) add1() u128 { return u.add(u128{lo: 1}) }
func (u u128) sub1() u128 { return u.sub(u128{lo: 1}) }
func (u u128) not() u128  { return u128{^u.hi, ^u.lo} }
func (u u128) or(v u128) u128 {
	return u128{u.hi | v.hi, u.lo | v.lo}
}

// shr shifts right by n bits; n >= 128 gives 0.
func (u u128) shr(n uint) u128 {
	switch {
	case n >= 128:
		return u128{}
	case n >= 64:
		return u128{0, u.hi >> (n - 64)}
	case n == 0:
		return u
	}
	return u128{u.hi >> n, u.lo>>n | u.hi<<(64-n)}
}

func (u u128) big() *big.Int {
	b := new(big.Int).SetUint64(u.hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(u.lo))
}
