package network_test

import (
	"errors"
	"math/big"
	"net/netip"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
)

// fuzzBytes hands out the fuzzer's bytes, then zeros.
type fuzzBytes []byte

func (b *fuzzBytes) byte() byte {
	if len(*b) == 0 {
		return 0
	}
	c := (*b)[0]
	*b = (*b)[1:]
	return c
}

// big reads n bytes as a number.
func (b *fuzzBytes) big(n int) *big.Int {
	v := new(big.Int)
	for range n {
		v.Lsh(v, 8).Or(v, big.NewInt(int64(b.byte())))
	}
	return v
}

// fzAddr returns the address off past the start of p (off < the size of p).
func fzAddr(p netip.Prefix, off *big.Int) netip.Addr {
	v := new(big.Int).SetBytes(p.Addr().AsSlice())
	v.Add(v, off)
	buf := make([]byte, p.Addr().BitLen()/8)
	v.FillBytes(buf)
	a, _ := netip.AddrFromSlice(buf)
	return a
}

// fzOffset reads an offset into p: small values near either end are as
// likely as arbitrary ones, so that edges are reached.
func fzOffset(b *fuzzBytes, p netip.Prefix) *big.Int {
	size := new(big.Int).Lsh(big.NewInt(1), uint(p.Addr().BitLen()-p.Bits()))
	last := new(big.Int).Sub(size, big.NewInt(1))
	sel := b.byte()
	var off *big.Int
	switch sel % 3 {
	case 0:
		off = big.NewInt(int64(sel / 3))
	case 1:
		off = new(big.Int).Sub(last, big.NewInt(int64(sel/3)))
	default:
		off = b.big(p.Addr().BitLen() / 8)
	}
	return off.Mod(off.Add(off, size), size)
}

func fzNum(a netip.Addr) *big.Int { return new(big.Int).SetBytes(a.AsSlice()) }

// fzNetwork builds a network from the fuzzer's bytes: any prefix, maybe a
// gateway, up to three ranges in any order. It need not be valid. The
// first byte's bits: 1 IPv6, 2 keep host bits, 4 gateway, 8 and 16 the
// number of ranges, 32 ranges may run backwards.
func fzNetwork(b *fuzzBytes) ovm.Network {
	ctl := b.byte()
	var base netip.Addr
	var bits int
	if ctl&1 == 1 {
		var a [16]byte
		for i := range a {
			a[i] = b.byte()
		}
		base = netip.AddrFrom16(a)
		bits = int(b.byte()) % 129
	} else {
		base = netip.AddrFrom4([4]byte{b.byte(), b.byte(), b.byte(), b.byte()})
		bits = int(b.byte()) % 33
	}
	p := netip.PrefixFrom(base, bits)
	if ctl&2 == 0 {
		p = p.Masked()
	}
	n := ovm.Network{ID: "e0000000-0000-4000-8000-00000000000e", Name: "fuzz", Subnet: p, VLAN: int(ctl >> 6)}
	m := p.Masked()
	if ctl&4 != 0 {
		n.Gateway = fzAddr(m, fzOffset(b, m))
	}
	for range int(ctl>>3) % 4 {
		s, e := fzOffset(b, m), fzOffset(b, m)
		if s.Cmp(e) > 0 && ctl&32 == 0 {
			s, e = e, s
		}
		n.Ranges = append(n.Ranges, ovm.AddrRange{Start: fzAddr(m, s), End: fzAddr(m, e)})
	}
	return n
}

