//go:build integration

package docker_test

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/ovm"
)

// testEnv is what `make testenv` started, from the environment.
type testEnv struct {
	host, host2, registry, image, shared string
}

// environment reads the test environment; a missing variable fails the
// test (run `make testenv` and `. ./.testenv`).
func environment(t testing.TB) testEnv {
	t.Helper()
	get := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			t.Fatalf("%s is not set: run `make testenv` and `. ./.testenv` first", name)
		}
		return v
	}
	return testEnv{
		host:     get("DOCKER_HOST"),
		host2:    get("OVM_TEST_DOCKER_HOST2"),
		registry: get("OVM_TEST_REGISTRY"),
		image:    get("OVM_TEST_DOCKER_IMAGE"),
		shared:   get("OVM_TEST_DOCKER_SHARED"),
	}
}

// connect returns a driver for host, closed when t ends.
func connect(t testing.TB, host string) *docker.Driver {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := docker.Connect(ctx, docker.Options{Host: host})
	require.NoError(t, err, "Connect(%s): got an error, want a driver", host)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// raw returns a plain Docker client for host, for what the tests do out of
// band (unmanaged containers, checks, the benchmark's baseline).
func raw(t testing.TB, host string) *client.Client {
	t.Helper()
	c, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
	require.NoError(t, err, "docker client for %s", host)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// bootCommand prints, then runs until SIGTERM (which it honours at once,
// unlike a shell as PID 1 without a trap).
var bootCommand = []string{"/bin/sh", "-c", `echo booted; trap "exit 0" TERM; while :; do sleep 1; done`}

// smallSpec is a 0.5 CPU, 64 MiB busybox container named name.
func smallSpec(e testEnv, name string) hypervisor.CreateSpec {
	return hypervisor.CreateSpec{
		ID:    ovm.NewID(),
		Name:  name,
		VDCID: ovm.NewID(),
		Spec: ovm.InstanceSpec{
			Type:    ovm.TypeContainer,
			CPU:     500,
			Memory:  64 * ovm.MiB,
			Image:   ovm.ContainerImage(e.image),
			Command: bootCommand,
		},
	}
}

// makeUnmanaged creates a container out of band, without OVM labels, and
// removes it when t ends.
func makeUnmanaged(t *testing.T, e testEnv, host, name string) string {
	t.Helper()
	c := raw(t, host)
	resp, err := c.ContainerCreate(t.Context(), &container.Config{Image: e.image, Cmd: bootCommand}, nil, nil, nil, name)
	require.NoError(t, err, "create unmanaged %s", name)
	t.Cleanup(func() { removeContainer(t, c, resp.ID) })
	return resp.ID
}

// removeContainer force-removes a container, ignoring one already gone.
func removeContainer(t testing.TB, c *client.Client, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := c.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !client.IsErrNotFound(err) {
		t.Errorf("cleanup: remove container %s: %v", id, err)
	}
}

// track force-stops and deletes an instance made through d when t ends.
func track(t testing.TB, d *docker.Driver, id ovm.ID) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ref := hypervisor.ByID(id)
		if err := d.Stop(ctx, ref, hypervisor.StopOptions{Force: true}); err != nil &&
			!errors.Is(err, ovm.ErrNotFound) && !errors.Is(err, ovm.ErrConflict) {
			t.Errorf("cleanup: stop %s: %v", id, err)
		}
		if err := d.Delete(ctx, ref); err != nil && !errors.Is(err, ovm.ErrNotFound) {
			t.Errorf("cleanup: delete %s: %v", id, err)
		}
	})
}

// containersNamed lists the containers whose name contains name.
func containersNamed(t testing.TB, c *client.Client, name string) []container.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sums, err := c.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("name", name))})
	require.NoError(t, err, "list containers named %s", name)
	return sums
}

// subnets hands out distinct /24s inside 10.211.0.0/16 within one run.
var subnets atomic.Int32

// uniq returns a short suffix unique to this run.
func uniq() string { return ovm.NewID().Short() }

// bg is a context for cleanups, which run after t.Context is cancelled.
func bg() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	_ = cancel // released by its timeout: cleanups are short
	return ctx
}
