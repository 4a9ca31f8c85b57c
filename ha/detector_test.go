package ha_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
)

// fieldsOf returns the names of the invalid fields of err.
func fieldsOf(err error) []string {
	var out []string
	for _, f := range ovm.FieldsOf(err) {
		out = append(out, f.Field)
	}
	return out
}

// newDetector returns a detector with hosts a, b, c, d of pool p1 in d1,
// tracked at epoch.
func newDetector(t *testing.T) *ha.Detector {
	t.Helper()
	d, err := ha.NewDetector(ha.Config{Interval: tick})
	require.NoError(t, err)
	for _, n := range []string{"d", "b", "a", "c"} {
		_, err := d.Track(ha.HostSpec{ID: idOf(n), PoolID: idOf("p1"), DatacenterID: idOf("d1"), Fence: []ha.FenceMethod{ha.FencePowerOff}}, epoch)
		require.NoError(t, err)
	}
	return d
}

func observe(t *testing.T, d *ha.Detector, at time.Duration, probes ...ha.Probe) ha.Round {
	t.Helper()
	r, err := d.Observe(epoch.Add(at), probes)
	require.NoError(t, err)
	return r
}

func probe(name string, ok bool, at time.Duration) ha.Probe {
	return ha.Probe{Host: idOf(name), OK: ok, At: epoch.Add(at)}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name       string
		cfg        ha.Config
		wantFields []string
	}{
		{name: "defaults", cfg: ha.Config{Interval: tick}},
		{name: "no interval", cfg: ha.Config{}, wantFields: []string{"interval"}},
		{name: "miss after below interval", cfg: ha.Config{Interval: tick, MissAfter: tick / 2}, wantFields: []string{"missAfter"}},
		{name: "fraction 1", cfg: ha.Config{Interval: tick, PartitionFraction: 1}, wantFields: []string{"partitionFraction"}},
		{name: "negative fraction", cfg: ha.Config{Interval: tick, PartitionFraction: -0.5}, wantFields: []string{"partitionFraction"}},
		{name: "one host is no group", cfg: ha.Config{Interval: tick, PartitionMinHosts: 1}, wantFields: []string{"partitionMinHosts"}},
		{name: "negative window", cfg: ha.Config{Interval: tick, PartitionWindow: -tick}, wantFields: []string{"partitionWindow"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ha.NewDetector(tt.cfg)
			if tt.wantFields == nil {
				require.NoError(t, err)
				// Defaults: MissAfter and PartitionWindow 2 × 10s, more than half of 3 or more hosts.
				want := ha.Config{Interval: tick, MissAfter: 20 * time.Second, PartitionFraction: 0.5,
					PartitionMinHosts: 3, PartitionWindow: 20 * time.Second}
				assert.Equal(t, want, d.Config(), "config: got %+v, want %+v", d.Config(), want)
				return
			}
			require.ErrorIs(t, err, ovm.ErrInvalid, "got %v, want an invalid error", err)
			assert.Equal(t, tt.wantFields, fieldsOf(err), "invalid fields: got %v, want %v", fieldsOf(err), tt.wantFields)
		})
	}
}

func TestObserveRefusesBadRoundsWhole(t *testing.T) {
	tests := []struct {
		name       string
		now        time.Duration // from epoch; -1 for the zero time
		probes     []ha.Probe
		wantFields []string
	}{
		{name: "zero now", now: -1, wantFields: []string{"now"}},
		{name: "now before the last round", now: sec(5), wantFields: []string{"now"}},
		{name: "probe without host", now: sec(20), probes: []ha.Probe{{OK: true, At: epoch.Add(sec(20))}}, wantFields: []string{"probes[0].host"}},
		{name: "probe without time", now: sec(20), probes: []ha.Probe{probe("a", false, 0), {Host: idOf("b")}}, wantFields: []string{"probes[1].at"}},
		{name: "probe from the future", now: sec(20), probes: []ha.Probe{probe("b", false, sec(21))}, wantFields: []string{"probes[0].at"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDetector(t)
			observe(t, d, sec(10), probe("a", false, sec(10)))
			before := d.Hosts()
			now := time.Time{}
			if tt.now >= 0 {
				now = epoch.Add(tt.now)
			}
			probes := tt.probes
			if tt.now >= sec(20) {
				// A valid failed probe of a rides along: it must not be applied.
				probes = append(probes, probe("a", false, sec(11)))
			}
			_, err := d.Observe(now, probes)
			require.ErrorIs(t, err, ovm.ErrInvalid, "got %v, want an invalid error", err)
			assert.Equal(t, tt.wantFields, fieldsOf(err), "invalid fields: got %v, want %v", fieldsOf(err), tt.wantFields)
			assert.Equal(t, before, d.Hosts(), "hosts after a refused round: got changes, want none")
		})
	}
}

