//go:build integration

package libvirt_test

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/network/networktest"
	"github.com/openovm/ovm/ovm"
)

// TestNetworkConformance runs the network conformance suite on libvirt
// networks of the first host: bridges in 10.211.128.0/17, one /24 each.
func TestNetworkConformance(t *testing.T) {
	e := env(t)
	var next atomic.Int32
	base := int32(ovm.NewID()[0]) % 64 // spread runs over the /17
	networktest.Run(t, networktest.Harness{
		New: func(t *testing.T) network.Driver {
			d := dial(t, e, e.uri)
			t.Cleanup(func() { _ = d.Close() })
			return d.Networks()
		},
		Network: func(t *testing.T, name string) ovm.Network {
			i := 128 + (base+next.Add(1))%128
			return ovm.Network{Name: name, Subnet: netip.MustParsePrefix(fmt.Sprintf("10.211.%d.0/24", i)),
				Gateway: netip.MustParseAddr(fmt.Sprintf("10.211.%d.1", i)),
				Ranges:  []ovm.AddrRange{{Start: netip.MustParseAddr(fmt.Sprintf("10.211.%d.10", i)), End: netip.MustParseAddr(fmt.Sprintf("10.211.%d.200", i))}}}
		},
		// Reservations name the instance; the network driver does not need
		// the domain to exist (it reserves before the domain is defined).
		Instance: func(t *testing.T) ovm.ID { return ovm.NewID() },
	})
}
