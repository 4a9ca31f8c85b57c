package backup_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/backup"
)

// fileCopier stands for a store: it copies a file.
type fileCopier struct{ from string }

func (c fileCopier) BackupTo(_ context.Context, path string) error {
	b, err := os.ReadFile(c.from)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

func take(t *testing.T) (archive []byte, src backup.Source) {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(t.TempDir(), "db")
	require.NoError(t, os.WriteFile(db, []byte("the database"), 0o600))
	key := filepath.Join(dir, "secret.key")
	require.NoError(t, os.WriteFile(key, []byte("the key"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.crt"), []byte("cert"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.key"), []byte("tls key"), 0o600))
	src = backup.Source{Store: fileCopier{from: db}, DataDir: dir, SecretKeyFile: key, ServerVersion: "1.2.3"}
	snap, err := backup.Take(t.Context(), src)
	require.NoError(t, err)
	var buf bytes.Buffer
	n, err := snap.WriteTo(&buf)
	require.NoError(t, err)
	assert.Equal(t, int64(buf.Len()), n)
	require.NoError(t, snap.Close())
	left, _ := filepath.Glob(filepath.Join(dir, ".backup-*"))
	assert.Empty(t, left, "the temporary copy is removed")
	return buf.Bytes(), src
}

func TestTakeAndRestore(t *testing.T) {
	archive, _ := take(t)
	dest := filepath.Join(t.TempDir(), "data")
	key := filepath.Join(t.TempDir(), "keys", "secret.key")
	m, err := backup.Restore(bytes.NewReader(archive), dest, key)
	require.NoError(t, err)
	assert.Equal(t, "1.2.3", m.ServerVersion)
	for path, want := range map[string]string{filepath.Join(dest, "ovm.db"): "the database", key: "the key",
		filepath.Join(dest, "tls.crt"): "cert", filepath.Join(dest, "tls.key"): "tls key"} {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, want, string(b), path)
		st, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), path)
	}
	_, err = backup.Restore(bytes.NewReader(archive), dest, filepath.Join(t.TempDir(), "k"))
	require.ErrorIs(t, err, backup.ErrNotEmpty, "a data directory with a store")
}

// build writes an archive of members (name, content), the first being the
// manifest unless it is given.
func build(t *testing.T, members ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, m := range members {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: m[0], Mode: 0o600, Size: int64(len(m[1])), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(m[1]))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func manifest(t *testing.T, format int, files map[string]int64) string {
	t.Helper()
	b, err := json.Marshal(backup.Manifest{Format: format, Files: files})
	require.NoError(t, err)
	return string(b)
}

func TestRestoreRefuses(t *testing.T) {
	good, _ := take(t)
	tests := []struct {
		name    string
		archive []byte
		want    string
	}{
		{"not gzip", []byte("plain text"), "not a backup archive"},
		{"cut short", good[:len(good)/2], "unexpected EOF"},
		{"cut at the end", good[:len(good)-4], "unexpected EOF"},
		{"no manifest", build(t, [2]string{"ovm.db", "x"}), "does not start with its manifest"},
		{"other format", build(t, [2]string{"manifest.json", manifest(t, 99, nil)}), "format 99"},
		{"unknown member", build(t, [2]string{"manifest.json", manifest(t, 1, map[string]int64{"../etc/passwd": 1})}, [2]string{"../etc/passwd", "x"}), "unexpected member"},
		{"size differs", build(t, [2]string{"manifest.json", manifest(t, 1, map[string]int64{"ovm.db": 5})}, [2]string{"ovm.db", "x"}), "the manifest says 5"},
		{"no key", build(t, [2]string{"manifest.json", manifest(t, 1, map[string]int64{"ovm.db": 1})}, [2]string{"ovm.db", "x"}), "lacks the store or the secret key"},
		{"member missing", build(t, [2]string{"manifest.json", manifest(t, 1, map[string]int64{"ovm.db": 1, "secret.key": 1})}, [2]string{"ovm.db", "x"}), "lacks secret.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := t.TempDir()
			_, err := backup.Restore(bytes.NewReader(tt.archive), dest, filepath.Join(dest, "secret.key"))
			require.ErrorContains(t, err, tt.want)
			left, _ := os.ReadDir(dest)
			assert.Empty(t, left, "a failed restore leaves nothing")
		})
	}
}

func TestTakeFails(t *testing.T) {
	_, src := take(t)
	src.SecretKeyFile = filepath.Join(t.TempDir(), "missing.key")
	_, err := backup.Take(t.Context(), src)
	require.ErrorContains(t, err, "secret key")
	left, _ := filepath.Glob(filepath.Join(src.DataDir, ".backup-*"))
	assert.Empty(t, left, "a failed backup leaves nothing")
}
