package networktest

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
)

// assertSegment checks that got realises want: same id, name, subnet,
// gateway and VLAN, and a native id and mode.
func assertSegment(t *testing.T, want ovm.Network, got network.Segment, call string) {
	t.Helper()
	assert.Equal(t, want.ID, got.Network.ID, "%s: got id %q, want %q", call, got.Network.ID, want.ID)
	assert.Equal(t, want.Name, got.Network.Name, "%s: got name %q, want %q", call, got.Network.Name, want.Name)
	assert.Equal(t, want.Subnet, got.Network.Subnet, "%s: got subnet %s, want %s", call, got.Network.Subnet, want.Subnet)
	assert.Equal(t, want.Gateway, got.Network.Gateway, "%s: got gateway %s, want %s", call, got.Network.Gateway, want.Gateway)
	assert.Equal(t, want.VLAN, got.Network.VLAN, "%s: got VLAN %d, want %d", call, got.Network.VLAN, want.VLAN)
	assert.NotEmpty(t, got.NativeID, "%s: got no native id, want the engine's name or id for it", call)
	assert.NotEmpty(t, got.Mode, "%s: got no mode, want how the segment is realised", call)
}

// testCreateIdempotent creates a network twice by the same id and expects
// one segment.
func testCreateIdempotent(t *testing.T, e *env) {
	n := e.network(t)
	first := e.create(t, n)
	assertSegment(t, n, first, "CreateNetwork")

	again, err := e.d.CreateNetwork(t.Context(), n)
	require.NoError(t, err, "second CreateNetwork(%s): want the existing segment", n.ID)
	assertSegment(t, n, again, "second CreateNetwork")
	assert.Equal(t, first.NativeID, again.NativeID, "second CreateNetwork(%s): got native id %q, want the first's %q", n.ID, again.NativeID, first.NativeID)

	segs, err := e.d.ListNetworks(t.Context())
	require.NoError(t, err, "ListNetworks")
	assert.Equal(t, 1, count(segs, n.ID), "ListNetworks after two creates of %s: got %d segments, want 1", n.ID, count(segs, n.ID))
}

// testGetList creates two networks and reads them back one by one and in
// the list.
func testGetList(t *testing.T, e *env) {
	n1, n2 := e.network(t), e.network(t)
	made := map[ovm.ID]network.Segment{n1.ID: e.create(t, n1), n2.ID: e.create(t, n2)}
	for _, n := range []ovm.Network{n1, n2} {
		got, err := e.d.GetNetwork(t.Context(), n.ID)
		require.NoError(t, err, "GetNetwork(%s)", n.ID)
		assertSegment(t, n, got, fmt.Sprintf("GetNetwork(%s)", n.ID))
		assert.Equal(t, made[n.ID].NativeID, got.NativeID, "GetNetwork(%s): got native id %q, want CreateNetwork's %q", n.ID, got.NativeID, made[n.ID].NativeID)
	}
	segs, err := e.d.ListNetworks(t.Context())
	require.NoError(t, err, "ListNetworks")
	for _, n := range []ovm.Network{n1, n2} {
		require.Equal(t, 1, count(segs, n.ID), "ListNetworks: got %d segments of %s, want 1", count(segs, n.ID), n.ID)
		for _, s := range segs {
			if s.Network.ID == n.ID {
				assertSegment(t, n, s, "ListNetworks")
			}
		}
	}
}

