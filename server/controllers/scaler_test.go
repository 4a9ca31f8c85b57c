package controllers_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// groupOf reads a group and its events (newest first).
func groupOf(t *testing.T, c *cluster, id ovm.ID) (core.ScalingGroup, []core.ScalingEvent) {
	t.Helper()
	g, _, err := c.svc.GetScalingGroup(t.Context(), c.admin, id)
	require.NoError(t, err)
	ev, err := c.svc.ScalingEvents(t.Context(), c.admin, id)
	require.NoError(t, err)
	return g, ev
}

// runningMembers counts the group's members that run.
func runningMembers(t *testing.T, c *cluster, g core.ScalingGroup) int {
	t.Helper()
	n := 0
	for _, id := range g.Members {
		inst, _, err := c.svc.GetInstance(t.Context(), c.admin, id)
		if err == nil && inst.Status.Power == ovm.PowerRunning {
			n++
		}
	}
	return n
}

// TestScaler: a group of containers on fake hosts starts at its minimum,
// grows by its metric rule (the fake's container of 0.1 CPU always uses
// 1% or more) through the ordinary create path up to its maximum, where the
// decision says a bound held it; every decision is an event with the
// rule and the values that fired. A group whose VDC's quota is short
// records the refusal and stops at what the quota allows.
func TestScaler(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := newCluster(t, b.open(t), clusterOptions{hosts: 2})
			tenant := auth.Principal{UserID: ovm.NewID(), Name: "ann", Role: auth.RoleVDCAdmin, VDCID: c.vdc}
			spec := ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: 100, Memory: 16 * ovm.MiB, Image: ovm.ContainerImage("busybox:1")}
			g, err := c.svc.CreateScalingGroup(t.Context(), tenant, core.CreateScalingGroup{Name: "web", Spec: spec,
				Policy: apitypes.ScalingPolicy{Min: 1, Max: 3, Rules: []apitypes.ScalingRule{
					{Metric: apitypes.MetricCPUPercent, Direction: apitypes.ScaleAbove, Threshold: 0.5, Periods: 2, Step: 1},
				}}})
			require.NoError(t, err)
			assert.Equal(t, 1, g.Desired, "a new group wants its minimum")

			c.start("r1", controllers.Options{MetricsInterval: 100 * time.Millisecond, ScalerInterval: time.Second,
				LeaseTTL: 2 * time.Second, SyncInterval: time.Hour, MonitorInterval: time.Hour})
			var seen []core.ScalingEvent
			if !assert.Eventually(t, func() bool {
				g, ev := groupOf(t, c, g.ID)
				seen = ev
				return g.Desired == 3 && len(g.Members) == 3 && runningMembers(t, c, g) == 3
			}, waitFor, 50*time.Millisecond, "the group grows to its maximum") {
				t.Fatalf("the group's decisions, newest first: %+v", seen)
			}
			require.Eventually(t, func() bool {
				_, ev := groupOf(t, c, g.ID)
				return len(ev) > 0 && ev[0].Kind == apitypes.ScaleHeld
			}, waitFor, 50*time.Millisecond, "at the maximum, the decision says a bound held the group")
			got, ev := groupOf(t, c, g.ID)
			var outs []core.ScalingEvent
			for _, e := range ev {
				if e.Kind == apitypes.ScaleOut {
					outs = append(outs, e)
				}
			}
			require.Len(t, outs, 2, "two scale-outs, 1 to 2 and 2 to 3: %+v", ev)
			assert.Equal(t, [2]int{2, 3}, [2]int{outs[0].From, outs[0].To})
			assert.Contains(t, outs[0].Cause, "rules[0]: average cpuPercent above 0.5")
			assert.Len(t, outs[0].Values, 2, "the two periods' averages that fired")
			assert.Contains(t, ev[0].Cause, "held at max 3")
			for _, id := range got.Members {
				inst, _, err := c.svc.GetInstance(t.Context(), tenant, id)
				require.NoError(t, err, "members are the tenant's instances")
				assert.Equal(t, spec.Image, inst.Spec.Image)
			}
		})
	}
}

