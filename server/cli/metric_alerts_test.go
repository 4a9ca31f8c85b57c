package cli

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
)

// TestAlertRuleCommands: a tenant defines a rule on its instance, an
// administrator one on every host; after a collector round both alerts are
// listed for the administrator, the tenant's only for the tenant; deleting
// the rule clears its alert; bad flags are usage errors.
func TestAlertRuleCommands(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")
	h.ok("instance", "create", "--name", "web", "--type", "container", "--image", "busybox:1", "--cpu", "100m",
		"--memory", "16Mi", "--start", "--wait")
	r := h.ok("alert-rule", "create", "web-cpu", "--metric", "cpuPercent", "--above", "0.5", "--instance", "web")
	assert.Regexp(t, `When:\s+cpuPercent above 0.5`, r.stdout)
	h.ok("--context", "admin", "alert-rule", "create", "hosts-cpu", "--metric", "cpuPercent", "--above", "0.5", "--hosts")
	h.fail(1, []string{"422", "subject"}, "alert-rule", "create", "mine", "--metric", "cpuPercent", "--above", "1", "--hosts")
	h.fail(2, []string{"--above and --below"}, "alert-rule", "create", "x", "--metric", "cpuPercent")
	h.fail(2, []string{"number"}, "alert-rule", "create", "x", "--metric", "cpuPercent", "--below", "lots")

	sys := core.NewSystem(h.srv.Service)
	_, err := (&controllers.Collector{Platform: sys}).Round(t.Context(), nil)
	require.NoError(t, err)
	round, err := sys.EvaluateMetricAlerts(t.Context(), 0, nil)
	require.NoError(t, err)
	require.Equal(t, 2, round.Raised, "the fake container uses 1 to 4 %% of its 0.1 CPU")

	var pg apitypes.Page[apitypes.MetricAlert]
	require.NoError(t, json.Unmarshal([]byte(h.ok("--context", "admin", "metric-alert", "list", "-o", "json").stdout), &pg))
	assert.Len(t, pg.Items, 2)
	pg = apitypes.Page[apitypes.MetricAlert]{}
	require.NoError(t, json.Unmarshal([]byte(h.ok("metric-alert", "list", "-o", "json").stdout), &pg))
	alerts := pg.Items
	require.Len(t, alerts, 1, "the tenant sees its rule's alert only")
	assert.Equal(t, "web-cpu", alerts[0].RuleName)
	r = h.ok("metric-alert", "show", string(alerts[0].ID))
	assert.Regexp(t, `State:\s+open`, r.stdout)
	r = h.ok("alert-rule", "list")
	assert.Regexp(t, `web-cpu\s+\S+\s+instance \S+\s+cpuPercent above 0.5\s+0s\s+1`, r.stdout)

	h.ok("alert-rule", "delete", "web-cpu")
	r = h.ok("metric-alert", "show", string(alerts[0].ID))
	assert.Regexp(t, `Cleared:\s+\S+ \(rule-deleted\)`, r.stdout)
}
