package network_test

import (
	"maps"
	"math/big"
	"net/netip"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
)

var owners = []ovm.ID{ownerA, ownerB, "c0000000-0000-4000-8000-00000000000c"}

// addrAt returns the address offset from the start of p, computed with
// big.Int so that the model shares no arithmetic with the IPAM.
func addrAt(p netip.Prefix, off *big.Int) netip.Addr {
	v := new(big.Int).SetBytes(p.Addr().AsSlice())
	v.Add(v, off)
	b := make([]byte, p.Addr().BitLen()/8)
	v.FillBytes(b)
	a, _ := netip.AddrFromSlice(b)
	return a
}

// subnetSize is 2^host bits.
func subnetSize(p netip.Prefix) *big.Int {
	return new(big.Int).Lsh(big.NewInt(1), uint(p.Addr().BitLen()-p.Bits()))
}

// drawOffset draws an offset into p, often near its start or end.
func drawOffset(t *rapid.T, p netip.Prefix, label string) *big.Int {
	size := subnetSize(p)
	last := new(big.Int).Sub(size, big.NewInt(1))
	small := big.NewInt(int64(rapid.IntRange(0, 12).Draw(t, label+".small")))
	switch rapid.IntRange(0, 2).Draw(t, label+".where") {
	case 0:
		if small.Cmp(last) > 0 {
			return last
		}
		return small
	case 1:
		if small.Cmp(last) > 0 {
			return big.NewInt(0)
		}
		return new(big.Int).Sub(last, small)
	}
	r := new(big.Int).SetUint64(rapid.Uint64().Draw(t, label+".hi"))
	r.Lsh(r, 64).Or(r, new(big.Int).SetUint64(rapid.Uint64().Draw(t, label+".lo")))
	return r.Mod(r, size)
}

// drawNetwork draws a valid network: IPv4 or IPv6, with or without a
// gateway, with zero to three ranges. small keeps the subnet below 1,024
// addresses, so that it can be allocated in full.
func drawNetwork(t *rapid.T, small bool) ovm.Network {
	var base netip.Addr
	var bits int
	if rapid.Bool().Draw(t, "v6") {
		var b [16]byte
		for i := range b {
			b[i] = byte(rapid.IntRange(0, 255).Draw(t, "byte"))
		}
		base = netip.AddrFrom16(b)
		bits = rapid.IntRange(118, 126).Draw(t, "bits")
		if !small && rapid.Bool().Draw(t, "large") {
			bits = rapid.IntRange(0, 118).Draw(t, "bits")
		}
	} else {
		u := rapid.Uint32().Draw(t, "v4")
		base = netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
		bits = rapid.IntRange(22, 30).Draw(t, "bits")
		if !small && rapid.Bool().Draw(t, "large") {
			bits = rapid.IntRange(0, 22).Draw(t, "bits")
		}
	}
	p := netip.PrefixFrom(base, bits).Masked()
	n := ovm.Network{ID: netID, Name: "prop", Subnet: p}
	if rapid.Bool().Draw(t, "gateway") {
		n.Gateway = addrAt(p, drawOffset(t, p, "gw"))
	}
	var offs []*big.Int
	for range rapid.IntRange(0, 6).Draw(t, "bounds") {
		offs = append(offs, drawOffset(t, p, "bound"))
	}
	slices.SortFunc(offs, (*big.Int).Cmp)
	offs = slices.CompactFunc(offs, func(a, b *big.Int) bool { return a.Cmp(b) == 0 })
	for i := 0; i < len(offs); i += 2 {
		end := offs[i]
		if i+1 < len(offs) {
			end = offs[i+1]
		}
		n.Ranges = append(n.Ranges, ovm.AddrRange{Start: addrAt(p, offs[i]), End: addrAt(p, end)})
	}
	n.Ranges = rapid.Permutation(n.Ranges).Draw(t, "ranges")
	if err := n.Validate(); err != nil {
		t.Fatalf("drew an invalid network %+v: %v", n, err)
	}
	return n
}

