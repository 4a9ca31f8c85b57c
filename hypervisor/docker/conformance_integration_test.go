//go:build integration

package docker_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"testing"

	"github.com/docker/docker/api/types/versions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/hypervisor/hypervisortest"
	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/network/networktest"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
	"github.com/openovm/ovm/storage/storagetest"
)

func TestHypervisorConformance(t *testing.T) {
	e := environment(t)
	hypervisortest.Run(t, hypervisortest.Harness{
		New:  func(t *testing.T) hypervisor.Driver { return connect(t, e.host) },
		Spec: func(_ *testing.T, name string) hypervisor.CreateSpec { return smallSpec(e, name) },
		MakeUnmanaged: func(t *testing.T, name string) string {
			return makeUnmanaged(t, e, e.host, name)
		},
		StopTimeout: 10 * hypervisortest.Prompt,
		Concurrency: 4,
	})
}

func TestStorageConformance(t *testing.T) {
	e := environment(t)
	exceptions := map[string]string{
		storagetest.ResizeVolume: "a Docker volume has no size: the local driver enforces none and labels cannot change, " +
			"so the driver refuses a resize with ovm.ErrUnsupported",
		storagetest.PoolFull: "Docker reports no capacity for a pool (a pool is a record, its volumes live in the engine's " +
			"data root or on the shared path) and enforces no volume size, so no pool can be full",
	}
	for _, kind := range []ovm.StoragePoolKind{ovm.StorageLocal, ovm.StorageShared} {
		t.Run(string(kind), func(t *testing.T) {
			storagetest.Run(t, storagetest.Harness{
				New: func(t *testing.T) storage.Driver { return connect(t, e.host).Storage() },
				Pool: func(t *testing.T, name string) storage.PoolSpec {
					path := t.TempDir()
					if kind == ovm.StorageShared {
						path = e.shared + "/" + name
					}
					return storage.PoolSpec{ID: ovm.NewID(), Name: name, Kind: kind, Path: path}
				},
				Exceptions: exceptions,
			})
		})
	}
}

// networkFor returns a network on a /24 of 10.211.0.0/16 not used before
// in this run (starting at a random one, as engines keep networks of
// crashed runs), gateway .1, addresses .10 to .200.
// subnetBase is where this run's subnets start.
var subnetBase = rand.IntN(250)

func networkFor(name string) ovm.Network {
	n := (subnetBase + int(subnets.Add(1))) % 250
	p := netip.MustParsePrefix(fmt.Sprintf("10.211.%d.0/24", n))
	base := p.Addr().As4()
	at := func(i byte) netip.Addr { b := base; b[3] = i; return netip.AddrFrom4(b) }
	return ovm.Network{
		ID: ovm.NewID(), Name: name, Subnet: p, Gateway: at(1),
		Ranges: []ovm.AddrRange{{Start: at(10), End: at(200)}},
	}
}

func TestNetworkConformance(t *testing.T) {
	e := environment(t)
	d := connect(t, e.host)
	exceptions := map[string]string{}
	if versions.LessThan(d.APIVersion(), "1.44") {
		exceptions[networktest.Attach] = "the engine (API " + d.APIVersion() + ") sets a MAC only on a container's first " +
			"network, at create; Attach with a MAC is ovm.ErrUnsupported (TestNICsStaticAddress covers the rest of Attach)"
	}
	networktest.Run(t, networktest.Harness{
		New:        func(t *testing.T) network.Driver { return connect(t, e.host).Networks(docker.NetworkOptions{}) },
		Network:    func(_ *testing.T, name string) ovm.Network { return networkFor(name) },
		Instance:   func(t *testing.T) ovm.ID { return runningInstance(t, e, d) },
		Exceptions: exceptions,
	})
}

// runningInstance creates and starts a managed container, removed when t
// ends, and returns its OVM id.
func runningInstance(t *testing.T, e testEnv, d *docker.Driver) ovm.ID {
	t.Helper()
	spec := smallSpec(e, "ovmnt-inst-"+uniq())
	track(t, d, spec.ID)
	_, err := d.Create(t.Context(), spec)
	require.NoError(t, err, "Create %s", spec.Name)
	require.NoError(t, d.Start(t.Context(), hypervisor.ByID(spec.ID)), "Start %s", spec.Name)
	return spec.ID
}

