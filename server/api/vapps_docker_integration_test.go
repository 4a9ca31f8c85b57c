//go:build integration

package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// TestVAppDocker deploys vApps of containers on the real dockerd through
// the API. The members are made stopped and start once all are made,
// group by group with the vApp's delay (read from the engine's own start
// times); stop and start act on all of them. A vApp one of whose members
// cannot be made (an image the registry lacks) is rolled back whole: no
// container is left on the engine and the quota is given back.
func TestVAppDocker(t *testing.T) {
	host := testEnvVar(t, "DOCKER_HOST")
	image := testEnvVar(t, "OVM_TEST_DOCKER_IMAGE")
	registry := testEnvVar(t, "OVM_TEST_REGISTRY")
	dc := dockerClient(t, host)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "docker1", "kind": "docker", "endpoint": host,
		"poolId": pl.pool})
	tn := e.newTenant("acme", pl.pool, quota)
	member := func(name, ref string, group int) map[string]any {
		return map[string]any{"name": name, "startGroup": group, "spec": map[string]any{"type": "container", "cpuMilli": 100,
			"memoryBytes": 32 << 20, "image": map[string]string{"format": "oci", "name": ref}, "command": bootCommand}}
	}
	deploy := func(body map[string]any) core.VAppTasks {
		t.Helper()
		var vt core.VAppTasks
		e.must(http.StatusAccepted, "POST", "/v1/vapps", tn.token, body).decode(t, &vt)
		t.Cleanup(func() {
			for _, id := range vt.VApp.InstanceIDs {
				removeLabelled(t, dc, id)
			}
		})
		return vt
	}
	startedAt := func(id ovm.ID) time.Time {
		t.Helper()
		cs := labelled(t, dc, id)
		require.Len(t, cs, 1, "containers of %s", id)
		insp, err := dc.ContainerInspect(t.Context(), cs[0].ID)
		require.NoError(t, err)
		at, err := time.Parse(time.RFC3339Nano, insp.State.StartedAt)
		require.NoError(t, err)
		return at
	}

	t.Run("start order", func(t *testing.T) {
		vt := deploy(map[string]any{"name": "stack", "startDelaySeconds": 2, "members": []map[string]any{
			member("db", image, 1), member("cache", image, 1), member("web", image, 2)}})
		app := e.waitVApp(tn.token, vt.VApp.ID, func(a core.VAppInfo) bool { return a.Phase != ovm.PhaseCreating && a.TaskID == "" })
		require.Equal(t, ovm.PhaseReady, app.Phase, "vApp: %+v", app)
		for i, id := range app.InstanceIDs {
			cs := labelled(t, dc, id)
			require.Len(t, cs, 1, "containers of member %s", app.Members[i].Name)
			assert.True(t, running(t, dc, cs[0].ID), "member %s runs", app.Members[i].Name)
		}
		db, cache, web := startedAt(app.InstanceIDs[0]), startedAt(app.InstanceIDs[1]), startedAt(app.InstanceIDs[2])
		assert.GreaterOrEqual(t, web.Sub(db), 2*time.Second, "web (group 2) starts the delay after db (group 1)")
		assert.GreaterOrEqual(t, web.Sub(cache), 2*time.Second, "web (group 2) starts the delay after cache (group 1)")

		var stop core.VAppTask
		e.must(http.StatusAccepted, "POST", "/v1/vapps/"+string(vt.VApp.ID)+"/stop", tn.token, nil).decode(t, &stop)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, stop.Task.ID).State)
		for _, id := range app.InstanceIDs {
			assert.False(t, running(t, dc, labelled(t, dc, id)[0].ID), "member %s after the vApp's stop", id)
		}
		var start core.VAppTask
		e.must(http.StatusAccepted, "POST", "/v1/vapps/"+string(vt.VApp.ID)+"/start", tn.token, nil).decode(t, &start)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, start.Task.ID).State)
		for _, id := range app.InstanceIDs {
			assert.True(t, running(t, dc, labelled(t, dc, id)[0].ID), "member %s after the vApp's start", id)
		}
		var del core.VAppTasks
		e.must(http.StatusAccepted, "DELETE", "/v1/vapps/"+string(vt.VApp.ID), tn.token, nil).decode(t, &del)
		for _, tk := range del.Tasks {
			require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, tk.ID).State)
		}
		for _, id := range app.InstanceIDs {
			assert.Empty(t, labelled(t, dc, id), "member %s after the vApp's delete", id)
		}
	})

	t.Run("rolled back whole", func(t *testing.T) {
		vt := deploy(map[string]any{"name": "broken", "members": []map[string]any{
			member("ok1", image, 0), member("ok2", image, 0), member("ghost", registry+"/does-not-exist:1", 0)}})
		app := e.waitVApp(tn.token, vt.VApp.ID, func(a core.VAppInfo) bool { return a.Phase != ovm.PhaseCreating && a.TaskID == "" })
		assert.Equal(t, ovm.PhaseFailed, app.Phase)
		assert.Contains(t, app.Message, "manifest unknown", "the registry's text in the vApp's message")
		require.Eventually(t, func() bool {
			for _, id := range app.InstanceIDs {
				if len(labelled(t, dc, id)) > 0 {
					return false
				}
			}
			var v ovm.VDC
			e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc), tn.token, nil).decode(t, &v)
			return v.Usage == ovm.Usage{}
		}, time.Minute, 100*time.Millisecond, "no container and no quota left after the roll back")
		e.must(http.StatusAccepted, "DELETE", "/v1/vapps/"+string(vt.VApp.ID), tn.token, nil)
		e.must(http.StatusNotFound, "GET", "/v1/vapps/"+string(vt.VApp.ID), tn.token, nil)
	})
}
