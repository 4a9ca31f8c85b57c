//go:build integration

package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/drivers"
)

// TestSnapshotsDocker: on the real Docker engine a container takes no
// snapshot: the API answers 501 saying so, and nothing is recorded or
// charged.
func TestSnapshotsDocker(t *testing.T) {
	host := testEnvVar(t, "DOCKER_HOST")
	image := testEnvVar(t, "OVM_TEST_DOCKER_IMAGE")
	dc := dockerClient(t, host)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "docker1", "kind": "docker", "endpoint": host, "poolId": pl.pool})
	tn := e.newTenant("acme", pl.pool, quota)
	inst := e.createRunning(tn, "web", map[string]any{"type": "container", "cpuMilli": 500, "memoryBytes": 64 << 20,
		"image": map[string]string{"format": "oci", "name": image}, "command": bootCommand})
	t.Cleanup(func() { removeLabelled(t, dc, inst.ID) })
	before := e.diskUsage(tn)

	p := problemOf(t, e.must(http.StatusNotImplemented, "POST", snapshotsPath("instances", inst.ID), tn.token, map[string]any{"name": "s1"}))
	assert.Contains(t, p.Detail, "snapshots are not offered for containers")
	assert.Empty(t, e.listSnapshots(tn.token, "/v1/snapshots"), "nothing recorded")
	assert.Equal(t, before, e.diskUsage(tn), "nothing charged")
	require.Len(t, labelled(t, dc, inst.ID), 1, "the container is still there")
	var got ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(inst.ID), tn.token, nil).decode(t, &got)
	assert.Equal(t, ovm.PowerRunning, got.Status.Power)
}
