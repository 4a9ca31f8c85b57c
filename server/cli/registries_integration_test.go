//go:build integration

package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// TestRegistryCommands drives every registry command against the real
// registry of the test environment: an administrator registers it, a
// tenant pushes an archive into its namespace, browses and deletes it.
func TestRegistryCommands(t *testing.T) {
	address := os.Getenv("OVM_TEST_REGISTRY")
	require.NotEmpty(t, address, "OVM_TEST_REGISTRY is not set: . ./.testenv first")
	h := newHarness(t)
	h.setupPlatform("acme")

	img, err := random.Image(2048, 1)
	require.NoError(t, err)
	tag, err := name.NewTag("ovm.test/cli:1")
	require.NoError(t, err)
	archive := filepath.Join(t.TempDir(), "image.tar")
	require.NoError(t, tarball.WriteToFile(archive, tag, img))

	h.ok("--context", "admin", "registry", "add", "local", "--address", address)
	out := h.ok("registry", "list").stdout
	assert.Contains(t, out, address)
	assert.Contains(t, h.ok("registry", "show", "local").stdout, "Default")

	repo := "cli-" + strings.ToLower(ovm.NewID().Short())
	var pushed apitypes.Image
	require.NoError(t, json.Unmarshal([]byte(h.ok("-o", "json", "registry", "push", archive, "--repository", repo, "--tag", "1").stdout), &pushed))
	full := strings.TrimPrefix(strings.TrimSuffix(pushed.Name, ":1"), address+"/")
	require.True(t, strings.HasPrefix(full, "vdc-"), "the tenant's image is in its namespace: %s", pushed.Name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ref, err := name.NewTag(pushed.Name)
		require.NoError(t, err)
		if d, err := remote.Head(ref, remote.WithContext(ctx)); err == nil {
			_ = remote.Delete(ref.Context().Digest(d.Digest.String()), remote.WithContext(ctx))
		}
	})
	assert.Contains(t, h.ok("registry", "repos", "local").stdout, full)
	assert.Contains(t, h.ok("registry", "tags", "local", full).stdout, pushed.Digest)
	assert.Contains(t, h.ok("registry", "images", "local").stdout, pushed.Name)
	h.ok("registry", "delete-tag", "local", repo, "1")
	assert.NotContains(t, h.ok("registry", "tags", "local", full).stdout, pushed.Digest)

	h.fail(2, []string{"--repository and --tag are required"}, "registry", "push", archive, "--repository", repo)
	h.fail(2, []string{"--repository and --tag are required"}, "instance", "commit", "web")
	h.fail(2, []string{"nothing to change"}, "--context", "admin", "registry", "set", "local")
	assert.Contains(t, h.ok("--context", "admin", "registry", "set", "local", "--insecure=true").stdout, "Insecure")
	h.ok("--context", "admin", "registry", "delete", "local")
	assert.NotContains(t, h.ok("registry", "list").stdout, address)
}
