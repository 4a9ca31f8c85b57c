package network_test

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
)

const (
	netID  ovm.ID = "6c1f0a52-4b8e-4d7a-9b35-0a4f2d6e9c11"
	ownerA ovm.ID = "a0000000-0000-4000-8000-00000000000a"
	ownerB ovm.ID = "b0000000-0000-4000-8000-00000000000b"
)

// testNet builds a network from text: gateway may be "", each range is
// "start-end".
func testNet(t testing.TB, subnet, gateway string, ranges ...string) ovm.Network {
	t.Helper()
	n := ovm.Network{ID: netID, Name: "lab", Subnet: netip.MustParsePrefix(subnet)}
	if gateway != "" {
		n.Gateway = netip.MustParseAddr(gateway)
	}
	for _, r := range ranges {
		start, end, ok := strings.Cut(r, "-")
		require.True(t, ok, "range %q: want start-end", r)
		n.Ranges = append(n.Ranges, ovm.AddrRange{Start: netip.MustParseAddr(start), End: netip.MustParseAddr(end)})
	}
	require.NoError(t, n.Validate(), "test network %s", subnet)
	return n
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// requireFull checks that err is the network-full error.
func requireFull(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err, "allocate on a full network: got no error, want ErrFull")
	assert.ErrorIs(t, err, ovm.ErrConflict, "got kind %v, want conflict", ovm.KindOf(err))
	assert.ErrorIs(t, err, network.ErrFull, "got %v, want ErrFull in the chain", err)
	assert.Contains(t, err.Error(), "is full")
	fields := ovm.FieldsOf(err)
	require.Len(t, fields, 1, "got fields %v, want one naming ip", fields)
	assert.Equal(t, "ip", fields[0].Field)
}

func TestIPAMAllocateUntilFull(t *testing.T) {
	tests := []struct {
		name    string
		subnet  string
		gateway string
		ranges  []string
		want    []string // every address Allocate hands out, in order
	}{
		// 10.0.0.0/30 holds .0-.3; .0 is the network, .3 the broadcast.
		{name: "v4 /30 no gateway", subnet: "10.0.0.0/30", want: []string{"10.0.0.1", "10.0.0.2"}},
		{name: "v4 /30 gateway", subnet: "10.0.0.0/30", gateway: "10.0.0.1", want: []string{"10.0.0.2"}},
		// fd00::/126 holds ::0-::3; ::0 is the network (subnet-router anycast), IPv6 has no broadcast.
		{name: "v6 /126 no gateway", subnet: "fd00::/126", want: []string{"fd00::1", "fd00::2", "fd00::3"}},
		{name: "v6 /126 gateway", subnet: "fd00::/126", gateway: "fd00::1", want: []string{"fd00::2", "fd00::3"}},
		{
			name: "v4 range", subnet: "10.0.0.0/24", gateway: "10.0.0.1", ranges: []string{"10.0.0.10-10.0.0.12"},
			want: []string{"10.0.0.10", "10.0.0.11", "10.0.0.12"},
		},
		{
			// The range holds the network address .0 and the gateway .2: both skipped.
			name: "v4 range over network and gateway", subnet: "10.0.0.0/24", gateway: "10.0.0.2", ranges: []string{"10.0.0.0-10.0.0.3"},
			want: []string{"10.0.0.1", "10.0.0.3"},
		},
		{
			// 10.0.0.0/29 ends with the broadcast .7, which the range holds.
			name: "v4 range over broadcast", subnet: "10.0.0.0/29", ranges: []string{"10.0.0.4-10.0.0.7"},
			want: []string{"10.0.0.4", "10.0.0.5", "10.0.0.6"},
		},
		{
			name: "v4 ranges out of order", subnet: "10.0.0.0/24", ranges: []string{"10.0.0.20-10.0.0.21", "10.0.0.5-10.0.0.6"},
			want: []string{"10.0.0.5", "10.0.0.6", "10.0.0.20", "10.0.0.21"},
		},
		{
			name: "v6 ranges", subnet: "fd00:211::/64", gateway: "fd00:211::1", ranges: []string{"fd00:211::1-fd00:211::2", "fd00:211::ffff-fd00:211::1:0"},
			want: []string{"fd00:211::2", "fd00:211::ffff", "fd00:211::1:0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := network.NewIPAM(testNet(t, tt.subnet, tt.gateway, tt.ranges...), nil)
			require.NoError(t, err)
			require.Equal(t, int64(len(tt.want)), m.Free().Int64(), "free before allocating: got %s, want %d", m.Free(), len(tt.want))
			for i, w := range addrs(tt.want...) {
				got, err := m.Allocate(ownerA)
				require.NoError(t, err, "allocation %d", i)
				require.Equal(t, w, got, "allocation %d: got %s, want %s", i, got, w)
			}
			assert.Zero(t, m.Free().Sign(), "free after allocating all: got %s, want 0", m.Free())
			_, err = m.Allocate(ownerA)
			requireFull(t, err)
		})
	}
}

