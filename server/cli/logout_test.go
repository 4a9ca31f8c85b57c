package cli

import (
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// savedContext returns a saved context by name.
func (h *harness) savedContext(name string) (Context, bool) {
	h.t.Helper()
	cfg, err := LoadConfig(filepath.Join(h.dir, configFile))
	require.NoError(h.t, err, "read contexts")
	return cfg.Find(name)
}

// putContext saves a context as it is, as a copy of a token would be.
func (h *harness) putContext(c Context) {
	h.t.Helper()
	path := filepath.Join(h.dir, configFile)
	cfg, err := LoadConfig(path)
	require.NoError(h.t, err, "read contexts")
	cfg.Put(c)
	require.NoError(h.t, cfg.Save(path), "save contexts")
}

func TestLogoutRevokesTheToken(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")
	// A second session of the same user, in a context of its own.
	h.okIn(tenantPassword+"\n", "login", h.srv.URL, "--user", "acme-admin", "--password-stdin", "--context", "acme-2")
	h.ok("context", "use", "acme")
	acme, ok := h.savedContext("acme")
	require.True(t, ok, "context acme after login")
	h.ok("instance", "list")

	r := h.ok("logout")
	assert.Contains(t, r.stdout, `Logged out of context "acme"`)
	assert.Empty(t, r.stderr, "a logout the server accepted warns of nothing")
	_, ok = h.savedContext("acme")
	assert.False(t, ok, "context acme after logout")

	// The context is gone: the CLI asks to log in.
	h.fail(1, []string{"not logged in", "ovm login"}, "instance", "list")
	// The server refuses the token itself: a copy of it no longer works.
	h.putContext(acme)
	h.fail(1, []string{"401"}, "--context", "acme", "instance", "list")
	h.fail(1, []string{"401"}, "--server", h.srv.URL, "--token", acme.Token, "instance", "list")
	// Logging out of the copy: the server says the token is invalid
	// already, and the context goes silently.
	r = h.ok("logout", "--context", "acme")
	assert.Empty(t, r.stderr, "logout of a token already revoked")
	_, ok = h.savedContext("acme")
	assert.False(t, ok, "the copy after its logout")

	// The user's other session and the administrator's still work.
	h.ok("--context", "acme-2", "instance", "list")
	h.ok("--context", "admin", "datacenter", "list")
}

func TestLogoutWithTheServerStoppedForgetsLocally(t *testing.T) {
	h := newHarness(t)
	backend, err := url.Parse(h.srv.URL)
	require.NoError(t, err)
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(backend))
	defer proxy.Close()
	h.okIn(h.srv.AdminPassword+"\n", "login", proxy.URL, "--user", "admin", "--password-stdin", "--context", "far")
	c, ok := h.savedContext("far")
	require.True(t, ok, "context far after login")
	h.ok("context", "show")

	proxy.Close() // the server is unreachable from now on
	r := h.ok("logout")
	assert.Contains(t, r.stdout, `Logged out of context "far"`)
	assert.Contains(t, r.stderr, "warning: could not revoke the token on "+proxy.URL)
	assert.Contains(t, r.stderr, "stays valid until it expires")
	_, ok = h.savedContext("far")
	assert.False(t, ok, "context far after logout with the server stopped")
	h.fail(1, []string{"not logged in"}, "instance", "list")

	// As the warning says, the server still accepts the token.
	h.ok("--server", h.srv.URL, "--token", c.Token, "datacenter", "list")
}
