//go:build integration

package api

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
)

// TestScaleOutReactionDocker measures the platform's own overhead in a
// scale-out on the real dockerd: from the loaded member's samples crossing
// the rule's threshold (and tolerance) for good to the new member running,
// minus the configured periods (2 periods of 2 s), split into the
// decision's lag and the create. Five groups
// in turn; each is deleted with its containers before the next.
func TestScaleOutReactionDocker(t *testing.T) {
	e, tn, dc, image, _ := dockerTenant(t, quota)
	const scalerInterval, periods, threshold = 2 * time.Second, 2, 5.0
	t.Cleanup(func() {
		var page core.Page[ovm.Instance]
		e.must(http.StatusOK, "GET", "/v1/instances?limit=1000", tn.token, nil).decode(t, &page)
		for _, inst := range page.Items {
			removeLabelled(t, dc, inst.ID)
		}
	})

	e.runControllers(controllers.Options{MetricsInterval: time.Second, ScalerInterval: scalerInterval,
		SyncInterval: time.Hour, MonitorInterval: time.Hour, LeaseTTL: 5 * time.Second})

	var overheads []time.Duration
	const trials = 5
	for trial := range trials {
		var g core.ScalingGroup
		e.must(http.StatusCreated, "POST", "/v1/scaling-groups", tn.token, map[string]any{"name": "react" + strconv.Itoa(trial),
			"spec": map[string]any{"type": "container", "cpuMilli": 500, "memoryBytes": 32 << 20,
				"image": map[string]string{"format": "oci", "name": image}, "command": bootCommand},
			"policy": map[string]any{"min": 1, "max": 2, "rules": []map[string]any{
				{"metric": "cpuPercent", "direction": "above", "threshold": threshold, "periods": periods, "step": 1},
			}}}).decode(t, &g)
		ms := e.waitRunning(tn, g.ID, 1, time.Minute, 100*time.Millisecond)
		require.NotNil(t, ms, "the group makes its minimum")
		first := ms[0]
		time.Sleep(3 * time.Second) // idle samples first
		loaded := time.Now().UTC().Truncate(time.Second)
		e.shell(tn, first, "yes > /dev/null 2>&1 & echo started")
		if e.waitRunning(tn, g.ID, 2, 90*time.Second, 100*time.Millisecond) == nil {
			t.Fatalf("trial %d: the loaded group does not grow: %s", trial, e.groupState(tn, g.ID, first))
		}
		running := time.Now()
		s := e.series("/v1/instances/"+string(first)+"/metrics", tn.token, url.Values{"metrics": {"cpuPercent"}, "step": {"1s"},
			"from": {loaded.Add(-time.Second).Format(time.RFC3339)}, "to": {running.UTC().Add(time.Second).Format(time.RFC3339)}})
		// The crossing is the start of the run of samples above the
		// threshold (and its tolerance) that the decision saw: the last run
		// before the scale-out.
		var ev []core.ScalingEvent
		e.must(http.StatusOK, "GET", "/v1/scaling-groups/"+string(g.ID)+"/decisions", tn.token, nil).decode(t, &ev)
		i := slices.IndexFunc(ev, func(d core.ScalingEvent) bool { return d.Kind == apitypes.ScaleOut })
		require.GreaterOrEqual(t, i, 0, "a scale-out decision: %+v", ev)
		decided := ev[i].At
		var crossed time.Time
		for _, p := range pointsOf(t, s, apitypes.MetricCPUPercent) {
			switch {
			case p.Time.After(decided):
			case p.Value <= threshold*1.1:
				crossed = time.Time{}
			case crossed.IsZero():
				crossed = p.Time
			}
		}
		require.False(t, crossed.IsZero(), "samples above the threshold before the decision: %+v", s)
		overhead := running.Sub(crossed) - periods*scalerInterval
		t.Logf("trial %d: crossed at +%s, decided at +%s, new member running at +%s: overhead %s (decision %s, create %s)", trial,
			crossed.Sub(loaded), decided.Sub(loaded).Round(time.Millisecond), running.Sub(loaded).Round(time.Millisecond),
			overhead.Round(time.Millisecond), (decided.Sub(crossed) - periods*scalerInterval).Round(time.Millisecond),
			running.Sub(decided).Round(time.Millisecond))
		if decided.Sub(crossed) > periods*scalerInterval+5*time.Second {
			t.Logf("trial %d: a late decision: decisions %+v; samples %+v", trial, ev, pointsOf(t, s, apitypes.MetricCPUPercent))
		}
		overheads = append(overheads, overhead)
		e.do("POST", "/v1/instances/"+string(first)+"/exec", tn.token, map[string]any{"command": []string{"killall", "yes"}})
		members := e.members(tn, g.ID, true)
		require.Eventually(t, func() bool {
			return e.do("DELETE", "/v1/scaling-groups/"+string(g.ID), tn.token, nil).status == http.StatusNoContent
		}, time.Minute, 500*time.Millisecond, "the group is deleted")
		require.Eventually(t, func() bool {
			for _, id := range members {
				if len(labelled(t, dc, id)) > 0 {
					return false
				}
			}
			return true
		}, time.Minute, 500*time.Millisecond, "its containers are gone")
	}
	slices.Sort(overheads)
	t.Logf("scale-out overhead beyond the configured periods (%d x %s): min %s, median %s, max %s", periods, scalerInterval,
		overheads[0].Round(time.Millisecond), overheads[trials/2].Round(time.Millisecond), overheads[trials-1].Round(time.Millisecond))
	assert.Less(t, overheads[trials/2], 3*scalerInterval+5*time.Second, "the platform's overhead: a period's wait, a sample's delay and the create")
}