func TestIPAMLargeNetworks(t *testing.T) {
	pow2 := func(n uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), n) }
	minus := func(b *big.Int, n int64) *big.Int { return new(big.Int).Sub(b, big.NewInt(n)) }
	tests := []struct {
		name      string
		subnet    string
		gateway   string
		ranges    []string
		wantFree  *big.Int
		wantFirst []string
	}{
		// 2^16 addresses less network, broadcast and gateway.
		{name: "v4 /16", subnet: "10.1.0.0/16", gateway: "10.1.0.1", wantFree: minus(pow2(16), 3), wantFirst: []string{"10.1.0.2", "10.1.0.3", "10.1.0.4"}},
		// 2^32 less network and broadcast.
		{name: "v4 /0", subnet: "0.0.0.0/0", wantFree: minus(pow2(32), 2), wantFirst: []string{"0.0.0.1", "0.0.0.2"}},
		// 2^64 less network and gateway.
		{name: "v6 /64", subnet: "fd00:211::/64", gateway: "fd00:211::1", wantFree: minus(pow2(64), 2), wantFirst: []string{"fd00:211::2", "fd00:211::3"}},
		// 2^80 less the network address.
		{name: "v6 /48", subnet: "fd00:211::/48", wantFree: minus(pow2(80), 1), wantFirst: []string{"fd00:211::1"}},
		// 2^128 less the network address: the largest count there is.
		{name: "v6 /0", subnet: "::/0", wantFree: minus(pow2(128), 1), wantFirst: []string{"::1", "::2"}},
		// ::100-::1ff is 0x100 = 256 addresses.
		{name: "v6 range", subnet: "fd00:211::/64", gateway: "fd00:211::1", ranges: []string{"fd00:211::100-fd00:211::1ff"}, wantFree: big.NewInt(256), wantFirst: []string{"fd00:211::100"}},
		// The top of the range is the subnet's last address, which is not a broadcast in IPv6: 2^64 - 2^63 addresses.
		{name: "v6 range to the end", subnet: "fd00::/64", ranges: []string{"fd00::8000:0:0:0-fd00::ffff:ffff:ffff:ffff"}, wantFree: pow2(63), wantFirst: []string{"fd00::8000:0:0:0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := network.NewIPAM(testNet(t, tt.subnet, tt.gateway, tt.ranges...), nil)
			require.NoError(t, err)
			require.Zero(t, tt.wantFree.Cmp(m.Free()), "free: got %s, want %s", m.Free(), tt.wantFree)
			for i, w := range addrs(tt.wantFirst...) {
				got, err := m.Allocate(ownerA)
				require.NoError(t, err)
				require.Equal(t, w, got, "allocation %d: got %s, want %s", i, got, w)
			}
			want := minus(tt.wantFree, int64(len(tt.wantFirst)))
			assert.Zero(t, want.Cmp(m.Free()), "free after allocating: got %s, want %s", m.Free(), want)
		})
	}
}

