package secrets_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/secrets"
)

func TestSealOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "key")
	key, err := secrets.LoadOrCreateKey(path)
	require.NoError(t, err)
	again, err := secrets.LoadOrCreateKey(path)
	require.NoError(t, err)
	assert.Equal(t, key, again, "second load reads the same key")
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	box, err := secrets.New(key)
	require.NoError(t, err)
	sealed, err := box.Seal([]byte("s3cret"), []byte("host-1"))
	require.NoError(t, err)
	assert.NotContains(t, string(sealed), "s3cret")
	got, err := box.Open(sealed, []byte("host-1"))
	require.NoError(t, err)
	assert.Equal(t, "s3cret", string(got))

	_, err = box.Open(sealed, []byte("host-2"))
	assert.Error(t, err, "moved to another owner")
	sealed[len(sealed)-1] ^= 1
	_, err = box.Open(sealed, []byte("host-1"))
	assert.Error(t, err, "tampered")
	_, err = box.Open([]byte("x"), nil)
	assert.Error(t, err)

	other, err := secrets.New(make([]byte, secrets.KeySize))
	require.NoError(t, err)
	s2, err := box.Seal([]byte("x"), nil)
	require.NoError(t, err)
	_, err = other.Open(s2, nil)
	assert.Error(t, err, "wrong key")
}

func TestBadKeys(t *testing.T) {
	_, err := secrets.New([]byte("short"))
	assert.Error(t, err)
	path := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(path, []byte("not base64!"), 0o600))
	_, err = secrets.LoadOrCreateKey(path)
	assert.Error(t, err)
}
