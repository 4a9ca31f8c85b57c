//go:build integration

package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// TestMetricsDocker: the collector samples containers through the Docker
// engine's stats. A container that spins at its CPU limit (half a CPU)
// shows about 50%, never more; an idle one next to it shows little; both
// memory limits are the containers'; a tenant never sees the host's series.
func TestMetricsDocker(t *testing.T) {
	host := testEnvVar(t, "DOCKER_HOST")
	image := testEnvVar(t, "OVM_TEST_DOCKER_IMAGE")
	dc := dockerClient(t, host)
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t))
			drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
			pl := e.setupPlatform(0)
			var h ovm.Host
			e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "docker1", "kind": "docker", "endpoint": host,
				"poolId": pl.pool}).decode(t, &h)
			tn := e.newTenant("acme", pl.pool, quota)
			start := func(name string, command []string) ovm.ID {
				var it core.InstanceTask
				e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": name, "start": true,
					"spec": map[string]any{"type": "container", "cpuMilli": 500, "memoryBytes": 64 << 20,
						"image": map[string]string{"format": "oci", "name": image}, "command": command}}).decode(t, &it)
				t.Cleanup(func() { removeLabelled(t, dc, it.Instance.ID) })
				done := e.waitTask(tn.token, it.Task.ID)
				require.Equal(t, ovm.TaskSucceeded, done.State, "create task: %+v", done)
				return it.Instance.ID
			}
			busy := start("busy", []string{"/bin/sh", "-c", `trap "exit 0" TERM; while :; do :; done`})
			idle := start("idle", bootCommand)

			e.collect(3, time.Second)
			q := lastMinute("1s")
			bs := e.series("/v1/instances/"+string(busy)+"/metrics", tn.token, q)
			checkSeries(t, bs, 1, 64*ovm.MiB)
			cpu := pointsOf(t, bs, apitypes.MetricCPUPercent)
			require.Len(t, cpu, 3, "one point per round")
			is := e.series("/v1/instances/"+string(idle)+"/metrics", tn.token, q)
			checkSeries(t, is, 1, 64*ovm.MiB)
			idleCPU := pointsOf(t, is, apitypes.MetricCPUPercent)
			require.Len(t, idleCPU, 3)
			for i, p := range cpu {
				// The engine enforces 0.5 CPU: never more; on this shared
				// two-core machine the loop may get much less, but always
				// more than the idle container beside it.
				assert.True(t, p.Value > 5 && p.Value <= 50, "busy container's cpuPercent: got %v, want 5 to 50", p.Value)
				assert.Greater(t, p.Value, idleCPU[i].Value, "round %d: busy above idle", i)
				assert.Less(t, idleCPU[i].Value, 5.0, "round %d: idle container's cpuPercent", i)
			}
			for _, p := range pointsOf(t, is, apitypes.MetricMemoryUsedBytes) {
				assert.Positive(t, p.Value, "a running container uses memory")
			}

			// The last minute in 5-minute steps: one bucket, or two when the
			// minute spans a multiple of five minutes.
			oneOrTwo := func(what string, n int) {
				t.Helper()
				require.True(t, n == 1 || n == 2, "%s: %d buckets of 5 minutes in the last minute, want 1 or 2", what, n)
			}
			v := e.series("/v1/vdcs/"+string(tn.vdc)+"/metrics", tn.token, lastMinute("5m", "cpuPercent", "memoryLimitBytes"))
			vc := pointsOf(t, v, apitypes.MetricCPUPercent)
			oneOrTwo("the VDC's CPU", len(vc))
			for _, p := range vc {
				assert.True(t, p.Value > 5 && p.Value <= 100, "the VDC's CPU: the two containers' sum, got %v", p.Value)
			}
			for _, p := range pointsOf(t, v, apitypes.MetricMemoryLimitBytes) {
				assert.Equal(t, float64(128<<20), p.Value, "the VDC's memory limit")
			}

			hs := e.series("/v1/hosts/"+string(h.ID)+"/metrics", e.admin, lastMinute("5m", "cpuPercent"))
			oneOrTwo("the host's CPU", len(pointsOf(t, hs, apitypes.MetricCPUPercent)))
			e.must(http.StatusNotFound, "GET", "/v1/hosts/"+string(h.ID)+"/metrics", tn.token, nil)
		})
	}
}