func TestIPAMReserve(t *testing.T) {
	v4 := func(t testing.TB) ovm.Network {
		return testNet(t, "10.0.0.0/24", "10.0.0.1", "10.0.0.10-10.0.0.20")
	}
	v6 := func(t testing.TB) ovm.Network { return testNet(t, "fd00:211::/64", "fd00:211::1") }
	held := []network.Allocation{{IP: netip.MustParseAddr("10.0.0.12"), Owner: ownerB}}
	tests := []struct {
		name      string
		net       func(testing.TB) ovm.Network
		ip        netip.Addr
		owner     ovm.ID
		wantKind  error  // nil: success
		wantField string // the field the error names
		wantText  string // part of the error text
		// wantFree is the count after the call; v4 starts with .10-.20 = 11
		// less .12 (held) = 10 free.
		wantFree int64
	}{
		{name: "inside range", net: v4, ip: netip.MustParseAddr("10.0.0.15"), owner: ownerA, wantFree: 9},      // 10 - .15
		{name: "lowest in range", net: v4, ip: netip.MustParseAddr("10.0.0.10"), owner: ownerA, wantFree: 9},   // 10 - .10
		{name: "outside range", net: v4, ip: netip.MustParseAddr("10.0.0.50"), owner: ownerA, wantFree: 10},    // not in a range: no change
		{name: "same owner again", net: v4, ip: netip.MustParseAddr("10.0.0.12"), owner: ownerB, wantFree: 10}, // .12 already counted as held
		{name: "taken", net: v4, ip: netip.MustParseAddr("10.0.0.12"), owner: ownerA, wantKind: ovm.ErrConflict, wantField: "ip", wantText: string(ownerB), wantFree: 10},
		{name: "gateway", net: v4, ip: netip.MustParseAddr("10.0.0.1"), owner: ownerA, wantKind: ovm.ErrInvalid, wantField: "ip", wantText: "gateway", wantFree: 10},
		{name: "network address", net: v4, ip: netip.MustParseAddr("10.0.0.0"), owner: ownerA, wantKind: ovm.ErrInvalid, wantField: "ip", wantText: "network address", wantFree: 10},
		{name: "broadcast", net: v4, ip: netip.MustParseAddr("10.0.0.255"), owner: ownerA, wantKind: ovm.ErrInvalid, wantField: "ip", wantText: "broadcast", wantFree: 10},
		{name: "outside subnet", net: v4, ip: netip.MustParseAddr("10.0.1.5"), owner: ownerA, wantKind: ovm.ErrInvalid, wantField: "ip", wantText: "outside subnet", wantFree: 10},
		{name: "other family", net: v4, ip: netip.MustParseAddr("fd00::5"), owner: ownerA, wantKind: ovm.ErrInvalid, wantField: "ip", wantText: "outside subnet", wantFree: 10},
		{name: "ipv4-mapped", net: v4, ip: netip.MustParseAddr("::ffff:10.0.0.15"), owner: ownerA, wantKind: ovm.ErrInvalid, wantField: "ip", wantText: "outside subnet", wantFree: 10},
		{name: "zero address", net: v4, ip: netip.Addr{}, owner: ownerA, wantKind: ovm.ErrInvalid, wantField: "ip", wantText: "must be an IP address", wantFree: 10},
		{name: "empty owner", net: v4, ip: netip.MustParseAddr("10.0.0.15"), wantKind: ovm.ErrInvalid, wantField: "owner", wantText: "must not be empty", wantFree: 10},
		// v6: 2^64 less network and gateway; 2^64 - 3 after one reservation.
		{name: "v6 inside", net: v6, ip: netip.MustParseAddr("fd00:211::ab"), owner: ownerA, wantFree: -3},
		{name: "v6 zone", net: v6, ip: netip.MustParseAddr("fd00:211::ab%eth0"), owner: ownerA, wantKind: ovm.ErrInvalid, wantField: "ip", wantText: "zone", wantFree: -2},
		{name: "v6 network address", net: v6, ip: netip.MustParseAddr("fd00:211::"), owner: ownerA, wantKind: ovm.ErrInvalid, wantField: "ip", wantText: "network address", wantFree: -2},
		{name: "v6 gateway", net: v6, ip: netip.MustParseAddr("fd00:211::1"), owner: ownerA, wantKind: ovm.ErrInvalid, wantField: "ip", wantText: "gateway", wantFree: -2},
		{name: "v6 last address", net: v6, ip: netip.MustParseAddr("fd00:211::ffff:ffff:ffff:ffff"), owner: ownerA, wantFree: -3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.net(t)
			var pre []network.Allocation
			if n.Subnet.Addr().Is4() {
				pre = held
			}
			m, err := network.NewIPAM(n, pre)
			require.NoError(t, err)
			err = m.Reserve(tt.ip, tt.owner)
			if tt.wantKind == nil {
				require.NoError(t, err)
				got, ok := m.Owner(tt.ip)
				assert.True(t, ok && got == tt.owner, "owner of %s: got %q (%v), want %q", tt.ip, got, ok, tt.owner)
			} else {
				require.Error(t, err, "got no error, want %v", tt.wantKind)
				assert.ErrorIs(t, err, tt.wantKind, "got kind %v, want %v", ovm.KindOf(err), tt.wantKind)
				assert.Contains(t, err.Error(), tt.wantText)
				fields := ovm.FieldsOf(err)
				require.NotEmpty(t, fields, "got no field, want %s", tt.wantField)
				assert.Equal(t, tt.wantField, fields[0].Field)
			}
			wantFree := big.NewInt(tt.wantFree)
			if tt.wantFree < 0 { // relative to 2^64
				wantFree.Add(wantFree, new(big.Int).Lsh(big.NewInt(1), 64))
			}
			assert.Zero(t, wantFree.Cmp(m.Free()), "free: got %s, want %s", m.Free(), wantFree)
			// A reservation is never handed out again.
			if tt.wantKind == nil {
				next, err := m.Allocate(ownerA)
				require.NoError(t, err)
				assert.NotEqual(t, tt.ip, next, "allocate after reserving %s handed it out again", tt.ip)
			}
		})
	}
}