// model is the specification the IPAM is checked against: plain maps and
// address-by-address walks, bounded by the number of allocations.
type model struct {
	net    ovm.Network
	owners map[netip.Addr]ovm.ID
	// auto marks the addresses that Allocate handed out.
	auto map[netip.Addr]bool
}

func newModel(n ovm.Network) *model {
	return &model{net: n, owners: map[netip.Addr]ovm.ID{}, auto: map[netip.Addr]bool{}}
}

// ranges returns the ranges in address order, or the whole subnet.
func (m *model) ranges() []ovm.AddrRange {
	if len(m.net.Ranges) == 0 {
		last := addrAt(m.net.Subnet, new(big.Int).Sub(subnetSize(m.net.Subnet), big.NewInt(1)))
		return []ovm.AddrRange{{Start: m.net.Subnet.Addr(), End: last}}
	}
	return slices.SortedFunc(slices.Values(m.net.Ranges), func(a, b ovm.AddrRange) int { return a.Start.Compare(b.Start) })
}

func (m *model) broadcast() (netip.Addr, bool) {
	if !m.net.Subnet.Addr().Is4() {
		return netip.Addr{}, false
	}
	return addrAt(m.net.Subnet, new(big.Int).Sub(subnetSize(m.net.Subnet), big.NewInt(1))), true
}

// excluded: never allocated, even when reserved by hand.
func (m *model) excluded(a netip.Addr) bool {
	bc, ok := m.broadcast()
	return a == m.net.Subnet.Addr() || a == m.net.Gateway || (ok && a == bc)
}

func (m *model) inRanges(a netip.Addr) bool {
	for _, r := range m.ranges() {
		if r.Contains(a) {
			return true
		}
	}
	return false
}

// reservable reports whether Reserve must accept a.
func (m *model) reservable(a netip.Addr) bool {
	return a.IsValid() && a.Zone() == "" && m.net.Subnet.Contains(a) && !m.excluded(a)
}

// lowestFree walks each range from its start past taken addresses.
func (m *model) lowestFree() (netip.Addr, bool) {
	for _, r := range m.ranges() {
		for a := r.Start; ; a = a.Next() {
			if _, taken := m.owners[a]; !taken && !m.excluded(a) {
				return a, true
			}
			if a == r.End {
				break
			}
		}
	}
	return netip.Addr{}, false
}

// free is the size of the ranges less excluded and allocated addresses.
func (m *model) free() *big.Int {
	n := new(big.Int)
	for _, r := range m.ranges() {
		n.Add(n, new(big.Int).SetBytes(r.End.AsSlice()))
		n.Sub(n, new(big.Int).SetBytes(r.Start.AsSlice()))
		n.Add(n, big.NewInt(1))
	}
	excluded := map[netip.Addr]bool{m.net.Subnet.Addr(): true}
	if m.net.Gateway.IsValid() {
		excluded[m.net.Gateway] = true
	}
	if bc, ok := m.broadcast(); ok {
		excluded[bc] = true
	}
	for a := range excluded {
		if m.inRanges(a) {
			n.Sub(n, big.NewInt(1))
		}
	}
	for a := range m.owners {
		if m.inRanges(a) {
			n.Sub(n, big.NewInt(1))
		}
	}
	return n
}

