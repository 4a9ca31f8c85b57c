package ha_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
)

// subset draws a subset of ids, in their order, each id in it with
// probability pct%.
func subset(t *rapid.T, label string, pct int, ids ...ovm.ID) []ovm.ID {
	var out []ovm.ID
	for _, id := range ids {
		if rapid.IntRange(0, 99).Draw(t, label+"."+nameOf(id)) < pct {
			out = append(out, id)
		}
	}
	return out
}

// genEvacuation draws a pool around failed host h0: other hosts of any
// state, kind, size and load (some in another pool), instances on h0 and
// elsewhere, and any fence outcome.
func genEvacuation(t *rapid.T) ha.Evacuation {
	p1, p2 := idOf("p1"), idOf("p2")
	nets, stores, groups := []ovm.ID{idOf("n1"), idOf("n2")}, []ovm.ID{idOf("s1"), idOf("s2")}, []ovm.ID{idOf("g1"), idOf("g2")}
	ev := ha.Evacuation{Host: idOf("h0"), Pool: p1, At: epoch,
		Policy: rapid.SampledFrom([]ovm.PlacementPolicy{ovm.PolicyPerformance, ovm.PolicyProgressive, ""}).Draw(t, "policy")}
	n := rapid.IntRange(1, 6).Draw(t, "hosts")
	for i := range n {
		name := fmt.Sprintf("h%d", i)
		h := placement.Host{ID: idOf(name), Name: name, DatacenterID: idOf("d1"), PoolID: p1, State: ovm.HostFailed,
			Kind: rapid.SampledFrom([]ovm.HostKind{ovm.HostKVM, ovm.HostKVM, ovm.HostESXi, ovm.HostDocker}).Draw(t, name+".kind"),
			Capacity: ovm.Resources{CPU: ovm.CPUs(rapid.Int64Range(2, 32).Draw(t, name+".cpu")),
				Memory: ovm.Bytes(rapid.Int64Range(4, 128).Draw(t, name+".mem")) * ovm.GiB, Disk: ovm.TiB},
			Overcommit:    rapid.SampledFrom([]ovm.Overcommit{{}, {CPU: 2}, {CPU: 4, Memory: 1.5}}).Draw(t, name+".overcommit"),
			Networks:      subset(t, name+".net", 75, nets...),
			SharedStorage: subset(t, name+".storage", 75, stores...),
			Groups:        subset(t, name+".groups", 25, groups...),
		}
		if i > 0 {
			h.State = rapid.SampledFrom([]ovm.HostState{ovm.HostUp, ovm.HostUp, ovm.HostUp, ovm.HostSuspect, ovm.HostFailed, ovm.HostMaintenance}).Draw(t, name+".state")
			h.ReadOnly = rapid.IntRange(0, 9).Draw(t, name+".readOnly") == 0
			if rapid.IntRange(0, 4).Draw(t, name+".pool") == 0 {
				h.PoolID = p2
			}
			free := h.Overcommit.Apply(h.Capacity)
			pct := rapid.Int64Range(0, 100).Draw(t, name+".load")
			h.Allocated = ovm.Resources{CPU: free.CPU * ovm.MilliCPU(pct) / 100, Memory: free.Memory * ovm.Bytes(pct) / 100,
				Disk: free.Disk * ovm.Bytes(pct) / 100}
		}
		ev.Hosts = append(ev.Hosts, h)
	}
	m := rapid.IntRange(0, 12).Draw(t, "instances")
	for i := range m {
		name := fmt.Sprintf("i%d", i)
		inst := ha.Instance{ID: idOf(name), Name: name, HostID: ev.Host,
			Demand: ovm.Resources{CPU: ovm.MilliCPU(rapid.IntRange(1, 16).Draw(t, name+".cpu") * 500),
				Memory: ovm.Bytes(rapid.IntRange(1, 16).Draw(t, name+".mem")) * ovm.GiB,
				Disk:   ovm.Bytes(rapid.IntRange(0, 100).Draw(t, name+".disk")) * ovm.GiB},
			HA:            ovm.HAPolicy{Enabled: rapid.IntRange(0, 4).Draw(t, name+".ha") > 0, Priority: rapid.IntRange(0, 3).Draw(t, name+".prio")},
			LocalStorage:  rapid.IntRange(0, 4).Draw(t, name+".local") == 0,
			Group:         rapid.SampledFrom([]ovm.ID{"", "", groups[0], groups[1]}).Draw(t, name+".group"),
			Networks:      subset(t, name+".net", 25, nets...),
			SharedStorage: subset(t, name+".storage", 25, stores...),
		}
		if rapid.IntRange(0, 3).Draw(t, name+".kinds") == 0 {
			inst.Kinds = []ovm.HostKind{ovm.HostDocker}
		}
		if rapid.IntRange(0, 4).Draw(t, name+".elsewhere") == 0 {
			inst.HostID = ev.Hosts[rapid.IntRange(0, n-1).Draw(t, name+".host")].ID
		}
		ev.Instances = append(ev.Instances, inst)
	}
	ev.Fence = ha.FenceResult{Host: ev.Host, At: epoch,
		Outcome: rapid.SampledFrom([]ha.FenceOutcome{ha.FenceConfirmed, ha.FenceConfirmed, ha.FenceFailed, ha.FenceNotConfigured}).Draw(t, "fence")}
	if ev.Fence.Confirmed() {
		ev.Fence.Method = ha.FencePowerOff
	}
	return ev
}

