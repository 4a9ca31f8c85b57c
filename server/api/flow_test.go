package api

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
)

// TestTenantFlow: an administrator sets up a datacenter, a pool, two fake
// hosts, a VDC and its user; the tenant logs in, creates a network and an
// instance (202 and a task that succeeds; the fake host lists the instance
// under its OVM id), stops, starts and deletes it; quota and addresses come
// back.
func TestTenantFlow(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { testTenantFlow(t, newEnv(t, b.open(t))) })
	}
}

func testTenantFlow(t *testing.T, e *env) {
	pl := e.setupPlatform(2)
	tn := e.newTenant("acme", pl.pool, quota)

	var me core.User
	e.must(http.StatusOK, "GET", "/v1/me", tn.token, nil).decode(t, &me)
	assert.Equal(t, "vdc-admin", string(me.Role), "role of the tenant")

	var n ovm.Network
	e.must(http.StatusCreated, "POST", "/v1/networks", tn.token, map[string]any{
		"name": "net1", "vlan": 10, "subnet": "10.1.0.0/24", "gateway": "10.1.0.1",
	}).decode(t, &n)
	assert.Equal(t, tn.vdc, n.VDCID, "network's vdc")

	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{
		"name": "web", "spec": container(n.ID), "start": true,
	}).decode(t, &it)
	require.NotNil(t, it.Task, "create answers with its task")
	assert.Equal(t, core.TaskInstanceCreate, it.Task.Kind)
	assert.Equal(t, ovm.PhaseCreating, it.Instance.Status.Phase)
	assert.Empty(t, it.Instance.Status.HostID, "tenants never see the host")
	// The first address of 10.1.0.0/24 less the network and the gateway.
	assert.Equal(t, "10.1.0.2", it.Instance.Spec.NICs[0].IP.String(), "allocated address")

	task := e.waitTask(tn.token, it.Task.ID)
	require.Equal(t, ovm.TaskSucceeded, task.State, "create task: %+v", task)

	var inst ovm.Instance
	r := e.must(http.StatusOK, "GET", "/v1/instances/"+string(it.Instance.ID), tn.token, nil)
	r.decode(t, &inst)
	assert.Equal(t, ovm.PhaseReady, inst.Status.Phase)
	assert.Equal(t, ovm.PowerRunning, inst.Status.Power)
	assert.Empty(t, inst.Status.HostID, "tenant view hides hostId")
	assert.Empty(t, inst.Status.NativeID, "tenant view hides nativeId")
	assert.NotEmpty(t, r.header.Get("ETag"), "GET carries an ETag")

	// The administrator sees the host; the fake host lists the instance by
	// its OVM id.
	var adminView ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(inst.ID), e.admin, nil).decode(t, &adminView)
	require.True(t, slices.Contains(pl.hosts, adminView.Status.HostID), "host %s is one of the pool's", adminView.Status.HostID)
	assert.NotEmpty(t, adminView.Status.NativeID)
	var host ovm.Host
	e.must(http.StatusOK, "GET", "/v1/hosts/"+string(adminView.Status.HostID), e.admin, nil).decode(t, &host)
	// 100 milli-vCPU and 16MiB: the container's demand.
	assert.Equal(t, ovm.Resources{CPU: 100, Memory: 16 * ovm.MiB}, host.Allocated, "host allocation")
	fh, err := e.fakes.Host(host.Endpoint)
	require.NoError(t, err)
	onHost, err := fh.Hypervisor.List(context.Background())
	require.NoError(t, err)
	require.Len(t, onHost, 1, "instances on the fake host")
	assert.Equal(t, inst.ID, onHost[0].OVMID, "the instance carries its OVM id")
	assert.Equal(t, ovm.PowerRunning, onHost[0].Power)

	var usage apitypes.Usage
	e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc)+"/usage", tn.token, nil).decode(t, &usage)
	assert.Equal(t, ovm.Usage{CPU: 100, Memory: 16 * ovm.MiB, Instances: 1, Networks: 1}, usage.Usage, "usage after create")

	// Stop, then start again.
	power := func(action string, want ovm.PowerState) {
		var at core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances/"+string(inst.ID)+"/"+action, tn.token, nil).decode(t, &at)
		done := e.waitTask(tn.token, at.Task.ID)
		require.Equal(t, ovm.TaskSucceeded, done.State, "%s task: %+v", action, done)
		var got ovm.Instance
		e.must(http.StatusOK, "GET", "/v1/instances/"+string(inst.ID), tn.token, nil).decode(t, &got)
		assert.Equal(t, want, got.Status.Power, "power after %s", action)
		h, err := fh.Hypervisor.Get(context.Background(), hypervisor.ByID(inst.ID))
		require.NoError(t, err)
		assert.Equal(t, want, h.Power, "power on the host after %s", action)
	}
	power("stop", ovm.PowerStopped)
	power("start", ovm.PowerRunning)

	var del core.InstanceTask
	e.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(inst.ID), tn.token, nil).decode(t, &del)
	done := e.waitTask(tn.token, del.Task.ID)
	require.Equal(t, ovm.TaskSucceeded, done.State, "delete task: %+v", done)
	e.must(http.StatusNotFound, "GET", "/v1/instances/"+string(inst.ID), tn.token, nil)
	onHost, err = fh.Hypervisor.List(context.Background())
	require.NoError(t, err)
	assert.Empty(t, onHost, "instances left on the host")
	e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc)+"/usage", tn.token, nil).decode(t, &usage)
	assert.Equal(t, ovm.Usage{Networks: 1}, usage.Usage, "usage after delete: only the network")
	e.must(http.StatusNoContent, "DELETE", "/v1/networks/"+string(n.ID), tn.token, nil)
}
