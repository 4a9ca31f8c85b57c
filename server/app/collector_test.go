package app_test

import (
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/config"
	"github.com/openovm/ovm/server/core"
)

// TestServerCollectsMetrics runs the assembled server with a fast metrics
// interval: a tenant's container on a fake host gets a series through the
// API, and /metrics shows its gauges.
func TestServerCollectsMetrics(t *testing.T) {
	cfg, err := config.Load([]string{"--listen", "127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), "d"), "--fake-hosts",
		"--metrics-interval", "200ms", "--sync-interval", "1h"}, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	s := start(t, cfg, io.Discard)
	_, admin := login(t, s.URL(), "admin", s.AdminPassword())
	do := func(want int, method, path, token string, body, out any) {
		t.Helper()
		require.Equal(t, want, call(t, s.URL(), method, path, token, body, out), "%s %s", method, path)
	}
	var dc ovm.Datacenter
	do(http.StatusCreated, "POST", "/v1/datacenters", admin, map[string]any{"name": "dc1"}, &dc)
	var pool ovm.ResourcePool
	do(http.StatusCreated, "POST", "/v1/pools", admin, map[string]any{"name": "p1", "datacenterId": dc.ID, "policy": "PROGRESSIVE"}, &pool)
	do(http.StatusCreated, "POST", "/v1/hosts", admin, map[string]any{"name": "h1", "kind": "fake", "endpoint": "fake://h1", "poolId": pool.ID}, nil)
	var vdc ovm.VDC
	do(http.StatusCreated, "POST", "/v1/vdcs", admin, map[string]any{"name": "acme", "poolId": pool.ID,
		"quota": ovm.Quota{CPU: ovm.CPUs(4), Memory: 4 * ovm.GiB, Disk: 10 * ovm.GiB, Instances: 5, Networks: 1}}, &vdc)
	do(http.StatusCreated, "POST", "/v1/users", admin, map[string]any{"name": "ann", "role": "vdc-admin", "vdcId": vdc.ID, "password": "tenant-password-1"}, nil)
	_, tenant := login(t, s.URL(), "ann", "tenant-password-1")
	var it core.InstanceTask
	do(http.StatusAccepted, "POST", "/v1/instances", tenant, map[string]any{"name": "web", "start": true, "spec": map[string]any{
		"type": "container", "cpuMilli": 100, "memoryBytes": 16 << 20, "image": map[string]string{"format": "oci", "name": "busybox:1"}}}, &it)

	path := "/v1/instances/" + string(it.Instance.ID) + "/metrics?step=1&metrics=memoryLimitBytes"
	var series apitypes.MetricSeries
	require.Eventually(t, func() bool {
		if call(t, s.URL(), "GET", path, tenant, nil, &series) != http.StatusOK {
			return false
		}
		return len(series.Series) == 1 && len(series.Series[0].Points) >= 2
	}, 30*time.Second, 100*time.Millisecond, "the collector samples the running container every interval")
	assert.Equal(t, float64(16<<20), series.Series[0].Points[0].Value)

	code, body, _ := get(t, s.URL()+"/metrics", admin)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `ovm_instance_memory_limit_bytes{instance="`+string(it.Instance.ID)+`",kind="container",vdc="`+string(vdc.ID)+`"} 1.6777216e+07`)
}