// planned returns every instance the plan names, with the list it is in.
func planned(p ha.Plan) map[ovm.ID][]string {
	out := map[ovm.ID][]string{}
	for _, r := range p.Restarts {
		out[r.Instance] = append(out[r.Instance], "restart")
	}
	for _, n := range p.NotRestarted {
		out[n.Instance] = append(out[n.Instance], "not-restarted")
	}
	for list, os := range map[string][]ha.Outcome{"lost": p.Lost, "unknown": p.Unknown, "skipped": p.Skipped} {
		for _, o := range os {
			out[o.Instance] = append(out[o.Instance], list)
		}
	}
	return out
}

func TestPlanProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ev := genEvacuation(t)
		p, err := ha.PlanEvacuation(ev)
		require.NoError(t, err)

		// Every instance of h0 is in exactly one list; no other instance is.
		got := planned(p)
		for _, i := range ev.Instances {
			if i.HostID == ev.Host {
				require.Len(t, got[i.ID], 1, "instance %s: got in lists %v, want in exactly one", i.Name, got[i.ID])
			} else {
				require.Empty(t, got[i.ID], "instance %s on another host: got in %v, want in no list", i.Name, got[i.ID])
			}
		}
		if !ev.Fence.Confirmed() {
			require.Empty(t, p.Restarts, "fence %s: got restarts %v, want none", ev.Fence.Outcome, p.Restarts)
		}

		// Targets: an up, writable host of the pool other than h0, never
		// over-committed, never given a second member of a group.
		hosts := map[ovm.ID]placement.Host{}
		for _, h := range ev.Hosts {
			hosts[h.ID] = h
		}
		added := map[ovm.ID]ovm.Resources{}
		groupsOn := map[ovm.ID][]ovm.ID{}
		for id, h := range hosts {
			groupsOn[id] = slices.Clone(h.Groups)
		}
		for _, r := range p.Restarts {
			h := hosts[r.To]
			require.NotEqual(t, ev.Host, r.To, "restart %s: got the failed host as target, want another", r.Name)
			require.Equal(t, ev.Pool, h.PoolID, "restart %s: got target in pool %s, want %s", r.Name, h.PoolID, ev.Pool)
			require.Equal(t, ovm.HostUp, h.State, "restart %s: got target state %s, want up", r.Name, h.State)
			require.False(t, h.ReadOnly, "restart %s: got a read-only target, want a writable one", r.Name)
			if r.Group != "" {
				require.NotContains(t, groupsOn[r.To], r.Group, "restart %s: got target %s already holding group %s", r.Name, h.Name, r.Group)
				groupsOn[r.To] = append(groupsOn[r.To], r.Group)
			}
			added[r.To] = added[r.To].Add(r.Demand)
		}
		for id, a := range added {
			h := hosts[id]
			total, limit := h.Allocated.Add(a), h.Overcommit.Apply(h.Capacity)
			require.True(t, total.Fits(limit), "host %s: got %s allocated after the plan, want at most %s", h.Name, total, limit)
		}

		// Priority order in every list.
		prios := func(ps []int) {
			require.True(t, slices.IsSortedFunc(ps, func(a, b int) int { return b - a }), "priorities: got %v, want highest first", ps)
		}
		var rp, np []int
		for _, r := range p.Restarts {
			rp = append(rp, r.Priority)
		}
		for _, n := range p.NotRestarted {
			np = append(np, n.Priority)
		}
		prios(rp)
		prios(np)

		// The same input plans the same.
		again, err := ha.PlanEvacuation(ev)
		require.NoError(t, err)
		require.Equal(t, p, again, "planning the same evacuation twice: got different plans")
	})
}