// testInvalidNetwork creates networks with one invalid field each and
// expects ovm.ErrInvalid naming it, and nothing made. Validation comes
// before any capability check.
func testInvalidNetwork(t *testing.T, e *env) {
	tests := []struct {
		name  string
		spoil func(n *ovm.Network)
		field string
	}{
		{name: "vlan below 0", spoil: func(n *ovm.Network) { n.VLAN = -1 }, field: "vlan"},
		{name: "vlan above 4094", spoil: func(n *ovm.Network) { n.VLAN = 4095 }, field: "vlan"},
		{name: "subnet with host bits", spoil: func(n *ovm.Network) {
			n.Subnet = netip.PrefixFrom(n.Subnet.Addr().Next(), n.Subnet.Bits())
		}, field: "subnet"},
		{name: "gateway outside subnet", spoil: func(n *ovm.Network) { n.Gateway = n.Subnet.Masked().Addr().Prev() }, field: "gateway"},
		{name: "bad name", spoil: func(n *ovm.Network) { n.Name = "Not_A_Label" }, field: "name"},
		{name: "no id", spoil: func(n *ovm.Network) { n.ID = "" }, field: "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := e.network(t)
			tt.spoil(&n)
			e.cleanupNetwork(t, n.ID) // in case the driver made it anyway
			_, err := e.d.CreateNetwork(t.Context(), n)
			require.ErrorIs(t, err, ovm.ErrInvalid, "CreateNetwork with %s: got %v, want ovm.ErrInvalid", tt.name, err)
			assert.True(t, hasField(err, tt.field), "CreateNetwork with %s: got fields %v, want %q among them", tt.name, fieldNames(err), tt.field)
			if !n.ID.IsZero() {
				_, err = e.d.GetNetwork(t.Context(), n.ID)
				assert.ErrorIs(t, err, ovm.ErrNotFound, "GetNetwork(%s) after a refused create: got %v, want ovm.ErrNotFound", n.ID, err)
			}
			segs, err := e.d.ListNetworks(t.Context())
			require.NoError(t, err, "ListNetworks")
			for _, s := range segs {
				assert.NotEqual(t, n.Name, s.Network.Name, "ListNetworks after a refused create: got segment %s named %q, want none", s.Network.ID, n.Name)
			}
		})
	}
}

// testVLAN keeps a VLAN id and an untagged network when the driver announces
// Capabilities.VLAN; otherwise a tagged network is ovm.ErrUnsupported and
// nothing is made.
func testVLAN(t *testing.T, e *env) {
	tagged := e.network(t)
	if tagged.VLAN == 0 {
		tagged.VLAN = 211
	}
	if !e.d.Capabilities().VLAN {
		e.cleanupNetwork(t, tagged.ID)
		_, err := e.d.CreateNetwork(t.Context(), tagged)
		require.ErrorIs(t, err, ovm.ErrUnsupported, "CreateNetwork with VLAN %d on a driver without Capabilities.VLAN: got %v, want ovm.ErrUnsupported", tagged.VLAN, err)
		_, err = e.d.GetNetwork(t.Context(), tagged.ID)
		assert.ErrorIs(t, err, ovm.ErrNotFound, "GetNetwork(%s) after a refused create: got %v, want ovm.ErrNotFound", tagged.ID, err)
		return
	}
	untagged := e.network(t)
	untagged.VLAN = 0
	for _, n := range []ovm.Network{tagged, untagged} {
		s := e.create(t, n)
		assert.Equal(t, n.VLAN, s.Network.VLAN, "CreateNetwork(%s): got VLAN %d, want %d", n.ID, s.Network.VLAN, n.VLAN)
		got, err := e.d.GetNetwork(t.Context(), n.ID)
		require.NoError(t, err, "GetNetwork(%s)", n.ID)
		assert.Equal(t, n.VLAN, got.Network.VLAN, "GetNetwork(%s): got VLAN %d, want %d", n.ID, got.Network.VLAN, n.VLAN)
	}
}

// testIPv6 makes an IPv6 network and attaches an instance with an address
// from IPAM when the driver announces Capabilities.IPv6; otherwise the
// network is ovm.ErrUnsupported and nothing is made.
func testIPv6(t *testing.T, e *env) {
	n := e.network6(t)
	if !e.d.Capabilities().IPv6 {
		e.cleanupNetwork(t, n.ID)
		_, err := e.d.CreateNetwork(t.Context(), n)
		require.ErrorIs(t, err, ovm.ErrUnsupported, "CreateNetwork(%s) on a driver without Capabilities.IPv6: got %v, want ovm.ErrUnsupported", n.Subnet, err)
		_, err = e.d.GetNetwork(t.Context(), n.ID)
		assert.ErrorIs(t, err, ovm.ErrNotFound, "GetNetwork(%s) after a refused create: got %v, want ovm.ErrNotFound", n.ID, err)
		return
	}
	assertSegment(t, n, e.create(t, n), "CreateNetwork")
	got, err := e.d.GetNetwork(t.Context(), n.ID)
	require.NoError(t, err, "GetNetwork(%s)", n.ID)
	assertSegment(t, n, got, "GetNetwork")

	inst := e.h.Instance(t)
	ip, err := e.ipam(t, n).Allocate(inst)
	require.NoError(t, err, "IPAM.Allocate on %s", n.Subnet)
	want := n.Gateway.Next() // the lowest address after network ::0 and gateway ::1
	require.Equal(t, want, ip, "IPAM.Allocate on %s: got %s, want %s", n.Subnet, ip, want)
	a := e.attach(t, n.ID, inst, network.AttachSpec{IP: ip})
	assert.Equal(t, ip, a.IP, "Attach: got IP %s, want %s", a.IP, ip)
	assertAttachments(t, e, n.ID, a)
}