// TestScalerQuota: a scale-out past the VDC's quota creates nothing more:
// the refusal is an event with the quota's words, and the desired count
// goes back to the members there are.
func TestScalerQuota(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 1})
	_, _, err := c.svc.SetQuota(t.Context(), c.admin, c.vdc, ovm.Quota{CPU: ovm.CPUs(4), Memory: ovm.GiB, Disk: ovm.TiB, Instances: 2, Networks: 1}, 0)
	require.NoError(t, err)
	tenant := auth.Principal{UserID: ovm.NewID(), Name: "ann", Role: auth.RoleVDCAdmin, VDCID: c.vdc}
	g, err := c.svc.CreateScalingGroup(t.Context(), tenant, core.CreateScalingGroup{Name: "batch",
		Spec: ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: 100, Memory: 16 * ovm.MiB, Image: ovm.ContainerImage("busybox:1")},
		Policy: apitypes.ScalingPolicy{Min: 1, Max: 5, Rules: []apitypes.ScalingRule{
			{Metric: apitypes.MetricCPUPercent, Direction: apitypes.ScaleAbove, Threshold: 0.5, Periods: 1, Step: 2, CooldownSeconds: 3600},
		}}})
	require.NoError(t, err)
	c.start("r1", controllers.Options{MetricsInterval: 100 * time.Millisecond, ScalerInterval: time.Second,
		LeaseTTL: 2 * time.Second, SyncInterval: time.Hour, MonitorInterval: time.Hour})
	require.Eventually(t, func() bool {
		_, ev := groupOf(t, c, g.ID)
		return len(ev) > 0 && ev[0].Kind == apitypes.ScaleRefused
	}, waitFor, 50*time.Millisecond, "the refused create is an event")
	got, ev := groupOf(t, c, g.ID)
	assert.Equal(t, 2, got.Desired, "back to the members the quota allowed")
	assert.Len(t, got.Members, 2)
	assert.Contains(t, ev[0].Error, "quota")
	assert.Equal(t, [2]int{3, 2}, [2]int{ev[0].From, ev[0].To})
	time.Sleep(2 * time.Second) // in the cooldown nothing more is tried
	_, again := groupOf(t, c, g.ID)
	assert.Len(t, again, len(ev), "no decision retries in a loop: %+v", again)
}

// TestScalerOnce: a replica that lost the scaler's lease decides nothing
// (its guard refuses the write); two replicas carrying out one recorded
// plan at once make each planned member once (each create has its own
// idempotency key).
func TestScalerOnce(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := newCluster(t, b.open(t), clusterOptions{hosts: 1})
			tenant := auth.Principal{UserID: ovm.NewID(), Name: "ann", Role: auth.RoleVDCAdmin, VDCID: c.vdc}
			g, err := c.svc.CreateScalingGroup(t.Context(), tenant, core.CreateScalingGroup{Name: "pair",
				Spec:   ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: 100, Memory: 16 * ovm.MiB, Image: ovm.ContainerImage("busybox:1")},
				Policy: apitypes.ScalingPolicy{Min: 3, Max: 3}})
			require.NoError(t, err)

			stale := controllers.Lease{Name: controllers.LeaseScaler, Holder: "paused", Epoch: 7}
			err = core.NewSystem(c.svc).ScaleGroup(t.Context(), g.ID, time.Second, stale.Guard())
			require.ErrorIs(t, err, controllers.ErrLeaseLost)
			got, _ := groupOf(t, c, g.ID)
			assert.Empty(t, got.Members, "the paused replica made nothing")

			other, _ := c.service(nil)
			errs := make(chan error, 2)
			for _, sys := range []*core.System{core.NewSystem(c.svc), core.NewSystem(other)} {
				go func() { errs <- sys.ScaleGroup(t.Context(), g.ID, time.Second, nil) }()
			}
			for range 2 {
				require.NoError(t, <-errs)
			}
			got, _ = groupOf(t, c, g.ID)
			assert.Len(t, got.Members, 3, "three members, not six")
			page, err := c.svc.ListInstances(t.Context(), c.admin, core.ListOptions{VDCID: c.vdc, Limit: core.MaxLimit})
			require.NoError(t, err)
			assert.Len(t, page.Items, 3, "three instances in the VDC")
		})
	}
}

