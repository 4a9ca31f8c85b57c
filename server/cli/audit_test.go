package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/apitypes"
)

// TestAuditList: administrators list and filter the audit trail; tenants
// read their VDC's.
func TestAuditList(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme", "globex")
	h.failIn("not-the-password\n", exitError, nil, "login", h.srv.URL, "--user", "acme-admin", "--password-stdin", "--context", "wrong")

	var pg apitypes.Page[apitypes.AuditEvent]
	out := h.ok("--context", "admin", "audit", "list", "--operation", "create-datacenter", "-o", "json").stdout
	require.NoError(t, json.Unmarshal([]byte(out), &pg), out)
	require.Len(t, pg.Items, 1)
	assert.Equal(t, "admin", pg.Items[0].User)
	assert.Equal(t, "dc1", pg.Items[0].Object.Name)

	table := h.ok("--context", "admin", "audit", "list", "--outcome", "failed", "--since", "1h").stdout
	assert.Contains(t, table, "OPERATION")
	assert.Contains(t, table, "login")
	assert.Contains(t, table, "acme-admin")
	assert.Contains(t, table, "failed (401)")

	out = h.ok("--context", "acme", "audit", "list", "--limit", "0", "-o", "json").stdout
	pg = apitypes.Page[apitypes.AuditEvent]{}
	require.NoError(t, json.Unmarshal([]byte(out), &pg), out)
	require.NotEmpty(t, pg.Items)
	for _, e := range pg.Items {
		assert.NotEmpty(t, e.VDCID, "%s: a tenant reads only its VDC's events", e.Operation)
		assert.NotEqual(t, "globex-admin", e.User)
	}
	h.fail(exitError, []string{"no vdc named"}, "--context", "acme", "audit", "list", "--vdc", "globex")
	h.fail(exitUsage, []string{"--since", "neither a time"}, "--context", "admin", "audit", "list", "--since", "yesterday")
	h.fail(exitError, []string{"outcome"}, "--context", "admin", "audit", "list", "--outcome", "maybe")
	assert.True(t, strings.Contains(h.ok("--context", "admin", "audit", "list", "--user", "nobody").stdout, "TIME"), "an empty list has its header")
}