// testAttach attaches two instances with addresses from IPAM, one with a
// MAC of its own, and lists them.
func testAttach(t *testing.T, e *env) {
	n := e.network(t)
	e.create(t, n)
	inst1, inst2 := e.h.Instance(t), e.h.Instance(t)

	ip1, err := e.ipam(t, n).Allocate(inst1)
	require.NoError(t, err, "IPAM.Allocate on %s", n.Subnet)
	a1 := e.attach(t, n.ID, inst1, network.AttachSpec{IP: ip1})
	assertAttachment(t, a1, n.ID, inst1, ip1, "")

	// Rebuilt from what the driver reports, IPAM must not give ip1 again.
	ip2, err := e.ipam(t, n).Allocate(inst2)
	require.NoError(t, err, "IPAM.Allocate on %s", n.Subnet)
	require.NotEqual(t, ip1, ip2, "IPAM rebuilt from Attachments(%s) gave %s again: the attachment lost its IP", n.ID, ip1)
	mac := macFor(inst2)
	a2 := e.attach(t, n.ID, inst2, network.AttachSpec{IP: ip2, MAC: mac})
	assertAttachment(t, a2, n.ID, inst2, ip2, mac)

	assertAttachments(t, e, n.ID, a1, a2)
}

// macFor returns a locally administered unicast MAC derived from id.
func macFor(id ovm.ID) string {
	return fmt.Sprintf("52:54:00:%s:%s:%s", id[0:2], id[2:4], id[4:6])
}

// assertAttachment checks a's fields; an empty mac means the driver's own,
// which must be a valid lower-case EUI-48.
func assertAttachment(t *testing.T, a network.Attachment, netID, inst ovm.ID, ip netip.Addr, mac string) {
	t.Helper()
	assert.Equal(t, netID, a.NetworkID, "Attach: got network %q, want %q", a.NetworkID, netID)
	assert.Equal(t, inst, a.InstanceID, "Attach: got instance %q, want %q", a.InstanceID, inst)
	assert.Equal(t, ip, a.IP, "Attach: got IP %s, want %s", a.IP, ip)
	if mac != "" {
		assert.Equal(t, mac, a.MAC, "Attach: got MAC %q, want the one asked for, %q", a.MAC, mac)
		return
	}
	canon, err := ovm.ParseMAC(a.MAC)
	assert.NoError(t, err, "Attach: got MAC %q, want a unicast EUI-48", a.MAC)
	assert.Equal(t, canon, a.MAC, "Attach: got MAC %q, want lower-case colon form %q", a.MAC, canon)
}

// assertAttachments checks that network id's attachments are exactly want,
// in any order.
func assertAttachments(t *testing.T, e *env, id ovm.ID, want ...network.Attachment) {
	t.Helper()
	got, err := e.d.Attachments(t.Context(), id)
	require.NoError(t, err, "Attachments(%s)", id)
	if want == nil {
		want = []network.Attachment{}
	}
	if got == nil {
		got = []network.Attachment{}
	}
	assert.ElementsMatch(t, want, got, "Attachments(%s): got these, want these", id)
}

// testAttachConflicts attaches an instance twice and an address twice, and
// expects ovm.ErrConflict both times and nothing left over.
func testAttachConflicts(t *testing.T, e *env) {
	n := e.network(t)
	e.create(t, n)
	inst1, inst2 := e.h.Instance(t), e.h.Instance(t)
	m := e.ipam(t, n)
	ip1, err := m.Allocate(inst1)
	require.NoError(t, err, "IPAM.Allocate")
	ip2, err := m.Allocate(inst2)
	require.NoError(t, err, "IPAM.Allocate")
	a1 := e.attach(t, n.ID, inst1, network.AttachSpec{IP: ip1})

	_, err = e.d.Attach(t.Context(), n.ID, inst1, network.AttachSpec{IP: ip2})
	require.ErrorIs(t, err, ovm.ErrConflict, "Attach(%s) of an attached instance %s: got %v, want ovm.ErrConflict", n.ID, inst1, err)
	_, err = e.d.Attach(t.Context(), n.ID, inst2, network.AttachSpec{IP: ip1})
	require.ErrorIs(t, err, ovm.ErrConflict, "Attach(%s) of %s with %s, attached to %s: got %v, want ovm.ErrConflict", n.ID, inst2, ip1, inst1, err)
	assertAttachments(t, e, n.ID, a1)

	// The refused attempts left nothing behind: the address and instance are free.
	a2 := e.attach(t, n.ID, inst2, network.AttachSpec{IP: ip2})
	assertAttachments(t, e, n.ID, a1, a2)
}

