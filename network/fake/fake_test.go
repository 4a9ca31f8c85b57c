package fake_test

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/network/fake"
	"github.com/openovm/ovm/network/networktest"
	"github.com/openovm/ovm/ovm"
)

// harness runs the suite on drivers from newDriver, with a distinct
// 10.211.X.0/24 per network and a VLAN when the driver announces them.
func harness(newDriver func(*testing.T) network.Driver) networktest.Harness {
	var seq atomic.Uint32
	return networktest.Harness{
		New: newDriver,
		Network: func(t *testing.T, name string) ovm.Network {
			k := seq.Add(1)
			require.Less(t, k, uint32(256), "the harness ran out of /24s in 10.211.0.0/16")
			n := ovm.Network{
				ID: ovm.NewID(), Name: name,
				Subnet:  netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 211, byte(k), 0}), 24),
				Gateway: netip.AddrFrom4([4]byte{10, 211, byte(k), 1}),
				Ranges: []ovm.AddrRange{{
					Start: netip.AddrFrom4([4]byte{10, 211, byte(k), 10}),
					End:   netip.AddrFrom4([4]byte{10, 211, byte(k), 200}),
				}},
			}
			if newDriver(t).Capabilities().VLAN {
				n.VLAN = 100 + int(k)
			}
			return n
		},
		Instance: func(*testing.T) ovm.ID { return ovm.NewID() },
	}
}

func TestConformance(t *testing.T) {
	t.Run("fresh driver per test", func(t *testing.T) {
		networktest.Run(t, harness(func(*testing.T) network.Driver { return fake.New(fake.Options{}) }))
	})

	t.Run("shared driver", func(t *testing.T) {
		d := fake.New(fake.Options{})
		t.Run("suite", func(t *testing.T) {
			networktest.Run(t, harness(func(*testing.T) network.Driver { return d }))
		})
		// Every test removed what it made.
		segs, err := d.ListNetworks(t.Context())
		require.NoError(t, err)
		assert.Empty(t, segs, "networks left after the suite: got %v, want none", segs)
	})

	t.Run("without VLAN and IPv6", func(t *testing.T) {
		opts := fake.Options{NoVLAN: true, NoIPv6: true}
		networktest.Run(t, harness(func(*testing.T) network.Driver { return fake.New(opts) }))
	})
}

// testNetwork returns a valid network on 10.211.0.0/24.
func testNetwork() ovm.Network {
	return ovm.Network{
		ID: ovm.NewID(), Name: "lab", VLAN: 7,
		Subnet:  netip.MustParsePrefix("10.211.0.0/24"),
		Gateway: netip.MustParseAddr("10.211.0.1"),
	}
}

// fixture is a driver holding network n, with inst attached, and the empty
// network spare.
type fixture struct {
	d        *fake.Driver
	n, spare ovm.Network
	inst     ovm.ID
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	f := fixture{d: fake.New(fake.Options{}), n: testNetwork(), spare: testNetwork(), inst: ovm.NewID()}
	f.spare.Name, f.spare.Subnet, f.spare.Gateway = "spare", netip.MustParsePrefix("10.212.0.0/24"), netip.Addr{}
	for _, n := range []ovm.Network{f.n, f.spare} {
		_, err := f.d.CreateNetwork(t.Context(), n)
		require.NoError(t, err)
	}
	_, err := f.d.Attach(t.Context(), f.n.ID, f.inst, network.AttachSpec{IP: netip.MustParseAddr("10.211.0.2")})
	require.NoError(t, err)
	return f
}

// state is what a test can see of the driver: its segments and the
// attachments of n.
func (f fixture) state(t *testing.T) ([]network.Segment, []network.Attachment) {
	t.Helper()
	segs, err := f.d.ListNetworks(t.Context())
	require.NoError(t, err)
	atts, err := f.d.Attachments(t.Context(), f.n.ID)
	require.NoError(t, err)
	return segs, atts
}

// call is one method of the driver, a call that succeeds on a fixture.
type call struct {
	method string
	do     func(ctx context.Context, f fixture) error
}

