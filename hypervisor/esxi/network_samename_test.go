package esxi

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
)

// TestNetworkSameName: two OVM networks of one name (two VDCs' "front")
// both get a port group, the second's named after its id too; each is
// found, used and deleted by its id, and a VM with a NIC on the second's
// segment lands on its port group. A port group the operator made is not
// taken over.
func TestNetworkSameName(t *testing.T) {
	h := newHost(t)
	h.makeTemplate(t, h.admin(t))
	d := h.dial(t)
	nd := d.Network()
	ctx := t.Context()

	var nets []ovm.Network
	for range 2 {
		n := specSeq.Add(1)
		nets = append(nets, ovm.Network{ID: ovm.NewID(), Name: "front", VLAN: 100 + int(n),
			Subnet:  netip.MustParsePrefix(fmt.Sprintf("10.211.%d.0/24", n)),
			Gateway: netip.MustParseAddr(fmt.Sprintf("10.211.%d.1", n))})
	}
	segs := make([]network.Segment, 2)
	for i, n := range nets {
		s, err := nd.CreateNetwork(ctx, n)
		require.NoError(t, err, "CreateNetwork %d of %q (%s)", i, n.Name, n.ID)
		assert.Equal(t, n.ID, s.Network.ID, "CreateNetwork %d: id", i)
		assert.Equal(t, "front", s.Network.Name, "CreateNetwork %d: name", i)
		assert.Equal(t, n.VLAN, s.Network.VLAN, "CreateNetwork %d: VLAN", i)
		segs[i] = s
	}
	second := "front-" + nets[1].ID.Short()
	assert.Equal(t, "front", segs[0].NativeID, "the first's port group")
	assert.Equal(t, second, segs[1].NativeID, "the second's port group")
	pgs, err := d.c.portGroups(ctx)
	require.NoError(t, err)
	require.Contains(t, pgs, "front")
	require.Contains(t, pgs, second)
	assert.Equal(t, int32(nets[1].VLAN), pgs[second].VlanId, "the second's port group's VLAN")

	again, err := nd.CreateNetwork(ctx, nets[1])
	require.NoError(t, err, "CreateNetwork of the second again")
	assert.Equal(t, segs[1], again, "CreateNetwork of the second again")

	list, err := nd.ListNetworks(ctx)
	require.NoError(t, err, "ListNetworks")
	found := map[ovm.ID]network.Segment{}
	for _, s := range list {
		found[s.Network.ID] = s
	}
	for i, n := range nets {
		got, err := nd.GetNetwork(ctx, n.ID)
		require.NoError(t, err, "GetNetwork(%s)", n.ID)
		assert.Equal(t, segs[i], got, "GetNetwork of network %d", i)
		assert.Equal(t, segs[i], found[n.ID], "ListNetworks: network %d", i)
	}

	// A VM made with a NIC on the second's segment (as the server resolves
	// it: Bridge is the segment's NativeID) is on the suffixed port group.
	ip := nets[1].Gateway.Next()
	spec := vmSpec(fmt.Sprintf("ovmnt-dup-%d", specSeq.Add(1)))
	spec.NICs = []hypervisor.NICAttachment{{Network: nets[1], Bridge: segs[1].NativeID, IP: ip}}
	_, err = d.Create(ctx, spec)
	require.NoError(t, err, "Create %s with a NIC on the second network", spec.Name)
	t.Cleanup(func() { _ = d.Delete(context.Background(), hypervisor.ByID(spec.ID)) })
	on, err := d.c.onPortGroup(ctx, second)
	require.NoError(t, err)
	require.Len(t, on, 1, "VMs on port group %s", second)
	assert.Equal(t, spec.Name, on[0].vm.Name, "the VM on port group %s", second)
	on, err = d.c.onPortGroup(ctx, "front")
	require.NoError(t, err)
	assert.Empty(t, on, "VMs on port group front")

	as, err := nd.Attachments(ctx, nets[1].ID)
	require.NoError(t, err, "Attachments of the second")
	require.Len(t, as, 1, "Attachments of the second")
	assert.Equal(t, spec.ID, as[0].InstanceID, "Attachments of the second")
	as, err = nd.Attachments(ctx, nets[0].ID)
	require.NoError(t, err, "Attachments of the first")
	assert.Empty(t, as, "Attachments of the first")
	assert.ErrorIs(t, nd.DeleteNetwork(ctx, nets[1].ID), ovm.ErrConflict, "DeleteNetwork of the second with a NIC on it")

	// Attach and Detach find each one's port group by id.
	a, err := nd.Attach(ctx, nets[0].ID, spec.ID, network.AttachSpec{IP: nets[0].Gateway.Next()})
	require.NoError(t, err, "Attach to the first")
	assert.Equal(t, spec.ID, a.InstanceID, "Attach to the first")
	on, err = d.c.onPortGroup(ctx, "front")
	require.NoError(t, err)
	assert.Len(t, on, 1, "VMs on port group front after Attach")
	require.NoError(t, nd.Detach(ctx, nets[0].ID, spec.ID), "Detach from the first")
	require.NoError(t, nd.Detach(ctx, nets[1].ID, spec.ID), "Detach from the second")
	for i, n := range nets {
		as, err := nd.Attachments(ctx, n.ID)
		require.NoError(t, err, "Attachments of network %d after Detach", i)
		assert.Empty(t, as, "Attachments of network %d after Detach", i)
	}

	// Deleting the first leaves the second and its port group.
	require.NoError(t, nd.DeleteNetwork(ctx, nets[0].ID), "DeleteNetwork of the first")
	got, err := nd.GetNetwork(ctx, nets[1].ID)
	require.NoError(t, err, "GetNetwork of the second after the first's delete")
	assert.Equal(t, segs[1], got, "GetNetwork of the second after the first's delete")
	require.NoError(t, nd.DeleteNetwork(ctx, nets[1].ID), "DeleteNetwork of the second")
	for i, n := range nets {
		_, err := nd.GetNetwork(ctx, n.ID)
		assert.ErrorIs(t, err, ovm.ErrNotFound, "GetNetwork of network %d after its delete", i)
	}
	pgs, err = d.c.portGroups(ctx)
	require.NoError(t, err)
	assert.NotContains(t, pgs, "front", "port groups after the deletes")
	assert.NotContains(t, pgs, second, "port groups after the deletes")
	list, err = nd.ListNetworks(ctx)
	require.NoError(t, err, "ListNetworks after the deletes")
	assert.Empty(t, list, "ListNetworks after the deletes")
}