// testAttachInvalid attaches with an address outside the subnet or a bad
// MAC and expects ovm.ErrInvalid naming the field, and nothing attached.
func testAttachInvalid(t *testing.T, e *env) {
	n := e.network(t)
	e.create(t, n)
	inst := e.h.Instance(t)
	ip, err := e.ipam(t, n).Allocate(inst)
	require.NoError(t, err, "IPAM.Allocate")
	otherFamily := netip.MustParseAddr("fd00:211::5")
	if n.Subnet.Addr().Is6() {
		otherFamily = netip.MustParseAddr("10.211.0.5")
	}
	tests := []struct {
		name  string
		spec  network.AttachSpec
		field string
	}{
		{name: "ip outside subnet", spec: network.AttachSpec{IP: n.Subnet.Masked().Addr().Prev()}, field: "ip"},
		{name: "ip of another family", spec: network.AttachSpec{IP: otherFamily}, field: "ip"},
		{name: "malformed mac", spec: network.AttachSpec{IP: ip, MAC: "52:54:00:zz:00:01"}, field: "mac"},
		{name: "multicast mac", spec: network.AttachSpec{IP: ip, MAC: "01:00:5e:00:00:01"}, field: "mac"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.d.Attach(t.Context(), n.ID, inst, tt.spec)
			require.ErrorIs(t, err, ovm.ErrInvalid, "Attach with %s: got %v, want ovm.ErrInvalid", tt.name, err)
			assert.True(t, hasField(err, tt.field), "Attach with %s: got fields %v, want %q among them", tt.name, fieldNames(err), tt.field)
			assertAttachments(t, e, n.ID)
		})
	}
}

// testDetach detaches an instance, expects ovm.ErrNotFound the second
// time, and attaches its address to another instance.
func testDetach(t *testing.T, e *env) {
	n := e.network(t)
	e.create(t, n)
	inst1, inst2 := e.h.Instance(t), e.h.Instance(t)
	ip, err := e.ipam(t, n).Allocate(inst1)
	require.NoError(t, err, "IPAM.Allocate")
	e.attach(t, n.ID, inst1, network.AttachSpec{IP: ip})

	require.NoError(t, e.d.Detach(t.Context(), n.ID, inst1), "Detach(%s, %s)", n.ID, inst1)
	assertAttachments(t, e, n.ID)
	err = e.d.Detach(t.Context(), n.ID, inst1)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "second Detach(%s, %s): got %v, want ovm.ErrNotFound", n.ID, inst1, err)

	// The address is free again.
	again, err := e.ipam(t, n).Allocate(inst2)
	require.NoError(t, err, "IPAM.Allocate")
	require.Equal(t, ip, again, "IPAM after Detach: got %s, want the released %s", again, ip)
	a := e.attach(t, n.ID, inst2, network.AttachSpec{IP: ip})
	assertAttachments(t, e, n.ID, a)
}

// testDeleteInUse refuses to delete a network with an attachment, and
// deletes it once detached.
func testDeleteInUse(t *testing.T, e *env) {
	n := e.network(t)
	e.create(t, n)
	inst := e.h.Instance(t)
	ip, err := e.ipam(t, n).Allocate(inst)
	require.NoError(t, err, "IPAM.Allocate")
	a := e.attach(t, n.ID, inst, network.AttachSpec{IP: ip})

	err = e.d.DeleteNetwork(t.Context(), n.ID)
	require.ErrorIs(t, err, ovm.ErrConflict, "DeleteNetwork(%s) with %s attached: got %v, want ovm.ErrConflict", n.ID, inst, err)
	_, err = e.d.GetNetwork(t.Context(), n.ID)
	require.NoError(t, err, "GetNetwork(%s) after a refused delete: want the network kept", n.ID)
	assertAttachments(t, e, n.ID, a)

	require.NoError(t, e.d.Detach(t.Context(), n.ID, inst), "Detach(%s, %s)", n.ID, inst)
	require.NoError(t, e.d.DeleteNetwork(t.Context(), n.ID), "DeleteNetwork(%s) once detached", n.ID)
	_, err = e.d.GetNetwork(t.Context(), n.ID)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "GetNetwork(%s) after delete: got %v, want ovm.ErrNotFound", n.ID, err)
}

