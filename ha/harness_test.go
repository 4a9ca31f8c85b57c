package ha_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
)

// The harness plays the server's host-monitor loop over a small simulated
// world: a fake clock, a Detector, a platform store (which host each
// instance is recorded on) and the hosts' actual copies of instances. A
// scenario is a timeline of steps; each step moves the clock, may do an
// administrator or world action, runs one probe round and returns the lines
// the loop produced, which the scenario compares with what it wants.

// tick is the probe interval of every scenario. With the defaults, silence
// counts as a failed probe after MissAfter = 2 × tick = 20s, and failures
// that start within PartitionWindow = 20s of each other are "at once".
const tick = 10 * time.Second

var epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// sec is an offset from the start of a scenario.
func sec(n int) time.Duration { return time.Duration(n) * time.Second }

// fakeClock is the monitor's clock: it only moves when a step says so.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) set(t T, off time.Duration) {
	t.Helper()
	next := epoch.Add(off)
	require.False(t, next.Before(c.now), "clock moved back: got %s, want at least %s", next, c.now)
	c.now = next
}

// idOf makes a valid, order-preserving id from a short name (at most 12
// bytes): ids sort like names, so host-id order is name order.
func idOf(name string) ovm.ID {
	var b [12]byte
	copy(b[:], name)
	h := hex.EncodeToString(b[:])
	return ovm.ID(h[:8] + "-" + h[8:12] + "-4000-8000-" + h[12:])
}

// nameOf reverses idOf.
func nameOf(id ovm.ID) string {
	s := strings.ReplaceAll(string(id), "-", "")
	if len(s) != 32 {
		return string(id)
	}
	b, err := hex.DecodeString(s[:12] + s[20:])
	if err != nil {
		return string(id)
	}
	return strings.TrimRight(string(b), "\x00")
}

func names(ids []ovm.ID) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = nameOf(id)
	}
	return "[" + strings.Join(out, " ") + "]"
}

// hostDef describes a simulated host. Defaults: KVM, 16 vCPU, 64GiB, 1TiB,
// pool p1 in datacenter d1, shared storage s1, fenced by power-off.
type hostDef struct {
	name, pool, dc string
	kind           ovm.HostKind
	capacity       ovm.Resources
	fence          []ha.FenceMethod
	maintenance    bool
	networks       []string
}

func hostNamed(name string) hostDef {
	return hostDef{name: name, pool: "p1", dc: "d1", kind: ovm.HostKVM,
		capacity: res(16, 64), fence: []ha.FenceMethod{ha.FencePowerOff}}
}

func (h hostDef) in(pool, dc string) hostDef            { h.pool, h.dc = pool, dc; return h }
func (h hostDef) withCap(cpus, memGiB int64) hostDef    { h.capacity = res(cpus, memGiB); return h }
func (h hostDef) fencedBy(ms ...ha.FenceMethod) hostDef { h.fence = ms; return h }
func (h hostDef) ofKind(k ovm.HostKind) hostDef         { h.kind = k; return h }
func (h hostDef) reaches(nets ...string) hostDef        { h.networks = nets; return h }
func (h hostDef) inMaintenance() hostDef                { h.maintenance = true; return h }

// hostsNamed returns default hosts with the given names.
func hostsNamed(ns ...string) []hostDef {
	out := make([]hostDef, len(ns))
	for i, n := range ns {
		out[i] = hostNamed(n)
	}
	return out
}

// res is cpus vCPU and memGiB of memory with 1TiB of disk (for capacities)
// or 20GiB (for demands, see vm).
func res(cpus, memGiB int64) ovm.Resources {
	return ovm.Resources{CPU: ovm.CPUs(cpus), Memory: ovm.Bytes(memGiB) * ovm.GiB, Disk: ovm.TiB}
}

// instDef describes an instance running on a host. Defaults: 2 vCPU,
// 4GiB, 20GiB on shared storage s1, HA enabled with priority 0.
type instDef struct {
	name, host string
	demand     ovm.Resources
	ha         ovm.HAPolicy
	local      bool
	group      string
	kinds      []ovm.HostKind
	networks   []string
}

func vm(name, host string) instDef {
	return instDef{name: name, host: host, ha: ovm.HAPolicy{Enabled: true},
		demand: ovm.Resources{CPU: ovm.CPUs(2), Memory: 4 * ovm.GiB, Disk: 20 * ovm.GiB}}
}