// calls lists every method.
var calls = []call{
	{fake.MethodCreateNetwork, func(ctx context.Context, f fixture) error {
		n := testNetwork()
		n.Name = "other"
		_, err := f.d.CreateNetwork(ctx, n)
		return err
	}},
	{fake.MethodGetNetwork, func(ctx context.Context, f fixture) error {
		_, err := f.d.GetNetwork(ctx, f.n.ID)
		return err
	}},
	{fake.MethodListNetworks, func(ctx context.Context, f fixture) error {
		_, err := f.d.ListNetworks(ctx)
		return err
	}},
	{fake.MethodAttach, func(ctx context.Context, f fixture) error {
		_, err := f.d.Attach(ctx, f.n.ID, ovm.NewID(), network.AttachSpec{IP: netip.MustParseAddr("10.211.0.3")})
		return err
	}},
	{fake.MethodAttachments, func(ctx context.Context, f fixture) error {
		_, err := f.d.Attachments(ctx, f.n.ID)
		return err
	}},
	{fake.MethodDetach, func(ctx context.Context, f fixture) error { return f.d.Detach(ctx, f.n.ID, f.inst) }},
	{fake.MethodDeleteNetwork, func(ctx context.Context, f fixture) error { return f.d.DeleteNetwork(ctx, f.spare.ID) }},
}

func TestSetUnreachable(t *testing.T) {
	for _, c := range calls {
		t.Run(c.method, func(t *testing.T) {
			f := newFixture(t)
			segs, atts := f.state(t)

			f.d.SetUnreachable(true)
			err := c.do(t.Context(), f)
			require.ErrorIs(t, err, ovm.ErrUnavailable, "%s on an unreachable host: got %v, want ovm.ErrUnavailable", c.method, err)
			f.d.SetUnreachable(false)

			gotSegs, gotAtts := f.state(t)
			assert.Equal(t, segs, gotSegs, "segments changed by a call to an unreachable host")
			assert.Equal(t, atts, gotAtts, "attachments changed by a call to an unreachable host")
			assert.NoError(t, c.do(t.Context(), f), "%s once reachable again", c.method)
		})
	}
}

func TestFailNext(t *testing.T) {
	boom := errors.New("boom")
	for _, c := range calls {
		t.Run(c.method, func(t *testing.T) {
			f := newFixture(t)
			segs, atts := f.state(t)

			f.d.FailNext(c.method, boom)
			f.d.FailNext(c.method, ovm.ErrConflict)
			err := c.do(t.Context(), f)
			require.ErrorIs(t, err, boom, "%s, first queued failure: got %v, want boom", c.method, err)
			err = c.do(t.Context(), f)
			require.ErrorIs(t, err, ovm.ErrConflict, "%s, second queued failure: got %v, want ovm.ErrConflict", c.method, err)

			gotSegs, gotAtts := f.state(t)
			assert.Equal(t, segs, gotSegs, "segments changed by failed calls")
			assert.Equal(t, atts, gotAtts, "attachments changed by failed calls")
			assert.NoError(t, c.do(t.Context(), f), "%s after the queued failures", c.method)
		})
	}
}

func TestCapabilities(t *testing.T) {
	tests := []struct {
		name string
		opts fake.Options
		want network.Capabilities
	}{
		{name: "zero options announce everything", want: network.Capabilities{VLAN: true, IPv6: true, HotAttach: true}},
		{name: "no VLAN", opts: fake.Options{NoVLAN: true}, want: network.Capabilities{IPv6: true, HotAttach: true}},
		{name: "no IPv6", opts: fake.Options{NoIPv6: true}, want: network.Capabilities{VLAN: true, HotAttach: true}},
		{name: "no hot attach", opts: fake.Options{NoHotAttach: true}, want: network.Capabilities{VLAN: true, IPv6: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fake.New(tt.opts).Capabilities()
			assert.Equal(t, tt.want, got, "got %+v, want %+v", got, tt.want)
		})
	}
}

func TestFailNextMisuse(t *testing.T) {
	d := fake.New(fake.Options{})
	assert.PanicsWithValue(t, `fake.FailNext: unknown method "Create"`, func() { d.FailNext("Create", errors.New("x")) })
	assert.PanicsWithValue(t, "fake.FailNext: nil error", func() { d.FailNext(fake.MethodAttach, nil) })
}