func TestTrack(t *testing.T) {
	t.Run("refuses a bad spec", func(t *testing.T) {
		d := newDetector(t)
		_, err := d.Track(ha.HostSpec{Fence: []ha.FenceMethod{"ipmi"}}, time.Time{})
		require.ErrorIs(t, err, ovm.ErrInvalid, "got %v, want an invalid error", err)
		want := []string{"id", "fence[0]", "now"}
		assert.Equal(t, want, fieldsOf(err), "invalid fields: got %v, want %v", fieldsOf(err), want)
	})
	t.Run("tracking again keeps health and changes groups", func(t *testing.T) {
		d := newDetector(t)
		observe(t, d, sec(10), probe("b", false, sec(10)))
		evs, err := d.Track(ha.HostSpec{ID: idOf("b"), PoolID: idOf("p2"), DatacenterID: idOf("d1")}, epoch.Add(sec(11)))
		require.NoError(t, err)
		assert.Empty(t, evs, "events: got %v, want none", evs)
		s, _ := d.Status(idOf("b"))
		assert.Equal(t, ha.StateSuspect, s.State, "state: got %s, want suspect", s.State)
		assert.Equal(t, idOf("p2"), s.PoolID, "pool: got %s, want p2", nameOf(s.PoolID))
		assert.Empty(t, s.Fence, "fence methods: got %v, want none (the new spec has none)", s.Fence)
	})
	t.Run("tracking with maintenance set enters it", func(t *testing.T) {
		d := newDetector(t)
		evs, err := d.Track(ha.HostSpec{ID: idOf("b"), PoolID: idOf("p1"), Maintenance: true}, epoch.Add(sec(3)))
		require.NoError(t, err)
		want := []ha.Event{{Host: idOf("b"), From: ha.StateUp, To: ha.StateMaintenance, At: epoch.Add(sec(3)), Reason: "maintenance started"}}
		assert.Equal(t, want, evs, "events: got %v, want %v", evs, want)
	})
	t.Run("hosts are listed in id order", func(t *testing.T) {
		d := newDetector(t)
		var got []string
		for _, s := range d.Hosts() {
			got = append(got, nameOf(s.ID))
		}
		assert.Equal(t, []string{"a", "b", "c", "d"}, got, "hosts: got %v, want a b c d (tracked as d b a c)", got)
	})
	t.Run("an untracked host's probes are ignored", func(t *testing.T) {
		d := newDetector(t)
		require.True(t, d.Untrack(idOf("b")), "untrack b: got false, want true")
		require.False(t, d.Untrack(idOf("b")), "untrack b again: got true, want false")
		r := observe(t, d, sec(10), probe("b", false, sec(10)))
		require.Len(t, r.Ignored, 1, "ignored: got %v, want b's probe", r.Ignored)
		assert.Equal(t, "host not tracked", r.Ignored[0].Reason, "reason: got %q", r.Ignored[0].Reason)
		_, ok := d.Status(idOf("b"))
		assert.False(t, ok, "status of an untracked host: got ok, want none")
	})
}

func TestAdministratorCalls(t *testing.T) {
	tests := []struct {
		name string
		call func(d *ha.Detector) error
		want error
	}{
		{name: "maintenance of an unknown host", want: ovm.ErrNotFound, call: func(d *ha.Detector) error {
			_, err := d.SetMaintenance(idOf("z"), true, epoch)
			return err
		}},
		{name: "reconciling an unknown host", want: ovm.ErrNotFound, call: func(d *ha.Detector) error {
			_, err := d.MarkReconciled(idOf("z"), epoch)
			return err
		}},
		{name: "reconciling a host that is up", want: ovm.ErrConflict, call: func(d *ha.Detector) error {
			_, err := d.MarkReconciled(idOf("a"), epoch)
			return err
		}},
		{name: "releasing a partition there is none of", want: ovm.ErrNotFound, call: func(d *ha.Detector) error {
			return d.ReleasePartition(ovm.ScopePool, idOf("p1"))
		}},
		{name: "maintenance twice changes nothing the second time", call: func(d *ha.Detector) error {
			if _, err := d.SetMaintenance(idOf("a"), true, epoch); err != nil {
				return err
			}
			evs, err := d.SetMaintenance(idOf("a"), true, epoch.Add(time.Second))
			if len(evs) != 0 {
				return ovm.Errorf(ovm.KindInternal, "got events %v, want none", evs)
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(newDetector(t))
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want, "got %v, want %v", err, tt.want)
		})
	}
}