func (i instDef) prio(p int) instDef { i.ha.Priority = p; return i }
func (i instDef) noHA() instDef      { i.ha.Enabled = false; return i }
func (i instDef) onLocal() instDef   { i.local = true; return i }
func (i instDef) inGroup(g string) instDef {
	i.group = g
	return i
}
func (i instDef) size(cpus, memGiB int64) instDef {
	i.demand.CPU, i.demand.Memory = ovm.CPUs(cpus), ovm.Bytes(memGiB)*ovm.GiB
	return i
}
func (i instDef) runsOn(ks ...ovm.HostKind) instDef { i.kinds = ks; return i }
func (i instDef) joins(nets ...string) instDef      { i.networks = nets; return i }

// setup is a scenario's world at time 0.
type setup struct {
	hosts     []hostDef
	instances []instDef
	// fence scripts how fencing a host ends: "failed", "not-configured",
	// or the method that confirms it. Not scripted: a host with methods is
	// confirmed by its first, one without is not configured.
	fence  map[string]string
	policy ovm.PlacementPolicy
	// manual: returned hosts are reconciled only by a "reconcile" action.
	manual bool
	config ha.Config
}

type simHost struct {
	hostDef
	id     ovm.ID
	copies map[string]ovm.PowerState // what the host runs, by instance name
}

type simInst struct {
	instDef
	id    ovm.ID
	phase ovm.Phase
}

// T is what the harness needs of a test: *testing.T and *rapid.T both fit.
type T interface {
	require.TestingT
	Helper()
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	Failed() bool
}

type sim struct {
	t      T
	clock  fakeClock
	det    *ha.Detector
	setup  setup
	hosts  []*simHost // in name order
	host   map[string]*simHost
	insts  []*simInst // in name order
	inst   map[string]*simInst
	cursor map[string]placement.Cursor
	// fenced records each host's fence outcomes, in order.
	fenced map[string][]ha.FenceOutcome
	out    []string
	// log is every line of every step so far, with its time, printed when
	// the test fails.
	log []string
}

func newSim(t T, s setup) *sim {
	t.Helper()
	cfg := s.config
	if cfg.Interval == 0 {
		cfg.Interval = tick
	}
	det, err := ha.NewDetector(cfg)
	require.NoError(t, err)
	m := &sim{t: t, clock: fakeClock{now: epoch}, det: det, setup: s, host: map[string]*simHost{},
		inst: map[string]*simInst{}, cursor: map[string]placement.Cursor{}, fenced: map[string][]ha.FenceOutcome{}}
	for _, h := range s.hosts {
		sh := &simHost{hostDef: h, id: idOf(h.name), copies: map[string]ovm.PowerState{}}
		m.hosts = append(m.hosts, sh)
		m.host[h.name] = sh
		_, err := det.Track(ha.HostSpec{ID: sh.id, PoolID: idOf(h.pool), DatacenterID: idOf(h.dc),
			Maintenance: h.maintenance, Fence: h.fence}, m.clock.Now())
		require.NoError(t, err)
	}
	slices.SortFunc(m.hosts, func(a, b *simHost) int { return strings.Compare(a.name, b.name) })
	for _, i := range s.instances {
		si := &simInst{instDef: i, id: idOf(i.name), phase: ovm.PhaseReady}
		require.Contains(t, m.host, i.host, "instance %s on an unknown host", i.name)
		m.insts = append(m.insts, si)
		m.inst[i.name] = si
		m.host[i.host].copies[i.name] = ovm.PowerRunning
	}
	slices.SortFunc(m.insts, func(a, b *simInst) int { return strings.Compare(a.name, b.name) })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("timeline up to the failure:\n%s", strings.Join(m.log, "\n"))
		}
	})
	return m
}

func (m *sim) emit(format string, args ...any) { m.out = append(m.out, fmt.Sprintf(format, args...)) }

// step is one point of a timeline.
type step struct {
	at time.Duration
	// do is an action before the round, several separated by ";":
	// "maintenance b on|off", "autostart b" (b's hypervisor starts every
	// copy it has), "release pool|datacenter p1", "reconcile b".
	do string
	// probes are the round's results: "a+" answered, "b-" failed,
	// "b-@15" failed at second 15 (default: at the step's time), "*+"
	// every host not otherwise listed answered. A host not listed sends
	// no result this round.
	probes string
	want   []string
}