// errKilled stands for the death of a replica mid-decision.
var errKilled = errors.New("replica killed")

// pausingScaler is a replica's scaler that stops mid-decision once armed:
// after the decision is recorded and the new member's create went
// through, but before the member is recorded in the group. It then waits,
// outside any transaction, holding up its loop (so that its lease is
// neither renewed nor released), until resumed; then it decides again
// with its old lease.
type pausingScaler struct {
	*core.System
	armed   atomic.Bool
	paused  chan struct{}
	resume  chan struct{}
	resumed chan error
}

func (p *pausingScaler) ScaleGroup(ctx context.Context, id ovm.ID, period time.Duration, guard core.Guard) error {
	if !p.armed.Load() {
		return p.System.ScaleGroup(ctx, id, period, guard)
	}
	calls := 0
	err := p.System.ScaleGroup(ctx, id, period, func(ctx context.Context, tx store.Tx) error {
		calls++
		if calls == 2 && p.armed.CompareAndSwap(true, false) {
			return errKilled // the settle of the first create: die here
		}
		return guard(ctx, tx)
	})
	if !errors.Is(err, errKilled) {
		return err
	}
	close(p.paused)
	<-p.resume
	// A paused process resumes where it was, its context still live.
	err = p.System.ScaleGroup(context.WithoutCancel(ctx), id, period, guard)
	p.resumed <- err
	return err
}

