//go:build integration

package docker_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// TestCommitImage commits a running container to the real registry: the
// digest is the registry's manifest's, and the host keeps no tag of it. A
// missing container is not found; a registry that does not answer is
// unavailable with the engine's text.
func TestCommitImage(t *testing.T) {
	e := environment(t)
	d := connect(t, e.host)
	var cm hypervisor.ImageCommitter = d
	spec := smallSpec(e, "commit-"+uniq())
	_, err := d.Create(t.Context(), spec)
	require.NoError(t, err)
	track(t, d, spec.ID)
	require.NoError(t, d.Start(t.Context(), hypervisor.ByID(spec.ID)))

	repo := "ovm-commit-" + strings.ToLower(uniq())
	ref := e.registry + "/" + repo + ":1"
	digest, err := cm.CommitImage(t.Context(), hypervisor.ByID(spec.ID), ref, hypervisor.RegistryAuth{})
	require.NoError(t, err, "CommitImage %s", ref)
	t.Cleanup(func() { deleteManifest(t, e.registry, repo, digest) })
	require.True(t, strings.HasPrefix(digest, "sha256:"), "digest %q", digest)
	assert.Equal(t, digest, registryDigest(t, e.registry, repo, "1"), "the registry's manifest digest")
	_, _, err = raw(t, e.host).ImageInspectWithRaw(t.Context(), ref)
	assert.True(t, client.IsErrNotFound(err), "the host keeps no tag of the committed image: %v", err)

	_, err = cm.CommitImage(t.Context(), hypervisor.ByID(ovm.NewID()), ref, hypervisor.RegistryAuth{})
	assert.ErrorIs(t, err, ovm.ErrNotFound)
	_, err = cm.CommitImage(t.Context(), hypervisor.ByID(spec.ID), "127.0.0.1:1/"+repo+":1", hypervisor.RegistryAuth{})
	require.ErrorIs(t, err, ovm.ErrUnavailable)
	assert.Contains(t, err.Error(), "connection refused", "the engine's text")
}

// registryDigest reads a tag's manifest digest from the registry's API.
func registryDigest(t *testing.T, registry, repo, tag string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodHead, "http://"+registry+"/v2/"+repo+"/manifests/"+tag, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, "HEAD manifest %s:%s", repo, tag)
	return res.Header.Get("Docker-Content-Digest")
}

// deleteManifest removes a manifest from the registry (cleanup).
func deleteManifest(t *testing.T, registry, repo, digest string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, "http://"+registry+"/v2/"+repo+"/manifests/"+digest, nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("cleanup: delete %s@%s: %v", repo, digest, err)
		return
	}
	_ = res.Body.Close()
}
