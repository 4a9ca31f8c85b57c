//go:build integration

package api

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/libvirthost"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// TestMetricsLibvirt: the collector samples a tenant's KVM guest through
// libvirt's bulk domain stats while it boots under emulation: its CPU
// counts its one vCPU (within 100, some work seen), its memory limit is
// its own, and the host's series is the administrator's only.
func TestMetricsLibvirt(t *testing.T) {
	uri, template, opts := libvirtTestHost(t)
	lh := libvirthost.Dial(t, uri, opts)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	var h ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "kvm1", "kind": "kvm", "endpoint": uri,
		"poolId": pl.pool, "options": opts}).decode(t, &h)
	tn := e.newTenant("acme", pl.pool, quota)

	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "vm1", "start": true,
		"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 128 << 20,
			"image": map[string]string{"format": "qcow2", "name": filepath.Base(template)}}}).decode(t, &it)
	id := it.Instance.ID
	t.Cleanup(func() {
		lh.RemoveDomain("vm1-" + string(id.Short()))
		lh.RemoveVolumes(id)
	})
	done := e.waitTask(tn.token, it.Task.ID)
	require.Equal(t, ovm.TaskSucceeded, done.State, "create task: %+v", done)

	e.collect(3, time.Second)
	s := e.series("/v1/instances/"+string(id)+"/metrics", tn.token, lastMinute("1s"))
	checkSeries(t, s, 1, 128*ovm.MiB)
	cpu := pointsOf(t, s, apitypes.MetricCPUPercent)
	require.Len(t, cpu, 3, "one point per round")
	busiest := 0.0
	for _, p := range cpu {
		busiest = max(busiest, p.Value)
	}
	assert.Greater(t, busiest, 1.0, "the booting guest's vCPU works")
	assert.NotEmpty(t, pointsOf(t, s, apitypes.MetricDiskReadBytesPerSec), "the counters' growth between rounds")

	hs := e.series("/v1/hosts/"+string(h.ID)+"/metrics", e.admin, lastMinute("5m", "cpuPercent", "memoryLimitBytes", "memoryUsedBytes"))
	hl := pointsOf(t, hs, apitypes.MetricMemoryLimitBytes)
	require.Len(t, hl, 1)
	assert.Equal(t, float64(h.Capacity.Memory), hl[0].Value)
	// The node's own memory use (this whole machine's), not the one
	// guest's 128 MiB: the driver reads the host's counters.
	hu := pointsOf(t, hs, apitypes.MetricMemoryUsedBytes)
	require.Len(t, hu, 1)
	assert.Greater(t, hu[0].Value, float64(512*ovm.MiB), "the node's memory in use")
	assert.NotEmpty(t, pointsOf(t, hs, apitypes.MetricCPUPercent), "the node's CPU share from its counters' growth")
	e.must(http.StatusNotFound, "GET", "/v1/hosts/"+string(h.ID)+"/metrics", tn.token, nil)
}