// TestMacvlan makes segments in macvlan mode on an uplink the test
// creates (one end of a veth pair: no traffic leaves the machine). This
// kernel has no 802.1Q support ("ip link add ... type vlan" is "Unknown
// device type", and there is no dummy device either), so a tagged segment
// cannot come up here: the test checks that the engine's refusal of one
// leaves nothing behind, while the request a tagged segment sends
// (parent UPLINK.VLAN) is checked by TestNetworkCreate. An untagged
// segment runs for real: a container gets IPAM's address on it.
func TestMacvlan(t *testing.T) {
	e := environment(t)
	d := connect(t, e.host)
	uplink := "ovmup" + uniq()[:4]
	out, err := exec.Command("ip", "link", "add", uplink, "type", "veth", "peer", "name", uplink+"p").CombinedOutput()
	require.NoError(t, err, "ip link add %s type veth: %s", uplink, out)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", uplink).Run() })
	for _, l := range []string{uplink, uplink + "p"} {
		out, err = exec.Command("ip", "link", "set", l, "up").CombinedOutput()
		require.NoError(t, err, "ip link set %s up: %s", l, out)
	}
	nets := d.Networks(docker.NetworkOptions{Uplink: uplink})
	assert.True(t, nets.Capabilities().VLAN, "with an uplink: Capabilities.VLAN")

	t.Run("tagged, no 802.1Q here", func(t *testing.T) {
		n := networkFor("ovmmv-" + uniq())
		n.VLAN = 211
		_, err := nets.CreateNetwork(t.Context(), n)
		if err == nil {
			t.Cleanup(func() { _ = nets.DeleteNetwork(bg(), n.ID) })
			t.Fatalf("CreateNetwork VLAN 211 on %s: got a segment, want the engine's refusal (this kernel has no 802.1Q)", uplink)
		}
		t.Logf("the engine refused VLAN 211: %v", err)
		assert.Contains(t, err.Error(), "docker host", "the error names the host: %v", err)
		_, gerr := nets.GetNetwork(t.Context(), n.ID)
		assert.ErrorIs(t, gerr, ovm.ErrNotFound, "GetNetwork after the refused create: got %v, want nothing made", gerr)
	})

	t.Run("untagged", func(t *testing.T) {
		n := networkFor("ovmmv-" + uniq())
		seg, err := nets.CreateNetwork(t.Context(), n)
		require.NoError(t, err, "CreateNetwork untagged macvlan on %s", uplink)
		t.Cleanup(func() { assert.NoError(t, nets.DeleteNetwork(bg(), n.ID), "cleanup: DeleteNetwork") })
		assert.Equal(t, "macvlan", seg.Mode, "Mode")
		again, err := nets.CreateNetwork(t.Context(), n)
		require.NoError(t, err, "second CreateNetwork")
		assert.Equal(t, seg.NativeID, again.NativeID, "second CreateNetwork: same segment")

		inst := runningInstance(t, e, d)
		ipam, err := network.NewIPAM(n, nil)
		require.NoError(t, err)
		ip, err := ipam.Allocate(inst)
		require.NoError(t, err)
		a, err := nets.Attach(t.Context(), n.ID, inst, network.AttachSpec{IP: ip})
		require.NoError(t, err, "Attach")
		assert.Equal(t, ip, a.IP, "Attach: IP")
		res, err := d.Exec(t.Context(), hypervisor.ByID(inst), hypervisor.ExecSpec{Command: []string{"ip", "-4", "addr"}})
		require.NoError(t, err)
		assert.Contains(t, string(res.Stdout), ip.String()+"/24", "the macvlan address in the container")
		assert.ErrorIs(t, nets.DeleteNetwork(t.Context(), n.ID), ovm.ErrConflict, "DeleteNetwork while attached")
		require.NoError(t, nets.Detach(t.Context(), n.ID, inst), "Detach")
	})
}
