//go:build integration

package cli_test

import (
	"context"
	"os"
	"testing"
	"time"

	ctr "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// engineEnv reads a variable of .testenv; a missing one fails the test.
func engineEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run ./scripts/testenv.sh and . ./.testenv first", name)
	}
	return v
}

// engineBootScript prints, then runs until SIGTERM.
const engineBootScript = `echo booted; trap "exit 0" TERM; while :; do sleep 1; done`

// engineDocker is a Docker client of the test's own, to make and check
// things on the engine independently of OVM.
type engineDocker struct{ c *client.Client }

func newEngineDocker(t *testing.T, host string) *engineDocker {
	t.Helper()
	c, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
	require.NoError(t, err, "docker client for %s", host)
	t.Cleanup(func() { _ = c.Close() })
	return &engineDocker{c: c}
}

// byLabel lists the containers carrying label=value.
func (d *engineDocker) byLabel(t *testing.T, label, value string) []ctr.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sums, err := d.c.ContainerList(ctx, ctr.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", label+"="+value))})
	require.NoError(t, err)
	return sums
}

// remove force-removes a container, if it is there.
func (d *engineDocker) remove(t *testing.T, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.c.ContainerRemove(ctx, id, ctr.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !client.IsErrNotFound(err) {
		t.Errorf("cleanup: remove container %s: %v", id, err)
	}
}

// removeLabelled force-removes the containers carrying label=value.
func (d *engineDocker) removeLabelled(t *testing.T, label, value string) {
	for _, s := range d.byLabel(t, label, value) {
		d.remove(t, s.ID)
	}
}

// running reports whether a container runs, by the engine's own word;
// exists is false when the engine does not know it.
func (d *engineDocker) running(t *testing.T, id string) (running, exists bool) {
	t.Helper()
	insp, err := d.c.ContainerInspect(t.Context(), id)
	if client.IsErrNotFound(err) {
		return false, false
	}
	require.NoError(t, err, "inspect %s", id)
	return insp.State.Running, true
}

// TestEnginesDockerCLI: through the ovm CLI only, an administrator
// registers the test Docker engine by its endpoint (refused with an
// unknown option or an engine that is not there), a container started
// beside OVM shows as discovered and is imported into a VDC, and a tenant
// creates a container from the local registry's image, execs into it,
// reads its console, stops, starts and deletes it; the Docker client
// checks the engine after each step and that nothing is left.
func TestEnginesDockerCLI(t *testing.T) {
	host := engineEnv(t, "DOCKER_HOST")
	image := engineEnv(t, "OVM_TEST_DOCKER_IMAGE")
	dc := newEngineDocker(t, host)
	e := newEngineCLI(t)
	e.setupAdmin()
	suffix := string(ovm.NewID().Short())

	t.Run("bad registrations", func(t *testing.T) {
		e.failIn("", 1, []string{"options.network", "unknown option"}, "--context", "admin", "host", "register", "docker-bad",
			"--kind", "docker", "--endpoint", host, "--pool", "pool1", "--option", "network=x")
		e.failIn("", 1, []string{"options.uplink"}, "--context", "admin", "host", "register", "docker-bad",
			"--kind", "docker", "--endpoint", host, "--pool", "pool1", "--option", "uplink=eth0/1")
		e.failIn("", 1, []string{"/nonexistent/docker.sock"}, "--context", "admin", "host", "register", "docker-bad",
			"--kind", "docker", "--endpoint", "unix:///nonexistent/docker.sock", "--pool", "pool1")
		assert.Empty(t, e.hosts(), "no host is recorded from a refused registration")
	})

	// A container started beside OVM, before the host is registered.
	legacyName := "ovm-cli-legacy-" + suffix
	created, err := dc.c.ContainerCreate(t.Context(), &ctr.Config{Image: image, Cmd: []string{"/bin/sh", "-c", engineBootScript}}, nil, nil, nil, legacyName)
	require.NoError(t, err, "create the unmanaged container")
	t.Cleanup(func() { dc.remove(t, created.ID) })
	require.NoError(t, dc.c.ContainerStart(t.Context(), created.ID, ctr.StartOptions{}))

	r := e.ok("--context", "admin", "host", "register", "docker1", "--kind", "docker", "--endpoint", host, "--pool", "pool1")
	assert.Regexp(t, `Kind:\s+docker`, r.stdout)
	hs := e.hosts()
	require.Len(t, hs, 1)
	assert.Equal(t, ovm.HostDocker, hs[0].Kind)
	assert.Equal(t, ovm.HostUp, hs[0].State, "host state: %s", hs[0].StateReason)
	assert.Positive(t, hs[0].Capacity.Memory, "capacity read from the engine")
	e.addTenant("acme")
	vdc := e.vdcID("acme")
	require.NotEmpty(t, vdc, "the VDC's id")
	t.Cleanup(func() { dc.removeLabelled(t, docker.LabelVDC, string(vdc)) })

	t.Run("import", func(t *testing.T) {
		d := e.sync("docker1", func(d apitypes.Discovered) bool { return d.NativeID == created.ID })
		assert.Contains(t, d.Name, legacyName)
		assert.Equal(t, ovm.PowerRunning, d.Power)
		assert.Equal(t, ovm.TypeContainer, d.Type)

		// It runs without limits: the import gives it its demand.
		r := e.ok("--context", "admin", "discovered", "import", string(d.ID), "--vdc", "acme", "--name", "legacy", "--cpu", "250m", "--memory", "64Mi")
		assert.Regexp(t, `Power:\s+running`, r.stdout, "import shows the instance")
		legacy := e.instance("acme", "legacy")
		assert.Equal(t, ovm.PhaseReady, legacy.Status.Phase)
		assert.Equal(t, ovm.PowerRunning, legacy.Status.Power)
		run, _ := dc.running(t, created.ID)
		assert.True(t, run, "the imported container still runs")
		// Managed now: the tenant execs into it.
		r = e.ok("--context", "acme", "instance", "exec", "legacy", "--", "cat", "/proc/1/cmdline")
		assert.Contains(t, r.stdout, "booted", "the imported container's command line")
		var listed apitypes.Page[apitypes.Discovered]
		e.json(&listed, "--context", "admin", "discovered", "list")
		for _, o := range listed.Items {
			assert.NotEqual(t, created.ID, o.NativeID, "an imported object is no longer discovered")
		}
	})

	t.Run("tenant container", func(t *testing.T) {
		r := e.ok("--context", "acme", "instance", "create", "--name", "web", "--image", image, "--cpu", "500m", "--memory", "64Mi",
			"--start", "--wait", "--", "/bin/sh", "-c", engineBootScript)
		assert.Contains(t, r.stdout, "ready, running", "create --wait shows the instance as it ended")
		assert.Contains(t, r.stderr, "instance.create: succeeded", "create --wait shows the task's progress")
		web := e.instance("acme", "web")
		assert.Equal(t, ovm.TypeContainer, web.Spec.Type, "a registry image makes a container")
		t.Cleanup(func() { dc.removeLabelled(t, docker.LabelID, string(web.ID)) })
		onHost := dc.byLabel(t, docker.LabelID, string(web.ID))
		require.Len(t, onHost, 1, "containers carrying the instance's id")
		native := onHost[0].ID
		run, _ := dc.running(t, native)
		assert.True(t, run, "running after create")
		assert.Equal(t, native, e.instance("admin", string(web.ID)).Status.NativeID, "the administrator sees the container's id")

		r = e.ok("--context", "acme", "instance", "exec", "web", "--", "echo", "hello")
		assert.Equal(t, "hello\n", r.stdout)
		r = e.runIn("", "--context", "acme", "instance", "exec", "web", "--", "sh", "-c", "echo err >&2; exit 3")
		assert.Equal(t, 3, r.code, "ovm exits with the command's status: %s", r)
		assert.Equal(t, "err\n", r.stderr, "the command's stderr, and no error of ovm's own")
		r = e.okIn("from-stdin\n", "--context", "acme", "instance", "exec", "web", "--stdin", "--env", "GREETING=hi", "--",
			"sh", "-c", "echo $GREETING; cat")
		assert.Equal(t, "hi\nfrom-stdin\n", r.stdout, "--env and --stdin reach the command")

		assert.Contains(t, e.ok("--context", "acme", "instance", "console", "web").stdout, "booted", "the container's output")

		r = e.ok("--context", "acme", "instance", "stop", "web", "--wait")
		assert.Contains(t, r.stdout, "stopped: ready, stopped")
		run, _ = dc.running(t, native)
		assert.False(t, run, "stopped on the engine")
		e.failIn("", 1, []string{"stopped"}, "--context", "acme", "instance", "exec", "web", "--", "true")
		r = e.ok("--context", "acme", "instance", "start", "web", "--wait")
		assert.Contains(t, r.stdout, "started: ready, running")
		run, _ = dc.running(t, native)
		assert.True(t, run, "running again on the engine")
		assert.Equal(t, "hello\n", e.ok("--context", "acme", "instance", "exec", "web", "--", "echo", "hello").stdout)

		r = e.ok("--context", "acme", "instance", "delete", "web", "legacy", "--wait")
		assert.Contains(t, r.stdout, "web")
		assert.Contains(t, r.stdout, "legacy")
		assert.Empty(t, dc.byLabel(t, docker.LabelID, string(web.ID)), "containers of web left on the engine")
		_, exists := dc.running(t, created.ID)
		assert.False(t, exists, "the imported container, deleted through OVM, is gone from the engine")
		assert.Empty(t, dc.byLabel(t, docker.LabelVDC, string(vdc)), "containers of the VDC left on the engine")
		assert.Empty(t, e.instances("acme"), "the tenant's instances after the deletes")
		e.failIn("", 1, []string{"web"}, "--context", "acme", "instance", "show", "web")
	})
}
