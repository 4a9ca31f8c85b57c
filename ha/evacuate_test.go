package ha_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
)

// evacuationOfB is b's evacuation in pool p1 with a as the other host
// (8 vCPU, 16GiB, 4GiB of it allocated) and a confirmed fence.
func evacuationOfB(instances ...ha.Instance) ha.Evacuation {
	host := func(name string, state ovm.HostState) placement.Host {
		return placement.Host{ID: idOf(name), Name: name, PoolID: idOf("p1"), DatacenterID: idOf("d1"), Kind: ovm.HostKVM,
			State: state, Capacity: res(8, 16), SharedStorage: []ovm.ID{idOf("s1")}}
	}
	a := host("a", ovm.HostUp)
	a.Allocated = ovm.Resources{CPU: ovm.CPUs(2), Memory: 4 * ovm.GiB}
	return ha.Evacuation{Host: idOf("b"), Pool: idOf("p1"), Policy: ovm.PolicyPerformance,
		Hosts: []placement.Host{a, host("b", ovm.HostFailed)}, Instances: instances, At: epoch,
		Fence: ha.FenceResult{Host: idOf("b"), Outcome: ha.FenceConfirmed, Method: ha.FencePowerOff, At: epoch}}
}

func onB(name string, cpus, memGiB int64) ha.Instance {
	return ha.Instance{ID: idOf(name), Name: name, HostID: idOf("b"), HA: ovm.HAPolicy{Enabled: true},
		Demand: ovm.Resources{CPU: ovm.CPUs(cpus), Memory: ovm.Bytes(memGiB) * ovm.GiB}, SharedStorage: []ovm.ID{idOf("s1")}}
}

func TestPlanEvacuationRefuses(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(ev *ha.Evacuation)
		want       error
		wantFields []string
	}{
		{name: "nothing named", want: ovm.ErrInvalid, wantFields: []string{"host", "pool", "fence.host", "fence.outcome"},
			edit: func(ev *ha.Evacuation) { *ev = ha.Evacuation{} }},
		{name: "unknown policy", want: ovm.ErrInvalid, wantFields: []string{"policy"},
			edit: func(ev *ha.Evacuation) { ev.Policy = "RANDOM" }},
		{name: "no fence answer yet", want: ovm.ErrInvalid, wantFields: []string{"fence.host", "fence.outcome"},
			edit: func(ev *ha.Evacuation) { ev.Fence = ha.FenceResult{} }},
		{name: "another host's fence", want: ovm.ErrInvalid, wantFields: []string{"fence.host"},
			edit: func(ev *ha.Evacuation) { ev.Fence.Host = idOf("a") }},
		{name: "duplicate and nameless instances", want: ovm.ErrInvalid, wantFields: []string{"instances[1].id", "instances[2].id", "instances[2].demand"},
			edit: func(ev *ha.Evacuation) {
				ev.Instances = []ha.Instance{onB("web-1", 1, 1), onB("web-1", 1, 1), {Demand: ovm.Resources{CPU: -1}}}
			}},
		{name: "a bad host in the snapshot", want: ovm.ErrInvalid,
			edit: func(ev *ha.Evacuation) { ev.Hosts[0].ID = "not-a-uuid" }},
		{name: "the failed host is up in the snapshot", want: ovm.ErrConflict,
			edit: func(ev *ha.Evacuation) { ev.Hosts[1].State = ovm.HostUp }},
		{name: "a host in maintenance is not evacuated", want: ovm.ErrConflict,
			edit: func(ev *ha.Evacuation) { ev.Hosts[1].State = ovm.HostMaintenance }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := evacuationOfB(onB("web-1", 1, 1))
			tt.edit(&ev)
			_, err := ha.PlanEvacuation(ev)
			require.ErrorIs(t, err, tt.want, "got %v, want %v", err, tt.want)
			if tt.wantFields != nil {
				assert.Equal(t, tt.wantFields, fieldsOf(err), "invalid fields: got %v, want %v", fieldsOf(err), tt.wantFields)
			}
		})
	}
}