// check compares the IPAM with the model and checks its invariants.
func (m *model) check(t *rapid.T, ipam *network.IPAM) {
	got := ipam.Allocations()
	seen := map[netip.Addr]bool{}
	for i, a := range got {
		if seen[a.IP] {
			t.Fatalf("%s allocated twice: %v", a.IP, got)
		}
		seen[a.IP] = true
		if i > 0 && !got[i-1].IP.Less(a.IP) {
			t.Fatalf("allocations out of order: %s before %s", got[i-1].IP, a.IP)
		}
		if !m.net.Subnet.Contains(a.IP) || m.excluded(a.IP) {
			t.Fatalf("%s allocated: outside subnet %s or network/broadcast/gateway %s", a.IP, m.net.Subnet, m.net.Gateway)
		}
		if m.auto[a.IP] && !m.inRanges(a.IP) {
			t.Fatalf("Allocate handed out %s, outside the ranges %v", a.IP, m.net.Ranges)
		}
		if want, ok := m.owners[a.IP]; !ok || want != a.Owner {
			t.Fatalf("allocation %s to %s: model has %q (%v)", a.IP, a.Owner, want, ok)
		}
	}
	if len(got) != len(m.owners) {
		t.Fatalf("got %d allocations, want %d", len(got), len(m.owners))
	}
	if want := m.free(); want.Cmp(ipam.Free()) != 0 {
		t.Fatalf("free: got %s, want %s", ipam.Free(), want)
	}
}

func TestIPAMProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := drawNetwork(t, false)
		ipam, err := network.NewIPAM(n, nil)
		require.NoError(t, err)
		m := newModel(n)
		drawIP := func(t *rapid.T) netip.Addr {
			switch rapid.IntRange(0, 6).Draw(t, "ipKind") {
			case 0:
				if len(m.owners) > 0 {
					return rapid.SampledFrom(slices.SortedFunc(maps.Keys(m.owners), netip.Addr.Compare)).Draw(t, "held")
				}
			case 5: // next to a held address or a range's bound: where free spans split and merge
				var near []netip.Addr
				for a := range m.owners {
					near = append(near, a.Prev(), a.Next())
				}
				for _, r := range m.ranges() {
					near = append(near, r.Start, r.End, r.End.Next())
				}
				slices.SortFunc(near, netip.Addr.Compare)
				return rapid.SampledFrom(near).Draw(t, "near")
			case 1:
				bc, _ := m.broadcast()
				return rapid.SampledFrom([]netip.Addr{n.Subnet.Addr(), n.Gateway, bc}).Draw(t, "special")
			case 2: // just outside the subnet, or another family
				last := addrAt(n.Subnet, new(big.Int).Sub(subnetSize(n.Subnet), big.NewInt(1)))
				return rapid.SampledFrom([]netip.Addr{n.Subnet.Addr().Prev(), last.Next(), netip.MustParseAddr("::ffff:10.0.0.1"), netip.MustParseAddr("fd00::1")}).Draw(t, "outside")
			}
			return addrAt(n.Subnet, drawOffset(t, n.Subnet, "ip"))
		}
		t.Repeat(map[string]func(*rapid.T){
			"allocate": func(t *rapid.T) {
				owner := rapid.SampledFrom(owners).Draw(t, "owner")
				got, err := ipam.Allocate(owner)
				want, ok := m.lowestFree()
				if !ok {
					if err == nil {
						t.Fatalf("allocate on a full network: got %s, want ErrFull", got)
					}
					require.ErrorIs(t, err, network.ErrFull)
					require.ErrorIs(t, err, ovm.ErrConflict)
					return
				}
				require.NoError(t, err, "allocate: want %s", want)
				if got != want {
					t.Fatalf("allocate: got %s, want the lowest free %s", got, want)
				}
				if _, taken := m.owners[got]; taken {
					t.Fatalf("allocate handed out %s, already held", got)
				}
				m.owners[got], m.auto[got] = owner, true
			},
			"reserve": func(t *rapid.T) {
				ip, owner := drawIP(t), rapid.SampledFrom(owners).Draw(t, "owner")
				err := ipam.Reserve(ip, owner)
				held, taken := m.owners[ip]
				switch {
				case !m.reservable(ip):
					require.ErrorIs(t, err, ovm.ErrInvalid, "reserve %s: got %v, want invalid", ip, err)
					require.Equal(t, "ip", ovm.FieldsOf(err)[0].Field)
				case taken && held != owner:
					require.ErrorIs(t, err, ovm.ErrConflict, "reserve %s held by %s: got %v, want conflict", ip, held, err)
					require.Contains(t, err.Error(), string(held))
				default:
					require.NoError(t, err, "reserve %s", ip)
					m.owners[ip] = owner
				}
			},
			"release": func(t *rapid.T) {
				ip := drawIP(t)
				err := ipam.Release(ip)
				if _, taken := m.owners[ip]; !taken {
					require.Error(t, err, "release of %s, never allocated: got no error", ip)
					require.True(t, ovm.KindOf(err) == ovm.KindNotFound || (!ip.IsValid() && ovm.KindOf(err) == ovm.KindInvalid), "release %s: got %v, want not found", ip, err)
					return
				}
				require.NoError(t, err, "release %s", ip)
				delete(m.owners, ip)
				delete(m.auto, ip)
			},
			"rebuild": func(t *rapid.T) {
				rebuilt, err := network.NewIPAM(n, ipam.Allocations())
				require.NoError(t, err, "rebuild from Allocations()")
				require.Equal(t, ipam.Allocations(), rebuilt.Allocations())
				require.Zero(t, ipam.Free().Cmp(rebuilt.Free()), "rebuilt free: got %s, want %s", rebuilt.Free(), ipam.Free())
				ipam = rebuilt
			},
			"": func(t *rapid.T) { m.check(t, ipam) },
		})
	})
}