// TestNetworkOperatorPortGroup: a port group that is no OVM network's keeps
// its name: a network of that name is ovm.ErrConflict, and no port group is
// made for it.
func TestNetworkOperatorPortGroup(t *testing.T) {
	h := newHost(t)
	d := h.dial(t)
	ctx := t.Context()
	require.NoError(t, object.NewHostNetworkSystem(d.c.client, d.c.netSystem).AddPortGroup(ctx,
		types.HostPortGroupSpec{Name: "ops", VlanId: 7, VswitchName: d.c.vswitch(), Policy: types.HostNetworkPolicy{}}), "add port group ops")
	n := specSeq.Add(1)
	nw := ovm.Network{ID: ovm.NewID(), Name: "ops", VLAN: 100 + int(n),
		Subnet:  netip.MustParsePrefix(fmt.Sprintf("10.211.%d.0/24", n)),
		Gateway: netip.MustParseAddr(fmt.Sprintf("10.211.%d.1", n))}
	_, err := d.Network().CreateNetwork(ctx, nw)
	require.ErrorIs(t, err, ovm.ErrConflict, "CreateNetwork named after the operator's port group")
	pgs, err := d.c.portGroups(ctx)
	require.NoError(t, err)
	assert.Equal(t, int32(7), pgs["ops"].VlanId, "the operator's port group")
	assert.NotContains(t, pgs, "ops-"+nw.ID.Short(), "port groups")
	_, err = d.Network().GetNetwork(ctx, nw.ID)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "GetNetwork of the refused network")
}
