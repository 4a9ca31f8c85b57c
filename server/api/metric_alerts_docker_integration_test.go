//go:build integration

package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
)

// TestMetricAlertsDocker: a tenant's rule on its container's CPU and an
// administrator's rule on every host. Loading the container (yes >
// /dev/null through exec) raises both alerts once the load has lasted the
// rule's duration, with the samples that fired them; the tenant sees its
// alert, never the host's; stopping the load clears them with the value.
func TestMetricAlertsDocker(t *testing.T) {
	e, tn, dc, image, h := dockerTenant(t, quota)
	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "hot", "start": true,
		"spec": map[string]any{"type": "container", "cpuMilli": 500, "memoryBytes": 32 << 20,
			"image": map[string]string{"format": "oci", "name": image}, "command": bootCommand}}).decode(t, &it)
	inst := it.Instance.ID
	t.Cleanup(func() { removeLabelled(t, dc, inst) })
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, it.Task.ID).State)

	var rule, hostRule core.AlertRule
	e.must(http.StatusCreated, "POST", "/v1/alert-rules", tn.token, map[string]any{"name": "hot-cpu", "subject": "instance",
		"subjectId": inst, "metric": "cpuPercent", "comparison": "above", "threshold": 5, "forSeconds": 3}).decode(t, &rule)
	e.must(http.StatusCreated, "POST", "/v1/alert-rules", e.admin, map[string]any{"name": "hosts-cpu", "subject": "host",
		"metric": "cpuPercent", "comparison": "above", "threshold": 5, "forSeconds": 3}).decode(t, &hostRule)
	e.must(http.StatusUnprocessableEntity, "POST", "/v1/alert-rules", tn.token, map[string]any{"name": "mine", "subject": "host",
		"metric": "cpuPercent", "comparison": "above", "threshold": 5})
	e.must(http.StatusNotFound, "GET", "/v1/alert-rules/"+string(hostRule.ID), tn.token, nil)
	e.runControllers(controllers.Options{MetricsInterval: time.Second, SyncInterval: time.Hour, MonitorInterval: time.Hour,
		ScalerInterval: time.Hour, LeaseTTL: 5 * time.Second})

	alerts := func(token string) map[ovm.ID]core.MetricAlert {
		var pg core.Page[core.MetricAlert]
		e.must(http.StatusOK, "GET", "/v1/metric-alerts?limit=1000", token, nil).decode(t, &pg)
		out := map[ovm.ID]core.MetricAlert{}
		for _, a := range pg.Items {
			out[a.SubjectID] = a
		}
		return out
	}
	// Idle: nothing fires.
	time.Sleep(5 * time.Second)
	require.Empty(t, alerts(e.admin), "an idle container raises nothing")

	e.shell(tn, inst, "yes > /dev/null 2>&1 & echo started")
	loaded := time.Now()
	t.Cleanup(func() {
		e.do("POST", "/v1/instances/"+string(inst)+"/exec", tn.token, map[string]any{"command": []string{"killall", "yes"}})
	})
	require.Eventually(t, func() bool {
		all := alerts(e.admin)
		return all[inst].Open() && all[inst].ID != "" && all[h.ID].ID != "" && all[h.ID].Open()
	}, time.Minute, 500*time.Millisecond, "the load raises the instance's and the host's alerts")
	t.Logf("raised %s after the load started (rule: 3 s)", time.Since(loaded).Round(time.Millisecond))
	a := alerts(tn.token)
	require.Len(t, a, 1, "the tenant sees its alert, not the host's")
	fired := a[inst]
	assert.Equal(t, rule.ID, fired.RuleID)
	require.NotEmpty(t, fired.Values)
	for _, v := range fired.Values {
		assert.Greater(t, v.Value, 5.0, "every sample that fired it is above the threshold")
	}
	assert.GreaterOrEqual(t, fired.Values[len(fired.Values)-1].Time.Sub(fired.Values[0].Time), 3*time.Second,
		"the samples span the rule's duration")
	e.must(http.StatusNotFound, "GET", "/v1/metric-alerts/"+string(alerts(e.admin)[h.ID].ID), tn.token, nil)
	var r core.AlertRule
	e.must(http.StatusOK, "GET", "/v1/alert-rules/"+string(rule.ID), tn.token, nil).decode(t, &r)
	assert.Equal(t, 1, r.OpenAlerts)

	e.shell(tn, inst, "killall yes; echo stopped")
	require.Eventually(t, func() bool {
		all := alerts(e.admin)
		return !all[inst].Open() && !all[h.ID].Open()
	}, time.Minute, 500*time.Millisecond, "the alerts clear once the load stops")
	var cleared core.MetricAlert
	e.must(http.StatusOK, "GET", "/v1/metric-alerts/"+string(fired.ID), tn.token, nil).decode(t, &cleared)
	assert.Equal(t, "value", cleared.ClearedBy)
	require.NotNil(t, cleared.ClearValue)
	assert.LessOrEqual(t, *cleared.ClearValue, 5.0)
}