func TestIPAMAllocateAllThenExhaust(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := drawNetwork(t, true)
		m := newModel(n)
		var pre []network.Allocation
		for range rapid.IntRange(0, 5).Draw(t, "static") {
			ip := addrAt(n.Subnet, drawOffset(t, n.Subnet, "static"))
			if _, taken := m.owners[ip]; m.reservable(ip) && !taken {
				m.owners[ip] = ownerB
				pre = append(pre, network.Allocation{IP: ip, Owner: ownerB})
			}
		}
		ipam, err := network.NewIPAM(n, pre)
		require.NoError(t, err)
		total := ipam.Free().Int64()

		var got []netip.Addr
		for {
			ip, err := ipam.Allocate(ownerA)
			if err != nil {
				require.ErrorIs(t, err, network.ErrFull, "allocation %d", len(got))
				break
			}
			if len(got) > 0 && !got[len(got)-1].Less(ip) {
				t.Fatalf("allocation %d: got %s after %s, want ascending", len(got), ip, got[len(got)-1])
			}
			got = append(got, ip)
			m.owners[ip], m.auto[ip] = ownerA, true
			if int64(len(got)) > total {
				t.Fatalf("allocated %d addresses, more than the %d free", len(got), total)
			}
		}
		if int64(len(got)) != total {
			t.Fatalf("allocated %d addresses before the network was full, want %d", len(got), total)
		}
		m.check(t, ipam)
		if _, ok := m.lowestFree(); ok {
			t.Fatalf("IPAM full but the model has a free address")
		}

		// Released addresses come back, lowest first, and nothing else.
		if len(got) == 0 {
			return
		}
		released := rapid.SliceOfNDistinct(rapid.SampledFrom(got), 1, len(got), func(a netip.Addr) netip.Addr { return a }).Draw(t, "release")
		for _, ip := range released {
			require.NoError(t, ipam.Release(ip))
			delete(m.owners, ip)
		}
		require.Equal(t, int64(len(released)), ipam.Free().Int64())
		slices.SortFunc(released, netip.Addr.Compare)
		for i, want := range released {
			ip, err := ipam.Allocate(ownerA)
			require.NoError(t, err)
			if ip != want {
				t.Fatalf("reallocation %d: got %s, want %s", i, ip, want)
			}
			m.owners[ip] = ownerA
		}
		_, err = ipam.Allocate(ownerA)
		require.ErrorIs(t, err, network.ErrFull)
		m.check(t, ipam)
	})
}
