package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
)

// TestMetricsCommands: after the collector sampled, a tenant shows its
// instance's and VDC's metrics as a table and as JSON; a host's metrics
// are for administrators; bad flags are usage errors.
func TestMetricsCommands(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")
	h.ok("instance", "create", "--name", "web", "--type", "container", "--image", "busybox:1", "--cpu", "100m",
		"--memory", "16Mi", "--start", "--wait")
	col := &controllers.Collector{Platform: core.NewSystem(h.srv.Service)}
	for i := range 2 {
		if i > 0 {
			time.Sleep(1100 * time.Millisecond)
		}
		_, err := col.Round(t.Context(), nil)
		require.NoError(t, err)
	}

	r := h.ok("metrics", "instance", "web", "--since", "5m", "--step", "1s")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3, "header and one row per round: %q", r.stdout)
	assert.Regexp(t, `^TIME\s+CPU%\s+PEAK%\s+MEM\s+LIMIT\s+RX/s\s+TX/s\s+READ/s\s+WRITE/s\s+RIOPS\s+WIOPS$`, lines[0])
	assert.Regexp(t, `\s16MiB\s+-\s+-`, lines[1], "the first round has no rates")
	assert.Regexp(t, `\s16MiB\s+[0-9.]+KiB\s`, lines[2], "the second round has the rates (1500 bytes/s received)")

	var s apitypes.MetricSeries
	r = h.ok("metrics", "vdc", "acme", "--since", "5m", "--step", "5m", "--metrics", "cpuPercent,memoryLimitBytes", "-o", "json")
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &s))
	assert.Equal(t, apitypes.SubjectVDC, s.Subject)
	require.Len(t, s.Series, 2)
	require.NotEmpty(t, s.Series[1].Points)
	assert.Equal(t, float64(16<<20), s.Series[1].Points[len(s.Series[1].Points)-1].Value)

	r = h.ok("--context", "admin", "metrics", "host", "h1", "--since", "5m", "--metrics", "memoryLimitBytes")
	assert.Regexp(t, `^TIME\s+LIMIT`, r.stdout)

	h.fail(1, []string{"404"}, "metrics", "host", mustHostID(t, h))
	h.fail(1, []string{"422", "metrics[0]"}, "metrics", "instance", "web", "--metrics", "load")
	h.fail(2, []string{"--since or --from"}, "metrics", "instance", "web", "--since", "1h", "--from", "2026-01-01T00:00:00Z")
	h.fail(2, []string{"--step"}, "metrics", "instance", "web", "--step", "1500ms")
	h.fail(2, []string{"--from"}, "metrics", "instance", "web", "--from", "yesterday")
	h.fail(2, []string{"want NAME|ID"}, "metrics", "instance")
}

// mustHostID reads the id of the platform's host h1 as the administrator.
func mustHostID(t *testing.T, h *harness) string {
	t.Helper()
	var hosts apitypes.Page[struct {
		ID string `json:"id"`
	}]
	require.NoError(t, json.Unmarshal([]byte(h.ok("--context", "admin", "host", "list", "-o", "json").stdout), &hosts))
	require.Len(t, hosts.Items, 1)
	return hosts.Items[0].ID
}
