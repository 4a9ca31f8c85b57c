//go:build integration

package api

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/internal/libvirthost"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
)

// TestDHCPLibvirt proves on the real libvirtd that a KVM guest gets the
// address OVM's IPAM chose for it by DHCP: the create reserves it in the
// libvirt network's dnsmasq for the MAC the domain's NIC has, the test
// guest's DHCP client prints the lease it got on the serial console (read
// through the console API) and the guest agent shows it on eth0 (the exec
// API). A second VM gets another address, a static address given by the
// user is honoured (one outside the subnet or taken is refused), and
// deleting a VM removes its host entry from the network's definition.
func TestDHCPLibvirt(t *testing.T) {
	uri, template, opts := libvirtTestHost(t)
	e, lh, tn, _ := kvmHostWith(t, uri, opts)
	ce := &chefEnv{env: e}
	var nw ovm.Network
	e.must(http.StatusCreated, "POST", "/v1/networks", tn.token, map[string]any{"name": "dhcpnet",
		"subnet": fmt.Sprintf("10.%d.%d.0/24", 100+rand.IntN(100), rand.IntN(250))}).decode(t, &nw)
	t.Cleanup(func() { lh.RemoveNetwork(nw.ID) })

	create := func(t *testing.T, name string, nic map[string]any) ovm.Instance {
		t.Helper()
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": name, "start": true,
			"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 128 << 20,
				"image": map[string]string{"format": "qcow2", "name": filepath.Base(template)},
				"nics":  []map[string]any{nic}}}).decode(t, &it)
		id := it.Instance.ID
		t.Cleanup(func() {
			lh.RemoveDomain(name + "-" + string(id.Short()))
			lh.RemoveVolumes(id)
		})
		done := ce.waitLong(tn.token, it.Task.ID)
		require.Equal(t, ovm.TaskSucceeded, done.State, "create task: %+v", done)
		var inst ovm.Instance
		e.must(http.StatusOK, "GET", "/v1/instances/"+string(id), tn.token, nil).decode(t, &inst)
		require.Len(t, inst.Status.Addresses, 1)
		return inst
	}
	// leased is the address the test guest prints for eth0 on the console
	// once its DHCP client has applied the lease (OVM-ADDR eth0 a/prefix,
	// read through the console API), and the one eth0 has, read through
	// the guest agent (the exec API).
	leased := func(t *testing.T, id ovm.ID) (console, onEth0 netip.Addr) {
		t.Helper()
		lines := consoleLines(t, e, tn.token, id, regexp.MustCompile(`^OVM-ADDR eth0 `))
		last := lines[len(lines)-1]
		require.True(t, strings.HasPrefix(last, "OVM-ADDR eth0 "), "no address on the console; the guest printed %q", lines[max(0, len(lines)-10):])
		p, err := netip.ParsePrefix(strings.TrimPrefix(last, "OVM-ADDR eth0 "))
		require.NoError(t, err)
		assert.Equal(t, nw.Subnet.Bits(), p.Bits(), "the lease's prefix")
		console = p.Addr()
		var res core.ExecResult
		e.must(http.StatusOK, "POST", "/v1/instances/"+string(id)+"/exec", tn.token,
			map[string]any{"command": []string{"sh", "-c", "ip -4 -o addr show dev eth0"}}).decode(t, &res)
		require.Equal(t, 0, res.ExitCode, "%+v", res)
		m := regexp.MustCompile(` inet ([0-9.]+)/`).FindStringSubmatch(res.Stdout)
		require.NotNil(t, m, "eth0: %q", res.Stdout)
		return console, netip.MustParseAddr(m[1])
	}
	// entries are the DHCP host entries of the network's live definition.
	entries := func(t *testing.T) map[string]libvirtxml.NetworkDHCPHost {
		t.Helper()
		return dhcpHosts(t, lh, nw.ID)
	}

	vm1 := create(t, "vm1", map[string]any{"networkId": nw.ID})
	want1 := vm1.Status.Addresses[0]
	require.True(t, nw.Subnet.Contains(want1))
	h1, ok := entries(t)[string(vm1.ID)]
	require.True(t, ok, "the network has a host entry for vm1: %+v", entries(t))
	assert.Equal(t, want1.String(), h1.IP)
	assert.Equal(t, strings.ToLower(h1.MAC), domainMAC(t, lh, "vm1-"+string(vm1.ID.Short())), "the entry's MAC is the domain's")
	c1, eth1 := leased(t, vm1.ID)
	assert.Equal(t, want1, c1, "the lease vm1 printed on its console")
	assert.Equal(t, want1, eth1, "vm1's eth0")

	vm2 := create(t, "vm2", map[string]any{"networkId": nw.ID})
	want2 := vm2.Status.Addresses[0]
	assert.NotEqual(t, want1, want2, "vm2 gets another address")
	c2, eth2 := leased(t, vm2.ID)
	assert.Equal(t, want2, c2, "the lease vm2 printed on its console")
	assert.Equal(t, want2, eth2, "vm2's eth0")

	remove := func(t *testing.T, inst ovm.Instance) {
		t.Helper()
		var del core.InstanceTask
		e.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(inst.ID), tn.token, nil).decode(t, &del)
		require.Equal(t, ovm.TaskSucceeded, ce.waitLong(tn.token, del.Task.ID).State)
		assert.NotContains(t, entries(t), string(inst.ID), "the host entry of %s is gone", inst.Name)
	}
	remove(t, vm2)
	assert.Contains(t, entries(t), string(vm1.ID), "vm1's entry stays")

	t.Run("bad static address", func(t *testing.T) {
		for _, ip := range []string{"192.0.2.7", want1.String()} {
			r := e.do("POST", "/v1/instances", tn.token, map[string]any{"name": "vmbad",
				"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 128 << 20,
					"image": map[string]string{"format": "qcow2", "name": filepath.Base(template)},
					"nics":  []map[string]any{{"networkId": nw.ID, "ip": ip}}}})
			require.Equal(t, http.StatusUnprocessableEntity, r.status, "ip %s: %s", ip, r)
			assert.Contains(t, fieldLocations(problemOf(t, r)), "body.spec.nics[0].ip")
		}
	})

	a4 := nw.Subnet.Addr().As4()
	a4[3] = 200 // far from what IPAM allocates first
	static := netip.AddrFrom4(a4)
	vm3 := create(t, "vm3", map[string]any{"networkId": nw.ID, "ip": static.String()})
	assert.Equal(t, static, vm3.Status.Addresses[0], "the static address is the instance's")
	c3, eth3 := leased(t, vm3.ID)
	assert.Equal(t, static, c3, "the lease vm3 printed on its console")
	assert.Equal(t, static, eth3, "vm3's eth0")

	remove(t, vm1)
	remove(t, vm3)
	assert.Empty(t, entries(t))
	e.must(http.StatusNoContent, "DELETE", "/v1/networks/"+string(nw.ID), tn.token, nil)
}

