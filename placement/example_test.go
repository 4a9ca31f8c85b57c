package placement_test

import (
	"errors"
	"fmt"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
)

// Example places a VM on a small pool: PERFORMANCE spreads, PROGRESSIVE
// packs, and a request that fits nowhere says why, host by host.
func Example() {
	dc := ovm.ID("6f1c0000-0000-4000-8000-000000000001")
	pool := ovm.ID("6f1c0000-0000-4000-8000-000000000002")
	lan := ovm.ID("6f1c0000-0000-4000-8000-000000000003")
	size := ovm.Resources{CPU: ovm.CPUs(16), Memory: 64 * ovm.GiB, Disk: 1 * ovm.TiB}
	host := func(n int, name string, kind ovm.HostKind, state ovm.HostState, used ovm.Resources) placement.Host {
		return placement.Host{
			ID:           ovm.ID(fmt.Sprintf("6f1c0000-0000-4000-8000-1000000000%02d", n)),
			DatacenterID: dc, PoolID: pool, Name: name, Kind: kind, State: state,
			Capacity: size, Allocated: used, Overcommit: ovm.Overcommit{CPU: 4},
			Networks: []ovm.ID{lan},
		}
	}
	fleet, err := placement.NewFleet([]placement.Host{
		host(1, "kvm-1", ovm.HostKVM, ovm.HostUp, ovm.Resources{CPU: ovm.CPUs(8), Memory: 48 * ovm.GiB}),
		host(2, "kvm-2", ovm.HostKVM, ovm.HostUp, ovm.Resources{CPU: ovm.CPUs(8), Memory: 16 * ovm.GiB}),
		host(3, "kvm-3", ovm.HostKVM, ovm.HostMaintenance, ovm.Resources{}),
		host(4, "esx-1", ovm.HostESXi, ovm.HostUp, ovm.Resources{}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	name := func(id ovm.ID) string { h, _ := fleet.Host(id); return h.Name }

	web := placement.Request{
		Name:     "web-1",
		Demand:   ovm.Resources{CPU: ovm.CPUs(2), Memory: 8 * ovm.GiB, Disk: 40 * ovm.GiB},
		Kinds:    ovm.Template("debian-12.qcow2").HostKinds(), // kvm (or fake)
		Networks: []ovm.ID{lan},
	}
	scope := ovm.Scope{Kind: ovm.ScopePool, PoolID: pool}

	// kvm-2 has 48 of 64GiB free (score 0.75), kvm-1 16GiB (score 0.25).
	d, _ := fleet.Place(web, ovm.PolicyPerformance, scope, placement.Cursor{})
	fmt.Println("PERFORMANCE:", name(d.HostID))

	// PROGRESSIVE fills hosts in name order: kvm-1 still has room.
	d, _ = fleet.Place(web, ovm.PolicyProgressive, scope, placement.Cursor{})
	fmt.Println("PROGRESSIVE:", name(d.HostID))

	big := web
	big.Name, big.Demand.Memory = "db-1", 56*ovm.GiB
	_, err = fleet.Place(big, ovm.PolicyPerformance, scope, placement.Cursor{})
	fmt.Println(err)
	var nf *placement.NoFitError
	fmt.Println(errors.Is(err, ovm.ErrUnavailable), errors.As(err, &nf), len(nf.Rejections))
	// Output:
	// PERFORMANCE: kvm-2
	// PROGRESSIVE: kvm-1
	// no host can take "db-1": esx-1: kind esxi, image needs kvm or fake; kvm-1: memory: need 56GiB, 16GiB free; kvm-2: memory: need 56GiB, 48GiB free; kvm-3: state maintenance
	// true true 4
}
