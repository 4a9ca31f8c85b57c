//go:build integration

package api

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
	"github.com/openovm/ovm/server/store"
)

// TestMigrateDocker moves containers between the two test dockerds through
// the API: one whose disk is on a shared storage pool is recreated on the
// other engine from its image and runs there, gone from the first; one
// without volumes is refused as unsupported, and stays.
func TestMigrateDocker(t *testing.T) {
	host1, host2 := testEnvVar(t, "DOCKER_HOST"), testEnvVar(t, "OVM_TEST_DOCKER_HOST2")
	image := testEnvVar(t, "OVM_TEST_DOCKER_IMAGE")
	d1, d2 := dockerClient(t, host1), dockerClient(t, host2)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	var h1, h2 ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "docker1", "kind": "docker", "endpoint": host1,
		"poolId": pl.pool}).decode(t, &h1)
	tn := e.newTenant("acme", pl.pool, quota)
	sp := ovm.StoragePool{ID: ovm.NewID(), Name: "docker-shared", Kind: ovm.StorageShared, Path: testEnvVar(t, "OVM_TEST_DOCKER_SHARED")}
	rec, err := store.NewRecord(store.KindStoragePool, sp.ID, "", sp.Name, sp)
	require.NoError(t, err)
	require.NoError(t, e.st.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.Insert(ctx, &rec) }))

	create := func(name string, disks []map[string]any) ovm.ID {
		spec := map[string]any{"type": "container", "cpuMilli": 250, "memoryBytes": 32 << 20,
			"image": map[string]string{"format": "oci", "name": image}, "command": bootCommand}
		if disks != nil {
			spec["disks"] = disks
		}
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": name, "start": true, "spec": spec}).decode(t, &it)
		id := it.Instance.ID
		t.Cleanup(func() { removeLabelled(t, d1, id); removeLabelled(t, d2, id) })
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, it.Task.ID).State)
		return id
	}
	shared := create("shared", []map[string]any{{"storagePoolId": string(sp.ID), "mountPath": "/data", "sizeBytes": 1 << 20}})
	plain := create("plain", nil)
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "docker2", "kind": "docker", "endpoint": host2,
		"poolId": pl.pool}).decode(t, &h2)

	p := problemOf(t, e.must(http.StatusNotImplemented, "POST", "/v1/instances/"+string(plain)+"/migrate", tn.token, map[string]any{}))
	assert.Contains(t, p.Detail, "no volumes on a shared storage pool")
	require.Len(t, labelled(t, d1, plain), 1, "the refused container stays")
	assert.True(t, running(t, d1, labelled(t, d1, plain)[0].ID), "the refused container still runs")

	task := e.migrate(tn.token, shared, map[string]any{})
	require.Equal(t, ovm.TaskSucceeded, task.State, "migrate task: %+v", task)
	inst := e.instanceAt(shared)
	assert.Equal(t, h2.ID, inst.Status.HostID, "host after the migration")
	assert.Equal(t, ovm.PowerRunning, inst.Status.Power)
	assert.Empty(t, labelled(t, d1, shared), "nothing left on docker1")
	on2 := labelled(t, d2, shared)
	require.Len(t, on2, 1, "the container recreated on docker2")
	assert.True(t, running(t, d2, on2[0].ID), "running on docker2, by the engine's word")
	assert.Equal(t, on2[0].ID, inst.Status.NativeID, "the record has docker2's container id")
	var res core.ExecResult
	e.must(http.StatusOK, "POST", "/v1/instances/"+string(shared)+"/exec", tn.token,
		map[string]any{"command": []string{"cat", "/proc/1/cmdline"}}).decode(t, &res)
	assert.Contains(t, res.Stdout, "booted", "exec reaches the recreated container")
	assert.Equal(t, ovm.MilliCPU(250), e.hostAt(h1.ID).Allocated.CPU, "docker1 holds only the plain container")
	assert.Equal(t, ovm.MilliCPU(250), e.hostAt(h2.ID).Allocated.CPU, "docker2 holds the moved container")
}
