//go:build integration

package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
)

// TestScalingQuotaDocker: a group on the real dockerd whose rule fires at
// once, in a VDC whose quota allows one instance: the scale-out is refused
// and recorded as one event with the quota's words; nothing else happens
// (no second container, no instance record, no task, no retry in a loop).
func TestScalingQuotaDocker(t *testing.T) {
	q := quota
	q.Instances = 1
	e, tn, dc, image, _ := dockerTenant(t, q)

	var g core.ScalingGroup
	e.must(http.StatusCreated, "POST", "/v1/scaling-groups", tn.token, map[string]any{"name": "capped",
		"spec": map[string]any{"type": "container", "cpuMilli": 100, "memoryBytes": 16 << 20,
			"image": map[string]string{"format": "oci", "name": image}, "command": bootCommand},
		"policy": map[string]any{"min": 1, "max": 3, "rules": []map[string]any{
			{"metric": "memoryUsedBytes", "direction": "above", "threshold": 1, "periods": 1, "step": 1},
		}}}).decode(t, &g)
	t.Cleanup(func() {
		for _, id := range e.members(tn, g.ID, true) {
			removeLabelled(t, dc, id)
		}
	})
	e.runControllers(controllers.Options{MetricsInterval: time.Second, ScalerInterval: 2 * time.Second,
		SyncInterval: time.Hour, MonitorInterval: time.Hour, LeaseTTL: 5 * time.Second})

	events := func() []core.ScalingEvent {
		var ev []core.ScalingEvent
		e.must(http.StatusOK, "GET", "/v1/scaling-groups/"+string(g.ID)+"/decisions", tn.token, nil).decode(t, &ev)
		return ev
	}
	refusals := func() []core.ScalingEvent {
		var out []core.ScalingEvent
		for _, d := range events() {
			if d.Kind == apitypes.ScaleRefused {
				out = append(out, d)
			}
		}
		return out
	}
	require.Eventually(t, func() bool { return len(refusals()) > 0 }, 90*time.Second, 500*time.Millisecond,
		"the rule's scale-out is refused by the quota")
	time.Sleep(8 * time.Second) // four more decisions: none tries again
	ref := refusals()
	require.Len(t, ref, 1, "one refusal, not retried in a loop: %+v", events())
	assert.Contains(t, ref[0].Error, "quota")
	assert.Equal(t, [2]int{2, 1}, [2]int{ref[0].From, ref[0].To}, "the desired count goes back to the one member")

	var got core.ScalingGroup
	e.must(http.StatusOK, "GET", "/v1/scaling-groups/"+string(g.ID), tn.token, nil).decode(t, &got)
	assert.Equal(t, 1, got.Desired)
	require.Len(t, got.Members, 1)
	assert.True(t, e.running(tn, got.Members[0]))
	var insts core.Page[ovm.Instance]
	e.must(http.StatusOK, "GET", "/v1/instances?limit=1000", tn.token, nil).decode(t, &insts)
	assert.Len(t, insts.Items, 1, "no instance record beyond the member")
	var tasks core.Page[ovm.Task]
	e.must(http.StatusOK, "GET", "/v1/tasks?limit=1000", tn.token, nil).decode(t, &tasks)
	assert.Len(t, tasks.Items, 1, "one task: the member's create")
	assert.Len(t, labelledAll(t, e, dc, tn, g.ID), 1, "one container on the engine")
}
