package ha_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
)

// scenario is one timeline through the harness (see harness_test.go). Unless
// a setup says otherwise, hosts a, b, c, d are KVM hosts of pool p1 in
// datacenter d1 with 16 vCPU and 64GiB each, fenced by power-off; instances
// take 2 vCPU and 4GiB on shared storage with HA enabled; the policy is
// PERFORMANCE (ties go round-robin from host a); the probe interval is 10s,
// so two strikes of silence take 20s each and failures starting within 20s
// of each other are "at once" for the partition guard (more than half of at
// least 3 hosts).
type scenario struct {
	name  string
	setup setup
	steps []step
	// check runs after the last step.
	check func(t *testing.T, m *sim)
}

// failB is the usual start: b misses two probes and is failed at second 20.
func failB(last ...string) []step {
	return []step{
		{at: sec(10), probes: "*+ b-", want: []string{"b up -> suspect (probe failed)"}},
		{at: sec(20), probes: "*+ b-", want: append([]string{
			"b suspect -> failed (probe failed)",
			"fence b [power-off]",
		}, last...)},
	}
}

func four(instances ...instDef) setup {
	return setup{hosts: hostsNamed("a", "b", "c", "d"), instances: instances}
}

func runsOn(t *testing.T, m *sim, inst string, want ...string) {
	t.Helper()
	got := m.running()[inst]
	assert.Equal(t, want, got, "instance %s: got running on %v, want on %v", inst, got, want)
}