func TestPlanTwicePlansNothingNew(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ev := genEvacuation(t)
		first, err := ha.PlanEvacuation(ev)
		require.NoError(t, err)

		// Apply the plan as the server does: the restarted instances are
		// recorded on their new hosts, which take on their demand and group.
		for _, r := range first.Restarts {
			for i := range ev.Instances {
				if ev.Instances[i].ID == r.Instance {
					ev.Instances[i].HostID = r.To
				}
			}
			for i := range ev.Hosts {
				if ev.Hosts[i].ID == r.To {
					ev.Hosts[i].Allocated = ev.Hosts[i].Allocated.Add(r.Demand)
					if r.Group != "" {
						ev.Hosts[i].Groups = append(ev.Hosts[i].Groups, r.Group)
					}
				}
			}
		}
		ev.Cursor = first.Cursor
		second, err := ha.PlanEvacuation(ev)
		require.NoError(t, err)
		require.Empty(t, second.Restarts, "second plan: got restarts %v, want none", second.Restarts)
		want := planned(first)
		for _, r := range first.Restarts {
			delete(want, r.Instance)
		}
		require.Equal(t, want, planned(second), "second plan: got outcomes %v, want the first plan's less its restarts %v", planned(second), want)
	})
}

func TestReconcileProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		x := idOf("x")
		in := ha.Return{Host: x, At: epoch}
		n := rapid.IntRange(0, 12).Draw(t, "instances")
		for i := range n {
			name := fmt.Sprintf("i%d", i)
			id := idOf(name)
			if rapid.IntRange(0, 5).Draw(t, name+".recorded") > 0 {
				on := rapid.SampledFrom([]ovm.ID{x, x, idOf("y"), idOf("z"), ""}).Draw(t, name+".on")
				in.Records = append(in.Records, ha.Record{Instance: id, HostID: on})
			}
			if rapid.Bool().Draw(t, name+".found") {
				in.Found = append(in.Found, ha.Found{NativeID: "native-" + name, ID: id, Name: name,
					Power: rapid.SampledFrom([]ovm.PowerState{ovm.PowerRunning, ovm.PowerStopped, ovm.PowerPaused, ovm.PowerUnknown}).Draw(t, name+".power")})
			}
		}
		if rapid.Bool().Draw(t, "unmanaged") {
			in.Found = append(in.Found, ha.Found{NativeID: "native-other", Name: "other", Power: ovm.PowerRunning})
		}
		where := map[ovm.ID]ovm.ID{}
		for _, r := range in.Records {
			where[r.Instance] = r.HostID
		}

		rec, err := ha.Reconcile(in)
		require.NoError(t, err)
		stops := map[string]bool{}
		for _, s := range rec.Stops {
			stops[s.NativeID] = true
		}
		// A copy is stopped exactly when it runs (in any way but stopped) and
		// the platform has the instance on another host, or on none.
		for _, f := range in.Found {
			on, known := where[f.ID]
			want := f.ID != "" && known && on != x && f.Power != ovm.PowerStopped
			require.Equal(t, want, stops[f.NativeID], "copy %s (power %s, recorded on %q): got stop %v, want %v",
				f.Name, f.Power, nameOf(on), stops[f.NativeID], want)
		}
		require.Equal(t, len(rec.Stops) == 0, rec.MayMarkUp, "MayMarkUp: got %v with %d stops", rec.MayMarkUp, len(rec.Stops))

		same, err := ha.Reconcile(in)
		require.NoError(t, err)
		require.Equal(t, rec, same, "reconciling the same state twice: got different results")

		// Run the stops and reconcile again: nothing new, and the host may
		// be marked up.
		for i := range in.Found {
			if stops[in.Found[i].NativeID] {
				in.Found[i].Power = ovm.PowerStopped
			}
		}
		again, err := ha.Reconcile(in)
		require.NoError(t, err)
		require.Empty(t, again.Stops, "second reconcile: got stops %v, want none", again.Stops)
		require.True(t, again.MayMarkUp, "second reconcile: got MayMarkUp false, want true")
		require.Equal(t, len(rec.Stale)+len(rec.Stops), len(again.Stale), "second reconcile: got %d stale copies, want the first's %d stale and %d stopped",
			len(again.Stale), len(rec.Stale), len(rec.Stops))
	})
}

