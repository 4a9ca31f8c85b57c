package cli

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
)

// TestAlertCommands: an administrator lists, shows and acknowledges the
// HA alerts; a tenant is refused.
func TestAlertCommands(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")
	ctx := t.Context()
	var hosts apitypes.Page[ovm.Host]
	require.NoError(t, json.Unmarshal([]byte(h.ok("--context", "admin", "host", "list", "-o", "json").stdout), &hosts))
	require.Len(t, hosts.Items, 1)
	host := hosts.Items[0].ID
	inst := ovm.NewID()
	raised, err := core.NewSystem(h.srv.Service).RaiseAlert(ctx, ha.Alert{Kind: ha.AlertFenceUnconfirmed, Host: host, Instances: []ovm.ID{inst},
		Message: "no fence confirmed that h1 is down"}, nil)
	require.NoError(t, err)

	// The table.
	r := h.ok("--context", "admin", "alert", "list")
	assert.Regexp(t, `ID\s+KIND\s+STATE\s+ON\s+COUNT`, r.stdout, "alert list header")
	assert.Regexp(t, string(raised.ID)+`\s+fence-unconfirmed\s+open\s+host `+string(host.Short())+`\s+1\s`, r.stdout, "alert list row")
	assert.Contains(t, r.stdout, "no fence confirmed that h1 is down")

	// JSON: the API's page.
	var page apitypes.Page[apitypes.Alert]
	require.NoError(t, json.Unmarshal([]byte(h.ok("--context", "admin", "alert", "list", "-o", "json").stdout), &page))
	require.Len(t, page.Items, 1)
	assert.Equal(t, raised.ID, page.Items[0].ID)
	assert.Equal(t, []ovm.ID{inst}, page.Items[0].InstanceIDs)

	// Show by a prefix of the id, then acknowledge.
	r = h.ok("--context", "admin", "alert", "show", string(raised.ID)[:8])
	assert.Regexp(t, `State:\s+open`, r.stdout)
	assert.Regexp(t, `Instances:\s+`+string(inst), r.stdout)
	r = h.ok("--context", "admin", "alert", "ack", string(raised.ID))
	assert.Regexp(t, `State:\s+resolved`, r.stdout)
	assert.Regexp(t, `Resolved:\s+\S+ by admin`, r.stdout)
	var acked apitypes.Alert
	require.NoError(t, json.Unmarshal([]byte(h.ok("--context", "admin", "alert", "show", string(raised.ID), "-o", "json").stdout), &acked))
	assert.False(t, acked.Open(), "the alert after ack")
	assert.Regexp(t, `fence-unconfirmed\s+resolved`, h.ok("--context", "admin", "alert", "list").stdout)

	// The tenant (current context) sees none.
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"list", []string{"alert", "list"}, "403"},
		{"show", []string{"alert", "show", string(raised.ID)}, "404"},
		{"ack", []string{"alert", "ack", string(raised.ID)}, "404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.fail(1, []string{tc.want}, tc.args...)
		})
	}
	h.fail(2, []string{"want ID"}, "--context", "admin", "alert", "show")
}