func TestScenarios(t *testing.T) {
	scenarios := []scenario{
		{
			name:  "single miss then recovery",
			setup: four(vm("web-1", "b")),
			steps: []step{
				{at: sec(10), probes: "*+"},
				{at: sec(20), probes: "*+ b-", want: []string{"b up -> suspect (probe failed)"}},
				{at: sec(30), probes: "*+", want: []string{"b suspect -> up (probe succeeded)"}},
				// The success cleared the strike: one more miss is suspect again, not failed.
				{at: sec(40), probes: "*+ b-", want: []string{"b up -> suspect (probe failed)"}},
				{at: sec(50), probes: "*+", want: []string{"b suspect -> up (probe succeeded)"}},
			},
			check: func(t *testing.T, m *sim) {
				runsOn(t, m, "web-1", "b")
				assert.Empty(t, m.fenced, "fenced: got %v, want nothing fenced", m.fenced)
			},
		},
		{
			name:  "two misses: failed, fenced, restarted",
			setup: four(vm("web-1", "b")),
			// a, c and d are empty and tie; the round-robin starts at a.
			steps: failB("fenced b: confirmed (power-off)", "restart web-1 b -> a"),
			check: func(t *testing.T, m *sim) { runsOn(t, m, "web-1", "a") },
		},
		{
			name:  "flapping never reaches failed",
			setup: four(vm("web-1", "b")),
			steps: []step{
				{at: sec(10), probes: "*+ b-", want: []string{"b up -> suspect (probe failed)"}},
				{at: sec(20), probes: "*+", want: []string{"b suspect -> up (probe succeeded)"}},
				{at: sec(30), probes: "*+ b-", want: []string{"b up -> suspect (probe failed)"}},
				{at: sec(40), probes: "*+", want: []string{"b suspect -> up (probe succeeded)"}},
				{at: sec(50), probes: "*+ b-", want: []string{"b up -> suspect (probe failed)"}},
				{at: sec(60), probes: "*+", want: []string{"b suspect -> up (probe succeeded)"}},
			},
			check: func(t *testing.T, m *sim) {
				runsOn(t, m, "web-1", "b")
				assert.Empty(t, m.fenced, "fenced: got %v, want nothing fenced", m.fenced)
			},
		},
		{
			name:  "silence counts as a failed probe",
			setup: four(vm("web-1", "b")),
			steps: []step{
				{at: sec(10), probes: "*+"},
				// b was last heard at 10: 10s of silence is less than MissAfter (20s).
				{at: sec(20), probes: "a+ c+ d+"},
				{at: sec(30), probes: "a+ c+ d+", want: []string{"b up -> suspect (no probe result for 20s)"}},
				// The silence strike counts as evidence: the next one is due 20s later.
				{at: sec(40), probes: "a+ c+ d+"},
				{at: sec(50), probes: "a+ c+ d+", want: []string{
					"b suspect -> failed (no probe result for 20s)",
					"fence b [power-off]",
					"fenced b: confirmed (power-off)",
					"restart web-1 b -> a",
				}},
			},
		},
		{
			name:  "a stale answer does not save a silent host",
			setup: four(vm("web-1", "b")),
			steps: []step{
				{at: sec(10), probes: "*+ b-", want: []string{"b up -> suspect (probe failed)"}},
				// The answer taken at 15 is 25s old at 40 (>= MissAfter): ignored;
				// b was last heard at 10, 30s ago: a second strike.
				{at: sec(40), probes: "*+ b+@15", want: []string{
					"b suspect -> failed (no probe result for 30s)",
					"ignored b (too old)",
					"fence b [power-off]",
					"fenced b: confirmed (power-off)",
					"restart web-1 b -> a",
				}},
			},
		},
		{
			name:  "a result older than one applied is ignored",
			setup: four(vm("web-1", "b")),
			steps: []step{
				{at: sec(10), probes: "*+"},
				{at: sec(20), probes: "*+ b-", want: []string{"b up -> suspect (probe failed)"}},
				// The success taken at 15 comes after the failure taken at 20.
				{at: sec(30), probes: "*+ b+@15", want: []string{"ignored b (older than a result already applied)"}},
				{at: sec(40), probes: "*+ b-", want: []string{
					"b suspect -> failed (probe failed)",
					"fence b [power-off]",
					"fenced b: confirmed (power-off)",
					"restart web-1 b -> a",
				}},
			},
		},
		{
			name:  "two failed probes in one round are two strikes",
			setup: four(vm("web-1", "b")),
			steps: []step{
				{at: sec(10), probes: "*+"},
				{at: sec(20), probes: "*+ b-@15 b-", want: []string{
					"b up -> suspect (probe failed)",
					"b suspect -> failed (probe failed)",
					"fence b [power-off]",
					"fenced b: confirmed (power-off)",
					"restart web-1 b -> a",
				}},
			},
		},
		{
			name:  "host returns before being declared failed",
			setup: four(vm("web-1", "b")),
			steps: []step{
				{at: sec(10), probes: "*+"},
				{at: sec(20), probes: "a+ c+ d+"},
				{at: sec(30), probes: "a+ c+ d+", want: []string{"b up -> suspect (no probe result for 20s)"}},
				{at: sec(40), probes: "*+", want: []string{"b suspect -> up (probe succeeded)"}},
				// Counted from the answer at 40: 10s of silence, no strike.
				{at: sec(50), probes: "a+ c+ d+"},
			},
			check: func(t *testing.T, m *sim) {
				runsOn(t, m, "web-1", "b")
				assert.Empty(t, m.fenced, "fenced: got %v, want nothing fenced", m.fenced)
			},
		},
		{
			name:  "partition: most hosts lost at once, nothing fenced",
			setup: four(vm("web-1", "b"), vm("web-2", "c"), vm("web-3", "d")),
			steps: []step{
				{at: sec(10), probes: "*+"},
				// 3 of 4 hosts lost within the window: 3 > 0.5 × 4.
				{at: sec(20), probes: "a+ b- c- d-", want: []string{
					"b up -> suspect (probe failed)",
					"c up -> suspect (probe failed)",
					"d up -> suspect (probe failed)",
					"alert partition pool/p1 [b c d]",
					"alert partition datacenter/d1 [b c d]",
				}},
				{at: sec(30), probes: "a+ b- c- d-", want: []string{
					"b suspect -> failed (probe failed)",
					"c suspect -> failed (probe failed)",
					"d suspect -> failed (probe failed)",
				}},
				{at: sec(40), probes: "a+ b- c- d-"},
				// Every host answers: 0 down <= 2, cleared; nothing was
				// restarted, so there is nothing to stop.
				{at: sec(50), probes: "*+", want: []string{
					"b failed -> returned (probe succeeded)",
					"c failed -> returned (probe succeeded)",
					"d failed -> returned (probe succeeded)",
					"alert partition-cleared pool/p1 []",
					"alert partition-cleared datacenter/d1 []",
					"b returned -> up (reconciled)",
					"c returned -> up (reconciled)",
					"d returned -> up (reconciled)",
				}},
			},
			check: func(t *testing.T, m *sim) {
				assert.Empty(t, m.fenced, "fenced: got %v, want nothing fenced", m.fenced)
				runsOn(t, m, "web-1", "b")
				runsOn(t, m, "web-3", "d")
			},
		},
		{
			name:  "partition caught although the cut fell mid-round",
			setup: four(vm("web-3", "d")),
			steps: []step{
				{at: sec(10), probes: "*+"},
				// c and d are probed after the cut: 2 of 4 is not more than half.
				{at: sec(20), probes: "a+ b+ c- d-", want: []string{
					"c up -> suspect (probe failed)",
					"d up -> suspect (probe failed)",
				}},
				// b is lost too: b (30), c and d (20) started failing after 10 =
				// 30 - window: 3 > 2, raised before c and d could be fenced.
				{at: sec(30), probes: "a+ b- c- d-", want: []string{
					"b up -> suspect (probe failed)",
					"c suspect -> failed (probe failed)",
					"d suspect -> failed (probe failed)",
					"alert partition pool/p1 [b c d]",
					"alert partition datacenter/d1 [b c d]",
				}},
			},
			check: func(t *testing.T, m *sim) {
				assert.Empty(t, m.fenced, "fenced: got %v, want nothing fenced", m.fenced)
			},
		},
		{
			name:  "partition clears when most hosts answer; the one still down is then fenced",
			setup: four(vm("web-1", "b"), vm("web-3", "d")),
			steps: []step{
				{at: sec(10), probes: "*+"},
				{at: sec(20), probes: "a+ b- c- d-", want: []string{
					"b up -> suspect (probe failed)",
					"c up -> suspect (probe failed)",
					"d up -> suspect (probe failed)",
					"alert partition pool/p1 [b c d]",
					"alert partition datacenter/d1 [b c d]",
				}},
				{at: sec(30), probes: "a+ b- c- d-", want: []string{
					"b suspect -> failed (probe failed)",
					"c suspect -> failed (probe failed)",
					"d suspect -> failed (probe failed)",
				}},
				// 1 down <= 2: cleared. d is fenced; b and c are reconciled only
				// after the evacuation, so a is d's only up neighbour.
				{at: sec(40), probes: "a+ b+ c+ d-", want: []string{
					"b failed -> returned (probe succeeded)",
					"c failed -> returned (probe succeeded)",
					"alert partition-cleared pool/p1 [d]",
					"alert partition-cleared datacenter/d1 [d]",
					"fence d [power-off]",
					"fenced d: confirmed (power-off)",
					"restart web-3 d -> a",
					"b returned -> up (reconciled)",
					"c returned -> up (reconciled)",
				}},
			},
			check: func(t *testing.T, m *sim) {
				runsOn(t, m, "web-1", "b")
				runsOn(t, m, "web-3", "a")
			},
		},
		{
			name:  "partition released by an administrator",
			setup: four(vm("web-1", "b"), vm("web-2", "c"), vm("web-3", "d")),
			steps: []step{
				{at: sec(10), probes: "a+ b- c- d-", want: []string{
					"b up -> suspect (probe failed)",
					"c up -> suspect (probe failed)",
					"d up -> suspect (probe failed)",
					"alert partition pool/p1 [b c d]",
					"alert partition datacenter/d1 [b c d]",
				}},
				{at: sec(20), probes: "a+ b- c- d-", want: []string{
					"b suspect -> failed (probe failed)",
					"c suspect -> failed (probe failed)",
					"d suspect -> failed (probe failed)",
				}},
				// The rack really lost power. Released, the hosts are fenced in
				// id order; a is the only up host and takes 3 × 2 of its 16 vCPU.
				{at: sec(30), do: "release pool p1; release datacenter d1", probes: "a+ b- c- d-", want: []string{
					"released pool/p1",
					"released datacenter/d1",
					"fence b [power-off]",
					"fenced b: confirmed (power-off)",
					"restart web-1 b -> a",
					"fence c [power-off]",
					"fenced c: confirmed (power-off)",
					"restart web-2 c -> a",
					"fence d [power-off]",
					"fenced d: confirmed (power-off)",
					"restart web-3 d -> a",
				}},
				// Still 3 down of 4: the released guard is not raised again.
				{at: sec(40), probes: "a+ b- c- d-"},
				{at: sec(50), probes: "*+", want: []string{
					"b failed -> returned (probe succeeded)",
					"c failed -> returned (probe succeeded)",
					"d failed -> returned (probe succeeded)",
					"b returned -> up (reconciled)",
					"c returned -> up (reconciled)",
					"d returned -> up (reconciled)",
				}},
			},
		},
		{
			name: "a partitioned pool does not hold a healthy one",
			setup: setup{
				hosts: []hostDef{hostNamed("a"), hostNamed("b"), hostNamed("c"),
					hostNamed("d").in("p2", "d1"), hostNamed("e").in("p2", "d1"), hostNamed("f").in("p2", "d1"),
					hostNamed("g").in("p2", "d1"), hostNamed("h").in("p2", "d1")},
				instances: []instDef{vm("web-1", "a"), vm("web-2", "g")},
			},
			steps: []step{
				{at: sec(10), probes: "*+"},
				// p1: 2 of 3 > 1.5, partitioned. p2: 1 of 5. d1: 3 of 8 <= 4.
				{at: sec(20), probes: "*+ a- b- g-", want: []string{
					"a up -> suspect (probe failed)",
					"b up -> suspect (probe failed)",
					"g up -> suspect (probe failed)",
					"alert partition pool/p1 [a b]",
				}},
				// g is fenced; d, e, f, h tie and the round-robin starts at d.
				{at: sec(30), probes: "*+ a- b- g-", want: []string{
					"a suspect -> failed (probe failed)",
					"b suspect -> failed (probe failed)",
					"g suspect -> failed (probe failed)",
					"fence g [power-off]",
					"fenced g: confirmed (power-off)",
					"restart web-2 g -> d",
				}},
			},
			check: func(t *testing.T, m *sim) {
				assert.Equal(t, map[string][]ha.FenceOutcome{"g": {ha.FenceConfirmed}}, m.fenced, "fenced: got %v, want only g", m.fenced)
				runsOn(t, m, "web-1", "a")
			},
		},
		{
			name: "a datacenter-wide loss holds every pool",
			setup: setup{
				hosts: []hostDef{hostNamed("a"), hostNamed("b"), hostNamed("c"),
					hostNamed("d").in("p2", "d1"), hostNamed("e").in("p2", "d1"), hostNamed("f").in("p2", "d1"),
					hostNamed("g").in("p2", "d1"), hostNamed("h").in("p2", "d1")},
				instances: []instDef{vm("web-1", "a")},
			},
			steps: []step{
				{at: sec(10), probes: "*+"},
				// p1: 1 of 3, fine on its own. p2: 4 of 5 > 2.5. d1: 5 of 8 > 4.
				{at: sec(20), probes: "*+ a- d- e- f- g-", want: []string{
					"a up -> suspect (probe failed)",
					"d up -> suspect (probe failed)",
					"e up -> suspect (probe failed)",
					"f up -> suspect (probe failed)",
					"g up -> suspect (probe failed)",
					"alert partition pool/p2 [d e f g]",
					"alert partition datacenter/d1 [a d e f g]",
				}},
				// a is held by its datacenter's partition.
				{at: sec(30), probes: "*+ a- d- e- f- g-", want: []string{
					"a suspect -> failed (probe failed)",
					"d suspect -> failed (probe failed)",
					"e suspect -> failed (probe failed)",
					"f suspect -> failed (probe failed)",
					"g suspect -> failed (probe failed)",
				}},
			},
			check: func(t *testing.T, m *sim) {
				assert.Empty(t, m.fenced, "fenced: got %v, want nothing fenced", m.fenced)
				s, _ := m.det.Status(idOf("a"))
				assert.True(t, s.Held, "a: got Held false, want true (its datacenter is partitioned)")
			},
		},
		{
			name: "small pool: two of two hosts lost is not a partition",
			setup: setup{hosts: hostsNamed("a", "b"),
				instances: []instDef{vm("web-1", "a"), vm("web-2", "b")}},
			steps: []step{
				{at: sec(10), probes: "a- b-", want: []string{
					"a up -> suspect (probe failed)",
					"b up -> suspect (probe failed)",
				}},
				// Groups below PartitionMinHosts (3) are not guarded: both are
				// fenced, and neither finds a host.
				{at: sec(20), probes: "a- b-", want: []string{
					"a suspect -> failed (probe failed)",
					"b suspect -> failed (probe failed)",
					"fence a [power-off]",
					"fenced a: confirmed (power-off)",
					"not-restarted web-1 [a: excluded; b: state]",
					"alert not-restarted a [web-1]",
					"fence b [power-off]",
					"fenced b: confirmed (power-off)",
					"not-restarted web-2 [a: state; b: excluded]",
					"alert not-restarted b [web-2]",
				}},
			},
		},
		{
			name: "fence confirmed by disk lock after power-off failed",
			setup: setup{
				hosts:     []hostDef{hostNamed("a"), hostNamed("b").fencedBy(ha.FencePowerOff, ha.FenceDiskLock), hostNamed("c"), hostNamed("d")},
				instances: []instDef{vm("web-1", "b")},
				fence:     map[string]string{"b": string(ha.FenceDiskLock)},
			},
			steps: []step{
				{at: sec(10), probes: "*+ b-", want: []string{"b up -> suspect (probe failed)"}},
				{at: sec(20), probes: "*+ b-", want: []string{
					"b suspect -> failed (probe failed)",
					"fence b [power-off disk-lock]",
					"fenced b: confirmed (disk-lock)",
					"restart web-1 b -> a",
				}},
			},
		},
		{
			name: "fence failed: instances unknown, alert, nothing restarted",
			setup: setup{
				hosts:     hostsNamed("a", "b", "c", "d"),
				instances: []instDef{vm("web-1", "b"), vm("db-1", "b").onLocal(), vm("dev-1", "b").noHA()},
				fence:     map[string]string{"b": string(ha.FenceFailed)},
			},
			steps: append(failB(
				"fenced b: failed",
				// Every instance of b, in name order (all priority 0).
				"unknown db-1",
				"unknown dev-1",
				"unknown web-1",
				"alert fence-unconfirmed b [db-1 dev-1 web-1]",
			),
				// b was cut off, not down: its instances ran all along.
				step{at: sec(30), probes: "*+", want: []string{
					"b failed -> returned (probe succeeded)",
					"recovered db-1 on b (was unknown)",
					"recovered dev-1 on b (was unknown)",
					"recovered web-1 on b (was unknown)",
					"b returned -> up (reconciled)",
				}}),
			check: func(t *testing.T, m *sim) { runsOn(t, m, "web-1", "b") },
		},
		{
			name: "no fencing method: unknown, never restarted",
			setup: setup{
				hosts:     []hostDef{hostNamed("a"), hostNamed("b").fencedBy(), hostNamed("c"), hostNamed("d")},
				instances: []instDef{vm("web-1", "b")},
			},
			steps: []step{
				{at: sec(10), probes: "*+ b-", want: []string{"b up -> suspect (probe failed)"}},
				{at: sec(20), probes: "*+ b-", want: []string{
					"b suspect -> failed (probe failed)",
					"fence b []",
					"fenced b: not-configured",
					"unknown web-1",
					"alert fence-unconfirmed b [web-1]",
				}},
			},
			check: func(t *testing.T, m *sim) {
				assert.Equal(t, ovm.PhaseUnknown, m.inst["web-1"].phase, "web-1 phase: got %s, want unknown", m.inst["web-1"].phase)
			},
		},
		{
			name:  "local storage: lost, not silently dropped",
			setup: four(vm("web-1", "b"), vm("db-1", "b").onLocal()),
			steps: failB(
				"fenced b: confirmed (power-off)",
				"restart web-1 b -> a",
				"lost db-1",
				"alert instances-lost b [db-1]",
			),
			check: func(t *testing.T, m *sim) {
				assert.Equal(t, ovm.PhaseLost, m.inst["db-1"].phase, "db-1 phase: got %s, want lost", m.inst["db-1"].phase)
			},
		},
		{
			name:  "ha disabled: skipped",
			setup: four(vm("web-1", "b"), vm("dev-1", "b").noHA()),
			steps: failB("fenced b: confirmed (power-off)", "restart web-1 b -> a", "skipped dev-1"),
		},
		{
			name: "priority order when the pool is short",
			setup: setup{
				// a has 8 vCPU and 16GiB; b's instances want 4+4+2 vCPU.
				hosts: []hostDef{hostNamed("a").withCap(8, 16), hostNamed("b")},
				instances: []instDef{vm("lo", "b").prio(1), vm("mid", "b").prio(50).size(4, 8),
					vm("hi", "b").prio(100).size(4, 8)},
			},
			// hi (100) takes 4 of a's 8 vCPU, mid (50) the other 4; lo (1)
			// needs 2 vCPU with 0 free.
			steps: failB(
				"fenced b: confirmed (power-off)",
				"restart hi b -> a",
				"restart mid b -> a",
				"not-restarted lo [a: cpu; b: excluded]",
				"alert not-restarted b [lo]",
			),
		},
		{
			name: "a full plan in its deterministic order",
			setup: setup{
				// b is the big host: 48 vCPU.
				hosts: []hostDef{hostNamed("a"), hostNamed("b").withCap(48, 64), hostNamed("c"), hostNamed("d")},
				instances: []instDef{vm("z-web", "b").prio(10), vm("a-web", "b").prio(10), vm("db", "b").onLocal().prio(50),
					vm("dev", "b").noHA(), vm("big", "b").prio(5).size(32, 8)},
			},
			// Order: db (50), a-web and z-web (10, by name), big (5), dev (0).
			// a-web takes a (a, c, d tie), z-web the next tie after a: c.
			// big needs 32 vCPU, more than the other hosts' 16.
			steps: failB(
				"fenced b: confirmed (power-off)",
				"restart a-web b -> a",
				"restart z-web b -> c",
				"not-restarted big [a: cpu; b: excluded; c: cpu; d: cpu]",
				"lost db",
				"skipped dev",
				"alert instances-lost b [db]",
				"alert not-restarted b [big]",
			),
		},
		{
			name: "vApp anti-affinity kept during evacuation",
			// a and c each run a member of g1; d is the busiest host but the
			// only one without a member.
			setup: four(vm("app-1", "b").inGroup("g1"), vm("app-2", "a").inGroup("g1"), vm("app-3", "c").inGroup("g1"),
				vm("big", "d").size(8, 32)),
			steps: failB("fenced b: confirmed (power-off)", "restart app-1 b -> d"),
		},
		{
			name: "vApp anti-affinity: no host without a member",
			setup: setup{hosts: hostsNamed("a", "b", "c"),
				instances: []instDef{vm("app-1", "b").inGroup("g1"), vm("app-2", "a").inGroup("g1"), vm("app-3", "c").inGroup("g1")}},
			steps: failB(
				"fenced b: confirmed (power-off)",
				"not-restarted app-1 [a: anti-affinity; b: excluded; c: anti-affinity]",
				"alert not-restarted b [app-1]",
			),
		},
		{
			name:  "members of one vApp on the failed host land apart",
			setup: four(vm("app-1", "b").inGroup("g1"), vm("app-2", "b").inGroup("g1"), vm("app-3", "a").inGroup("g1")),
			// a has a member; app-1 takes c (c, d tie), app-2 may not join it: d.
			steps: failB("fenced b: confirmed (power-off)", "restart app-1 b -> c", "restart app-2 b -> d"),
		},
		{
			name:  "PROGRESSIVE fills one host first",
			setup: setup{hosts: hostsNamed("a", "b", "c", "d"), policy: ovm.PolicyProgressive, instances: []instDef{vm("web-1", "b"), vm("web-2", "b"), vm("web-3", "b")}},
			steps: failB("fenced b: confirmed (power-off)", "restart web-1 b -> a", "restart web-2 b -> a", "restart web-3 b -> a"),
		},
		{
			name:  "PERFORMANCE spreads",
			setup: four(vm("web-1", "b"), vm("web-2", "b"), vm("web-3", "b")),
			// a, c, d tie: a; then c, d tie (a is busier): c; then d is the most free.
			steps: failB("fenced b: confirmed (power-off)", "restart web-1 b -> a", "restart web-2 b -> c", "restart web-3 b -> d"),
		},
		{
			name: "a container restarts on a Docker host only",
			setup: setup{
				hosts: []hostDef{hostNamed("a"), hostNamed("b").ofKind(ovm.HostDocker), hostNamed("c"),
					hostNamed("d").ofKind(ovm.HostDocker)},
				instances: []instDef{vm("cache", "b").runsOn(ovm.HostDocker)},
			},
			steps: failB("fenced b: confirmed (power-off)", "restart cache b -> d"),
		},
		{
			name: "only a host reaching the instance's network",
			setup: setup{
				hosts:     []hostDef{hostNamed("a"), hostNamed("b").reaches("n1"), hostNamed("c"), hostNamed("d").reaches("n1")},
				instances: []instDef{vm("web-1", "b").joins("n1")},
			},
			steps: failB("fenced b: confirmed (power-off)", "restart web-1 b -> d"),
		},
		{
			name:  "maintenance host not evacuated",
			setup: four(vm("web-1", "b")),
			steps: []step{
				{at: sec(10), do: "maintenance b on", probes: "*+ b-", want: []string{"b up -> maintenance (maintenance started)"}},
				{at: sec(20), probes: "*+ b-"},
				{at: sec(30), probes: "a+ c+ d+"},
				{at: sec(60), probes: "a+ c+ d+"},
				// Out of maintenance, probes count again.
				{at: sec(70), do: "maintenance b off", probes: "*+ b-", want: []string{
					"b maintenance -> up (maintenance ended)",
					"b up -> suspect (probe failed)",
				}},
				{at: sec(80), probes: "*+", want: []string{"b suspect -> up (probe succeeded)"}},
			},
			check: func(t *testing.T, m *sim) {
				assert.Empty(t, m.fenced, "fenced: got %v, want nothing fenced", m.fenced)
				runsOn(t, m, "web-1", "b")
			},
		},
		{
			name: "leaving maintenance starts the silence clock",
			setup: setup{hosts: []hostDef{hostNamed("a"), hostNamed("b").inMaintenance(), hostNamed("c"), hostNamed("d")},
				instances: []instDef{vm("web-1", "b")}},
			steps: []step{
				{at: sec(100), probes: "a+ c+ d+"},
				{at: sec(110), do: "maintenance b off", probes: "a+ c+ d+", want: []string{"b maintenance -> up (maintenance ended)"}},
				{at: sec(120), probes: "a+ c+ d+"},
				// Silent since 110.
				{at: sec(130), probes: "a+ c+ d+", want: []string{"b up -> suspect (no probe result for 20s)"}},
			},
		},
		{
			name:  "a failed host leaving maintenance is failed until it answers, and not fenced twice",
			setup: four(vm("web-1", "b")),
			steps: append(failB("fenced b: confirmed (power-off)", "restart web-1 b -> a"),
				step{at: sec(30), do: "maintenance b on", probes: "a+ c+ d+", want: []string{"b failed -> maintenance (maintenance started)"}},
				step{at: sec(40), do: "maintenance b off", probes: "a+ c+ d+", want: []string{"b maintenance -> failed (maintenance ended)"}},
				step{at: sec(50), probes: "*+", want: []string{
					"b failed -> returned (probe succeeded)",
					"b returned -> up (reconciled)",
				}}),
			check: func(t *testing.T, m *sim) {
				assert.Equal(t, []ha.FenceOutcome{ha.FenceConfirmed}, m.fenced["b"], "b fenced: got %v, want confirmed once", m.fenced["b"])
			},
		},
		{
			name:  "host returns after evacuation: stale copies stopped before it takes work",
			setup: four(vm("web-1", "b"), vm("web-2", "b")),
			steps: append(failB("fenced b: confirmed (power-off)", "restart web-1 b -> a", "restart web-2 b -> c"),
				step{at: sec(30), probes: "a+ c+ d+"},
				// b boots and its hypervisor starts its old copies.
				step{at: sec(40), do: "autostart b", probes: "*+", want: []string{
					"b failed -> returned (probe succeeded)",
					"stop web-1 on b (runs on a)",
					"stop web-2 on b (runs on c)",
					"alert stale-copies b [web-1 web-2]",
					"b returned -> up (reconciled)",
				}}),
			check: func(t *testing.T, m *sim) {
				runsOn(t, m, "web-1", "a")
				runsOn(t, m, "web-2", "c")
			},
		},
		{
			name:  "host returns after evacuation with its copies powered off",
			setup: four(vm("web-1", "b"), vm("db-1", "b").onLocal()),
			steps: append(failB("fenced b: confirmed (power-off)", "restart web-1 b -> a", "lost db-1", "alert instances-lost b [db-1]"),
				// web-1's stopped copy needs nothing; db-1 is b's again.
				step{at: sec(30), probes: "*+", want: []string{
					"b failed -> returned (probe succeeded)",
					"recovered db-1 on b (was lost)",
					"b returned -> up (reconciled)",
				}}),
		},
		{
			name: "a returned host that fails again is fenced again",
			setup: setup{hosts: hostsNamed("a", "b", "c", "d"), instances: []instDef{vm("web-1", "b")},
				fence: map[string]string{"b": string(ha.FenceFailed)}, manual: true},
			steps: append(failB("fenced b: failed", "unknown web-1", "alert fence-unconfirmed b [web-1]"),
				step{at: sec(30), probes: "*+", want: []string{"b failed -> returned (probe succeeded)"}},
				step{at: sec(40), probes: "*+ b-", want: []string{"b returned -> suspect (probe failed)"}},
				// Not reconciled yet: an answer brings it back to returned, not up.
				step{at: sec(50), probes: "*+", want: []string{"b suspect -> returned (probe succeeded)"}},
				step{at: sec(60), probes: "*+ b-", want: []string{"b returned -> suspect (probe failed)"}},
				step{at: sec(70), probes: "*+ b-", want: []string{
					"b suspect -> failed (probe failed)",
					"fence b [power-off]",
					"fenced b: failed",
					"unknown web-1",
					"alert fence-unconfirmed b [web-1]",
				}},
				step{at: sec(80), do: "reconcile b", probes: "*+", want: []string{
					"recovered web-1 on b (was unknown)",
					"mark-up b refused: conflict",
					"b failed -> returned (probe succeeded)",
				}},
				step{at: sec(90), do: "reconcile b", probes: "*+", want: []string{"b returned -> up (reconciled)"}}),
		},
		{
			name:  "two hosts failing one after the other",
			setup: four(vm("web-1", "b"), vm("web-2", "c")),
			steps: append(failB("fenced b: confirmed (power-off)", "restart web-1 b -> a"),
				// b's failure streak started at 10, outside c's window: 1 lost of 4.
				step{at: sec(30), probes: "a+ c- d+", want: []string{"c up -> suspect (probe failed)"}},
				// a runs web-1 and b is failed: d is the most free.
				step{at: sec(40), probes: "a+ c- d+", want: []string{
					"c suspect -> failed (probe failed)",
					"fence c [power-off]",
					"fenced c: confirmed (power-off)",
					"restart web-2 c -> d",
				}}),
			check: func(t *testing.T, m *sim) {
				runsOn(t, m, "web-1", "a")
				runsOn(t, m, "web-2", "d")
			},
		},
		{
			name:  "an instance already restarted is not planned again",
			setup: four(vm("web-1", "b")),
			steps: append(failB("fenced b: confirmed (power-off)", "restart web-1 b -> a"),
				step{at: sec(30), probes: "*+", want: []string{
					"b failed -> returned (probe succeeded)",
					"b returned -> up (reconciled)",
				}},
				step{at: sec(40), probes: "*+ b-", want: []string{"b up -> suspect (probe failed)"}},
				// web-1 is recorded on a now: b's second evacuation has nothing to do.
				step{at: sec(50), probes: "*+ b-", want: []string{
					"b suspect -> failed (probe failed)",
					"fence b [power-off]",
					"fenced b: confirmed (power-off)",
				}}),
			check: func(t *testing.T, m *sim) { runsOn(t, m, "web-1", "a") },
		},
		{
			name:  "restarted instances follow their new host's failure",
			setup: four(vm("web-1", "b")),
			steps: append(failB("fenced b: confirmed (power-off)", "restart web-1 b -> a"),
				step{at: sec(30), probes: "a- c+ d+", want: []string{"a up -> suspect (probe failed)"}},
				// b is failed too, so c and d tie: c.
				step{at: sec(40), probes: "a- c+ d+", want: []string{
					"a suspect -> failed (probe failed)",
					"fence a [power-off]",
					"fenced a: confirmed (power-off)",
					"restart web-1 a -> c",
				}}),
			check: func(t *testing.T, m *sim) { runsOn(t, m, "web-1", "c") },
		},
		{
			name:  "a probe for an untracked host is ignored",
			setup: four(),
			steps: []step{{at: sec(10), probes: "*+ z-", want: []string{"ignored z (host not tracked)"}}},
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			m := newSim(t, sc.setup)
			m.run(sc.steps)
			if sc.check != nil {
				sc.check(t, m)
			}
		})
	}
}