// TestScalerLeaderKilledMidDecision: two replicas on one store; the
// scaler's leader stops mid-decision, after its scale-out was recorded and
// the new member's create went through but before the member was recorded.
// Its lease expires; the other replica takes it over at a new epoch and
// carries out the recorded plan: the group scales once (one scale-out, one
// new instance), not twice. When the old leader resumes, its stale lease
// refuses its writes.
func TestScalerLeaderKilledMidDecision(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := newCluster(t, b.open(t), clusterOptions{hosts: 1})
			tenant := auth.Principal{UserID: ovm.NewID(), Name: "ann", Role: auth.RoleVDCAdmin, VDCID: c.vdc}
			g, err := c.svc.CreateScalingGroup(t.Context(), tenant, core.CreateScalingGroup{Name: "once",
				Spec: ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: 100, Memory: 16 * ovm.MiB, Image: ovm.ContainerImage("busybox:1")},
				Policy: apitypes.ScalingPolicy{Min: 1, Max: 3, Rules: []apitypes.ScalingRule{
					{Metric: apitypes.MetricCPUPercent, Direction: apitypes.ScaleAbove, Threshold: 0.5, Periods: 1, Step: 1, CooldownSeconds: 3600},
				}}})
			require.NoError(t, err)
			o := controllers.Options{MetricsInterval: 100 * time.Millisecond, ScalerInterval: 500 * time.Millisecond,
				LeaseTTL: 2 * time.Second, SyncInterval: time.Hour, MonitorInterval: time.Hour}

			first, _ := c.service(nil)
			p := &pausingScaler{System: core.NewSystem(first), paused: make(chan struct{}), resume: make(chan struct{}), resumed: make(chan error, 1)}
			o1 := o
			o1.Platform = p
			r1 := c.start("r1", o1)
			require.Eventually(t, func() bool {
				g, _ := groupOf(t, c, g.ID)
				return len(g.Members) == 1 && runningMembers(t, c, g) == 1
			}, waitFor, 50*time.Millisecond, "the group makes its minimum")
			p.armed.Store(true)
			select {
			case <-p.paused:
			case <-time.After(waitFor):
				t.Fatal("the leader did not scale out")
			}
			mid, _ := groupOf(t, c, g.ID)
			assert.Len(t, mid.Members, 1, "the new member is not recorded in the group yet")
			assert.Equal(t, 2, mid.Desired, "the decision is recorded")
			page, err := c.svc.ListInstances(t.Context(), c.admin, core.ListOptions{VDCID: c.vdc, Limit: core.MaxLimit})
			require.NoError(t, err)
			require.Len(t, page.Items, 2, "the new member's create went through")
			stopped := make(chan struct{})
			go func() { r1.stop(); close(stopped) }() // held up in the scaler: no renewal, no release

			r2 := c.start("r2", o)
			require.Eventually(t, func() bool { return r2.ctl.Leading()[controllers.LeaseScaler] }, waitFor, 50*time.Millisecond,
				"the other replica takes the lease once it expires")
			require.Eventually(t, func() bool {
				g, _ := groupOf(t, c, g.ID)
				return len(g.Members) == 2 && runningMembers(t, c, g) == 2
			}, waitFor, 50*time.Millisecond, "the new leader carries out the recorded plan")

			close(p.resume)
			require.ErrorIs(t, <-p.resumed, controllers.ErrLeaseLost, "the old leader, resumed, writes nothing")
			<-stopped
			time.Sleep(2 * time.Second) // a few more decisions of the new leader

			got, ev := groupOf(t, c, g.ID)
			assert.Len(t, got.Members, 2)
			assert.Equal(t, 2, got.Desired)
			outs := 0
			for _, e := range ev {
				if e.Kind == apitypes.ScaleOut {
					outs++
				}
			}
			assert.Equal(t, 1, outs, "one scale-out: %+v", ev)
			page, err = c.svc.ListInstances(t.Context(), c.admin, core.ListOptions{VDCID: c.vdc, Limit: core.MaxLimit})
			require.NoError(t, err)
			assert.Len(t, page.Items, 2, "two instances: the member the dead leader created is the one its successor recorded")
		})
	}
}

