//go:build integration

package registry_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/image/imagetest"
	"github.com/openovm/ovm/image/registry"
	"github.com/openovm/ovm/ovm"
)

func getenv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run `make testenv` and `. ./.testenv` first", name)
	}
	return v
}

// TestDockerSaveAndLoad pushes the archive the real dockerd's `docker save`
// writes to the real registry, and loads what Open returns back into the
// daemon: the image that comes back is the very image saved (same id).
func TestDockerSaveAndLoad(t *testing.T) {
	host := getenv(t, "OVM_TEST_REGISTRY")
	source := getenv(t, "OVM_TEST_DOCKER_IMAGE")
	ctx := t.Context()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(t, err, "docker client")
	t.Cleanup(func() { cli.Close() })
	orig, err := cli.ImageInspect(ctx, source)
	require.NoError(t, err, "inspecting %s", source)

	rc, err := cli.ImageSave(ctx, []string{source})
	require.NoError(t, err, "docker save %s", source)
	saved, err := io.ReadAll(rc)
	rc.Close()
	require.NoError(t, err, "reading docker save")

	r, err := registry.New(registry.Config{Host: host})
	require.NoError(t, err)
	ref := ovm.ContainerImage(host + "/ovm-imagetest-" + ovm.NewID().Short() + ":docker")
	t.Cleanup(func() {
		if err := r.Delete(context.WithoutCancel(ctx), ref); err != nil {
			t.Errorf("cleanup: Delete(%s): %v", ref, err)
		}
	})
	put, err := r.Put(ctx, ref, bytes.NewReader(saved), imagetest.Digest(saved))
	require.NoError(t, err, "Put of docker save's archive")
	assert.Equal(t, orig.Os+"/"+orig.Architecture, put.Platform, "Put: platform")

	got, err := r.Get(ctx, ref)
	require.NoError(t, err, "Get")
	assert.Equal(t, put.Digest, got.Digest, "Get: digest")
	assert.Equal(t, put.Size, got.Size, "Get: size")

	rc2, _, err := r.Open(ctx, ref)
	require.NoError(t, err, "Open")
	defer rc2.Close()
	loaded, err := cli.ImageLoad(ctx, rc2, client.ImageLoadWithQuiet(true))
	require.NoError(t, err, "docker load of Open's archive")
	_, _ = io.Copy(io.Discard, loaded.Body)
	loaded.Body.Close()
	t.Cleanup(func() {
		// Only the tag goes: the image keeps the test environment's tag.
		if _, err := cli.ImageRemove(context.WithoutCancel(ctx), ref.Name, image.RemoveOptions{}); err != nil {
			t.Errorf("cleanup: docker rmi %s: %v", ref.Name, err)
		}
	})
	back, err := cli.ImageInspect(ctx, ref.Name)
	require.NoError(t, err, "inspecting the loaded %s", ref.Name)
	assert.Equal(t, orig.ID, back.ID, "the loaded image: got id %s, want the saved image's %s", back.ID, orig.ID)
}
