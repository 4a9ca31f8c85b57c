// Command evacuation is a tour of OVM's SDK on in-memory hosts: it builds a
// small pool of fake hypervisor hosts, places a vApp under each placement
// policy, deploys it, kills a host, and prints the failure detection
// timeline, the fencing, the evacuation plan carried out on the surviving
// hosts, and the reconciliation of the host when it comes back.
//
//	go run ./examples/evacuation
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "evacuation:", err)
		os.Exit(1)
	}
}

// host is one fake hypervisor host of the demo pool.
type host struct {
	id    ovm.ID
	name  string
	drv   *fake.Driver
	fence []ha.FenceMethod
}

// member is one instance of the demo vApp.
type member struct {
	id     ovm.ID
	name   string
	spec   ovm.InstanceSpec
	shared bool   // disks on the shared NFS pool (HA can restart it elsewhere)
	group  ovm.ID // anti-affinity group, "" for none
	hostID ovm.ID
}

func run(ctx context.Context, out io.Writer) error {
	dc, pool, nfs := ovm.NewID(), ovm.NewID(), ovm.NewID()
	// Simulated time: the detector reads no clock, so the demo runs at
	// once while its timeline reads like ten-second probe rounds.
	now := time.Date(2026, 1, 12, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	hosts := []*host{}
	for i, c := range []ovm.Resources{
		{CPU: ovm.CPUs(16), Memory: 64 * ovm.GiB, Disk: 2 * ovm.TiB},
		{CPU: ovm.CPUs(16), Memory: 64 * ovm.GiB, Disk: 2 * ovm.TiB},
		{CPU: ovm.CPUs(8), Memory: 32 * ovm.GiB, Disk: ovm.TiB},
		{CPU: ovm.CPUs(8), Memory: 32 * ovm.GiB, Disk: ovm.TiB},
	} {
		name := fmt.Sprintf("kvm-%d", i+1)
		hosts = append(hosts, &host{
			id: ovm.NewID(), name: name,
			drv:   fake.New(fake.Options{Name: name, Kind: ovm.HostKVM, Capacity: c, Now: clock}),
			fence: []ha.FenceMethod{ha.FencePowerOff},
		})
	}
	byID := map[ovm.ID]*host{}
	for _, h := range hosts {
		byID[h.id] = h
	}
	name := func(id ovm.ID) string {
		if h := byID[id]; h != nil {
			return h.name
		}
		return string(id)
	}

	// The vApp: two web servers kept apart (anti-affinity), a database on
	// local disks.
	vm := func(cpu int64, mem ovm.Bytes, prio int) ovm.InstanceSpec {
		return ovm.InstanceSpec{Type: ovm.TypeVM, CPU: ovm.CPUs(cpu), Memory: mem, Image: ovm.Template("debian-12.qcow2"),
			Disks: []ovm.DiskSpec{{Size: 20 * ovm.GiB}}, HA: ovm.HAPolicy{Enabled: true, Priority: prio}}
	}
	vapp := ovm.NewID()
	members := []*member{
		{id: ovm.NewID(), name: "web-1", spec: vm(2, 4*ovm.GiB, 10), shared: true, group: vapp},
		{id: ovm.NewID(), name: "web-2", spec: vm(2, 4*ovm.GiB, 10), shared: true, group: vapp},
		{id: ovm.NewID(), name: "db-1", spec: vm(4, 16*ovm.GiB, 20)},
	}

	// snapshot reads every host through its driver, as a server would.
	snapshot := func() ([]placement.Host, error) {
		var out []placement.Host
		for _, h := range hosts {
			state := ovm.HostUp
			info, err := h.drv.Info(ctx)
			switch {
			case errors.Is(err, ovm.ErrUnavailable):
				// A dead host: placement rejects it by state.
				state, info = ovm.HostFailed, hypervisor.HostInfo{Kind: ovm.HostKVM}
			case err != nil:
				return nil, fmt.Errorf("host %s: %w", h.name, err)
			}
			var groups []ovm.ID
			for _, m := range members {
				if m.hostID == h.id && m.group != "" {
					groups = append(groups, m.group)
				}
			}
			out = append(out, placement.Host{ID: h.id, Name: h.name, DatacenterID: dc, PoolID: pool, Kind: info.Kind,
				State: state, Capacity: info.Capacity, Allocated: info.Allocated, SharedStorage: []ovm.ID{nfs}, Groups: groups})
		}
		return out, nil
	}
	request := func(m *member) placement.Request {
		r := placement.Request{Name: m.name, Demand: m.spec.Demand(), Kinds: m.spec.Image.HostKinds(), Group: m.group}
		if m.shared {
			r.SharedStorage = []ovm.ID{nfs}
		}
		return r
	}
	scope := ovm.Scope{Kind: ovm.ScopePool, PoolID: pool}

	fmt.Fprintln(out, "== placing vApp \"shop\" (web-1 and web-2 kept apart) on an empty pool of 4 hosts")
	snap, err := snapshot()
	if err != nil {
		return err
	}
	var chosen []placement.Result
	for _, policy := range []ovm.PlacementPolicy{ovm.PolicyPerformance, ovm.PolicyProgressive} {
		fleet, err := placement.NewFleet(snap)
		if err != nil {
			return err
		}
		reqs := make([]placement.Request, len(members))
		for i, m := range members {
			reqs[i] = request(m)
		}
		results, _ := fleet.PlaceBatch(reqs, policy, scope, placement.Cursor{})
		fmt.Fprintf(out, "%-12s", policy)
		for i, r := range results {
			if r.Err != nil {
				return fmt.Errorf("place %s: %w", members[i].name, r.Err)
			}
			fmt.Fprintf(out, "  %s→%s", members[i].name, name(r.HostID))
		}
		fmt.Fprintln(out)
		if policy == ovm.PolicyProgressive {
			chosen = results
		}
	}

	fmt.Fprintln(out, "\n== deploying under PROGRESSIVE")
	for i, m := range members {
		m.hostID = chosen[i].HostID
		h := byID[m.hostID]
		if _, err := h.drv.Create(ctx, hypervisor.CreateSpec{ID: m.id, Name: m.name, Spec: m.spec}); err != nil {
			return fmt.Errorf("create %s on %s: %w", m.name, h.name, err)
		}
		if err := h.drv.Start(ctx, hypervisor.ByID(m.id)); err != nil {
			return fmt.Errorf("start %s on %s: %w", m.name, h.name, err)
		}
		fmt.Fprintf(out, "%s running on %s\n", m.name, h.name)
	}

	det, err := ha.NewDetector(ha.Config{Interval: 10 * time.Second})
	if err != nil {
		return err
	}
	for _, h := range hosts {
		if _, err := det.Track(ha.HostSpec{ID: h.id, PoolID: pool, DatacenterID: dc, Fence: h.fence}, now); err != nil {
			return err
		}
	}
	// probe pings every host through its driver, bounded by a deadline, and
	// feeds one round to the detector.
	probe := func() (ha.Round, error) {
		var ps []ha.Probe
		for _, h := range hosts {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := h.drv.Ping(pctx)
			cancel()
			ps = append(ps, ha.Probe{Host: h.id, OK: err == nil, At: now})
		}
		r, err := det.Observe(now, ps)
		if err != nil {
			return r, err
		}
		for _, e := range r.Events {
			fmt.Fprintf(out, "%s  %s: %s → %s (%s)\n", e.At.Format("15:04:05"), name(e.Host), e.From, e.To, e.Reason)
		}
		return r, nil
	}

	victim := byID[members[0].hostID]
	fmt.Fprintf(out, "\n== %s loses power at %s; probing every 10s\n", victim.name, now.Add(5*time.Second).Format("15:04:05"))
	victim.drv.SetUnreachable(true)
	var fenceReq *ha.FenceRequest
	for round := 0; round < 4 && fenceReq == nil; round++ {
		now = now.Add(10 * time.Second)
		r, err := probe()
		if err != nil {
			return err
		}
		if len(r.Fence) > 0 {
			fenceReq = &r.Fence[0]
		}
	}
	if fenceReq == nil {
		return fmt.Errorf("no fence request after four rounds")
	}
	// The out-of-band controller is simulated: the fake host is off, so the
	// power-off is confirmed.
	fmt.Fprintf(out, "%s  fence %s with %v: confirmed (out-of-band power-off)\n", now.Format("15:04:05"), name(fenceReq.Host), fenceReq.Methods)
	fence := ha.FenceResult{Host: fenceReq.Host, Outcome: ha.FenceConfirmed, Method: ha.FencePowerOff, At: now}

	snap, err = snapshot()
	if err != nil {
		return err
	}
	var insts []ha.Instance
	for _, m := range members {
		insts = append(insts, ha.Instance{ID: m.id, Name: m.name, HostID: m.hostID, Demand: m.spec.Demand(),
			Kinds: m.spec.Image.HostKinds(), SharedStorage: request(m).SharedStorage, LocalStorage: !m.shared, HA: m.spec.HA, Group: m.group})
	}
	plan, err := ha.PlanEvacuation(ha.Evacuation{Host: victim.id, Pool: pool, Policy: ovm.PolicyPerformance, Fence: fence, At: now, Hosts: snap, Instances: insts})
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== evacuation plan")
	for _, r := range plan.Restarts {
		fmt.Fprintf(out, "restart %s (priority %d): %s → %s\n", r.Name, r.Priority, name(r.From), name(r.To))
	}
	for _, l := range plan.Lost {
		fmt.Fprintf(out, "lost    %s: %s\n", l.Name, l.Reason)
	}
	for _, n := range plan.NotRestarted {
		fmt.Fprintf(out, "waiting %s: %s\n", n.Name, n.Reason)
	}
	for _, a := range plan.Alerts {
		fmt.Fprintf(out, "alert   %s\n", a.Kind)
	}
	for _, r := range plan.Restarts {
		m := members[slices.IndexFunc(members, func(m *member) bool { return m.id == r.Instance })]
		to := byID[r.To]
		if _, err := to.drv.Create(ctx, hypervisor.CreateSpec{ID: m.id, Name: m.name, Spec: m.spec}); err != nil {
			return fmt.Errorf("restart %s on %s: %w", m.name, to.name, err)
		}
		if err := to.drv.Start(ctx, hypervisor.ByID(m.id)); err != nil {
			return fmt.Errorf("restart %s on %s: %w", m.name, to.name, err)
		}
		m.hostID = to.id
		fmt.Fprintf(out, "%s running on %s\n", m.name, to.name)
	}

	fmt.Fprintf(out, "\n== %s comes back with its old copies\n", victim.name)
	now = now.Add(10 * time.Minute)
	victim.drv.SetUnreachable(false)
	if _, err := probe(); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		listed, err := victim.drv.List(ctx)
		if err != nil {
			return err
		}
		ret := ha.Return{Host: victim.id, At: now}
		for _, i := range listed {
			ret.Found = append(ret.Found, ha.Found{NativeID: i.NativeID, ID: i.OVMID, Name: i.Name, Power: i.Power})
		}
		for _, m := range members {
			ret.Records = append(ret.Records, ha.Record{Instance: m.id, HostID: m.hostID})
		}
		rec, err := ha.Reconcile(ret)
		if err != nil {
			return err
		}
		if rec.MayMarkUp {
			e, err := det.MarkReconciled(victim.id, now)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%s  %s: %s → %s (%s)\n", e.At.Format("15:04:05"), name(e.Host), e.From, e.To, e.Reason)
			return nil
		}
		if attempt > 0 {
			return fmt.Errorf("host %s still has %d stale copies after stopping them", victim.name, len(rec.Stops))
		}
		for _, s := range rec.Stops {
			fmt.Fprintf(out, "stop stale copy of %s on %s (it runs on %s)\n", s.Name, victim.name, name(s.RunsOn))
			if err := victim.drv.Stop(ctx, hypervisor.ByNative(s.NativeID), hypervisor.StopOptions{Force: true}); err != nil {
				return err
			}
		}
	}
}
