//go:build integration

package docker_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
)

// TestSameNameNetworks: two VDCs may each have a network of the same name
// on one host; each becomes its own Docker network, and a container joins
// the one its NIC names (by the segment's engine id), with an address of
// that network's subnet.
func TestSameNameNetworks(t *testing.T) {
	e := environment(t)
	d := connect(t, e.host)
	nets := d.Networks(docker.NetworkOptions{})
	name := "ovmdup-" + uniq()
	for range 2 {
		n := networkFor(name)
		s, err := nets.CreateNetwork(t.Context(), n)
		require.NoError(t, err, "CreateNetwork %s (%s)", name, n.ID)
		t.Cleanup(func() { assert.NoError(t, nets.DeleteNetwork(bg(), n.ID), "cleanup: DeleteNetwork") })
		ipam, err := network.NewIPAM(n, nil)
		require.NoError(t, err)
		spec := smallSpec(e, "ovmdup-"+uniq())
		ip, err := ipam.Allocate(spec.ID)
		require.NoError(t, err)
		spec.Spec.NICs = []ovm.NICSpec{{NetworkID: n.ID, IP: ip}}
		spec.NICs = []hypervisor.NICAttachment{{Network: n, IP: ip, Bridge: s.NativeID}}
		track(t, d, spec.ID)
		_, err = d.Create(t.Context(), spec)
		require.NoError(t, err, "Create on the second network of the name")
		require.NoError(t, d.Start(t.Context(), hypervisor.ByID(spec.ID)))
		assert.Contains(t, execOut(t, d, spec.ID, "ip", "-4", "addr", "show", "eth0"), ip.String()+"/24", "eth0 in the container on %s", n.Subnet)
		atts, err := nets.Attachments(t.Context(), n.ID)
		require.NoError(t, err)
		require.Len(t, atts, 1, "attachments of %s", n.ID)
		assert.Equal(t, spec.ID, atts[0].InstanceID)
	}
}
