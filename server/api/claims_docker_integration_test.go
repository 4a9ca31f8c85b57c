//go:build integration

package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	ctr "github.com/docker/docker/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
	"github.com/openovm/ovm/server/store"
)

// TestDockerOneObjectOneRecord: one dockerd registers once, whatever URL
// names it; a container it runs without limits imports once, with the
// demand the administrator gives (applied on the engine and charged to
// the quota), a sync lists it no more, and a second import into another
// VDC is refused without charging its quota.
func TestDockerOneObjectOneRecord(t *testing.T) {
	host := testEnvVar(t, "DOCKER_HOST")
	host2 := testEnvVar(t, "OVM_TEST_DOCKER_HOST2")
	image := testEnvVar(t, "OVM_TEST_DOCKER_IMAGE")
	dc := dockerClient(t, host)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	body := func(name, endpoint string) map[string]any {
		return map[string]any{"name": name, "kind": "docker", "endpoint": endpoint, "poolId": pl.pool}
	}
	var h ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, body("d1", host)).decode(t, &h)

	t.Run("the same engine registers once", func(t *testing.T) {
		endpoints := []string{host}
		if strings.HasPrefix(host, "unix:///var/run/") { // /var/run is /run on Debian
			endpoints = append(endpoints, "unix:///run/"+strings.TrimPrefix(host, "unix:///var/run/"))
		}
		for i, ep := range endpoints {
			p := problemOf(t, e.must(http.StatusConflict, "POST", "/v1/hosts", e.admin, body("d"+string(rune('3'+i)), ep)))
			assert.Contains(t, p.Detail, "registered already, as host d1 ("+string(h.ID)+")", "endpoint %s", ep)
		}
		// The second engine (its own ID) registers.
		e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, body("d2", host2))
	})

	a := e.newTenant("tenant-a", pl.pool, quota)
	b := e.newTenant("tenant-b", pl.pool, quota)
	name := "ovm-claims-" + string(ovm.NewID().Short())
	created, err := dc.ContainerCreate(t.Context(), &ctr.Config{Image: image, Cmd: bootCommand}, nil, nil, nil, name)
	require.NoError(t, err, "create the unmanaged container")
	t.Cleanup(func() { removeDockerContainer(t, dc, created.ID) })
	require.NoError(t, dc.ContainerStart(t.Context(), created.ID, ctr.StartOptions{}))
	d := e.discoveredOf(h.ID, created.ID)
	require.Zero(t, d.CPU, "a container run without limits has no CPU limit")
	require.Zero(t, d.Memory, "a container run without limits has no memory limit")

	t.Run("no demand is no import", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			body   map[string]any
			fields []string
		}{
			{"neither", map[string]any{}, []string{"body.cpuMilli", "body.memoryBytes"}},
			{"no memory", map[string]any{"cpuMilli": 500}, []string{"body.memoryBytes"}},
			{"no cpu", map[string]any{"memoryBytes": 64 << 20}, []string{"body.cpuMilli"}},
			{"tiny memory", map[string]any{"cpuMilli": 500, "memoryBytes": 1024}, []string{"body.memoryBytes"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				tt.body["vdcId"], tt.body["name"] = a.vdc, "legacy"
				p := problemOf(t, e.must(http.StatusUnprocessableEntity, "POST", "/v1/discovered/"+string(d.ID)+"/import", e.admin, tt.body))
				assert.ElementsMatch(t, tt.fields, fieldLocations(p), "fields named: %s", fieldMessages(p))
			})
		}
		assert.Equal(t, ovm.Usage{}, e.usage(a.vdc), "a refused import charges nothing")
	})

	inst := e.imported(d, a.vdc, "legacy", map[string]any{"cpuMilli": 500, "memoryBytes": 64 << 20})

	t.Run("the demand is charged and applied", func(t *testing.T) {
		assert.Equal(t, ovm.Usage{CPU: 500, Memory: 64 << 20, Instances: 1}, e.usage(a.vdc), "tenant a's usage")
		c, err := dc.ContainerInspect(t.Context(), created.ID)
		require.NoError(t, err)
		assert.Equal(t, int64(5e8), c.HostConfig.NanoCPUs, "the container's CPU limit on the engine")
		assert.Equal(t, int64(64<<20), c.HostConfig.Memory, "the container's memory limit on the engine")
		assert.True(t, c.State.Running, "the imported container still runs")
	})

	t.Run("imported once", func(t *testing.T) {
		e.importedOnce(t, d, inst, a, b, map[string]any{"cpuMilli": 100, "memoryBytes": 64 << 20})
	})

	t.Run("delete releases the claim", func(t *testing.T) {
		var del core.InstanceTask
		e.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(inst.ID), a.token, nil).decode(t, &del)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(a.token, del.Task.ID).State)
		_, err := dc.ContainerInspect(t.Context(), created.ID)
		assert.Error(t, err, "the container is removed with its instance")
		assert.Equal(t, ovm.Usage{}, e.usage(a.vdc), "tenant a's quota is released")
		var claims int64
		require.NoError(t, e.st.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
			var err error
			claims, err = tx.Count(ctx, store.Filter{Kind: store.KindClaim, HostID: h.ID})
			return err
		}))
		assert.Zero(t, claims, "claims of objects on the host after the delete")
	})
}
