//go:build integration

package libvirt_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
)

// TestNetworkSameName: two OVM networks of one name (two VDCs' "front")
// both get a libvirt network on the host, each found, attached to and
// deleted by its id; the second is named after its id too.
func TestNetworkSameName(t *testing.T) {
	e := env(t)
	d := dial(t, e, e.uri)
	t.Cleanup(func() { _ = d.Close() })
	nd := d.Networks()
	ctx := t.Context()
	name := "dup-" + ovm.NewID().Short()
	base := 128 + int(ovm.NewID()[1])%120 // beside the conformance suite's /24s
	var nets []ovm.Network
	for i := range 2 {
		o := base + i
		nw := ovm.Network{ID: ovm.NewID(), Name: name, Subnet: netip.MustParsePrefix(fmt.Sprintf("10.211.%d.0/24", o)),
			Gateway: netip.MustParseAddr(fmt.Sprintf("10.211.%d.1", o))}
		nets = append(nets, nw)
		t.Cleanup(func() {
			if err := nd.DeleteNetwork(context.Background(), nw.ID); err != nil && !errors.Is(err, ovm.ErrNotFound) {
				t.Errorf("cleanup: DeleteNetwork(%s): %v", nw.ID, err)
			}
		})
	}
	segs := make([]network.Segment, 2)
	for i, nw := range nets {
		s, err := nd.CreateNetwork(ctx, nw)
		require.NoError(t, err, "CreateNetwork %d of %q (%s)", i, name, nw.ID)
		assert.Equal(t, nw.ID, s.Network.ID, "CreateNetwork %d: id", i)
		assert.Equal(t, name, s.Network.Name, "CreateNetwork %d: name", i)
		assert.Equal(t, nw.Subnet, s.Network.Subnet, "CreateNetwork %d: subnet", i)
		segs[i] = s
	}
	assert.NotEqual(t, segs[0].NativeID, segs[1].NativeID, "the two segments' bridges")

	// Created again: the same segment, not a third network.
	again, err := nd.CreateNetwork(ctx, nets[1])
	require.NoError(t, err, "CreateNetwork of the second again")
	assert.Equal(t, segs[1], again, "CreateNetwork of the second again")

	list, err := nd.ListNetworks(ctx)
	require.NoError(t, err, "ListNetworks")
	found := map[ovm.ID]network.Segment{}
	for _, s := range list {
		found[s.Network.ID] = s
	}
	for i, nw := range nets {
		got, err := nd.GetNetwork(ctx, nw.ID)
		require.NoError(t, err, "GetNetwork(%s)", nw.ID)
		assert.Equal(t, segs[i], got, "GetNetwork(%s)", nw.ID)
		assert.Equal(t, segs[i], found[nw.ID], "ListNetworks: network %d", i)
	}

	// Each one's reservations are its own.
	insts := []ovm.ID{ovm.NewID(), ovm.NewID()}
	for i, nw := range nets {
		ip := nw.Subnet.Addr().Next().Next().Next()
		a, err := nd.Attach(ctx, nw.ID, insts[i], network.AttachSpec{IP: ip})
		require.NoError(t, err, "Attach %s to network %d", insts[i], i)
		assert.Equal(t, ip, a.IP, "Attach to network %d", i)
		t.Cleanup(func() { _ = nd.Detach(context.Background(), nw.ID, insts[i]) })
	}
	for i, nw := range nets {
		as, err := nd.Attachments(ctx, nw.ID)
		require.NoError(t, err, "Attachments(%s)", nw.ID)
		require.Len(t, as, 1, "Attachments of network %d: %v", i, as)
		assert.Equal(t, insts[i], as[0].InstanceID, "Attachments of network %d", i)
		assert.ErrorIs(t, nd.DeleteNetwork(ctx, nw.ID), ovm.ErrConflict, "DeleteNetwork of network %d with an attachment", i)
	}
	for i, nw := range nets {
		require.NoError(t, nd.Detach(ctx, nw.ID, insts[i]), "Detach from network %d", i)
	}

	// Deleting the first leaves the second; then the second goes too.
	for i, nw := range nets {
		require.NoError(t, nd.DeleteNetwork(ctx, nw.ID), "DeleteNetwork of network %d", i)
		_, err := nd.GetNetwork(ctx, nw.ID)
		assert.ErrorIs(t, err, ovm.ErrNotFound, "GetNetwork of network %d after its delete", i)
		if i == 0 {
			_, err := nd.GetNetwork(ctx, nets[1].ID)
			assert.NoError(t, err, "GetNetwork of the second after the first's delete")
		}
	}
	list, err = nd.ListNetworks(ctx)
	require.NoError(t, err, "ListNetworks after the deletes")
	for _, s := range list {
		assert.NotEqual(t, name, s.Network.Name, "ListNetworks after the deletes: %s left", s.Network.ID)
	}
}
