package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHostSSHKey: host register and host credentials send the key of
// --ssh-key-file (with the other credentials) to the server, whose driver
// gets it.
func TestHostSSHKey(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	key1 := "-----BEGIN OPENSSH PRIVATE KEY-----\nfirst\n-----END OPENSSH PRIVATE KEY-----\n"
	key2 := "-----BEGIN OPENSSH PRIVATE KEY-----\nsecond\n-----END OPENSSH PRIVATE KEY-----\n"
	ca := "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"

	h.ok("--context", "admin", "host", "register", "h2", "--kind", "fake", "--endpoint", "fake://h2", "--pool", "pool1",
		"--username", "ovm", "--ssh-key-file", write("id1", key1), "--ca-file", write("ca.pem", ca))
	got, ok := h.srv.Credentials("fake://h2")
	require.True(t, ok, "the server connected to h2")
	assert.Equal(t, key1, got.SSHKey, "sshKey at registration")
	assert.Equal(t, "ovm", got.Username, "username at registration")
	assert.Equal(t, ca, got.CAPEM, "caPem at registration")

	r := h.ok("--context", "admin", "host", "credentials", "h2", "--username", "ovm2", "--ssh-key-file", write("id2", key2))
	assert.Contains(t, r.stdout, "h2", "the host is shown")
	assert.NotContains(t, r.stdout, "second", "the key is never shown")
	h.ok("--context", "admin", "host", "sync", "h2") // the next call reconnects
	got, _ = h.srv.Credentials("fake://h2")
	assert.Equal(t, key2, got.SSHKey, "sshKey after host credentials")
	assert.Equal(t, "ovm2", got.Username, "username after host credentials")
	assert.Empty(t, got.CAPEM, "host credentials replaces them all")

	h.fail(1, []string{"read", "missing"}, "--context", "admin", "host", "credentials", "h2", "--ssh-key-file", filepath.Join(dir, "missing"))
}
