package cli

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// TestUpdateCommands: datacenter update, pool create --scope, pool update
// and user role send the API's changes; what no flag names stays.
func TestUpdateCommands(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")
	asJSON := func(v any, args ...string) {
		t.Helper()
		r := h.ok(append(args, "-o", "json")...)
		require.NoError(t, json.Unmarshal([]byte(r.stdout), v), r.stdout)
	}
	var dc ovm.Datacenter
	asJSON(&dc, "--context", "admin", "datacenter", "update", "dc1", "--description", "second site")
	assert.Equal(t, "second site", dc.Description)
	h.fail(2, []string{"--description is required"}, "--context", "admin", "datacenter", "update", "dc1")

	var host ovm.Host
	asJSON(&host, "--context", "admin", "host", "show", "h1")
	var pool ovm.ResourcePool
	asJSON(&pool, "--context", "admin", "pool", "create", "pool2", "--datacenter", "dc1", "--scope", "hosts:h1")
	assert.Equal(t, ovm.Scope{Kind: ovm.ScopeHosts, HostIDs: []ovm.ID{host.ID}}, pool.Scope, "pool create --scope")

	asJSON(&pool, "--context", "admin", "pool", "update", "pool2", "--policy", "progressive", "--ha", "on", "--memory-overcommit", "1.5")
	assert.Equal(t, ovm.PolicyProgressive, pool.Policy)
	assert.True(t, pool.HAEnabled)
	assert.Equal(t, ovm.Overcommit{Memory: 1.5}, pool.Overcommit)
	assert.Equal(t, ovm.ScopeHosts, pool.Scope.Kind, "the scope stays")
	pool = ovm.ResourcePool{}
	asJSON(&pool, "--context", "admin", "pool", "update", "pool2", "--cpu-overcommit", "2", "--scope", "datacenter:dc1")
	assert.Equal(t, ovm.Overcommit{CPU: 2, Memory: 1.5}, pool.Overcommit, "the other ratios stay")
	assert.Equal(t, ovm.Scope{Kind: ovm.ScopeDatacenter, DatacenterID: dc.ID}, pool.Scope)
	assert.Equal(t, ovm.PolicyProgressive, pool.Policy, "the policy stays")
	h.fail(2, []string{"nothing to change"}, "--context", "admin", "pool", "update", "pool2")
	h.fail(2, []string{"--scope", "datacenter, pool or hosts"}, "--context", "admin", "pool", "update", "pool2", "--scope", "rack:r1")

	h.okIn(tenantPassword+"\n", "--context", "admin", "user", "create", "bob", "--role", "vdc-member", "--vdc", "acme", "--password-stdin")
	var u apitypes.User
	asJSON(&u, "--context", "admin", "user", "role", "bob", "vdc-admin")
	assert.Equal(t, apitypes.RoleVDCAdmin, u.Role)
	h.fail(1, []string{"role"}, "--context", "admin", "user", "role", "bob", "root")
}

// TestInstanceLabel: instance label sets and removes labels at once and
// keeps the others.
func TestInstanceLabel(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")
	h.ok("instance", "create", "--name", "web", "--image", "busybox:1", "--cpu", "100m", "--memory", "16Mi", "--label", "tier=web", "--label", "team=a", "--wait")
	r := h.ok("instance", "label", "web", "env=prod", "team=b", "--remove", "tier")
	assert.Contains(t, r.stdout, "labelled")
	var i ovm.Instance
	r = h.ok("instance", "show", "web", "-o", "json")
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &i), r.stdout)
	assert.Equal(t, map[string]string{"env": "prod", "team": "b"}, i.Spec.Labels)
	h.fail(2, []string{"nothing to change"}, "instance", "label", "web")
	h.fail(2, []string{"KEY=VALUE"}, "instance", "label", "web", "novalue")
}
