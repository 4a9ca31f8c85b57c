package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
)

// collect runs n rounds of the metrics collector on the env's platform,
// gap apart, and requires each to sample every running instance.
func (e *env) collect(n int, gap time.Duration) {
	e.t.Helper()
	col := &controllers.Collector{Platform: core.NewSystem(e.svc), PerHost: 2, Timeout: 30 * time.Second}
	for i := range n {
		if i > 0 {
			time.Sleep(gap)
		}
		rep, err := col.Round(e.t.Context(), nil)
		require.NoError(e.t, err, "collector round %d", i)
		require.Empty(e.t, rep.Errors, "collector round %d: samples failed", i)
	}
}

// series reads a series through the API as token.
func (e *env) series(path, token string, q url.Values) apitypes.MetricSeries {
	e.t.Helper()
	var s apitypes.MetricSeries
	e.must(http.StatusOK, "GET", path+"?"+q.Encode(), token, nil).decode(e.t, &s)
	return s
}

// lastMinute asks for the last minute (and the next) at step seconds.
func lastMinute(step string, metrics ...string) url.Values {
	q := url.Values{}
	q.Set("from", time.Now().Add(-time.Minute).UTC().Format(time.RFC3339))
	q.Set("to", time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
	q.Set("step", step)
	if len(metrics) > 0 {
		q.Set("metrics", strings.Join(metrics, ","))
	}
	return q
}

// pointsOf returns one metric's points of a series.
func pointsOf(t *testing.T, s apitypes.MetricSeries, m apitypes.Metric) []apitypes.MetricPoint {
	t.Helper()
	for _, v := range s.Series {
		if v.Metric == m {
			return v.Points
		}
	}
	t.Fatalf("series has no metric %s: %+v", m, s)
	return nil
}

// checkSeries checks what every series of a running instance must show:
// its CPU within 0..100 per vCPU, its memory within its limit, rates
// that are never negative.
func checkSeries(t *testing.T, s apitypes.MetricSeries, vcpus int, limit ovm.Bytes) {
	t.Helper()
	cpu := pointsOf(t, s, apitypes.MetricCPUPercent)
	require.NotEmpty(t, cpu, "cpuPercent points")
	for _, p := range cpu {
		assert.True(t, p.Value >= 0 && p.Value <= float64(100*vcpus), "cpuPercent: got %v, want 0 to %d", p.Value, 100*vcpus)
	}
	lim := pointsOf(t, s, apitypes.MetricMemoryLimitBytes)
	require.NotEmpty(t, lim)
	used := pointsOf(t, s, apitypes.MetricMemoryUsedBytes)
	require.NotEmpty(t, used)
	for i, p := range used {
		assert.Positive(t, lim[i].Value, "memoryLimitBytes")
		assert.LessOrEqual(t, p.Value, lim[i].Value, "memoryUsedBytes within the limit")
		if limit > 0 {
			assert.Equal(t, float64(limit), lim[i].Value, "memoryLimitBytes is the instance's memory")
		}
	}
	for _, m := range []apitypes.Metric{apitypes.MetricNetRxBytesPerSecond, apitypes.MetricDiskReadBytesPerSec, apitypes.MetricDiskWriteOpsPerSecond} {
		for _, p := range pointsOf(t, s, m) {
			assert.GreaterOrEqual(t, p.Value, 0.0, "%s", m)
		}
	}
}

// TestMetricsAPI: the series of instances, hosts and VDCs through the API,
// as administrators and tenants see them, the per-instance gauges of
// /metrics, and refused queries naming their parameter.
func TestMetricsAPI(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t))
			e.metrics.AddInstanceGauges(core.NewSystem(e.svc).LatestMetrics, time.Minute, 0)
			pl := e.setupPlatform(1)
			acme := e.newTenant("acme", pl.pool, quota)
			other := e.newTenant("other", pl.pool, quota)
			vm := e.createRunning(acme, "web", map[string]any{"type": "vm", "cpuMilli": 2000, "memoryBytes": 512 << 20,
				"image": map[string]string{"format": "qcow2", "name": "debian-12.qcow2"}})
			ct := e.createRunning(acme, "job", container())
			e.collect(2, 1100*time.Millisecond)

			s := e.series("/v1/instances/"+string(vm.ID)+"/metrics", acme.token, lastMinute("1s"))
			assert.Equal(t, apitypes.SubjectInstance, s.Subject)
			assert.Equal(t, vm.ID, s.ID)
			assert.Equal(t, int64(1), s.StepSeconds)
			assert.Equal(t, int64(0), s.ResolutionSeconds, "a short range is read at full resolution")
			require.Len(t, s.Series, len(apitypes.Metrics), "every metric by default")
			checkSeries(t, s, 2, 512*ovm.MiB)
			cpu := pointsOf(t, s, apitypes.MetricCPUPercent)
			assert.Len(t, cpu, 2, "one point per round at a 1 s step")
			// The fake VM of 2 vCPUs uses 2 x (10 + uptime mod 30) percent.
			assert.True(t, cpu[0].Value >= 20 && cpu[0].Value < 80, "cpuPercent: got %v", cpu[0].Value)
			rx := pointsOf(t, s, apitypes.MetricNetRxBytesPerSecond)
			require.Len(t, rx, 1, "the counters' growth from the second round")
			assert.InDelta(t, 1500, rx[0].Value, 750, "the fake receives 1500 bytes a second")

			// Chosen metrics, one step over the minute: one point each.
			s = e.series("/v1/instances/"+string(ct.ID)+"/metrics", acme.token, lastMinute("5m", "cpuPercent", "memoryUsedBytes"))
			require.Len(t, s.Series, 2)
			assert.Equal(t, apitypes.MetricCPUPercent, s.Series[0].Metric)
			assert.Equal(t, apitypes.MetricMemoryUsedBytes, s.Series[1].Metric)
			assert.Len(t, s.Series[0].Points, 1, "two samples in one 5-minute step")
			assert.Equal(t, int64(60), s.ResolutionSeconds, "a 5-minute step reads the minute rollups")

			// The VDC's usage: its two instances.
			v := e.series("/v1/vdcs/"+string(acme.vdc)+"/metrics", acme.token, lastMinute("1s", "memoryLimitBytes"))
			lim := pointsOf(t, v, apitypes.MetricMemoryLimitBytes)
			require.NotEmpty(t, lim)
			assert.Equal(t, float64(512<<20+16<<20), lim[0].Value, "the VDC's limit sums its instances'")

			// A host's series: administrators only.
			hs := e.series("/v1/hosts/"+string(pl.hosts[0])+"/metrics", e.admin, lastMinute("1s"))
			assert.NotEmpty(t, pointsOf(t, hs, apitypes.MetricCPUPercent))

			for _, tt := range []struct {
				name, path, token string
			}{
				{"tenant asks for a host", "/v1/hosts/" + string(pl.hosts[0]) + "/metrics", acme.token},
				{"another tenant's instance", "/v1/instances/" + string(vm.ID) + "/metrics", other.token},
				{"another tenant's VDC", "/v1/vdcs/" + string(acme.vdc) + "/metrics", other.token},
				{"unknown instance", "/v1/instances/" + string(ovm.NewID()) + "/metrics", e.admin},
				{"unknown host", "/v1/hosts/" + string(ovm.NewID()) + "/metrics", e.admin},
			} {
				t.Run(tt.name, func(t *testing.T) {
					r := e.doWith(t, "GET", tt.path, tt.token, nil)
					require.Equal(t, http.StatusNotFound, r.status, "got %s", r)
					assert.NotContains(t, string(r.body), string(pl.hosts[0]), "the answer names no host")
				})
			}

			path := "/v1/instances/" + string(vm.ID) + "/metrics"
			for _, tt := range []struct {
				name, query, field string
			}{
				{"from not a time", "from=yesterday", "from"},
				{"to before from", "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "from"},
				{"step not a duration", "step=often", "step"},
				{"step below a second", "step=500ms", "step"},
				{"too many points", "from=" + time.Now().Add(-5*time.Hour).UTC().Format(time.RFC3339) + "&step=1s", "step"},
				{"unknown metric", "metrics=cpuPercent,temperature", "metrics[1]"},
				{"metric twice", "metrics=cpuPercent,cpuPercent", "metrics[1]"},
			} {
				t.Run(tt.name, func(t *testing.T) {
					r := e.doWith(t, "GET", path+"?"+tt.query, acme.token, nil)
					require.Equal(t, http.StatusUnprocessableEntity, r.status, "got %s", r)
					p := problemOf(t, r)
					assert.True(t, strings.Contains(strings.Join(fieldLocations(p), " "), tt.field),
						"the problem names %s: %s", tt.field, r)
				})
			}

			body := string(e.must(http.StatusOK, "GET", "/metrics", e.admin, nil).body)
			for _, want := range []string{
				fmt.Sprintf(`ovm_instance_cpu_percent{instance="%s",kind="vm",vdc="%s"}`, vm.ID, acme.vdc),
				fmt.Sprintf(`ovm_instance_memory_limit_bytes{instance="%s",kind="container",vdc="%s"} 1.6777216e+07`, ct.ID, acme.vdc),
				fmt.Sprintf(`ovm_instance_network_receive_bytes_per_second{instance="%s",kind="vm",vdc="%s"}`, vm.ID, acme.vdc),
				fmt.Sprintf(`ovm_host_memory_capacity_bytes{host="%s"}`, pl.hosts[0]),
				"ovm_instance_series_left_out 0",
				"ovm_instance_metrics_read_errors 0",
			} {
				assert.Contains(t, body, want)
			}
			e.must(http.StatusForbidden, "GET", "/metrics", acme.token, nil)
		})
	}
}