func TestIPAMReleaseReallocatesLowest(t *testing.T) {
	m, err := network.NewIPAM(testNet(t, "10.0.0.0/24", "10.0.0.1", "10.0.0.2-10.0.0.9"), nil)
	require.NoError(t, err)
	for _, w := range addrs("10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5") {
		got, err := m.Allocate(ownerA)
		require.NoError(t, err)
		require.Equal(t, w, got)
	}
	require.NoError(t, m.Reserve(netip.MustParseAddr("10.0.0.100"), ownerB)) // static, outside the range
	// .2-.9 is 8 addresses, 4 allocated.
	require.Equal(t, int64(4), m.Free().Int64())

	steps := []struct {
		name     string
		release  []string
		want     []string // what Allocate then hands out
		wantFree int64
	}{
		{name: "one in the middle", release: []string{"10.0.0.3"}, want: []string{"10.0.0.3"}, wantFree: 4},                         // 4 +1 -1
		{name: "two, lowest first", release: []string{"10.0.0.4", "10.0.0.2"}, want: []string{"10.0.0.2", "10.0.0.4"}, wantFree: 4}, // 4 +2 -2
		{name: "highest then next", release: []string{"10.0.0.5"}, want: []string{"10.0.0.5", "10.0.0.6"}, wantFree: 3},             // 4 +1 -2
		{name: "static outside the range", release: []string{"10.0.0.100"}, want: []string{"10.0.0.7"}, wantFree: 2},                // 3 +0 -1
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			for _, ip := range addrs(st.release...) {
				require.NoError(t, m.Release(ip))
				_, held := m.Owner(ip)
				assert.False(t, held, "%s still held after release", ip)
			}
			for _, w := range addrs(st.want...) {
				got, err := m.Allocate(ownerA)
				require.NoError(t, err)
				assert.Equal(t, w, got, "got %s, want %s", got, w)
			}
			assert.Equal(t, st.wantFree, m.Free().Int64(), "free: got %s, want %d", m.Free(), st.wantFree)
		})
	}
}

