package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
)

// TestScalingGroupCommands: a tenant creates a group from a YAML file,
// lists and shows it, reads the scaler's decisions and deletes it.
func TestScalingGroupCommands(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")
	file := filepath.Join(t.TempDir(), "group.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`name: web
spec: {type: container, cpuMilli: 100, memoryBytes: 16777216, image: {format: oci, name: "busybox:1"}}
policy:
  min: 1
  max: 3
  rules:
    - {metric: cpuPercent, direction: above, threshold: 0.5, periods: 1, step: 2}
  schedules:
    - {cron: "0 8 31 2 *", desired: 2}
`), 0o600))
	r := h.ok("scaling-group", "create", "-f", file)
	assert.Regexp(t, `Bounds:\s+1 to 3`, r.stdout)
	assert.Regexp(t, `Rule 0:\s+cpuPercent above 0.5 for 1 periods: \+2`, r.stdout)
	assert.Regexp(t, `Schedule 0:\s+"0 8 31 2 \*": desired 2`, r.stdout)

	var g apitypes.ScalingGroup
	require.NoError(t, json.Unmarshal([]byte(h.ok("scaling-group", "show", "web", "-o", "json").stdout), &g))
	sys := core.NewSystem(h.srv.Service)
	require.NoError(t, sys.ScaleGroup(t.Context(), g.ID, time.Second, nil), "the first decision makes the minimum")
	time.Sleep(1100 * time.Millisecond)
	// No metrics were collected: the rule has nothing to read, nothing fires.
	require.NoError(t, sys.ScaleGroup(t.Context(), g.ID, time.Second, nil))
	assert.Regexp(t, `web\s+[0-9a-f-]{36}\s+container\s+1\s+1\s+1\s+3\s+1\s+1`, h.ok("scaling-group", "list").stdout)
	r = h.ok("scaling-group", "decisions", "web")
	assert.Regexp(t, `^WHEN\s+KIND\s+FROM\s+TO\s+CAUSE`, r.stdout)

	r = h.ok("scaling-group", "set", "web", "--max", "2", "--desired", "2")
	assert.Regexp(t, `Desired:\s+2`, r.stdout)
	assert.Regexp(t, `Bounds:\s+1 to 2`, r.stdout)
	assert.Regexp(t, `scale-out\s+1\s+2\s+desired set to 2 by`, h.ok("scaling-group", "decisions", "web").stdout)
	h.fail(1, []string{"422", "desired"}, "scaling-group", "set", "web", "--desired", "3")
	h.fail(2, []string{"--min, --max or --desired"}, "scaling-group", "set", "web")
	r = h.ok("scaling-group", "set", "web", "--desired", "1")
	assert.Regexp(t, `Desired:\s+1`, r.stdout)

	h.fail(1, []string{"422", "policy.max"}, "scaling-group", "create", "-f", writeFile(t, `{"name": "bad", "spec": {"type": "container",
		"cpuMilli": 100, "memoryBytes": 16777216, "image": {"format": "oci", "name": "busybox:1"}}, "policy": {"min": 2, "max": 1}}`))
	h.fail(2, []string{"-f FILE is required"}, "scaling-group", "create")
	require.Eventually(t, func() bool { return h.run("scaling-group", "delete", "web").code == 0 }, 30*time.Second, 50*time.Millisecond)
	h.fail(1, []string{"no scaling group"}, "scaling-group", "show", "web")
}

// writeFile writes a temporary file and returns its path.
func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.json")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}