// run plays a timeline, checking each step's lines.
func (m *sim) run(steps []step) {
	m.t.Helper()
	for i, st := range steps {
		got := m.step(st)
		require.Equal(m.t, st.want, got, "step %d at %s (%s %s): got the actual lines, want the expected ones",
			i, st.at, st.do, st.probes)
		m.checkInvariants()
	}
}

// checkInvariants holds after every step of every scenario: no instance
// runs on two hosts, and no host is promised more than its capacity.
func (m *sim) checkInvariants() {
	t := m.t
	t.Helper()
	for name, on := range m.running() {
		require.LessOrEqual(t, len(on), 1, "instance %s: got running on %v, want on one host at most", name, on)
	}
	for _, h := range m.hosts {
		var used ovm.Resources
		for _, i := range m.insts {
			if i.host == h.name && i.phase == ovm.PhaseReady {
				used = used.Add(i.demand)
			}
		}
		require.True(t, used.Fits(h.capacity), "host %s: got %s allocated, want at most its capacity %s", h.name, used, h.capacity)
	}
}

// step plays one step and returns its lines.
func (m *sim) step(st step) []string {
	t := m.t
	t.Helper()
	m.out = nil
	m.clock.set(t, st.at)
	now := m.clock.Now()
	for _, a := range strings.Split(st.do, ";") {
		if f := strings.Fields(a); len(f) > 0 {
			m.act(f)
		}
	}
	r, err := m.det.Observe(now, m.probes(st.probes))
	require.NoError(t, err)
	for _, e := range r.Events {
		m.event(e)
	}
	for _, ig := range r.Ignored {
		m.emit("ignored %s (%s)", nameOf(ig.Host), ig.Reason)
	}
	for _, a := range r.Alerts {
		m.emit("alert %s %s/%s %s", a.Kind, a.Scope, nameOf(a.Group), names(a.Hosts))
	}
	for _, req := range r.Fence {
		m.evacuate(req)
	}
	if !m.setup.manual {
		for _, h := range m.hosts {
			if s, _ := m.det.Status(h.id); s.State == ha.StateReturned {
				m.reconcile(h)
			}
		}
	}
	m.log = append(m.log, fmt.Sprintf("%4s %s %s", st.at, st.do, st.probes))
	for _, l := range m.out {
		m.log = append(m.log, "       "+l)
	}
	return m.out
}

func (m *sim) event(e ha.Event) {
	m.emit("%s %s -> %s (%s)", nameOf(e.Host), e.From, e.To, e.Reason)
}

func (m *sim) act(f []string) {
	t := m.t
	t.Helper()
	now := m.clock.Now()
	switch {
	case f[0] == "maintenance" && len(f) == 3:
		evs, err := m.det.SetMaintenance(m.host[f[1]].id, f[2] == "on", now)
		require.NoError(t, err)
		for _, e := range evs {
			m.event(e)
		}
	case f[0] == "autostart" && len(f) == 2:
		h := m.host[f[1]]
		for n := range h.copies {
			h.copies[n] = ovm.PowerRunning
		}
	case f[0] == "release" && len(f) == 3:
		require.NoError(t, m.det.ReleasePartition(ovm.ScopeKind(f[1]), idOf(f[2])))
		m.emit("released %s/%s", f[1], f[2])
	case f[0] == "reconcile" && len(f) == 2:
		m.reconcile(m.host[f[1]])
	default:
		t.Fatalf("unknown action %q", strings.Join(f, " "))
	}
}

func (m *sim) probes(spec string) []ha.Probe {
	t := m.t
	t.Helper()
	var out []ha.Probe
	listed := map[string]bool{}
	all := false
	for _, tok := range strings.Fields(spec) {
		at := m.clock.Now()
		if name, off, ok := strings.Cut(tok, "@"); ok {
			var n int
			_, err := fmt.Sscan(off, &n)
			require.NoError(t, err, "probe %q", tok)
			at, tok = epoch.Add(sec(n)), name
		}
		name, ok := tok[:len(tok)-1], tok[len(tok)-1] == '+'
		require.Contains(t, "+-", tok[len(tok)-1:], "probe %q must end in + or -", tok)
		if name == "*" {
			all = true
			continue
		}
		listed[name] = true
		out = append(out, ha.Probe{Host: idOf(name), OK: ok, At: at})
	}
	if all {
		for _, h := range m.hosts {
			if !listed[h.name] {
				out = append(out, ha.Probe{Host: h.id, OK: true, At: m.clock.Now()})
			}
		}
	}
	return out
}

