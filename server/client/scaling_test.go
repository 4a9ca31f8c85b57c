package client_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
	"github.com/openovm/ovm/server/core"
)

// TestScalingGroups: the typed calls create, list, get and delete a
// scaling group; the scaler's first decision creates its minimum, which
// the decisions list does not show (no rule fired); bad policies are 422.
func TestScalingGroups(t *testing.T) {
	srv, _, tenant := setup(t, quota)
	ctx := t.Context()
	g, err := tenant.CreateScalingGroup(ctx, apitypes.ScalingGroupCreate{Name: "web", Spec: container("web").Spec,
		Policy: apitypes.ScalingPolicy{Min: 2, Max: 4, Schedules: []apitypes.ScalingSchedule{{Cron: "0 8 * * 1-5", Desired: 3}}}})
	require.NoError(t, err)
	assert.Equal(t, 2, g.Desired)
	require.NoError(t, core.NewSystem(srv.Service).ScaleGroup(ctx, g.ID, 15*time.Second, nil))
	got, err := tenant.GetScalingGroup(ctx, g.ID)
	require.NoError(t, err)
	assert.Len(t, got.Members, 2, "the scaler made the minimum")
	list, err := tenant.ListScalingGroups(ctx, client.ListOptions{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	ev, err := tenant.ScalingDecisions(ctx, g.ID)
	require.NoError(t, err)
	assert.Empty(t, ev)

	for _, tt := range []struct {
		name   string
		policy apitypes.ScalingPolicy
		fields []string
	}{
		{"max below min", apitypes.ScalingPolicy{Min: 3, Max: 1}, []string{"policy.max"}},
		{"unknown metric and direction", apitypes.ScalingPolicy{Min: 1, Max: 2,
			Rules: []apitypes.ScalingRule{{Metric: "load", Direction: "up", Threshold: 1, Periods: 1, Step: 1}}},
			[]string{"policy.rules[0].metric", "policy.rules[0].direction"}},
		{"bad rule and schedule", apitypes.ScalingPolicy{Min: 1, Max: 2,
			Rules:     []apitypes.ScalingRule{{Metric: apitypes.MetricCPUPercent, Direction: apitypes.ScaleAbove, Threshold: -1, Periods: 0, Step: 0}},
			Schedules: []apitypes.ScalingSchedule{{Cron: "at noon", Desired: 9}}},
			[]string{"policy.rules[0].threshold", "policy.rules[0].periods", "policy.rules[0].step", "policy.schedules[0].cron", "policy.schedules[0].desired"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tenant.CreateScalingGroup(ctx, apitypes.ScalingGroupCreate{Name: "bad", Spec: container("bad").Spec, Policy: tt.policy})
			assert.Equal(t, 422, client.StatusOf(err), "%v", err)
			for _, field := range tt.fields {
				assert.Contains(t, err.Error(), field)
			}
		})
	}

	// Members still being created: the delete waits for them.
	err = tenant.DeleteScalingGroup(ctx, g.ID)
	if err != nil {
		assert.Equal(t, 409, client.StatusOf(err), "%v", err)
		require.Eventually(t, func() bool { return tenant.DeleteScalingGroup(ctx, g.ID) == nil }, 30*time.Second, 20*time.Millisecond)
	}
	_, err = tenant.GetScalingGroup(ctx, g.ID)
	assert.Equal(t, 404, client.StatusOf(err))
	for _, id := range got.Members {
		inst, err := tenant.GetInstance(ctx, id)
		if err == nil {
			assert.Equal(t, ovm.PhaseDeleting, inst.Status.Phase, "the members are deleted with the group")
		}
	}
}
