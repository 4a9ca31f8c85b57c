package cli

import (
	"bytes"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/client/clienttest"
)

// TestLoginPinsFingerprint: ovm login to an https:// server whose
// certificate the system does not trust shows its fingerprint and, once
// accepted, pins it in the context; later commands trust exactly it.
func TestLoginPinsFingerprint(t *testing.T) {
	h := &harness{t: t, srv: clienttest.StartWith(t, clienttest.Options{TLS: true}), dir: t.TempDir()}
	fp := h.srv.Fingerprint
	require.True(t, strings.HasPrefix(h.srv.URL, "https://"))
	pw := h.srv.AdminPassword + "\n"

	r := h.failIn(pw, exitError, []string{fp, "--accept-fingerprint=" + fp}, "login", h.srv.URL, "--user", "admin", "--password-stdin")
	assert.NotContains(t, r.stderr, "Logged in")
	cfg, err := LoadConfig(filepath.Join(h.dir, configFile))
	require.NoError(t, err)
	assert.Empty(t, cfg.Contexts, "nothing saved without acceptance")

	h.failIn(pw, exitError, []string{"not the " + strings.Repeat("ab", 32)},
		"login", h.srv.URL, "--user", "admin", "--password-stdin", "--accept-fingerprint="+strings.Repeat("AB:", 31)+"AB")
	h.failIn(pw, exitUsage, []string{"64 hex digits"}, "login", h.srv.URL, "--user", "admin", "--password-stdin", "--accept-fingerprint=abc")

	r = h.okIn(pw, "login", h.srv.URL, "--user", "admin", "--password-stdin", "--accept-fingerprint="+strings.ToUpper(fp), "--context", "pinned")
	assert.Contains(t, r.stderr, fp, "the fingerprint is shown")
	h.okIn(pw, "login", h.srv.URL, "--user", "admin", "--password-stdin", "--accept-fingerprint", "--context", "blind")
	cfg, err = LoadConfig(filepath.Join(h.dir, configFile))
	require.NoError(t, err)
	for _, name := range []string{"pinned", "blind"} {
		c, ok := cfg.Find(name)
		require.True(t, ok, name)
		assert.Equal(t, fp, c.Fingerprint, "context %s pins the fingerprint", name)
	}
	r = h.okIn(pw, "login", h.srv.URL, "--user", "admin", "--password-stdin", "--context", "again")
	assert.NotContains(t, r.stderr, "not trusted", "a fingerprint a context pinned is trusted again")
	h.ok("--context", "pinned", "datacenter", "create", "dc1")
	assert.Contains(t, h.ok("--context", "pinned", "datacenter", "list").stdout, "dc1")

	// A server that shows another certificate under the pinned name is
	// refused.
	c, _ := cfg.Find("pinned")
	c.Fingerprint = strings.Repeat("cd", 32)
	cfg.Put(c)
	require.NoError(t, cfg.Save(filepath.Join(h.dir, configFile)))
	h.fail(exitError, []string{"does not match the pinned fingerprint"}, "--context", "pinned", "datacenter", "list")
	h.ok("--context", "blind", "logout")
}

// TestLoginWithCAFile: a server verified by the CA in --ca-file needs no
// pin; the context keeps the CA file.
func TestLoginWithCAFile(t *testing.T) {
	h := &harness{t: t, srv: clienttest.StartWith(t, clienttest.Options{TLS: true}), dir: t.TempDir()}
	// httptest's certificate is its own CA.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, h.srv.CertPEM, 0o600))
	r := h.okIn(h.srv.AdminPassword+"\n", "login", h.srv.URL, "--user", "admin", "--password-stdin", "--ca-file", ca)
	assert.NotContains(t, r.stderr, "not trusted")
	cfg, err := LoadConfig(filepath.Join(h.dir, configFile))
	require.NoError(t, err)
	c, ok := cfg.Find(cfg.Current)
	require.True(t, ok)
	assert.Empty(t, c.Fingerprint, "nothing pinned")
	assert.Equal(t, ca, c.CAFile)
	h.ok("datacenter", "list")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "NOTHING", Bytes: []byte("x")}), 0o600))
	h.fail(exitError, []string{"no PEM certificate"}, "datacenter", "list")
}

// TestTrustFromEnvironment: OVM_SERVER and OVM_TOKEN without a context
// trust the server by OVM_FINGERPRINT or OVM_CA_FILE.
func TestTrustFromEnvironment(t *testing.T) {
	h := &harness{t: t, srv: clienttest.StartWith(t, clienttest.Options{TLS: true}), dir: t.TempDir()}
	h.okIn(h.srv.AdminPassword+"\n", "login", h.srv.URL, "--user", "admin", "--password-stdin", "--accept-fingerprint")
	cfg, err := LoadConfig(filepath.Join(h.dir, configFile))
	require.NoError(t, err)
	c, _ := cfg.Find(cfg.Current)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, h.srv.CertPEM, 0o600))
	run := func(env map[string]string) result {
		var out, errb bytes.Buffer
		code := Run(t.Context(), []string{"datacenter", "list"}, Env{Stdout: &out, Stderr: &errb, ConfigDir: t.TempDir(),
			Getenv: func(k string) string { return env[k] }})
		return result{code: code, stdout: out.String(), stderr: errb.String()}
	}
	base := map[string]string{"OVM_SERVER": h.srv.URL, "OVM_TOKEN": c.Token}
	r := run(base)
	assert.Equal(t, exitError, r.code, "no trust: %s", r)
	assert.Contains(t, r.stderr, "certificate")
	for name, extra := range map[string]map[string]string{"fingerprint": {"OVM_FINGERPRINT": h.srv.Fingerprint}, "ca": {"OVM_CA_FILE": ca}} {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		r := run(env)
		assert.Equal(t, exitOK, r.code, "%s: %s", name, r)
	}
	r = run(map[string]string{"OVM_SERVER": h.srv.URL, "OVM_TOKEN": c.Token, "OVM_FINGERPRINT": "nope"})
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "64 hex digits")
}