// fenceResult answers a fence request as the setup scripts it.
func (m *sim) fenceResult(req ha.FenceRequest) ha.FenceResult {
	res := ha.FenceResult{Host: req.Host, At: m.clock.Now()}
	script, scripted := m.setup.fence[nameOf(req.Host)]
	switch {
	case !scripted && len(req.Methods) > 0:
		res.Outcome, res.Method = ha.FenceConfirmed, req.Methods[0]
	case !scripted:
		res.Outcome = ha.FenceNotConfigured
	case script == string(ha.FenceFailed):
		res.Outcome, res.Detail = ha.FenceFailed, "power-off: bmc 10.0.0.12: i/o timeout"
	case script == string(ha.FenceNotConfigured):
		res.Outcome = ha.FenceNotConfigured
	default: // the method that confirms, after the others failed
		res.Outcome, res.Method = ha.FenceConfirmed, ha.FenceMethod(script)
		require.Contains(m.t, req.Methods, res.Method, "scripted fence method must be configured")
	}
	return res
}

// evacuate fences a host, plans its evacuation and applies the plan.
func (m *sim) evacuate(req ha.FenceRequest) {
	t := m.t
	t.Helper()
	h := m.hostByID(req.Host)
	ms := make([]string, len(req.Methods))
	for i, x := range req.Methods {
		ms[i] = string(x)
	}
	m.emit("fence %s [%s]", h.name, strings.Join(ms, " "))
	res := m.fenceResult(req)
	m.fenced[h.name] = append(m.fenced[h.name], res.Outcome)
	if res.Confirmed() {
		m.emit("fenced %s: confirmed (%s)", h.name, res.Method)
		for n := range h.copies {
			h.copies[n] = ovm.PowerStopped // powered off, or killed on losing its disk lock
		}
	} else {
		m.emit("fenced %s: %s", h.name, res.Outcome)
	}
	plan, err := ha.PlanEvacuation(m.evacuation(h, res))
	require.NoError(t, err)
	m.cursor[h.pool] = plan.Cursor
	for _, r := range plan.Restarts {
		i, to := m.inst[r.Name], m.hostByID(r.To)
		m.emit("restart %s %s -> %s", r.Name, h.name, to.name)
		i.host, i.phase = to.name, ovm.PhaseReady
		to.copies[r.Name] = ovm.PowerRunning
	}
	for _, n := range plan.NotRestarted {
		rs := make([]string, len(n.Rejections))
		for i, r := range n.Rejections {
			reason, _, _ := strings.Cut(r.Reason, ":")
			reason, _, _ = strings.Cut(reason, " ")
			rs[i] = r.HostName + ": " + reason
		}
		m.emit("not-restarted %s [%s]", n.Name, strings.Join(rs, "; "))
		m.inst[n.Name].phase = ovm.PhaseFailed
	}
	for _, o := range plan.Lost {
		m.emit("lost %s", o.Name)
		m.inst[o.Name].phase = ovm.PhaseLost
	}
	for _, o := range plan.Unknown {
		m.emit("unknown %s", o.Name)
		m.inst[o.Name].phase = ovm.PhaseUnknown
	}
	for _, o := range plan.Skipped {
		m.emit("skipped %s", o.Name)
		m.inst[o.Name].phase = ovm.PhaseFailed
	}
	for _, a := range plan.Alerts {
		m.emit("alert %s %s %s", a.Kind, nameOf(a.Host), names(a.Instances))
	}
}

// evacuation builds the planner's input from the platform's records.
func (m *sim) evacuation(h *simHost, res ha.FenceResult) ha.Evacuation {
	ev := ha.Evacuation{Host: h.id, Pool: idOf(h.pool), Policy: m.setup.policy, Hosts: m.placementHosts(h.pool),
		Fence: res, Cursor: m.cursor[h.pool], At: m.clock.Now()}
	for _, i := range m.insts {
		ev.Instances = append(ev.Instances, m.instance(i))
	}
	return ev
}