// TestScalerPatch: a group's desired count set by hand is a decision
// naming who set it, carried out by the scaler through the ordinary paths;
// lowering max brings the desired count within it and removes the newest
// members; bad changes name their field and change nothing; a stale
// If-Match version is refused; VDC members cannot change a group.
func TestScalerPatch(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 2})
	ctx := t.Context()
	tenant := auth.Principal{UserID: ovm.NewID(), Name: "ann", Role: auth.RoleVDCAdmin, VDCID: c.vdc}
	g, err := c.svc.CreateScalingGroup(ctx, tenant, core.CreateScalingGroup{Name: "hand",
		Spec:   ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: 100, Memory: 16 * ovm.MiB, Image: ovm.ContainerImage("busybox:1")},
		Policy: apitypes.ScalingPolicy{Min: 1, Max: 3}})
	require.NoError(t, err)
	c.start("r1", controllers.Options{MetricsInterval: 100 * time.Millisecond, ScalerInterval: 300 * time.Millisecond,
		LeaseTTL: 2 * time.Second, SyncInterval: time.Hour, MonitorInterval: time.Hour})
	size := func(n int) func() bool {
		return func() bool {
			got, _ := groupOf(t, c, g.ID)
			return len(got.Members) == n && runningMembers(t, c, got) == n
		}
	}
	require.Eventually(t, size(1), waitFor, 50*time.Millisecond, "the group makes its minimum")
	first, _ := groupOf(t, c, g.ID)

	three := 3
	got, ver, err := c.svc.UpdateScalingGroup(ctx, tenant, g.ID, core.PatchScalingGroup{Desired: &three}, 0)
	require.NoError(t, err)
	assert.Equal(t, 3, got.Desired)
	require.Eventually(t, size(3), waitFor, 50*time.Millisecond, "the scaler carries out the desired count")
	_, ev := groupOf(t, c, g.ID)
	require.NotEmpty(t, ev)
	assert.Equal(t, apitypes.ScaleOut, ev[0].Kind)
	assert.Equal(t, "desired set to 3 by ann", ev[0].Cause)

	_, _, err = c.svc.UpdateScalingGroup(ctx, tenant, g.ID, core.PatchScalingGroup{Desired: &three}, ver)
	require.Error(t, err, "a stale If-Match version")
	five, zero := 5, 0
	bad := []struct {
		name  string
		in    core.PatchScalingGroup
		field string
	}{
		{"desired above max", core.PatchScalingGroup{Desired: &five}, "desired"},
		{"max above the limit", core.PatchScalingGroup{Max: ptrTo(core.MaxGroupMembers + 1)}, "max"},
		{"max below min", core.PatchScalingGroup{Max: &zero}, "max"},
		{"unknown metric", core.PatchScalingGroup{Rules: &[]apitypes.ScalingRule{{Metric: "load", Direction: apitypes.ScaleAbove,
			Threshold: 1, Periods: 1, Step: 1}}}, "rules[0].metric"},
	}
	for _, tc := range bad {
		_, _, err := c.svc.UpdateScalingGroup(ctx, tenant, g.ID, tc.in, 0)
		require.Error(t, err, tc.name)
		var oe *ovm.Error
		require.ErrorAs(t, err, &oe, tc.name)
		var fields []string
		for _, f := range oe.Fields {
			fields = append(fields, f.Field)
		}
		assert.Contains(t, fields, tc.field, tc.name)
	}
	member := auth.Principal{UserID: ovm.NewID(), Name: "m", Role: auth.RoleVDCMember, VDCID: c.vdc}
	_, _, err = c.svc.UpdateScalingGroup(ctx, member, g.ID, core.PatchScalingGroup{Desired: &three}, 0)
	assert.ErrorIs(t, err, core.ErrForbidden)
	other := auth.Principal{UserID: ovm.NewID(), Name: "o", Role: auth.RoleVDCAdmin, VDCID: ovm.NewID()}
	_, _, err = c.svc.UpdateScalingGroup(ctx, other, g.ID, core.PatchScalingGroup{Desired: &three}, 0)
	assert.ErrorIs(t, err, ovm.ErrNotFound)

	two := 2
	got, _, err = c.svc.UpdateScalingGroup(ctx, tenant, g.ID, core.PatchScalingGroup{Max: &two}, 0)
	require.NoError(t, err)
	assert.Equal(t, 2, got.Desired, "the desired count is brought within the new max")
	assert.Equal(t, 2, got.Policy.Max)
	require.Eventually(t, size(2), waitFor, 50*time.Millisecond, "the scaler removes the newest member")
	got, ev = groupOf(t, c, g.ID)
	assert.Equal(t, first.Members[0], got.Members[0], "the oldest member stays")
	assert.Equal(t, apitypes.ScaleIn, ev[0].Kind)
	assert.Equal(t, "bounds set to 1..2 by ann", ev[0].Cause)
}

func ptrTo[T any](v T) *T { return &v }

