package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/esxisim"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// TestMetricsESXi: the collector samples a tenant's VM on a simulated ESXi
// host through the host's performance manager; its series, its VDC's and
// (for the administrator) the host's are served by the API.
func TestMetricsESXi(t *testing.T) {
	sim := esxisim.Start(t, esxiUser, esxiPassword)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	var host ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, esxiHostBody("esxi1", sim.Endpoint(), pl.pool,
		map[string]string{"username": esxiUser, "password": esxiPassword, "thumbprint": sim.Thumbprint},
		map[string]string{"vswitch": "vSwitch0"})).decode(t, &host)
	tn := e.newTenant("acme", pl.pool, quota)

	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "vm1", "start": true,
		"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20, "image": map[string]string{"format": "vmdk", "name": "tiny.vmdk"}},
	}).decode(t, &it)
	t.Cleanup(func() { sim.Remove(t, "vm1-"+string(it.Instance.ID.Short())) })
	done := e.waitTask(tn.token, it.Task.ID)
	require.Equal(t, ovm.TaskSucceeded, done.State, "create task: %+v", done)

	e.collect(2, 1100*time.Millisecond)
	s := e.series("/v1/instances/"+string(it.Instance.ID)+"/metrics", tn.token, lastMinute("1s"))
	checkSeries(t, s, 1, 64*ovm.MiB)
	assert.Len(t, pointsOf(t, s, apitypes.MetricCPUPercent), 2, "one point per round")

	v := e.series("/v1/vdcs/"+string(tn.vdc)+"/metrics", tn.token, lastMinute("5m", "memoryLimitBytes"))
	lim := pointsOf(t, v, apitypes.MetricMemoryLimitBytes)
	require.Len(t, lim, 1)
	assert.Equal(t, float64(64<<20), lim[0].Value, "the VDC's one VM")

	hs := e.series("/v1/hosts/"+string(host.ID)+"/metrics", e.admin, lastMinute("5m", "memoryLimitBytes"))
	hl := pointsOf(t, hs, apitypes.MetricMemoryLimitBytes)
	require.Len(t, hl, 1)
	assert.Equal(t, float64(host.Capacity.Memory), hl[0].Value, "the host's memory is its limit")
	r := e.must(http.StatusNotFound, "GET", "/v1/hosts/"+string(host.ID)+"/metrics", tn.token, nil)
	assert.NotContains(t, string(r.body), "esxi1")
}