func (m *sim) instance(i *simInst) ha.Instance {
	x := ha.Instance{ID: i.id, Name: i.name, HostID: idOf(i.host), Demand: i.demand, Kinds: i.kinds,
		SharedStorage: []ovm.ID{idOf("s1")}, LocalStorage: i.local, HA: i.ha}
	if i.local {
		x.SharedStorage = nil
	}
	if i.group != "" {
		x.Group = idOf(i.group)
	}
	for _, n := range i.networks {
		x.Networks = append(x.Networks, idOf(n))
	}
	return x
}

// placementHosts is the pool as placement sees it: the detector's states,
// and the allocations and groups of the instances recorded on each host.
func (m *sim) placementHosts(pool string) []placement.Host {
	var out []placement.Host
	for _, h := range m.hosts {
		if h.pool != pool {
			continue
		}
		s, _ := m.det.Status(h.id)
		ph := placement.Host{ID: h.id, DatacenterID: idOf(h.dc), PoolID: idOf(h.pool), Name: h.name, Kind: h.kind,
			State: s.State.HostState(), Capacity: h.capacity, SharedStorage: []ovm.ID{idOf("s1")}}
		for _, n := range h.networks {
			ph.Networks = append(ph.Networks, idOf(n))
		}
		for _, i := range m.insts {
			if i.host == h.name && i.phase == ovm.PhaseReady {
				ph.Allocated = ph.Allocated.Add(i.demand)
				if i.group != "" {
					ph.Groups = append(ph.Groups, idOf(i.group))
				}
			}
		}
		out = append(out, ph)
	}
	return out
}

func (m *sim) hostByID(id ovm.ID) *simHost {
	h, ok := m.host[nameOf(id)]
	require.True(m.t, ok, "unknown host id %s", id)
	return h
}

// returning lists what the host runs and where the platform has everything.
func (m *sim) returning(h *simHost) ha.Return {
	r := ha.Return{Host: h.id, At: m.clock.Now()}
	for _, i := range m.insts {
		r.Records = append(r.Records, ha.Record{Instance: i.id, HostID: idOf(i.host)})
		if p, ok := h.copies[i.name]; ok {
			r.Found = append(r.Found, ha.Found{NativeID: "native-" + i.name, ID: i.id, Name: i.name, Power: p})
		}
	}
	return r
}

// reconcile reconciles a returning host the way the server does: stop the
// stale copies, list again, reconcile again, and mark the host up once a
// reconciliation finds nothing left to stop.
func (m *sim) reconcile(h *simHost) {
	t := m.t
	t.Helper()
	rec, err := ha.Reconcile(m.returning(h))
	require.NoError(t, err)
	for _, s := range rec.Stops {
		m.emit("stop %s on %s (runs on %s)", s.Name, h.name, nameOf(s.RunsOn))
		h.copies[s.Name] = ovm.PowerStopped
	}
	for _, f := range rec.Stale {
		// Undefine the stopped stale copy (keeping its disks: they are the
		// running copy's), so that the host can never start it again.
		delete(h.copies, f.Name)
	}
	for _, f := range rec.Recovered {
		if i := m.inst[f.Name]; i.phase != ovm.PhaseReady {
			m.emit("recovered %s on %s (was %s)", f.Name, h.name, i.phase)
			i.phase = ovm.PhaseReady
		}
	}
	for _, a := range rec.Alerts {
		m.emit("alert %s %s %s", a.Kind, nameOf(a.Host), names(a.Instances))
	}
	if !rec.MayMarkUp {
		again, err := ha.Reconcile(m.returning(h))
		require.NoError(t, err)
		require.Empty(t, again.Stops, "a second reconcile after the stops: got stops %v, want none", again.Stops)
		require.True(t, again.MayMarkUp, "a second reconcile after the stops: got MayMarkUp false, want true")
		for _, f := range again.Stale {
			delete(h.copies, f.Name)
		}
	}
	e, err := m.det.MarkReconciled(h.id, m.clock.Now())
	if errors.Is(err, ovm.ErrConflict) {
		m.emit("mark-up %s refused: %s", h.name, ovm.KindOf(err))
		return
	}
	require.NoError(t, err)
	m.event(e)
}

// running returns, for each instance, the hosts that run a copy of it.
func (m *sim) running() map[string][]string {
	out := map[string][]string{}
	for _, h := range m.hosts {
		for n, p := range h.copies {
			if p == ovm.PowerRunning {
				out[n] = append(out[n], h.name)
			}
		}
	}
	return out
}