// TestTimelineNeverTwoHosts drives the whole loop (detector, fencing,
// planner, reconciliation) through random timelines: random probe results,
// fences that confirm, fail or are not configured, hosts that come back
// and start their old copies. After every step no instance runs on two
// hosts and no host holds more than its capacity (checkInvariants).
func TestTimelineNeverTwoHosts(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var s setup
		n := rapid.IntRange(2, 6).Draw(t, "hosts")
		for i := range n {
			h := hostNamed(string(rune('a' + i)))
			if rapid.IntRange(0, 3).Draw(t, h.name+".pool2") == 0 {
				h = h.in("p2", "d1")
			}
			switch rapid.IntRange(0, 3).Draw(t, h.name+".fence") {
			case 0:
				h = h.fencedBy()
			case 1:
				h = h.fencedBy(ha.FencePowerOff, ha.FenceDiskLock)
			}
			s.hosts = append(s.hosts, h)
		}
		s.fence = map[string]string{}
		for _, h := range s.hosts {
			if rapid.IntRange(0, 3).Draw(t, h.name+".fenceFails") == 0 {
				s.fence[h.name] = string(ha.FenceFailed)
			}
		}
		load := map[string]int64{}
		for i := range rapid.IntRange(0, 10).Draw(t, "instances") {
			h := s.hosts[rapid.IntRange(0, n-1).Draw(t, fmt.Sprintf("i%d.host", i))].name
			inst := vm(fmt.Sprintf("i%d", i), h).size(rapid.Int64Range(1, 6).Draw(t, fmt.Sprintf("i%d.cpu", i)), 4).
				prio(rapid.IntRange(0, 2).Draw(t, fmt.Sprintf("i%d.prio", i)))
			if load[h]+int64(inst.demand.CPU) > int64(ovm.CPUs(16)) {
				continue
			}
			load[h] += int64(inst.demand.CPU)
			switch rapid.IntRange(0, 5).Draw(t, fmt.Sprintf("i%d.kind", i)) {
			case 0:
				inst = inst.onLocal()
			case 1:
				inst = inst.noHA()
			case 2:
				inst = inst.inGroup("g1")
			}
			s.instances = append(s.instances, inst)
		}
		m := newSim(t, s)
		steps := rapid.IntRange(1, 25).Draw(t, "steps")
		for k := 1; k <= steps; k++ {
			var st step
			st.at = time.Duration(k) * tick
			for _, h := range m.hosts {
				switch rapid.IntRange(0, 9).Draw(t, fmt.Sprintf("s%d.%s", k, h.name)) {
				case 0, 1, 2:
					st.probes += " " + h.name + "-"
				case 3:
					// no result: silence
				case 4:
					// reboots, starts its old copies and answers
					st.do += ";autostart " + h.name
					st.probes += " " + h.name + "+"
				default:
					st.probes += " " + h.name + "+"
				}
			}
			m.step(st)
			m.checkInvariants()
			for _, h := range m.hosts {
				if s, _ := m.det.Status(h.id); s.State != ha.StateUp {
					continue
				}
				for name, p := range h.copies {
					if p == ovm.PowerRunning {
						require.Equal(t, h.name, m.inst[name].host, "up host %s runs %s, which the platform has on %s", h.name, name, m.inst[name].host)
					}
				}
			}
		}
	})
}

