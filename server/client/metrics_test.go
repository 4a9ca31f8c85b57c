package client_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
)

// TestMetrics: the typed series calls read an instance's, a VDC's and (for
// administrators) a host's metrics after the collector sampled; a tenant
// asking for a host gets 404, a bad query 422.
func TestMetrics(t *testing.T) {
	srv, admin, tenant := setup(t, quota)
	ctx := t.Context()
	it, err := tenant.CreateInstance(ctx, apitypes.InstanceCreate{Name: "web", Start: true, Spec: container("web").Spec})
	require.NoError(t, err)
	task, err := tenant.WatchTask(ctx, it.Task.ID, nil)
	require.NoError(t, err)
	require.Equal(t, ovm.TaskSucceeded, task.State)
	col := &controllers.Collector{Platform: core.NewSystem(srv.Service)}
	for range 2 {
		_, err := col.Round(ctx, nil)
		require.NoError(t, err)
	}

	q := client.MetricsQuery{From: time.Now().Add(-time.Minute), To: time.Now().Add(time.Minute), Step: 10 * time.Second,
		Metrics: []apitypes.Metric{apitypes.MetricCPUPercent, apitypes.MetricMemoryLimitBytes}}
	s, err := tenant.InstanceMetrics(ctx, it.Instance.ID, q)
	require.NoError(t, err)
	assert.Equal(t, int64(10), s.StepSeconds)
	require.Len(t, s.Series, 2)
	assert.Equal(t, apitypes.MetricCPUPercent, s.Series[0].Metric)
	require.NotEmpty(t, s.Series[1].Points)
	assert.Equal(t, float64(16*ovm.MiB), s.Series[1].Points[0].Value)

	v, err := tenant.VDCMetrics(ctx, it.Instance.VDCID, q)
	require.NoError(t, err)
	require.NotEmpty(t, v.Series[1].Points)
	assert.Equal(t, float64(16*ovm.MiB), v.Series[1].Points[0].Value)

	hosts, err := admin.ListHosts(ctx)
	require.NoError(t, err)
	h, err := admin.HostMetrics(ctx, hosts[0].ID, q)
	require.NoError(t, err)
	require.NotEmpty(t, h.Series[0].Points)

	_, err = tenant.HostMetrics(ctx, hosts[0].ID, q)
	assert.Equal(t, 404, client.StatusOf(err), "a tenant asking for a host's metrics: %v", err)
	_, err = tenant.InstanceMetrics(ctx, it.Instance.ID, client.MetricsQuery{Metrics: []apitypes.Metric{"load"}})
	assert.Equal(t, 422, client.StatusOf(err), "an unknown metric: %v", err)
}
