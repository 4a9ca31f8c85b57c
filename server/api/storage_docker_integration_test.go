//go:build integration

package api

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// poolMarkers lists the pool marker volumes of an engine for pool id.
func poolMarkers(t *testing.T, c *client.Client, id ovm.ID) []*volume.Volume {
	t.Helper()
	resp, err := c.VolumeList(context.Background(), volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", docker.LabelID+"="+string(id)))})
	require.NoError(t, err)
	return resp.Volumes
}

// TestStorageDocker runs a shared storage pool through the API on the two
// test dockerds: a bind path both engines see, registered on both as one
// pool; a volume made there is mounted into a container at create, which
// writes a file; a second container on the other engine, made with the same
// volume, reads it. A running container refuses an attach with a problem
// saying why; the pool's declared capacity refuses a volume too large.
func TestStorageDocker(t *testing.T) {
	endpoints := []string{testEnvVar(t, "DOCKER_HOST"), testEnvVar(t, "OVM_TEST_DOCKER_HOST2")}
	image := testEnvVar(t, "OVM_TEST_DOCKER_IMAGE")
	shared := testEnvVar(t, "OVM_TEST_DOCKER_SHARED")
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	engines := map[ovm.ID]*client.Client{}
	var hosts []ovm.ID
	for i, ep := range endpoints {
		var h ovm.Host
		e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "docker" + string(rune('1'+i)), "kind": "docker",
			"endpoint": ep, "poolId": pl.pool}).decode(t, &h)
		hosts = append(hosts, h.ID)
		engines[h.ID] = dockerClient(t, ep)
	}
	tn := e.newTenant("acme", pl.pool, quota)
	short := string(ovm.NewID().Short())
	dir := filepath.Join(shared, "sp-"+short)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })

	pool := e.registerPool(map[string]any{"name": "bind-" + short, "kind": "shared", "path": dir, "hostIds": hosts, "capacityBytes": ovm.GiB})
	t.Cleanup(func() {
		for _, c := range engines {
			for _, v := range poolMarkers(t, c, pool.ID) {
				_ = c.VolumeRemove(context.Background(), v.Name, true)
			}
		}
	})

	t.Run("one pool on both engines", func(t *testing.T) {
		for h, c := range engines {
			assert.Len(t, poolMarkers(t, c, pool.ID), 1, "the pool's marker on host %s", h)
		}
		for _, h := range hosts {
			e.must(http.StatusOK, "POST", "/v1/hosts/"+string(h)+"/sync", e.admin, nil)
		}
		var pg core.Page[apitypes.StoragePoolInfo]
		e.must(http.StatusOK, "GET", "/v1/storage-pools", e.admin, nil).decode(t, &pg)
		n := slices.IndexFunc(pg.Items, func(p apitypes.StoragePoolInfo) bool { return p.Path == dir })
		require.GreaterOrEqual(t, n, 0)
		assert.ElementsMatch(t, hosts, pg.Items[n].HostIDs)
		assert.Equal(t, 1, len(slices.DeleteFunc(slices.Clone(pg.Items), func(p apitypes.StoragePoolInfo) bool { return p.Path != dir })),
			"sync keeps the shared pool one record")
	})

	vt, task := e.createVolume(tn.token, map[string]any{"name": "data", "sizeBytes": 128 * ovm.MiB, "storagePoolId": pool.ID})
	require.Equal(t, ovm.TaskSucceeded, task.State, "%+v", task)
	vol := vt.Volume.ID
	withVolume := func(name string) ovm.Instance {
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": name, "start": true,
			"spec": map[string]any{"type": "container", "cpuMilli": 250, "memoryBytes": 32 << 20, "command": bootCommand,
				"image": map[string]string{"format": "oci", "name": image}, "disks": []map[string]any{{"volumeId": vol, "mountPath": "/data"}}}}).decode(t, &it)
		t.Cleanup(func() {
			for _, c := range engines {
				removeLabelled(t, c, it.Instance.ID)
			}
		})
		done := e.waitTask(tn.token, it.Task.ID)
		require.Equal(t, ovm.TaskSucceeded, done.State, "create %s: %+v", name, done)
		var inst ovm.Instance
		e.must(http.StatusOK, "GET", "/v1/instances/"+string(it.Instance.ID), e.admin, nil).decode(t, &inst)
		return inst
	}
	exec := func(inst ovm.Instance, cmd string) core.ExecResult {
		var res core.ExecResult
		e.must(http.StatusOK, "POST", "/v1/instances/"+string(inst.ID)+"/exec", tn.token, map[string]any{"command": []string{"/bin/sh", "-c", cmd}}).decode(t, &res)
		return res
	}

	c1 := withVolume("writer")
	res := exec(c1, "echo shared-"+short+" > /data/marker && cat /data/marker")
	require.Equal(t, 0, res.ExitCode, "%+v", res)

	t.Run("no attach to a running container", func(t *testing.T) {
		other, task := e.createVolume(tn.token, map[string]any{"name": "more", "sizeBytes": 64 * ovm.MiB, "storagePoolId": pool.ID})
		require.Equal(t, ovm.TaskSucceeded, task.State)
		r := e.do("POST", "/v1/volumes/"+string(other.Volume.ID)+"/attach", tn.token, map[string]any{"instanceId": c1.ID})
		require.Equal(t, http.StatusNotImplemented, r.status, "got %s", r)
		p := problemOf(t, r)
		assert.Contains(t, p.Detail, "Docker cannot add a mount to an existing (let alone a running) container")
		assert.Contains(t, p.Detail, "spec.disks")
	})

	t.Run("over the pool's capacity", func(t *testing.T) {
		r := e.do("POST", "/v1/volumes", tn.token, map[string]any{"name": "huge", "sizeBytes": ovm.GiB, "storagePoolId": pool.ID})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "got %s", r)
		assert.Contains(t, fieldLocations(problemOf(t, r)), "body.sizeBytes")
	})

	var del core.InstanceTask
	e.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(c1.ID), tn.token, nil).decode(t, &del)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, del.Task.ID).State)

	t.Run("the other engine reads what the first wrote", func(t *testing.T) {
		// The VDC places on the other engine only.
		other := hosts[0]
		if other == c1.Status.HostID {
			other = hosts[1]
		}
		r := e.must(http.StatusOK, "GET", "/v1/pools/"+string(pl.pool), e.admin, nil)
		e.must(http.StatusOK, "PATCH", "/v1/pools/"+string(pl.pool), e.admin,
			map[string]any{"scope": map[string]any{"kind": "hosts", "hostIds": []ovm.ID{other}}}, "If-Match", r.header.Get("ETag"))
		c2 := withVolume("reader")
		assert.NotEqual(t, c1.Status.HostID, c2.Status.HostID, "the second container is on the other engine")
		got := exec(c2, "cat /data/marker")
		assert.Equal(t, core.ExecResult{Stdout: "shared-" + short + "\n"}, got)
	})
}