// TestDetectorMatchesModel checks the detector against a direct model of
// the two-strike rule, with the partition guard out of the way: random
// probe results (every host answers or fails every round) and random
// reconciliations of returned hosts.
func TestDetectorMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		det, err := ha.NewDetector(ha.Config{Interval: tick, PartitionMinHosts: 1 << 20})
		require.NoError(t, err)
		type model struct {
			state      ha.State
			strikes    int
			unrecon    bool
			fenceAsked bool
		}
		n := rapid.IntRange(1, 5).Draw(t, "hosts")
		ms := make([]model, n)
		for i := range n {
			_, err := det.Track(ha.HostSpec{ID: idOf(fmt.Sprintf("h%d", i)), PoolID: idOf("p1"), Fence: []ha.FenceMethod{ha.FencePowerOff}}, epoch)
			require.NoError(t, err)
			ms[i].state = ha.StateUp
		}
		for k := 1; k <= rapid.IntRange(1, 30).Draw(t, "rounds"); k++ {
			now := epoch.Add(time.Duration(k) * tick)
			var probes []ha.Probe
			wantEvents := map[ovm.ID][2]ha.State{}
			var wantFence []ovm.ID
			for i := range n {
				id, m := idOf(fmt.Sprintf("h%d", i)), &ms[i]
				if m.state == ha.StateReturned && rapid.Bool().Draw(t, fmt.Sprintf("r%d.h%d.reconcile", k, i)) {
					_, err := det.MarkReconciled(id, now)
					require.NoError(t, err)
					*m = model{state: ha.StateUp}
				}
				ok := rapid.Bool().Draw(t, fmt.Sprintf("r%d.h%d.ok", k, i))
				probes = append(probes, ha.Probe{Host: id, OK: ok, At: now})
				from := m.state
				if ok {
					m.strikes = 0
					switch {
					case m.state == ha.StateFailed, m.state == ha.StateSuspect && m.unrecon:
						m.state, m.fenceAsked = ha.StateReturned, false
					case m.state == ha.StateSuspect:
						m.state = ha.StateUp
					}
				} else {
					m.strikes++
					switch {
					case m.state == ha.StateUp, m.state == ha.StateReturned:
						m.state = ha.StateSuspect
					case m.state == ha.StateSuspect && m.strikes >= 2:
						m.state, m.unrecon = ha.StateFailed, true
					}
				}
				if m.state != from {
					wantEvents[id] = [2]ha.State{from, m.state}
				}
				if m.state == ha.StateFailed && !m.fenceAsked {
					m.fenceAsked = true
					wantFence = append(wantFence, id)
				}
			}
			r, err := det.Observe(now, probes)
			require.NoError(t, err)
			gotEvents := map[ovm.ID][2]ha.State{}
			for _, e := range r.Events {
				gotEvents[e.Host] = [2]ha.State{e.From, e.To}
			}
			require.Equal(t, wantEvents, gotEvents, "round %d events: got %v, want %v", k, gotEvents, wantEvents)
			var gotFence []ovm.ID
			for _, f := range r.Fence {
				gotFence = append(gotFence, f.Host)
			}
			require.Equal(t, wantFence, gotFence, "round %d fence requests: got %v, want %v", k, gotFence, wantFence)
			for i := range n {
				s, _ := det.Status(idOf(fmt.Sprintf("h%d", i)))
				require.Equal(t, ms[i].state, s.State, "round %d host h%d: got state %s, want %s", k, i, s.State, ms[i].state)
			}
		}
	})
}
