package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
)

// TestTenantFlow drives the CLI as an administrator and a tenant would:
// a refused and an accepted login, the saved contexts, the platform set
// up, then a network and an instance created, listed, stopped, started,
// reached from another tenant (not found) and deleted.
func TestTenantFlow(t *testing.T) {
	h := newHarness(t)

	r := h.runIn("wrong-password\n", "login", h.srv.URL, "--user", "admin", "--password-stdin")
	assert.Equal(t, 1, r.code, "login with a wrong password: %s", r)
	assert.Contains(t, r.stderr, "log in to "+h.srv.URL+" as admin", "the error says what failed")
	assert.Contains(t, r.stderr, "401", "the error carries the status")
	_, err := os.Stat(filepath.Join(h.dir, configFile))
	assert.True(t, os.IsNotExist(err), "a refused login saves no context: stat err %v", err)

	h.setupPlatform("acme", "other")
	st, err := os.Stat(filepath.Join(h.dir, configFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "contexts.yaml holds tokens")
	cfg, err := LoadConfig(filepath.Join(h.dir, configFile))
	require.NoError(t, err)
	assert.Equal(t, "other", cfg.Current, "the last login is current")
	require.Len(t, cfg.Contexts, 3, "contexts: %+v", cfg.Contexts)
	for _, c := range cfg.Contexts {
		assert.Equal(t, h.srv.URL, c.Server, "server of context %s", c.Name)
		assert.NotEmpty(t, c.Token, "token of context %s", c.Name)
	}
	h.ok("context", "use", "acme")
	assert.Contains(t, h.ok("context", "show").stdout, "acme-admin", "context show names the user")
	list := h.ok("context", "list").stdout
	assert.Regexp(t, `\*\s+acme\s`, list, "context list marks the current one")

	// The administrator's views.
	hosts := h.ok("--context", "admin", "host", "list").stdout
	assert.Contains(t, hosts, "h1")
	assert.Contains(t, hosts, "up")
	var vdcs apitypes.Page[ovm.VDC]
	require.NoError(t, json.Unmarshal([]byte(h.ok("--context", "admin", "vdc", "list", "-o", "json").stdout), &vdcs))
	assert.Len(t, vdcs.Items, 2, "vdcs")

	// The tenant creates a network and an instance, and waits for it.
	h.ok("network", "create", "net1", "--subnet", "10.1.0.0/24", "--gateway", "10.1.0.1", "--vlan", "10")
	r = h.ok("instance", "create", "--name", "web", "--type", "container", "--image", "busybox:1", "--cpu", "100m",
		"--memory", "16Mi", "--network", "net1", "--start", "--wait")
	assert.Contains(t, r.stdout, "ready, running, 10.1.0.2", "create --wait shows the instance as it ended")
	assert.Contains(t, r.stderr, "instance.create: succeeded 100%", "create --wait shows the task's progress")

	table := h.ok("instance", "list").stdout
	lines := strings.Split(strings.TrimSpace(table), "\n")
	require.Len(t, lines, 2, "header and one instance: %q", table)
	assert.Regexp(t, `^NAME\s+ID\s+TYPE\s+PHASE\s+POWER`, lines[0])
	assert.Regexp(t, `^web\s+[0-9a-f-]{36}\s+container\s+ready\s+running\s+0.1\s+16MiB\s+10.1.0.2`, lines[1])
	assert.NotContains(t, table, "HOST", "tenants see no host column")

	var pg apitypes.Page[ovm.Instance]
	require.NoError(t, json.Unmarshal([]byte(h.ok("instance", "list", "-o", "json").stdout), &pg))
	require.Len(t, pg.Items, 1)
	web := pg.Items[0]
	assert.Equal(t, "web", web.Name)
	assert.Equal(t, ovm.PowerRunning, web.Status.Power)
	assert.Empty(t, web.Status.HostID, "tenants never see the host")

	// The same instance as JSON by name, and as YAML by id.
	var shown ovm.Instance
	require.NoError(t, json.Unmarshal([]byte(h.ok("instance", "show", "web", "-o", "json").stdout), &shown))
	assert.Equal(t, web.ID, shown.ID)
	assert.Contains(t, h.ok("-o", "yaml", "instance", "show", string(web.ID)).stdout, "name: web")
	// -o json is the API's own JSON.
	ctxs, err := LoadConfig(filepath.Join(h.dir, configFile))
	require.NoError(t, err)
	acme, _ := ctxs.Find("acme")
	cl, err := client.New(acme.Server, acme.Token, nil)
	require.NoError(t, err)
	raw, err := cl.Do(t.Context(), client.Request{Method: "GET", Path: "/v1/instances/" + string(web.ID)}, nil)
	require.NoError(t, err)
	assert.JSONEq(t, string(raw.Body), h.ok("instance", "show", "web", "-o", "json").stdout, "instance show -o json")

	power := func(action string, want ovm.PowerState) {
		t.Helper()
		h.ok("instance", action, "web", "--wait")
		var got ovm.Instance
		require.NoError(t, json.Unmarshal([]byte(h.ok("instance", "show", "web", "-o", "json").stdout), &got))
		assert.Equal(t, want, got.Status.Power, "power after %s", action)
	}
	power("stop", ovm.PowerStopped)
	power("start", ovm.PowerRunning)

	// exec runs in the container; its exit status is ovm's.
	r = h.ok("instance", "exec", "web", "--", "echo", "hello", "world")
	assert.Equal(t, "hello world\n", r.stdout, "exec output")
	assert.Equal(t, 1, h.run("instance", "exec", "web", "--", "false").code, "exec of false exits 1")

	// Another tenant cannot see it, by id or by name.
	h.fail(1, []string{"not found"}, "--context", "other", "instance", "show", string(web.ID))
	h.fail(1, []string{`no instance named "web"`}, "--context", "other", "instance", "delete", "web")

	// The VDC's usage shows the instance and the network.
	usage := h.ok("vdc", "show", "acme").stdout
	assert.Regexp(t, `instances\s+1\s+50`, usage)
	assert.Regexp(t, `networks\s+1\s+5`, usage)

	h.ok("instance", "delete", "web", "--wait")
	require.NoError(t, json.Unmarshal([]byte(h.ok("instance", "list", "-o", "json").stdout), &pg))
	assert.Empty(t, pg.Items, "instances after delete")
	h.ok("network", "delete", "net1")

	h.ok("logout")
	h.fail(1, []string{"not logged in"}, "instance", "list")
}