// testDelete deletes a network: it is gone from get, list and attachments,
// and a second delete is ovm.ErrNotFound.
func testDelete(t *testing.T, e *env) {
	n := e.network(t)
	e.create(t, n)
	require.NoError(t, e.d.DeleteNetwork(t.Context(), n.ID), "DeleteNetwork(%s)", n.ID)

	_, err := e.d.GetNetwork(t.Context(), n.ID)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "GetNetwork(%s) after delete: got %v, want ovm.ErrNotFound", n.ID, err)
	segs, err := e.d.ListNetworks(t.Context())
	require.NoError(t, err, "ListNetworks")
	assert.Zero(t, count(segs, n.ID), "ListNetworks after delete: got %d segments of %s, want 0", count(segs, n.ID), n.ID)
	_, err = e.d.Attachments(t.Context(), n.ID)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "Attachments(%s) after delete: got %v, want ovm.ErrNotFound", n.ID, err)
	err = e.d.DeleteNetwork(t.Context(), n.ID)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "second DeleteNetwork(%s): got %v, want ovm.ErrNotFound", n.ID, err)
}

// testUnknownIDs calls every method with a network or attachment that does
// not exist and expects ovm.ErrNotFound.
func testUnknownIDs(t *testing.T, e *env) {
	n := e.network(t)
	e.create(t, n)
	inst := e.h.Instance(t)
	ip, err := e.ipam(t, n).Allocate(inst)
	require.NoError(t, err, "IPAM.Allocate")
	unknown, notAttached := ovm.NewID(), ovm.NewID()
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{name: "GetNetwork", call: func(ctx context.Context) error { _, err := e.d.GetNetwork(ctx, unknown); return err }},
		{name: "DeleteNetwork", call: func(ctx context.Context) error { return e.d.DeleteNetwork(ctx, unknown) }},
		{name: "Attachments", call: func(ctx context.Context) error { _, err := e.d.Attachments(ctx, unknown); return err }},
		{name: "Attach", call: func(ctx context.Context) error {
			_, err := e.d.Attach(ctx, unknown, inst, network.AttachSpec{IP: ip})
			return err
		}},
		{name: "Detach unknown network", call: func(ctx context.Context) error { return e.d.Detach(ctx, unknown, inst) }},
		{name: "Detach unattached instance", call: func(ctx context.Context) error { return e.d.Detach(ctx, n.ID, notAttached) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(t.Context())
			assert.ErrorIs(t, err, ovm.ErrNotFound, "%s: got %v, want ovm.ErrNotFound", tt.name, err)
		})
	}
	assertAttachments(t, e, n.ID)
}

// Concurrency of testConcurrentCreates: networks made at once, each by
// creators callers, at most parallel calls in flight.
const (
	concurrentNetworks = 4
	creators           = 2
	parallel           = 4
)

// testConcurrentCreates creates several networks at once, each by two
// callers, and expects every create to succeed with one segment each.
func testConcurrentCreates(t *testing.T, e *env) {
	nets := make([]ovm.Network, concurrentNetworks)
	for i := range nets {
		nets[i] = e.network(t)
		e.cleanupNetwork(t, nets[i].ID)
	}
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, parallel)
		segs [concurrentNetworks][creators]network.Segment
		errs [concurrentNetworks][creators]error
	)
	for i := range nets {
		for j := range creators {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				segs[i][j], errs[i][j] = e.d.CreateNetwork(t.Context(), nets[i])
			})
		}
	}
	wg.Wait()

	list, err := e.d.ListNetworks(t.Context())
	require.NoError(t, err, "ListNetworks")
	for i, n := range nets {
		for j := range creators {
			if assert.NoError(t, errs[i][j], "concurrent CreateNetwork(%s) #%d", n.ID, j) {
				assertSegment(t, n, segs[i][j], fmt.Sprintf("concurrent CreateNetwork(%s) #%d", n.ID, j))
			}
		}
		assert.Equal(t, segs[i][0].NativeID, segs[i][1].NativeID, "concurrent creates of %s: got native ids %q and %q, want one segment", n.ID, segs[i][0].NativeID, segs[i][1].NativeID)
		assert.Equal(t, 1, count(list, n.ID), "ListNetworks after concurrent creates: got %d segments of %s, want 1", count(list, n.ID), n.ID)
	}
}
