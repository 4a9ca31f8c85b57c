package controllers_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/controllers/controllerstest"
	"github.com/openovm/ovm/server/core"
)

// recordingPlatform passes every call on to a core.System, and keeps what
// the loops handed to the HA planner and reconciler through it.
type recordingPlatform struct {
	controllers.Platform
	mu      sync.Mutex
	planned []ha.Evacuation
	plans   []ha.Plan
	returns []ha.Return
}

func (p *recordingPlatform) EvacuateHost(ctx context.Context, id ovm.ID, fence ha.FenceResult, planner core.Planner, guard core.Guard) (ha.Plan, error) {
	return p.Platform.EvacuateHost(ctx, id, fence, func(ev ha.Evacuation) (ha.Plan, error) {
		plan, err := planner(ev)
		p.mu.Lock()
		p.planned, p.plans = append(p.planned, ev), append(p.plans, plan)
		p.mu.Unlock()
		return plan, err
	}, guard)
}

func (p *recordingPlatform) ReconcileHost(ctx context.Context, h core.MonitorHost, reconcile core.Reconciler, guard core.Guard) (ha.Reconciliation, error) {
	return p.Platform.ReconcileHost(ctx, h, func(in ha.Return) (ha.Reconciliation, error) {
		p.mu.Lock()
		p.returns = append(p.returns, in)
		p.mu.Unlock()
		return reconcile(in)
	}, guard)
}

// TestMonitorDecidesThroughPlatform: the monitor reaches the platform only
// through the Platform interface, and the HA decisions are its own: the
// evacuation it plans from what the platform gathered is the one recorded,
// and it reconciles the host that came back.
func TestMonitorDecidesThroughPlatform(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 2, haEnabled: true})
	h1, h2 := c.hosts[0], c.hosts[1]
	web := c.create("web", c.instanceSpec(true, true))
	require.Equal(t, h1.ID, web.Status.HostID)
	p := &recordingPlatform{Platform: core.NewSystem(c.svc)}
	o := monitorOptions(controllerstest.FakePowerFence{Hosts: c.fakes})
	o.Platform = p
	c.start("r1", o)

	c.fake(h1).SetUnreachable(true)
	require.Eventually(t, func() bool {
		got := c.instance(web.ID)
		return got.Status.Phase == ovm.PhaseReady && got.Status.HostID == h2.ID
	}, waitFor, tick, "web is never restarted on host2: %+v", c.instance(web.ID).Status)
	p.mu.Lock()
	require.Len(t, p.planned, 1, "evacuations planned")
	ev, plan := p.planned[0], p.plans[0]
	p.mu.Unlock()
	assert.Equal(t, h1.ID, ev.Host, "the evacuated host")
	assert.Equal(t, ha.FenceConfirmed, ev.Fence.Outcome, "the fence the monitor confirmed")
	require.Len(t, ev.Instances, 1, "instances gathered for the planner")
	assert.Equal(t, web.ID, ev.Instances[0].ID)
	require.Len(t, plan.Restarts, 1, "restarts of the plan")
	r := plan.Restarts[0]
	assert.Equal(t, []ovm.ID{web.ID, h1.ID, h2.ID}, []ovm.ID{r.Instance, r.From, r.To}, "web's restart: instance, from, to")
	assert.Equal(t, web.Spec.Demand(), r.Demand, "what host2 takes on")

	c.fake(h1).SetUnreachable(false)
	require.Eventually(t, func() bool { return c.host(h1.ID).State == ovm.HostUp }, waitFor, tick, "host1 never comes back up")
	p.mu.Lock()
	defer p.mu.Unlock()
	require.NotEmpty(t, p.returns, "reconciliations of the returned host")
	assert.Equal(t, h1.ID, p.returns[0].Host)
}