func TestStateHostState(t *testing.T) {
	tests := []struct {
		name string
		in   ha.State
		want ovm.HostState
	}{
		{name: "up", in: ha.StateUp, want: ovm.HostUp},
		{name: "suspect", in: ha.StateSuspect, want: ovm.HostSuspect},
		{name: "failed", in: ha.StateFailed, want: ovm.HostFailed},
		{name: "returned takes no work until reconciled", in: ha.StateReturned, want: ovm.HostFailed},
		{name: "maintenance", in: ha.StateMaintenance, want: ovm.HostMaintenance},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.in.HostState(), "got %s, want %s", tt.in.HostState(), tt.want)
		})
	}
}

func TestPartitions(t *testing.T) {
	d := newDetector(t)
	r := observe(t, d, sec(10), probe("a", true, sec(10)), probe("b", false, sec(10)), probe("c", false, sec(10)), probe("d", false, sec(10)))
	require.Len(t, r.Alerts, 2, "alerts: got %v, want the pool's and the datacenter's", r.Alerts)
	assert.Contains(t, r.Alerts[0].Message, "lost 3 of 4 hosts within 20s", "message: got %q", r.Alerts[0].Message)
	got := d.Partitions()
	// 4 probed, b, c, d down and lost (their streaks started at 10, after 10 - 20s).
	want := []ha.Partition{
		{Scope: ovm.ScopePool, Group: idOf("p1"), Probed: 4, Down: 3, Lost: 3, Since: epoch.Add(sec(10))},
		{Scope: ovm.ScopeDatacenter, Group: idOf("d1"), Probed: 4, Down: 3, Lost: 3, Since: epoch.Add(sec(10))},
	}
	assert.Equal(t, want, got, "partitions: got %+v, want %+v", got, want)
	s, _ := d.Status(idOf("b"))
	assert.True(t, s.Held, "b: got Held false, want true")

	// A host in maintenance is not probed: 3 probed, 2 down is still more than half.
	_, err := d.SetMaintenance(idOf("d"), true, epoch.Add(sec(15)))
	require.NoError(t, err)
	r = observe(t, d, sec(20), probe("a", true, sec(20)), probe("b", false, sec(20)), probe("c", false, sec(20)))
	assert.Empty(t, r.Alerts, "alerts: got %v, want none (still partitioned)", r.Alerts)
	assert.Empty(t, r.Fence, "fence requests: got %v, want none while partitioned", r.Fence)
}

func TestEventsAreSortedByTimeThenHost(t *testing.T) {
	d := newDetector(t)
	observe(t, d, sec(5), probe("a", true, sec(5)), probe("b", true, sec(5)), probe("c", true, sec(5)), probe("d", true, sec(5)))
	// Given out of order: d at 9, a at 8, c at 9.
	r := observe(t, d, sec(10), probe("d", false, sec(9)), probe("a", false, sec(8)), probe("c", false, sec(9)))
	var got []string
	for _, e := range r.Events {
		got = append(got, nameOf(e.Host)+"@"+e.At.Sub(epoch).String())
	}
	want := []string{"a@8s", "c@9s", "d@9s"}
	assert.Equal(t, want, got, "events: got %v, want %v", got, want)
}

