package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/backup"
)

// TestAdminBackup: ovm admin backup saves an archive that restores; a
// tenant is refused; an existing file is not overwritten.
func TestAdminBackup(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")
	file := filepath.Join(t.TempDir(), "ovm.tar.gz")
	r := h.ok("--context", "admin", "admin", "backup", file)
	assert.Contains(t, r.stdout, "Saved a backup")
	assert.Contains(t, r.stdout, "manifest.json")
	st, err := os.Stat(file)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the archive holds the secret key")
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	dest := t.TempDir()
	m, err := backup.Restore(bytes.NewReader(b), dest, filepath.Join(dest, "secret.key"))
	require.NoError(t, err)
	assert.Equal(t, "test", m.ServerVersion)
	assert.FileExists(t, filepath.Join(dest, "ovm.db"))

	h.fail(exitError, []string{"exists"}, "--context", "admin", "admin", "backup", file)
	other := filepath.Join(t.TempDir(), "tenant.tar.gz")
	h.fail(exitError, []string{"administrators"}, "--context", "acme", "admin", "backup", other)
	assert.NoFileExists(t, other)
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(other), ".*"))
	assert.Empty(t, left, "no partial file left")
}