// FuzzIPAM builds an IPAM over an arbitrary network and runs arbitrary
// allocations, reservations and releases. Allocate never returns the
// gateway, the network or broadcast address, an address outside the ranges
// (or subnet), or one already held; it hands out the lowest free address;
// Free counts exactly; a full network is ovm.ErrConflict wrapping ErrFull;
// the allocations rebuild an identical IPAM.
func FuzzIPAM(f *testing.F) {
	// Offsets are one byte: n%3 == 0 is n/3 from the start, 1 is n/3 back
	// from the end, 2 reads a whole address.
	f.Add([]byte{0, 10, 0, 0, 0, 24, 0, 0, 0, 0})                                         // 10.0.0.0/24, allocations
	f.Add([]byte{4, 10, 0, 0, 0, 30, 3, 0, 0, 0, 0, 0})                                   // /30, gateway .1: one address
	f.Add([]byte{4 | 8, 192, 168, 1, 0, 29, 3, 6, 4, 0, 0, 0, 0, 0, 0})                   // gateway .1, range .2-.6 (back 1)
	f.Add([]byte{4 | 16, 10, 0, 0, 0, 24, 3, 9, 30, 60, 4, 0, 0, 2, 12, 3, 1, 0, 128, 0}) // ranges .3-.10 and .20-.254: allocate, reserve, release
	f.Add([]byte{1 | 4 | 8, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 3, 0, 1, 0, 0, 0})
	f.Add([]byte{1, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 126, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 0, 120, 0, 0, 0, 0}) // IPv4-mapped
	f.Add([]byte{2, 10, 0, 0, 5, 24})                                                        // host bits set: invalid
	f.Add([]byte{8 | 32, 10, 0, 0, 0, 24, 30, 3})                                            // a backwards range: invalid
	f.Add([]byte{16, 10, 0, 0, 0, 16, 0, 30, 15, 60})                                        // overlapping ranges: invalid
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0})                                                 // 0.0.0.0/0
	f.Fuzz(func(t *testing.T, data []byte) {
		b := fuzzBytes(data)
		n := fzNetwork(&b)
		m, err := network.NewIPAM(n, nil)
		if verr := n.Validate(); verr != nil {
			require.Error(t, err, "NewIPAM of the invalid network %+v", n)
			require.True(t, errors.Is(err, ovm.ErrInvalid), "NewIPAM of an invalid network: %v", err)
			return
		}
		require.NoError(t, err, "NewIPAM(%+v)", n)

		sub := n.Subnet
		size := new(big.Int).Lsh(big.NewInt(1), uint(sub.Addr().BitLen()-sub.Bits()))
		last := fzAddr(sub, new(big.Int).Sub(size, big.NewInt(1)))
		excluded := func(a netip.Addr) bool {
			return a == sub.Addr() || a == n.Gateway || (sub.Addr().Is4() && a == last)
		}
		ranges := slices.Clone(n.Ranges)
		if len(ranges) == 0 {
			ranges = []ovm.AddrRange{{Start: sub.Addr(), End: last}}
		}
		slices.SortFunc(ranges, func(x, y ovm.AddrRange) int { return x.Start.Compare(y.Start) })
		inRanges := func(a netip.Addr) bool {
			for _, r := range ranges {
				if r.Contains(a) {
					return true
				}
			}
			return false
		}
		held := map[netip.Addr]ovm.ID{}
		// free is the model's count: the ranges, less excluded and held
		// addresses inside them.
		free := func() *big.Int {
			c := new(big.Int)
			for _, r := range ranges {
				c.Add(c, new(big.Int).Sub(fzNum(r.End), fzNum(r.Start)))
				c.Add(c, big.NewInt(1))
			}
			ex := map[netip.Addr]bool{sub.Addr(): true}
			if n.Gateway.IsValid() {
				ex[n.Gateway] = true
			}
			if sub.Addr().Is4() {
				ex[last] = true
			}
			for a := range ex {
				if inRanges(a) {
					c.Sub(c, big.NewInt(1))
				}
			}
			for a := range held {
				if inRanges(a) {
					c.Sub(c, big.NewInt(1))
				}
			}
			return c
		}
		// lowest is the lowest free address, walking at most limit
		// addresses; ok false when none was found within the walk.
		lowest := func(limit int) (netip.Addr, bool, bool) {
			for _, r := range ranges {
				for a := r.Start; ; a = a.Next() {
					if limit--; limit < 0 {
						return netip.Addr{}, false, false
					}
					if _, taken := held[a]; !taken && !excluded(a) {
						return a, true, true
					}
					if a == r.End {
						break
					}
				}
			}
			return netip.Addr{}, false, true
		}
		owners := []ovm.ID{"a0000000-0000-4000-8000-00000000000a", "b0000000-0000-4000-8000-00000000000b"}

		for range 64 {
			if len(b) == 0 {
				break
			}
			op := b.byte()
			owner := owners[op>>7]
			switch op % 4 {
			case 0, 1: // allocate
				want, found, walked := lowest(4096)
				a, err := m.Allocate(owner)
				if err != nil {
					require.True(t, errors.Is(err, ovm.ErrConflict) && errors.Is(err, network.ErrFull), "Allocate: %v", err)
					require.Zero(t, free().Sign(), "Allocate said full with %s free", free())
					require.Zero(t, m.Free().Sign())
					require.False(t, found, "Allocate said full, %s is free", want)
					continue
				}
				require.True(t, sub.Contains(a), "Allocate: %s outside %s", a, sub)
				require.False(t, excluded(a), "Allocate: %s is the network, broadcast or gateway address of %+v", a, n)
				require.True(t, inRanges(a), "Allocate: %s outside the ranges %v", a, n.Ranges)
				_, dup := held[a]
				require.False(t, dup, "Allocate: %s handed out twice", a)
				if walked {
					require.True(t, found && a == want, "Allocate: got %s, the lowest free address is %s", a, want)
				}
				held[a] = owner
			case 2: // reserve
				off := fzOffset(&b, sub.Masked())
				a := fzAddr(sub.Masked(), off)
				err := m.Reserve(a, owner)
				prev, taken := held[a]
				switch {
				case excluded(a):
					require.True(t, errors.Is(err, ovm.ErrInvalid), "Reserve(%s) of an excluded address: %v", a, err)
				case taken && prev != owner:
					require.True(t, errors.Is(err, ovm.ErrConflict), "Reserve(%s) held by another: %v", a, err)
				default:
					require.NoError(t, err, "Reserve(%s)", a)
					held[a] = owner
				}
			case 3: // release a held address, or one that is not
				var a netip.Addr
				if keys := slices.SortedFunc(func(yield func(netip.Addr) bool) {
					for k := range held {
						if !yield(k) {
							return
						}
					}
				}, netip.Addr.Compare); len(keys) > 0 {
					a = keys[int(b.byte())%len(keys)]
				} else {
					a = fzAddr(sub.Masked(), fzOffset(&b, sub.Masked()))
				}
				err := m.Release(a)
				if _, ok := held[a]; ok {
					require.NoError(t, err, "Release(%s)", a)
					delete(held, a)
				} else {
					require.True(t, errors.Is(err, ovm.ErrNotFound), "Release(%s) of a free address: %v", a, err)
				}
			}
			require.Equal(t, 0, free().Cmp(m.Free()), "Free: got %s, want %s", m.Free(), free())
		}

		allocs := m.Allocations()
		require.Len(t, allocs, len(held))
		for i, a := range allocs {
			require.Equal(t, held[a.IP], a.Owner, "owner of %s", a.IP)
			if i > 0 {
				require.True(t, allocs[i-1].IP.Less(a.IP), "Allocations not in address order")
			}
		}
		again, err := network.NewIPAM(n, allocs)
		require.NoError(t, err, "NewIPAM from Allocations")
		require.Equal(t, 0, m.Free().Cmp(again.Free()), "rebuilt IPAM: Free %s, want %s", again.Free(), m.Free())
		x, err1 := m.Allocate(owners[0])
		y, err2 := again.Allocate(owners[0])
		require.Equal(t, err1 == nil, err2 == nil)
		require.Equal(t, x, y, "the rebuilt IPAM allocates another address")
	})
}