// dhcpHosts reads the DHCP host entries of an OVM network's libvirt
// network (live definition) by name.
func dhcpHosts(t *testing.T, lh *libvirthost.Host, id ovm.ID) map[string]libvirtxml.NetworkDHCPHost {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(string(id), "-", ""))
	require.NoError(t, err)
	n, err := lh.L.NetworkLookupByUUID(golibvirt.UUID(b))
	require.NoError(t, err)
	x, err := lh.L.NetworkGetXMLDesc(n, 0)
	require.NoError(t, err)
	var def libvirtxml.Network
	require.NoError(t, def.Unmarshal(x))
	out := map[string]libvirtxml.NetworkDHCPHost{}
	for _, ip := range def.IPs {
		if ip.DHCP != nil {
			for _, h := range ip.DHCP.Hosts {
				out[h.Name] = h
			}
		}
	}
	return out
}

// domainMAC is the MAC of a domain's first interface.
func domainMAC(t *testing.T, lh *libvirthost.Host, name string) string {
	t.Helper()
	d, err := lh.L.DomainLookupByName(name)
	require.NoError(t, err)
	x, err := lh.L.DomainGetXMLDesc(d, 0)
	require.NoError(t, err)
	var def libvirtxml.Domain
	require.NoError(t, def.Unmarshal(x))
	require.NotNil(t, def.Devices)
	require.NotEmpty(t, def.Devices.Interfaces)
	require.NotNil(t, def.Devices.Interfaces[0].MAC)
	return strings.ToLower(def.Devices.Interfaces[0].MAC.Address)
}
