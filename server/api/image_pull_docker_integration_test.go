//go:build integration

package api

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dimage "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// onEngine reports whether an image is on a Docker engine.
func onEngine(t *testing.T, c *client.Client, ref string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.ImageInspect(ctx, ref)
	if client.IsErrNotFound(err) {
		return false
	}
	require.NoError(t, err, "inspect image %s", ref)
	return true
}

// untagImage removes an image's tag from an engine (forced: containers of
// other tests that use it keep running).
func untagImage(t *testing.T, c *client.Client, ref string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.ImageRemove(ctx, ref, dimage.RemoveOptions{Force: true}); err != nil && !client.IsErrNotFound(err) {
		t.Errorf("remove image %s: %v", ref, err)
	}
}

// pullImage pulls an image onto an engine, outside OVM.
func pullImage(t *testing.T, c *client.Client, ref string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rc, err := c.ImagePull(ctx, ref, dimage.PullOptions{})
	if err != nil {
		t.Errorf("pull image %s: %v", ref, err)
		return
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Errorf("pull image %s: %v", ref, err)
	}
}

// TestPullDockerImage registers the second Docker engine, which lacks the
// test image, and creates a container from it through the API: the create
// task pulls the image first, with its progress in the task, and the
// container runs. A create from an image the registry does not have fails
// with the registry's text, leaves nothing on the host and gives the quota
// back.
func TestPullDockerImage(t *testing.T) {
	host := testEnvVar(t, "OVM_TEST_DOCKER_HOST2")
	image := testEnvVar(t, "OVM_TEST_DOCKER_IMAGE")
	registry := testEnvVar(t, "OVM_TEST_REGISTRY")
	dc := dockerClient(t, host)

	// The engine lacks the image; it is as it was after the test.
	had := onEngine(t, dc, image)
	untagImage(t, dc, image)
	require.False(t, onEngine(t, dc, image), "%s still on %s", image, host)
	t.Cleanup(func() {
		switch {
		case had && !onEngine(t, dc, image):
			pullImage(t, dc, image)
		case !had:
			untagImage(t, dc, image)
		}
	})

	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	var h ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "docker2", "kind": "docker", "endpoint": host,
		"poolId": pl.pool}).decode(t, &h)

	create := func(tn tenant, name, ref string) (core.InstanceTask, ovm.Task) {
		t.Helper()
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": name, "start": true,
			"spec": map[string]any{"type": "container", "cpuMilli": 500, "memoryBytes": 64 << 20,
				"image": map[string]string{"format": "oci", "name": ref}, "command": bootCommand}}).decode(t, &it)
		t.Cleanup(func() { removeLabelled(t, dc, it.Instance.ID) })
		return it, e.waitTask(tn.token, it.Task.ID)
	}
	logOf := func(task ovm.Task) string {
		var b strings.Builder
		for _, l := range task.Log {
			b.WriteString(l.Message + "\n")
		}
		return b.String()
	}

	t.Run("missing image is pulled", func(t *testing.T) {
		tn := e.newTenant("acme", pl.pool, quota)
		it, done := create(tn, "web", image)
		require.Equal(t, ovm.TaskSucceeded, done.State, "create task: %+v", done)
		require.NotEmpty(t, done.Steps)
		assert.Equal(t, "pull image", done.Steps[0].Name)
		assert.Equal(t, "create", done.Steps[1].Name)
		assert.Equal(t, 100, done.Progress)
		// The administrator reads which host pulled; the tenant does not.
		var asAdmin ovm.Task
		e.must(http.StatusOK, "GET", "/v1/tasks/"+string(done.ID), e.admin, nil).decode(t, &asAdmin)
		log := logOf(asAdmin)
		assert.Contains(t, log, "pulling image "+image+" onto host docker2", "log:\n%s", log)
		assert.Contains(t, log, "pull of image "+image+": 100%", "log:\n%s", log)
		assert.Contains(t, log, "pulled image "+image+" onto host docker2", "log:\n%s", log)
		assert.Contains(t, logOf(done), "pulled image "+image+" onto host (host)", "the tenant's log:\n%s", logOf(done))
		assert.NotContains(t, logOf(done), "docker2", "the tenant's log")
		assert.True(t, onEngine(t, dc, image), "the image is on the host")
		onHost := labelled(t, dc, it.Instance.ID)
		require.Len(t, onHost, 1, "containers carrying the instance's id")
		assert.True(t, running(t, dc, onHost[0].ID), "running after create")

		// The image is there now: a second create does not pull it.
		_, again := create(tn, "web2", image)
		require.Equal(t, ovm.TaskSucceeded, again.State, "create task: %+v", again)
		assert.Contains(t, logOf(again), "image "+image+" is already on host (host)")
		assert.NotContains(t, logOf(again), "pulling")
	})

	t.Run("image the registry lacks", func(t *testing.T) {
		tn := e.newTenant("ghosts", pl.pool, quota)
		missing := registry + "/does-not-exist:1"
		it, done := create(tn, "ghost", missing)
		require.Contains(t, []ovm.TaskState{ovm.TaskFailed, ovm.TaskRolledBack}, done.State, "create task: %+v", done)
		assert.Contains(t, done.Error, "manifest unknown", "the registry's text in the task's error")
		assert.Contains(t, done.Error, missing)
		assert.Contains(t, logOf(done), "manifest unknown", "the registry's text in the task's log")
		assert.Empty(t, labelled(t, dc, it.Instance.ID), "no container left on the host")
		assert.False(t, onEngine(t, dc, missing), "no image left on the host")

		var inst ovm.Instance
		e.must(http.StatusOK, "GET", "/v1/instances/"+string(it.Instance.ID), tn.token, nil).decode(t, &inst)
		assert.Equal(t, ovm.PhaseFailed, inst.Status.Phase)
		assert.Contains(t, inst.Status.Message, "manifest unknown")
		var v ovm.VDC
		e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc), tn.token, nil).decode(t, &v)
		assert.Equal(t, ovm.Usage{}, v.Usage, "quota given back")
	})
}