func TestIPAMReleaseErrors(t *testing.T) {
	m, err := network.NewIPAM(testNet(t, "10.0.0.0/24", "10.0.0.1"), []network.Allocation{{IP: netip.MustParseAddr("10.0.0.2"), Owner: ownerA}})
	require.NoError(t, err)
	tests := []struct {
		name     string
		ip       netip.Addr
		wantKind error
	}{
		{name: "never allocated", ip: netip.MustParseAddr("10.0.0.3"), wantKind: ovm.ErrNotFound},
		{name: "outside subnet", ip: netip.MustParseAddr("192.0.2.1"), wantKind: ovm.ErrNotFound},
		{name: "gateway", ip: netip.MustParseAddr("10.0.0.1"), wantKind: ovm.ErrNotFound},
		{name: "zero address", ip: netip.Addr{}, wantKind: ovm.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.Release(tt.ip)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.wantKind, "got kind %v, want %v", ovm.KindOf(err), tt.wantKind)
			fields := ovm.FieldsOf(err)
			require.Len(t, fields, 1)
			assert.Equal(t, "ip", fields[0].Field)
			assert.Equal(t, []network.Allocation{{IP: netip.MustParseAddr("10.0.0.2"), Owner: ownerA}}, m.Allocations(), "a failed release changed the allocations")
		})
	}
	require.NoError(t, m.Release(netip.MustParseAddr("10.0.0.2")))
	err = m.Release(netip.MustParseAddr("10.0.0.2"))
	assert.ErrorIs(t, err, ovm.ErrNotFound, "second release: got %v, want not found", err)
}

func TestNewIPAM(t *testing.T) {
	a := func(ip string, owner ovm.ID) network.Allocation {
		return network.Allocation{IP: netip.MustParseAddr(ip), Owner: owner}
	}
	tests := []struct {
		name      string
		net       ovm.Network
		allocated []network.Allocation
		wantKind  error
		wantField string
		wantNext  string // the next allocation when wantKind is nil
		wantFree  int64
	}{
		// .2-.5 is 4 addresses; .3 and .2 held, in any order; .9 is static.
		{
			name: "rebuild", net: testNet(t, "10.0.0.0/24", "10.0.0.1", "10.0.0.2-10.0.0.5"),
			allocated: []network.Allocation{a("10.0.0.3", ownerA), a("10.0.0.9", ownerB), a("10.0.0.2", ownerB)},
			wantNext:  "10.0.0.4", wantFree: 1, // 4 - 2 held - 1 allocated now
		},
		{
			name: "invalid network", net: func() ovm.Network { n := testNet(t, "10.0.0.0/24", ""); n.VLAN = 5000; return n }(),
			wantKind: ovm.ErrInvalid, wantField: "vlan",
		},
		{
			name: "twice", net: testNet(t, "10.0.0.0/24", ""), allocated: []network.Allocation{a("10.0.0.3", ownerA), a("10.0.0.3", ownerB)},
			wantKind: ovm.ErrConflict, wantField: "allocated[1].ip",
		},
		{
			name: "gateway", net: testNet(t, "10.0.0.0/24", "10.0.0.1"), allocated: []network.Allocation{a("10.0.0.1", ownerA)},
			wantKind: ovm.ErrInvalid, wantField: "allocated[0].ip",
		},
		{
			name: "outside subnet", net: testNet(t, "10.0.0.0/24", ""), allocated: []network.Allocation{a("10.0.0.5", ownerA), a("10.9.0.1", ownerA)},
			wantKind: ovm.ErrInvalid, wantField: "allocated[1].ip",
		},
		{
			name: "no owner", net: testNet(t, "10.0.0.0/24", ""), allocated: []network.Allocation{a("10.0.0.5", "")},
			wantKind: ovm.ErrInvalid, wantField: "allocated[0].owner",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := network.NewIPAM(tt.net, tt.allocated)
			if tt.wantKind != nil {
				require.Error(t, err, "got no error, want %v", tt.wantKind)
				assert.ErrorIs(t, err, tt.wantKind, "got kind %v, want %v", ovm.KindOf(err), tt.wantKind)
				fields := ovm.FieldsOf(err)
				require.NotEmpty(t, fields)
				assert.Equal(t, tt.wantField, fields[0].Field)
				return
			}
			require.NoError(t, err)
			got, err := m.Allocate(ownerA)
			require.NoError(t, err)
			assert.Equal(t, netip.MustParseAddr(tt.wantNext), got)
			assert.Equal(t, tt.wantFree, m.Free().Int64(), "free: got %s, want %d", m.Free(), tt.wantFree)
			assert.Len(t, m.Allocations(), len(tt.allocated)+1)
		})
	}
}

