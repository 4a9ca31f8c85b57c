//go:build integration

package docker_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// TestEnsureImage: an image on the host is not pulled again; an image its
// registry lacks is not found, with the registry's text, and leaves no
// image; a VM template is refused. (The pull of a missing image is
// TestPullDockerImage of server/api, through the create task.)
func TestEnsureImage(t *testing.T) {
	e := environment(t)
	d := connect(t, e.host)
	var puller hypervisor.ImagePuller = d

	calls := 0
	pulled, err := puller.EnsureImage(t.Context(), ovm.ContainerImage(e.image), func(int, string) { calls++ })
	require.NoError(t, err, "EnsureImage of the test image")
	assert.False(t, pulled, "the test image is on the host: no pull")
	assert.Zero(t, calls, "no progress without a pull")

	missing := e.registry + "/ovm-no-such-image-" + uniq() + ":1"
	pulled, err = puller.EnsureImage(t.Context(), ovm.ContainerImage(missing), nil)
	require.ErrorIs(t, err, ovm.ErrNotFound, "EnsureImage %s: got %v", missing, err)
	assert.False(t, pulled)
	assert.Contains(t, err.Error(), "manifest unknown", "the registry's text")
	assert.Contains(t, err.Error(), missing+" is not on the host and could not be pulled")
	_, err = d.Images().Get(t.Context(), ovm.ContainerImage(missing))
	assert.ErrorIs(t, err, ovm.ErrNotFound, "no image left after a failed pull")

	_, err = puller.EnsureImage(t.Context(), ovm.Template("debian.qcow2"), nil)
	require.ErrorIs(t, err, ovm.ErrInvalid)
	assert.Contains(t, ovm.FieldsOf(err), ovm.FieldError{Field: "spec.image.format", Reason: "a docker host runs oci images, not qcow2", Value: "qcow2"})
}