// TestScalerAntiAffinity: the members of a group with anti-affinity go to
// distinct hosts through placement's anti-affinity groups; one more member
// than there are hosts is refused (an event with the pool's words, no
// host named) and the group stays at what fits.
func TestScalerAntiAffinity(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 2})
	ctx := t.Context()
	tenant := auth.Principal{UserID: ovm.NewID(), Name: "ann", Role: auth.RoleVDCAdmin, VDCID: c.vdc}
	g, err := c.svc.CreateScalingGroup(ctx, tenant, core.CreateScalingGroup{Name: "spread", AntiAffinity: true,
		Spec:   ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: 100, Memory: 16 * ovm.MiB, Image: ovm.ContainerImage("busybox:1")},
		Policy: apitypes.ScalingPolicy{Min: 2, Max: 3}})
	require.NoError(t, err)
	assert.True(t, g.AntiAffinity)
	c.start("r1", controllers.Options{MetricsInterval: 100 * time.Millisecond, ScalerInterval: 300 * time.Millisecond,
		LeaseTTL: 2 * time.Second, SyncInterval: time.Hour, MonitorInterval: time.Hour})
	require.Eventually(t, func() bool {
		got, _ := groupOf(t, c, g.ID)
		return len(got.Members) == 2 && runningMembers(t, c, got) == 2
	}, waitFor, 50*time.Millisecond, "the group makes its minimum")
	got, _ := groupOf(t, c, g.ID)
	hosts := map[ovm.ID]bool{}
	for _, id := range got.Members {
		hosts[c.instance(id).Status.HostID] = true
	}
	assert.Len(t, hosts, 2, "one member per host")

	three := 3
	_, _, err = c.svc.UpdateScalingGroup(ctx, tenant, g.ID, core.PatchScalingGroup{Desired: &three}, 0)
	require.NoError(t, err)
	var ev []core.ScalingEvent
	require.Eventually(t, func() bool {
		_, ev = groupOf(t, c, g.ID)
		return len(ev) > 0 && ev[0].Kind == apitypes.ScaleRefused
	}, waitFor, 50*time.Millisecond, "a third member has no host of its own")
	assert.Contains(t, ev[0].Error, "no room")
	for _, h := range c.hosts {
		assert.NotContains(t, ev[0].Error, h.Name)
		assert.NotContains(t, ev[0].Error, string(h.ID))
	}
	got, _ = groupOf(t, c, g.ID)
	assert.Len(t, got.Members, 2)
	assert.Equal(t, 2, got.Desired)
}

// TestScalerPeriodsEndAtTheNewestSample: a decision's periods end at the
// members' newest sample, not at now: samples stamped when a round starts
// and stored when it ends are a period old or more when the scaler reads
// them, and the period up to now holds none yet; the rule still fires.
func TestScalerPeriodsEndAtTheNewestSample(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 1})
	ctx := t.Context()
	tenant := auth.Principal{UserID: ovm.NewID(), Name: "ann", Role: auth.RoleVDCAdmin, VDCID: c.vdc}
	g, err := c.svc.CreateScalingGroup(ctx, tenant, core.CreateScalingGroup{Name: "late",
		Spec: ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: 100, Memory: 16 * ovm.MiB, Image: ovm.ContainerImage("busybox:1")},
		Policy: apitypes.ScalingPolicy{Min: 1, Max: 2, Rules: []apitypes.ScalingRule{
			{Metric: apitypes.MetricCPUPercent, Direction: apitypes.ScaleAbove, Threshold: 50, Periods: 2, Step: 1},
		}}})
	require.NoError(t, err)
	sys := core.NewSystem(c.svc)
	const period = 2 * time.Second
	require.NoError(t, sys.ScaleGroup(ctx, g.ID, period, nil), "the first decision makes the minimum")
	got, _ := groupOf(t, c, g.ID)
	require.Len(t, got.Members, 1)
	member := got.Members[0]
	now := time.Now().UTC()
	for _, ago := range []time.Duration{6500 * time.Millisecond, 4500 * time.Millisecond, 2500 * time.Millisecond} {
		require.NoError(t, sys.RecordMetrics(ctx, []store.MetricSample{{Subject: member, Kind: store.MetricInstance, VDCID: c.vdc,
			At: now.Add(-ago), CPUPercent: 90, MemoryLimit: 1}}, nil))
	}
	require.NoError(t, sys.ScaleGroup(ctx, g.ID, period, nil))
	got, ev := groupOf(t, c, g.ID)
	assert.Equal(t, 2, got.Desired, "the rule fired on the two periods up to the newest sample: %+v", ev)
}