func TestFenceResultValidate(t *testing.T) {
	b := idOf("b")
	tests := []struct {
		name       string
		in         ha.FenceResult
		wantFields []string
	}{
		{name: "confirmed by power-off", in: ha.FenceResult{Host: b, Outcome: ha.FenceConfirmed, Method: ha.FencePowerOff}},
		{name: "failed with detail", in: ha.FenceResult{Host: b, Outcome: ha.FenceFailed, Detail: "bmc: timeout"}},
		{name: "not configured", in: ha.FenceResult{Host: b, Outcome: ha.FenceNotConfigured}},
		{name: "no answer at all", in: ha.FenceResult{}, wantFields: []string{"host", "outcome"}},
		{name: "confirmed without method", in: ha.FenceResult{Host: b, Outcome: ha.FenceConfirmed}, wantFields: []string{"method"}},
		{name: "unknown method", in: ha.FenceResult{Host: b, Outcome: ha.FenceFailed, Method: "ipmi"}, wantFields: []string{"method"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if tt.wantFields == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ovm.ErrInvalid, "got %v, want an invalid error", err)
			assert.Equal(t, tt.wantFields, fieldsOf(err), "invalid fields: got %v, want %v", fieldsOf(err), tt.wantFields)
		})
	}
}

// A new leader rebuilds its detector from the statuses the old one left:
// nothing a failure taught is forgotten.
func TestRestoreAfterHandover(t *testing.T) {
	old := newDetector(t)
	observe(t, old, sec(10), probe("a", true, sec(10)), probe("b", false, sec(10)), probe("c", false, sec(10)), probe("d", true, sec(10)))
	r := observe(t, old, sec(20), probe("a", true, sec(20)), probe("b", false, sec(20)), probe("c", true, sec(20)), probe("d", true, sec(20)))
	require.Len(t, r.Fence, 1, "old leader's fence requests: got %v, want b's", r.Fence)
	observe(t, old, sec(30), probe("a", true, sec(30)), probe("b", false, sec(30)), probe("c", false, sec(30)), probe("d", true, sec(30)))
	// Now: a up, b failed (fence asked), c suspect, d up.
	observe(t, old, sec(31), probe("b", true, sec(31)))
	observe(t, old, sec(32), probe("b", false, sec(32)))
	// b returned, then suspect again without a reconciliation.

	fresh, err := ha.NewDetector(ha.Config{Interval: tick})
	require.NoError(t, err)
	for _, s := range old.Hosts() {
		_, err := fresh.Track(s.Spec(), epoch.Add(sec(40)))
		require.NoError(t, err)
	}
	got := map[string]ha.State{}
	for _, s := range fresh.Hosts() {
		got[nameOf(s.ID)] = s.State
	}
	want := map[string]ha.State{"a": ha.StateUp, "b": ha.StateSuspect, "c": ha.StateSuspect, "d": ha.StateUp}
	assert.Equal(t, want, got, "restored states: got %v, want %v", got, want)

	// c's restored strike plus one failure is failed: fenced. b answers:
	// it failed before and was never reconciled, so it is returned, not up.
	r = observe(t, fresh, sec(50), probe("a", true, sec(50)), probe("b", true, sec(50)), probe("c", false, sec(50)), probe("d", true, sec(50)))
	var evs []string
	for _, e := range r.Events {
		evs = append(evs, fmt.Sprintf("%s %s -> %s", nameOf(e.Host), e.From, e.To))
	}
	assert.Equal(t, []string{"b suspect -> returned", "c suspect -> failed"}, evs, "events: got %v", evs)
	require.Len(t, r.Fence, 1, "fence requests: got %v, want c's", r.Fence)
	assert.Equal(t, idOf("c"), r.Fence[0].Host, "fence request: got %s, want c", nameOf(r.Fence[0].Host))

	// A host restored failed is fenced again by the new leader.
	again, err := ha.NewDetector(ha.Config{Interval: tick})
	require.NoError(t, err)
	_, err = again.Track(ha.HostSpec{ID: idOf("b"), PoolID: idOf("p1"), State: ha.StateFailed, Fence: []ha.FenceMethod{ha.FenceDiskLock}}, epoch)
	require.NoError(t, err)
	r = observe(t, again, sec(10), probe("b", false, sec(10)))
	want2 := []ha.FenceRequest{{Host: idOf("b"), Methods: []ha.FenceMethod{ha.FenceDiskLock}, At: epoch.Add(sec(10))}}
	assert.Equal(t, want2, r.Fence, "fence requests: got %v, want %v", r.Fence, want2)

	_, err = again.Track(ha.HostSpec{ID: idOf("z"), State: "gone"}, epoch)
	require.ErrorIs(t, err, ovm.ErrInvalid, "unknown restored state: got %v, want an invalid error", err)
}
