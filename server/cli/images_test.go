package cli

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
)

// TestImageCommands: a tenant uploads a template file (the record from its
// size and digest), a cut upload is resumed by running upload again, the
// image is listed, shown, changed, downloaded byte for byte and deleted.
func TestImageCommands(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")
	dir := t.TempDir()
	data := make([]byte, 300000)
	_, _ = rand.Read(data)
	file := filepath.Join(dir, "base.raw")
	require.NoError(t, os.WriteFile(file, data, 0o644))

	r := h.ok("image", "upload", file, "--os-type", "linux")
	assert.Contains(t, r.stdout, "ready")
	var imgs apitypes.Page[apitypes.Image]
	require.NoError(t, json.Unmarshal([]byte(h.ok("image", "list", "-o", "json").stdout), &imgs))
	require.Len(t, imgs.Items, 1)
	img := imgs.Items[0]
	assert.Equal(t, "base.raw", img.Name)
	assert.Equal(t, ovm.FormatRaw, img.Format)
	assert.Equal(t, "linux", img.OSType)
	assert.Contains(t, h.ok("image", "show", "base.raw").stdout, img.Digest)

	h.ok("image", "set", "base.raw", "--os-type", "windows")
	var got apitypes.Image
	require.NoError(t, json.Unmarshal([]byte(h.ok("image", "show", "base.raw", "-o", "json").stdout), &got))
	assert.Equal(t, "windows", got.OSType)
	h.fail(2, []string{"--os-type"}, "image", "set", "base.raw")

	out := filepath.Join(dir, "copy.raw")
	h.ok("image", "download", "base.raw", out)
	back, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, data, back, "the download is the uploaded file")

	// A cut upload: the record and part of the bytes are there; upload
	// again resumes from the bytes the server has.
	second := filepath.Join(dir, "second.raw")
	require.NoError(t, os.WriteFile(second, data[:200000], 0o644))
	size, digest, err := fileDigest(second)
	require.NoError(t, err)
	h.ok("image", "create", "second.raw", "--size", "200000", "--digest", digest)
	var part apitypes.Image
	require.NoError(t, json.Unmarshal([]byte(h.ok("image", "show", "second.raw", "-o", "json").stdout), &part))
	ctxs, err := LoadConfig(filepath.Join(h.dir, configFile))
	require.NoError(t, err)
	acme, _ := ctxs.Find("acme")
	cl, err := client.New(acme.Server, acme.Token, nil)
	require.NoError(t, err)
	_, err = cl.UploadImage(t.Context(), part.ID, 0, 50000, int64(size), bytes.NewReader(data[:50000]))
	require.NoError(t, err)
	r = h.ok("image", "upload", second)
	assert.Contains(t, r.stderr, "Resuming the upload of second.raw at 50000")
	require.NoError(t, json.Unmarshal([]byte(h.ok("image", "show", "second.raw", "-o", "json").stdout), &part))
	assert.Equal(t, apitypes.ImageReady, part.Phase)

	h.fail(1, []string{"no storage pool named"}, "--context", "admin", "image", "import", "--pool", "none", "--path", "x.raw")
	h.fail(1, []string{"403"}, "image", "import", "--pool", "00000000-0000-4000-8000-000000000000", "--path", "x.raw")
	h.ok("image", "delete", "base.raw")
	h.ok("image", "delete", "second.raw")
	require.NoError(t, json.Unmarshal([]byte(h.ok("image", "list", "-o", "json").stdout), &imgs))
	assert.Empty(t, imgs.Items)
}
