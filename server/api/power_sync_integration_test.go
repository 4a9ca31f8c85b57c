//go:build integration

package api

import (
	"net/http"
	"path/filepath"
	"testing"

	golibvirt "github.com/digitalocean/go-libvirt"
	ctr "github.com/docker/docker/api/types/container"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/libvirthost"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/drivers"
)

// TestSyncPowerDocker: a container stopped through the Docker client (as
// `docker stop` does) is recorded stopped by the next sync, and starts
// again through the API.
func TestSyncPowerDocker(t *testing.T) {
	host := testEnvVar(t, "DOCKER_HOST")
	image := testEnvVar(t, "OVM_TEST_DOCKER_IMAGE")
	dc := dockerClient(t, host)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	var h ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "docker1", "kind": "docker", "endpoint": host,
		"poolId": pl.pool}).decode(t, &h)
	tn := e.newTenant("acme", pl.pool, quota)

	inst := e.createRunning(tn, "web", map[string]any{"type": "container", "cpuMilli": 500, "memoryBytes": 64 << 20,
		"image": map[string]string{"format": "oci", "name": image}, "command": bootCommand})
	t.Cleanup(func() { removeLabelled(t, dc, inst.ID) })
	onHost := labelled(t, dc, inst.ID)
	require.Len(t, onHost, 1, "containers carrying the instance's id")
	native := onHost[0].ID
	timeout := 5
	require.NoError(t, dc.ContainerStop(t.Context(), native, ctr.StopOptions{Timeout: &timeout}), "docker stop outside OVM")
	require.False(t, running(t, dc, native))
	e.stoppedOutside(tn, h.ID, inst, func() bool { return running(t, dc, native) })
}

// TestSyncPowerLibvirt: a domain destroyed through go-libvirt (as `virsh
// destroy` does) is recorded stopped by the next sync, and starts again
// through the API.
func TestSyncPowerLibvirt(t *testing.T) {
	uri, template, opts := libvirtTestHost(t)
	lh := libvirthost.Dial(t, uri, opts)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	var h ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "kvm1", "kind": "kvm", "endpoint": uri,
		"poolId": pl.pool, "options": opts}).decode(t, &h)
	tn := e.newTenant("acme", pl.pool, quota)

	inst := e.createRunning(tn, "vm1", map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 128 << 20,
		"image": map[string]string{"format": "qcow2", "name": filepath.Base(template)}})
	hvName := "vm1-" + string(inst.ID.Short())
	t.Cleanup(func() {
		lh.RemoveDomain(hvName)
		lh.RemoveVolumes(inst.ID)
	})
	dom, err := lh.L.DomainLookupByName(hvName)
	require.NoError(t, err)
	require.NoError(t, lh.L.DomainDestroy(dom), "virsh destroy outside OVM")
	require.Equal(t, golibvirt.DomainShutoff, domainState(t, lh, hvName))
	e.stoppedOutside(tn, h.ID, inst, func() bool { return domainState(t, lh, hvName) == golibvirt.DomainRunning })
}
