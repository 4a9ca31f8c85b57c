package ha_test

import (
	"fmt"
	"time"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
)

// Host b of a three-host pool dies. The monitor sees two failed probes,
// fences b, plans its evacuation and, when b comes back with an old copy
// running, stops that copy before b takes work again.
func Example() {
	var (
		pool, dc = ovm.ID("7d0e7a52-3c1b-4a57-9a43-1f2e3d4c5b6a"), ovm.ID("0b8f3c2e-9d4a-4e6f-8a1b-2c3d4e5f6a7b")
		a        = ovm.ID("a0000000-0000-4000-8000-000000000000")
		b        = ovm.ID("b0000000-0000-4000-8000-000000000000")
		c        = ovm.ID("c0000000-0000-4000-8000-000000000000")
		web, db  = ovm.ID("e0000000-0000-4000-8000-000000000001"), ovm.ID("e0000000-0000-4000-8000-000000000002")
	)
	name := map[ovm.ID]string{a: "a", b: "b", c: "c", web: "web-1", db: "db-1"}
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

	det, err := ha.NewDetector(ha.Config{Interval: 10 * time.Second})
	if err != nil {
		panic(err)
	}
	for _, h := range []ovm.ID{a, b, c} {
		if _, err := det.Track(ha.HostSpec{ID: h, PoolID: pool, DatacenterID: dc, Fence: []ha.FenceMethod{ha.FencePowerOff}}, start); err != nil {
			panic(err)
		}
	}
	round := func(now time.Time, bOK bool) ha.Round {
		r, err := det.Observe(now, []ha.Probe{{Host: a, OK: true, At: now}, {Host: b, OK: bOK, At: now}, {Host: c, OK: true, At: now}})
		if err != nil {
			panic(err)
		}
		for _, e := range r.Events {
			fmt.Printf("%s %s %s -> %s (%s)\n", e.At.Format("15:04:05"), name[e.Host], e.From, e.To, e.Reason)
		}
		return r
	}

	// b stops answering.
	round(start.Add(10*time.Second), false)
	r := round(start.Add(20*time.Second), false)

	// The server fences b as asked: its BMC powers it off.
	req := r.Fence[0]
	fmt.Printf("fence %s with %v\n", name[req.Host], req.Methods)
	fenced := ha.FenceResult{Host: req.Host, Outcome: ha.FenceConfirmed, Method: ha.FencePowerOff, At: req.At}

	// The pool as placement sees it: a is busier than c.
	host := func(id ovm.ID, state ovm.HostState, used int64) placement.Host {
		return placement.Host{ID: id, Name: name[id], PoolID: pool, DatacenterID: dc, Kind: ovm.HostKVM, State: state,
			Capacity:      ovm.Resources{CPU: ovm.CPUs(16), Memory: 64 * ovm.GiB, Disk: ovm.TiB},
			Allocated:     ovm.Resources{CPU: ovm.CPUs(used), Memory: ovm.Bytes(used) * 2 * ovm.GiB},
			SharedStorage: []ovm.ID{"nfs-1"}}
	}
	demand := ovm.Resources{CPU: ovm.CPUs(2), Memory: 4 * ovm.GiB, Disk: 20 * ovm.GiB}
	plan, err := ha.PlanEvacuation(ha.Evacuation{
		Host: b, Pool: pool, Policy: ovm.PolicyPerformance, Fence: fenced, At: req.At,
		Hosts: []placement.Host{host(a, ovm.HostUp, 8), host(b, ovm.HostFailed, 4), host(c, ovm.HostUp, 2)},
		Instances: []ha.Instance{
			{ID: web, Name: "web-1", HostID: b, Demand: demand, SharedStorage: []ovm.ID{"nfs-1"}, HA: ovm.HAPolicy{Enabled: true, Priority: 10}},
			{ID: db, Name: "db-1", HostID: b, Demand: demand, LocalStorage: true, HA: ovm.HAPolicy{Enabled: true}},
		},
	})
	if err != nil {
		panic(err)
	}
	for _, x := range plan.Restarts {
		fmt.Printf("restart %s: %s -> %s\n", x.Name, name[x.From], name[x.To])
	}
	for _, x := range plan.Lost {
		fmt.Printf("lost %s: %s\n", x.Name, x.Reason)
	}
	for _, x := range plan.Alerts {
		fmt.Printf("alert %s\n", x.Kind)
	}

	// b boots and starts its old copy of web-1; it answers again.
	r = round(start.Add(60*time.Second), true)
	rec, err := ha.Reconcile(ha.Return{Host: b, At: r.At,
		Found:   []ha.Found{{NativeID: "vm-17", ID: web, Name: "web-1", Power: ovm.PowerRunning}, {NativeID: "vm-18", ID: db, Name: "db-1", Power: ovm.PowerStopped}},
		Records: []ha.Record{{Instance: web, HostID: c}, {Instance: db, HostID: b}}})
	if err != nil {
		panic(err)
	}
	for _, s := range rec.Stops {
		fmt.Printf("stop %s on %s: it runs on %s\n", s.Name, name[b], name[s.RunsOn])
	}
	fmt.Printf("may mark %s up: %v\n", name[b], rec.MayMarkUp)
	// ... the server stops it, lists b again, and reconciles once more.
	rec, err = ha.Reconcile(ha.Return{Host: b, At: r.At,
		Found:   []ha.Found{{NativeID: "vm-17", ID: web, Name: "web-1", Power: ovm.PowerStopped}, {NativeID: "vm-18", ID: db, Name: "db-1", Power: ovm.PowerStopped}},
		Records: []ha.Record{{Instance: web, HostID: c}, {Instance: db, HostID: b}}})
	if err != nil {
		panic(err)
	}
	fmt.Printf("may mark %s up: %v\n", name[b], rec.MayMarkUp)
	e, err := det.MarkReconciled(b, r.At)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s %s %s -> %s (%s)\n", e.At.Format("15:04:05"), name[e.Host], e.From, e.To, e.Reason)

	// Output:
	// 12:00:10 b up -> suspect (probe failed)
	// 12:00:20 b suspect -> failed (probe failed)
	// fence b with [power-off]
	// restart web-1: b -> c
	// lost db-1: disks on the failed host's local storage
	// alert instances-lost
	// 12:01:00 b failed -> returned (probe succeeded)
	// stop web-1 on b: it runs on c
	// may mark b up: false
	// may mark b up: true
	// 12:01:00 b returned -> up (reconciled)
}
