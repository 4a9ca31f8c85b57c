package api

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
)

// TestNetworkRealisedOnHost: an instance's network becomes a segment on the
// host it is placed on, with the address IPAM chose; deleting the network
// removes the segment from the pool's hosts in a network.delete task.
func TestNetworkRealisedOnHost(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	var n ovm.Network
	e.must(http.StatusCreated, "POST", "/v1/networks", tn.token, map[string]any{"name": "front", "subnet": "10.9.0.0/24", "vlan": 0}).decode(t, &n)
	assert.Equal(t, "10.9.0.1", n.Gateway.String(), "the gateway defaults to the subnet's first address")
	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "web", "spec": container(n.ID), "start": true}).decode(t, &it)
	task := e.waitTask(tn.token, it.Task.ID)
	require.Equal(t, ovm.TaskSucceeded, task.State, task.Error)
	assert.Contains(t, logText(task), "network front is", "the task log says what the network became on the host")

	var h ovm.Host
	e.must(http.StatusOK, "GET", "/v1/hosts/"+string(pl.hosts[0]), e.admin, nil).decode(t, &h)
	fh, err := e.fakes.Host(h.Endpoint)
	require.NoError(t, err)
	ctx := context.Background()
	seg, err := fh.Network.GetNetwork(ctx, n.ID)
	require.NoError(t, err, "the network exists on the host")
	assert.Equal(t, n.Subnet, seg.Network.Subnet)
	var inst ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(it.Instance.ID), tn.token, nil).decode(t, &inst)
	require.Len(t, inst.Spec.NICs, 1)
	assert.True(t, n.Subnet.Contains(inst.Spec.NICs[0].IP), "NIC address %s from IPAM in %s", inst.Spec.NICs[0].IP, n.Subnet)
	assert.NotEqual(t, n.Gateway, inst.Spec.NICs[0].IP, "IPAM never hands out the gateway")

	problemOf(t, e.must(http.StatusConflict, "DELETE", "/v1/networks/"+string(n.ID), tn.token, nil))
	e.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(it.Instance.ID), tn.token, nil).decode(t, &it)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, it.Task.ID).State)
	e.must(http.StatusNoContent, "DELETE", "/v1/networks/"+string(n.ID), tn.token, nil)

	var del ovm.Task
	require.Eventually(t, func() bool {
		var pg core.Page[ovm.Task]
		e.must(http.StatusOK, "GET", "/v1/tasks", tn.token, nil).decode(t, &pg)
		for _, tk := range pg.Items {
			if tk.Kind == core.TaskNetworkDelete && tk.TargetID == n.ID {
				del = tk
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "a network.delete task is listed for the tenant")
	del = e.waitTask(tn.token, del.ID)
	require.Equal(t, ovm.TaskSucceeded, del.State, del.Error)
	_, err = fh.Network.GetNetwork(ctx, n.ID)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "the segment is gone from the host")
}

// logText is a task's log, one line per entry.
func logText(t ovm.Task) string {
	s := ""
	for _, l := range t.Log {
		s += l.Message + "\n"
	}
	return s
}
