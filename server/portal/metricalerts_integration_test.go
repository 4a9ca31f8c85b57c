//go:build integration

package portal_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPortalMetricAlertsDocker: a tenant writes an alert rule in the portal
// (a bad name first: the API's message beside the field) on a busybox
// container of the real Docker engine; loading its CPU through exec
// raises the alert, which the page shows open with the values that fired
// it; stopping the load clears it. Both languages are screenshotted and
// checked by axe-core, and the page names no host.
func TestPortalMetricAlertsDocker(t *testing.T) {
	check := newViewCheck(t)
	image := testEnv(t, "OVM_TEST_DOCKER_IMAGE")
	d := newDockerTenant(t)
	s := d.s
	var it struct {
		Instance struct{ ID string }
		Task     struct{ ID string }
	}
	s.must(t, http.StatusAccepted, "POST", "/v1/instances", d.tenant, map[string]any{"name": "busy", "start": true,
		"spec": map[string]any{"type": "container", "cpuMilli": 500, "memoryBytes": 64 << 20, "image": map[string]string{"format": "oci", "name": image},
			"command": []string{"sleep", "600"}}}, &it)
	require.Eventually(t, func() bool {
		var i struct{ Status struct{ Phase, Power string } }
		s.must(t, http.StatusOK, "GET", "/v1/instances/"+it.Instance.ID, d.tenant, nil, &i)
		return i.Status.Phase == "ready" && i.Status.Power == "running"
	}, 2*time.Minute, 500*time.Millisecond, "the container runs")
	shell := func(cmd string) {
		t.Helper()
		var res struct{ ExitCode int }
		s.must(t, http.StatusOK, "POST", "/v1/instances/"+it.Instance.ID+"/exec", d.tenant, map[string]any{"command": []string{"sh", "-c", cmd}}, &res)
		require.Zero(t, res.ExitCode, cmd)
	}

	b := newBrowser(t)
	b.login(s.url, "ann", "tenant-password-1")
	b.goTo("/metric-alerts")
	submit := `form[aria-labelledby="rule-create"] button[type="submit"]`
	b.do(fill("#rule-name", "Hot CPU!"), chooseText("#rule-target", "busy"), fill("#rule-threshold", "20"), fill("#rule-for", "2"),
		click(submit), visible(`.field-error[data-field="rule-name"]`))
	assert.NotEmpty(t, b.text(`.field-error[data-field="rule-name"]`), "the API's message beside the name")
	check.accessible(b, "en alert rule form with a field error")
	b.do(fill("#rule-name", "hot-cpu"), click(submit), visible(`tr[data-name="hot-cpu"]`))
	assert.Contains(t, b.text(`tr[data-name="hot-cpu"]`), "busy")

	shell("yes > /dev/null 2>&1 & echo started")
	require.Eventually(t, func() bool {
		b.do(click(".page-head .actions button"))
		return run(b, jsValue[int](`document.querySelectorAll('tr[data-rule="hot-cpu"] .badge-open').length`)) == 1
	}, 2*time.Minute, time.Second, "the alert shows open")
	assert.NotEmpty(t, b.text(`tr[data-rule="hot-cpu"] td:nth-child(3)`), "the values that fired it")
	noneOf(t, "metric alerts", b.html(), d.secrets...)
	b.shot("tenant-metric-alerts-open-en")
	check.accessible(b, "en metric alerts")
	b.setLang("zh")
	b.do(reload(), visible(`html[lang="zh-CN"] tr[data-rule="hot-cpu"]`))
	b.shot("tenant-metric-alerts-open-zh")
	check.accessible(b, "zh metric alerts")

	shell("killall yes; echo stopped")
	require.Eventually(t, func() bool {
		b.do(click(".page-head .actions button"))
		return run(b, jsValue[int](`document.querySelectorAll('tr[data-rule="hot-cpu"] .badge-resolved').length`)) == 1
	}, 2*time.Minute, time.Second, "the alert clears")
	b.shot("tenant-metric-alerts-cleared-zh")
	for _, r := range b.responses() {
		noneOf(t, "the response of "+r.url, r.body, d.secrets...)
	}
}
