//go:build integration

package api

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	ctr "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// testEnvVar reads a variable of .testenv; a missing one fails the test.
func testEnvVar(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run `make testenv` and `. ./.testenv` first", name)
	}
	return v
}

// bootCommand prints, then runs until SIGTERM.
var bootCommand = []string{"/bin/sh", "-c", `echo booted; trap "exit 0" TERM; while :; do sleep 1; done`}

// dockerClient is a Docker client of the test's own, to make and check
// things on the host independently of OVM.
func dockerClient(t testing.TB, host string) *client.Client {
	t.Helper()
	c, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
	require.NoError(t, err, "docker client for %s", host)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// labelled lists the containers that carry the OVM id.
func labelled(t *testing.T, c *client.Client, id ovm.ID) []ctr.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sums, err := c.ContainerList(ctx, ctr.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", docker.LabelID+"="+string(id)))})
	require.NoError(t, err)
	return sums
}

// removeLabelled force-removes the containers of an OVM id (cleanup).
func removeLabelled(t *testing.T, c *client.Client, id ovm.ID) {
	for _, s := range labelled(t, c, id) {
		removeDockerContainer(t, c, s.ID)
	}
}

func removeDockerContainer(t testing.TB, c *client.Client, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.ContainerRemove(ctx, id, ctr.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !client.IsErrNotFound(err) {
		t.Errorf("cleanup: remove container %s: %v", id, err)
	}
}

// running reports whether a container runs, by the engine's own word.
func running(t *testing.T, c *client.Client, id string) bool {
	t.Helper()
	insp, err := c.ContainerInspect(t.Context(), id)
	require.NoError(t, err, "inspect %s", id)
	return insp.State.Running
}

// TestWiringDocker registers the test Docker engine through the API,
// imports a container started beside OVM, and runs a tenant's container
// through create, exec, console, stop, start and delete; a create from an
// image the host lacks fails with the engine's text and leaves nothing.
func TestWiringDocker(t *testing.T) {
	host := testEnvVar(t, "DOCKER_HOST")
	image := testEnvVar(t, "OVM_TEST_DOCKER_IMAGE")
	registry := testEnvVar(t, "OVM_TEST_REGISTRY")
	dc := dockerClient(t, host)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	suffix := string(ovm.NewID().Short())

	t.Run("bad registrations", func(t *testing.T) {
		for _, tt := range []struct {
			name, endpoint string
			opts           map[string]string
			cred           map[string]string
			status         int
			field, text    string
		}{
			{"bad uplink", host, map[string]string{"uplink": "eth0/1"}, nil, http.StatusUnprocessableEntity, "body.options.uplink", "interface"},
			{"unknown option", host, map[string]string{"network": "x"}, nil, http.StatusUnprocessableEntity, "body.options.network", "unknown option"},
			{"password", host, nil, map[string]string{"password": "x"}, http.StatusUnprocessableEntity, "body.credentials.password", "password"},
			{"no engine", "unix:///nonexistent/docker.sock", nil, nil, http.StatusServiceUnavailable, "", "/nonexistent/docker.sock"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				b := map[string]any{"name": "docker-bad", "kind": "docker", "endpoint": tt.endpoint, "poolId": pl.pool}
				if tt.opts != nil {
					b["options"] = tt.opts
				}
				if tt.cred != nil {
					b["credentials"] = tt.cred
				}
				r := e.do("POST", "/v1/hosts", e.admin, b)
				require.Equal(t, tt.status, r.status, "got %s", r)
				p := problemOf(t, r)
				if tt.field != "" {
					assert.Contains(t, fieldLocations(p), tt.field)
				}
				assert.Contains(t, p.Detail+fieldMessages(p), tt.text)
			})
		}
	})

	// A container started beside OVM, before the host is registered.
	legacyName := "ovm-wiring-legacy-" + suffix
	created, err := dc.ContainerCreate(t.Context(), &ctr.Config{Image: image, Cmd: bootCommand}, nil, nil, nil, legacyName)
	require.NoError(t, err, "create the unmanaged container")
	t.Cleanup(func() { removeDockerContainer(t, dc, created.ID) })
	require.NoError(t, dc.ContainerStart(t.Context(), created.ID, ctr.StartOptions{}))

	var h ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "docker1", "kind": "docker", "endpoint": host,
		"poolId": pl.pool}).decode(t, &h)
	assert.Equal(t, ovm.HostDocker, h.Kind)
	assert.Positive(t, h.Capacity.Memory, "capacity read from the engine")
	tn := e.newTenant("acme", pl.pool, quota)

	t.Run("import", func(t *testing.T) {
		var ds []core.Discovered
		e.must(http.StatusOK, "POST", "/v1/hosts/"+string(h.ID)+"/sync", e.admin, nil).decode(t, &ds)
		var found *core.Discovered
		for i := range ds {
			if ds[i].NativeID == created.ID || ds[i].Name == legacyName {
				found = &ds[i]
			}
		}
		require.NotNil(t, found, "%s among the discovered %+v", legacyName, ds)
		assert.Equal(t, ovm.PowerRunning, found.Power)
		var inst ovm.Instance
		// It runs without limits: the import gives it its demand.
		e.must(http.StatusCreated, "POST", "/v1/discovered/"+string(found.ID)+"/import", e.admin,
			map[string]any{"vdcId": tn.vdc, "name": "legacy", "cpuMilli": 250, "memoryBytes": 64 << 20}).decode(t, &inst)
		assert.Equal(t, ovm.PowerRunning, inst.Status.Power)
		assert.True(t, running(t, dc, created.ID), "the imported container still runs")
		// Managed now: the tenant execs into it.
		var res core.ExecResult
		e.must(http.StatusOK, "POST", "/v1/instances/"+string(inst.ID)+"/exec", tn.token,
			map[string]any{"command": []string{"cat", "/proc/1/cmdline"}}).decode(t, &res)
		assert.Equal(t, 0, res.ExitCode)
		assert.Contains(t, res.Stdout, "booted", "the imported container's command line")
	})

	t.Run("tenant container", func(t *testing.T) {
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "web", "start": true,
			"spec": map[string]any{"type": "container", "cpuMilli": 500, "memoryBytes": 64 << 20,
				"image": map[string]string{"format": "oci", "name": image}, "command": bootCommand}}).decode(t, &it)
		id := it.Instance.ID
		t.Cleanup(func() { removeLabelled(t, dc, id) })
		done := e.waitTask(tn.token, it.Task.ID)
		require.Equal(t, ovm.TaskSucceeded, done.State, "create task: %+v", done)
		onHost := labelled(t, dc, id)
		require.Len(t, onHost, 1, "containers carrying the instance's id")
		native := onHost[0].ID
		assert.True(t, running(t, dc, native), "running after create")

		path := "/v1/instances/" + string(id)
		var res core.ExecResult
		e.must(http.StatusOK, "POST", path+"/exec", tn.token, map[string]any{
			"command": []string{"/bin/sh", "-c", "echo out-$GREETING; cat; echo err >&2; exit 3"},
			"env":     map[string]string{"GREETING": "hello"}, "stdin": "from-stdin\n"}).decode(t, &res)
		assert.Equal(t, core.ExecResult{ExitCode: 3, Stdout: "out-hello\nfrom-stdin\n", Stderr: "err\n"}, res)

		r := e.must(http.StatusOK, "GET", path+"/console", tn.token, nil)
		assert.Contains(t, string(r.body), "booted", "the container's output through the console")

		e.power(tn.token, id, "stop")
		assert.False(t, running(t, dc, native), "stopped on the host")
		p := problemOf(t, e.must(http.StatusConflict, "POST", path+"/exec", tn.token, map[string]any{"command": []string{"true"}}))
		assert.Contains(t, p.Detail, "stopped")
		e.power(tn.token, id, "start")
		assert.True(t, running(t, dc, native), "running again on the host")

		var del core.InstanceTask
		e.must(http.StatusAccepted, "DELETE", path, tn.token, nil).decode(t, &del)
		done = e.waitTask(tn.token, del.Task.ID)
		require.Equal(t, ovm.TaskSucceeded, done.State, "delete task: %+v", done)
		assert.Empty(t, labelled(t, dc, id), "containers left on the host")
		e.must(http.StatusNotFound, "GET", path, tn.token, nil)
	})

	t.Run("image not on the host", func(t *testing.T) {
		missing := registry + "/ovm-wiring-missing-" + suffix + ":1"
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "ghost", "start": true,
			"spec": map[string]any{"type": "container", "cpuMilli": 500, "memoryBytes": 64 << 20,
				"image": map[string]string{"format": "oci", "name": missing}, "command": bootCommand}}).decode(t, &it)
		t.Cleanup(func() { removeLabelled(t, dc, it.Instance.ID) })
		done := e.waitTask(tn.token, it.Task.ID)
		require.Contains(t, []ovm.TaskState{ovm.TaskFailed, ovm.TaskRolledBack}, done.State, "create task: %+v", done)
		var log strings.Builder
		for _, l := range done.Log {
			log.WriteString(l.Message + "\n")
		}
		assert.Contains(t, done.Error+log.String(), missing, "the task keeps the engine's text: %s / %s", done.Error, log.String())
		assert.Contains(t, done.Error+log.String(), "is not on the host")
		assert.Empty(t, labelled(t, dc, it.Instance.ID), "nothing half-made on the host")
		var inst ovm.Instance
		e.must(http.StatusOK, "GET", "/v1/instances/"+string(it.Instance.ID), tn.token, nil).decode(t, &inst)
		assert.Equal(t, ovm.PhaseFailed, inst.Status.Phase)
		assert.Contains(t, inst.Status.Message, missing)
	})
}
