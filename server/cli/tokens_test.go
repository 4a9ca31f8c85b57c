package cli

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/core"
)

// TestTokenListPages: token list reads every page of the paged list and
// prints a page like every other list's -o json.
func TestTokenListPages(t *testing.T) {
	h := newHarness(t)
	h.okIn(h.srv.AdminPassword+"\n", "login", h.srv.URL, "--user", "admin", "--password-stdin", "--context", "admin")
	const n = 102
	for i := range n {
		h.ok("token", "create", fmt.Sprintf("t%03d", i))
	}
	var pg core.Page[core.TokenInfo]
	require.NoError(t, json.Unmarshal([]byte(h.ok("token", "list", "-o", "json").stdout), &pg), "token list -o json is a page")
	assert.Len(t, pg.Items, n+1, "every token and the login session, beyond one server page")
	assert.Empty(t, pg.Next, "the CLI read every page")
	table := h.ok("token", "list").stdout
	assert.Contains(t, table, "t000")
	assert.Contains(t, table, fmt.Sprintf("t%03d", n-1))
}