func TestPlanEvacuationExplainsEachRejection(t *testing.T) {
	// a has 16 - 4 = 12GiB free; big asks for 14GiB.
	ev := evacuationOfB(onB("big", 2, 14))
	p, err := ha.PlanEvacuation(ev)
	require.NoError(t, err)
	require.Len(t, p.NotRestarted, 1, "not restarted: got %v, want big", p.NotRestarted)
	nr := p.NotRestarted[0]
	want := []placement.Rejection{
		{HostID: idOf("a"), HostName: "a", Reason: "memory: need 14GiB, 12GiB free"},
		{HostID: idOf("b"), HostName: "b", Reason: "excluded"},
	}
	assert.Equal(t, want, nr.Rejections, "rejections: got %v, want %v", nr.Rejections, want)
	assert.Contains(t, nr.Reason, "memory: need 14GiB, 12GiB free", "reason: got %q", nr.Reason)
	require.Len(t, p.Alerts, 1, "alerts: got %v, want one", p.Alerts)
	assert.Equal(t, ha.AlertNotRestarted, p.Alerts[0].Kind, "alert: got %s", p.Alerts[0].Kind)
}

func TestPlanEvacuationUnconfirmedFence(t *testing.T) {
	tests := []struct {
		name       string
		fence      ha.FenceResult
		wantReason string
	}{
		{name: "failed", fence: ha.FenceResult{Host: idOf("b"), Outcome: ha.FenceFailed, Detail: "bmc: timeout"}, wantReason: "fence failed: bmc: timeout"},
		{name: "not configured", fence: ha.FenceResult{Host: idOf("b"), Outcome: ha.FenceNotConfigured}, wantReason: "no fencing method configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local := onB("db-1", 1, 1)
			local.LocalStorage = true
			ev := evacuationOfB(onB("web-1", 1, 1), local)
			ev.Fence = tt.fence
			p, err := ha.PlanEvacuation(ev)
			require.NoError(t, err)
			assert.Empty(t, p.Restarts, "restarts: got %v, want none", p.Restarts)
			assert.Empty(t, p.Lost, "lost: got %v, want none (the host may still run them)", p.Lost)
			want := []ha.Outcome{{Instance: idOf("db-1"), Name: "db-1", Reason: tt.wantReason}, {Instance: idOf("web-1"), Name: "web-1", Reason: tt.wantReason}}
			assert.Equal(t, want, p.Unknown, "unknown: got %v, want %v", p.Unknown, want)
			require.Len(t, p.Alerts, 1, "alerts: got %v, want one", p.Alerts)
			assert.Equal(t, ha.AlertFenceUnconfirmed, p.Alerts[0].Kind, "alert: got %s", p.Alerts[0].Kind)
			assert.Equal(t, []ovm.ID{idOf("db-1"), idOf("web-1")}, p.Alerts[0].Instances, "alert instances: got %v", names(p.Alerts[0].Instances))
		})
	}
}

func TestPlanEvacuationRestartCarriesWhatTheTargetTakes(t *testing.T) {
	web := onB("web-1", 2, 4)
	web.Group = idOf("g1")
	// Recorded on a already (restarted by an earlier plan): not b's any more.
	moved := onB("moved", 1, 1)
	moved.HostID = idOf("a")
	p, err := ha.PlanEvacuation(evacuationOfB(moved, web))
	require.NoError(t, err)
	want := []ha.Restart{{Instance: idOf("web-1"), Name: "web-1", From: idOf("b"), To: idOf("a"),
		Demand: web.Demand, Group: idOf("g1")}}
	assert.Equal(t, want, p.Restarts, "restarts: got %+v, want %+v", p.Restarts, want)
	assert.Empty(t, p.Alerts, "alerts: got %v, want none", p.Alerts)
}