func TestIPAMAllocationsSorted(t *testing.T) {
	n := testNet(t, "fd00:211::/64", "fd00:211::1")
	in := []network.Allocation{
		{IP: netip.MustParseAddr("fd00:211::ff"), Owner: ownerA},
		{IP: netip.MustParseAddr("fd00:211::3"), Owner: ownerB},
		{IP: netip.MustParseAddr("fd00:211::1:0"), Owner: ownerA},
	}
	m, err := network.NewIPAM(n, in)
	require.NoError(t, err)
	want := []network.Allocation{in[1], in[0], in[2]}
	assert.Equal(t, want, m.Allocations(), "got %v, want %v", m.Allocations(), want)
}

func TestIPAMAllocateEmptyOwner(t *testing.T) {
	m, err := network.NewIPAM(testNet(t, "10.0.0.0/30", ""), nil)
	require.NoError(t, err)
	_, err = m.Allocate("")
	require.ErrorIs(t, err, ovm.ErrInvalid)
	assert.Equal(t, "owner", ovm.FieldsOf(err)[0].Field)
	assert.Equal(t, int64(2), m.Free().Int64(), "a refused allocation took an address") // .1 and .2
}

func ExampleIPAM() {
	n := ovm.Network{
		ID: "6c1f0a52-4b8e-4d7a-9b35-0a4f2d6e9c11", Name: "lab",
		Subnet:  netip.MustParsePrefix("10.211.0.0/24"),
		Gateway: netip.MustParseAddr("10.211.0.1"),
		Ranges:  []ovm.AddrRange{{Start: netip.MustParseAddr("10.211.0.10"), End: netip.MustParseAddr("10.211.0.11")}},
	}
	// The server rebuilds the allocator from what it persisted.
	m, _ := network.NewIPAM(n, []network.Allocation{{IP: netip.MustParseAddr("10.211.0.10"), Owner: ownerA}})
	ip, _ := m.Allocate(ownerB)
	fmt.Println("allocated", ip, "free", m.Free())
	_, err := m.Allocate(ownerB)
	fmt.Println(errors.Is(err, network.ErrFull), errors.Is(err, ovm.ErrConflict))
	fmt.Println(m.Reserve(netip.MustParseAddr("10.211.0.11"), ownerA))
	// Output:
	// allocated 10.211.0.11 free 0
	// true true
	// address 10.211.0.11 is taken: ip: already allocated to b0000000-0000-4000-8000-00000000000b
}

// BenchmarkIPAMAllocate measures Allocate on networks already holding 10,000
// allocations, every second address from the first after the gateway, so
// that the free space is fragmented into 10,000 holes. "rebuild" is what the server does in each transaction:
// NewIPAM from the persisted allocations, then one Allocate.
func BenchmarkIPAMAllocate(b *testing.B) {
	const existing = 10_000
	nets := []struct {
		name string
		net  ovm.Network
	}{
		{name: "v4-16", net: testNet(b, "10.1.0.0/16", "10.1.0.1")},
		{name: "v6-64", net: testNet(b, "fd00:211::/64", "fd00:211::1")},
	}
	for _, nt := range nets {
		allocated := make([]network.Allocation, 0, existing)
		ip := nt.net.Gateway.Next()
		for range existing {
			allocated = append(allocated, network.Allocation{IP: ip, Owner: ownerA})
			ip = ip.Next().Next()
		}
		b.Run(nt.name+"/allocate", func(b *testing.B) {
			// Rebuilt every 10,000 allocations, so that the allocator holds
			// between 10,000 and 20,000 allocations throughout.
			const batch = 10_000
			var m *network.IPAM
			b.ReportAllocs()
			for i := range b.N {
				if i%batch == 0 {
					b.StopTimer()
					var err error
					if m, err = network.NewIPAM(nt.net, allocated); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				if _, err := m.Allocate(ownerB); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(nt.name+"/rebuild", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				m, err := network.NewIPAM(nt.net, allocated)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := m.Allocate(ownerB); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
