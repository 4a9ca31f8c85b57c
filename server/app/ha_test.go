package app_test

import (
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/app"
	"github.com/openovm/ovm/server/config"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/controllers/controllerstest"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// TestServerEvacuatesFailedHost runs the assembled server with a fast host
// monitor: an HA-enabled pool of two fake hosts, an HA instance on one, the
// host stops answering; through the API the host becomes failed and the
// instance runs on the other host (read on that host's own driver).
func TestServerEvacuatesFailedHost(t *testing.T) {
	cfg, err := config.Load([]string{"--listen", "127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), "d"), "--fake-hosts",
		"--monitor-interval", "200ms", "--sync-interval", "1h"}, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	// Fake hosts have no BMC: the test powers them off in memory.
	s := startWith(t, app.Options{Config: cfg, Fencer: func(f *drivers.FakeHosts) controllers.Fencer {
		return controllerstest.FakePowerFence{Hosts: f}
	}})
	code, admin := login(t, s.URL(), "admin", s.AdminPassword())
	require.Equal(t, http.StatusOK, code)
	do := func(want int, method, path, token string, body, out any) {
		t.Helper()
		require.Equal(t, want, call(t, s.URL(), method, path, token, body, out), "%s %s", method, path)
	}

	var dc ovm.Datacenter
	do(http.StatusCreated, "POST", "/v1/datacenters", admin, map[string]any{"name": "dc1"}, &dc)
	var pool ovm.ResourcePool
	do(http.StatusCreated, "POST", "/v1/pools", admin, map[string]any{"name": "p1", "datacenterId": dc.ID, "policy": "PROGRESSIVE", "haEnabled": true}, &pool)
	var hosts []ovm.Host
	for _, name := range []string{"h1", "h2"} {
		var h ovm.Host
		do(http.StatusCreated, "POST", "/v1/hosts", admin, map[string]any{"name": name, "kind": "fake", "endpoint": "fake://" + name, "poolId": pool.ID}, &h)
		hosts = append(hosts, h)
	}
	var vdc ovm.VDC
	do(http.StatusCreated, "POST", "/v1/vdcs", admin, map[string]any{"name": "acme", "poolId": pool.ID,
		"quota": ovm.Quota{CPU: ovm.CPUs(4), Memory: 4 * ovm.GiB, Disk: 10 * ovm.GiB, Instances: 5, Networks: 1}}, &vdc)
	do(http.StatusCreated, "POST", "/v1/users", admin, map[string]any{"name": "ann", "role": "vdc-admin", "vdcId": vdc.ID, "password": "tenant-password-1"}, nil)
	_, tenant := login(t, s.URL(), "ann", "tenant-password-1")

	var it core.InstanceTask
	do(http.StatusAccepted, "POST", "/v1/instances", tenant, map[string]any{"name": "web", "start": true, "spec": map[string]any{
		"type": "container", "cpuMilli": 100, "memoryBytes": 16 << 20, "image": map[string]string{"format": "oci", "name": "busybox:1"},
		"ha": map[string]any{"enabled": true, "priority": 1}}}, &it)
	var task ovm.Task
	require.Eventually(t, func() bool {
		call(t, s.URL(), "GET", "/v1/tasks/"+string(it.Task.ID), tenant, nil, &task)
		return task.State.Final()
	}, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, ovm.TaskSucceeded, task.State, task.Error)
	var inst ovm.Instance
	do(http.StatusOK, "GET", "/v1/instances/"+string(it.Instance.ID), admin, nil, &inst)
	first := inst.Status.HostID
	require.Equal(t, hosts[0].ID, first, "PROGRESSIVE fills the first host")

	fh, err := s.FakeHosts().Host("fake://h1")
	require.NoError(t, err)
	fh.Hypervisor.SetUnreachable(true)

	require.Eventually(t, func() bool {
		var h ovm.Host
		call(t, s.URL(), "GET", "/v1/hosts/"+string(first), admin, nil, &h)
		return h.State == ovm.HostFailed
	}, time.Minute, 50*time.Millisecond, "the dead host is marked failed")
	require.Eventually(t, func() bool {
		call(t, s.URL(), "GET", "/v1/instances/"+string(it.Instance.ID), admin, nil, &inst)
		return inst.Status.HostID == hosts[1].ID && inst.Status.Power == ovm.PowerRunning
	}, time.Minute, 50*time.Millisecond, "the instance is restarted on h2")
	other, err := s.FakeHosts().Host("fake://h2")
	require.NoError(t, err)
	got, err := other.Hypervisor.Get(t.Context(), hypervisor.ByID(it.Instance.ID))
	require.NoError(t, err, "the instance exists on h2's driver")
	assert.Equal(t, ovm.PowerRunning, got.Power)

	// A tenant still sees its instance, but not where it runs.
	var seen map[string]any
	do(http.StatusOK, "GET", "/v1/instances/"+string(it.Instance.ID), tenant, nil, &seen)
	status, _ := seen["status"].(map[string]any)
	assert.Empty(t, status["hostId"], "tenants never see hosts")
}