func TestCanceledContext(t *testing.T) {
	f := newFixture(t)
	segs, atts := f.state(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, c := range calls {
		t.Run(c.method, func(t *testing.T) {
			err := c.do(ctx, f)
			assert.ErrorIs(t, err, context.Canceled, "%s with a canceled context: got %v, want context.Canceled", c.method, err)
		})
	}
	gotSegs, gotAtts := f.state(t)
	assert.Equal(t, segs, gotSegs, "segments changed by canceled calls")
	assert.Equal(t, atts, gotAtts, "attachments changed by canceled calls")
}

func TestCreateNetworkConflicts(t *testing.T) {
	d := fake.New(fake.Options{})
	n := testNetwork()
	_, err := d.CreateNetwork(t.Context(), n)
	require.NoError(t, err)
	tests := []struct {
		name  string
		other func() ovm.Network
	}{
		{name: "same id, other subnet", other: func() ovm.Network {
			o := n
			o.Subnet, o.Gateway = netip.MustParsePrefix("10.212.0.0/24"), netip.Addr{}
			return o
		}},
		{name: "same id, other VLAN", other: func() ovm.Network { o := n; o.VLAN = 8; return o }},
		{name: "same name, other id", other: func() ovm.Network { o := n; o.ID = ovm.NewID(); return o }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.CreateNetwork(t.Context(), tt.other())
			assert.ErrorIs(t, err, ovm.ErrConflict, "got %v, want ovm.ErrConflict", err)
			segs, err := d.ListNetworks(t.Context())
			require.NoError(t, err)
			require.Len(t, segs, 1, "got %d networks, want the first only", len(segs))
			assert.Equal(t, n.Subnet, segs[0].Network.Subnet)
		})
	}
}

func TestAttachMACs(t *testing.T) {
	d := fake.New(fake.Options{})
	n := testNetwork()
	_, err := d.CreateNetwork(t.Context(), n)
	require.NoError(t, err)
	a, err := d.Attach(t.Context(), n.ID, ovm.NewID(), network.AttachSpec{MAC: "52-54-00-AA-BB-CC"})
	require.NoError(t, err)
	assert.Equal(t, "52:54:00:aa:bb:cc", a.MAC, "got %q, want the lower-case colon form", a.MAC)
	_, err = d.Attach(t.Context(), n.ID, ovm.NewID(), network.AttachSpec{MAC: "52:54:00:aa:bb:cc"})
	assert.ErrorIs(t, err, ovm.ErrConflict, "same MAC twice: got %v, want ovm.ErrConflict", err)

	seen := map[string]bool{a.MAC: true}
	for i := range 5 {
		b, err := d.Attach(t.Context(), n.ID, ovm.NewID(), network.AttachSpec{})
		require.NoError(t, err)
		_, err = ovm.ParseMAC(b.MAC)
		require.NoError(t, err, "generated MAC %q", b.MAC)
		assert.False(t, seen[b.MAC], "generated MAC %d, %s, is not unique", i, b.MAC)
		seen[b.MAC] = true
	}
}

// TestConcurrentUse attaches and detaches from many goroutines; run with
// -race. Each instance ends attached once, to the address it was given.
func TestConcurrentUse(t *testing.T) {
	const workers, perWorker = 8, 20 // 160 instances, in 10.211.0.10 up to .169
	d := fake.New(fake.Options{})
	n := testNetwork()
	_, err := d.CreateNetwork(t.Context(), n)
	require.NoError(t, err)

	want := make([]network.Attachment, workers*perWorker)
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				k := w*perWorker + i
				inst, ip := ovm.NewID(), netip.AddrFrom4([4]byte{10, 211, 0, byte(10 + k)})
				if _, err := d.Attach(t.Context(), n.ID, inst, network.AttachSpec{IP: ip}); err != nil {
					errs <- err
					continue
				}
				// Detach and attach again, to race with the others.
				if err := d.Detach(t.Context(), n.ID, inst); err != nil {
					errs <- err
					continue
				}
				a, err := d.Attach(t.Context(), n.ID, inst, network.AttachSpec{IP: ip})
				if err != nil {
					errs <- err
					continue
				}
				want[k] = a
				if _, err := d.ListNetworks(t.Context()); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	got, err := d.Attachments(t.Context(), n.ID)
	require.NoError(t, err)
	assert.ElementsMatch(t, want, got, "attachments after concurrent use: got %d, want %d", len(got), len(want))
}
