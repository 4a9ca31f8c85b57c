//go:build integration

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
	"github.com/openovm/ovm/server/chef/cheftest"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// TestChefAtCreateESXi: the ESXi driver gives a VM no cloud-init
// user-data, so a VM created on the simulated ESXi host with an enrolment
// is created, but its enrolment fails saying why, and nothing is left on
// the real Chef server (goiardi); enrolling it later is 501 (no exec).
func TestChefAtCreateESXi(t *testing.T) {
	sim := esxisim.Start(t, esxiUser, esxiPassword)
	srv := cheftest.FromEnv(t)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, esxiHostBody("esxi1", sim.Endpoint(), pl.pool,
		map[string]string{"username": esxiUser, "password": esxiPassword, "thumbprint": sim.Thumbprint}, map[string]string{"vswitch": "vSwitch0"}))
	tn := e.newTenant("acme", pl.pool, quota)
	var cs apitypes.ChefServer
	e.must(http.StatusCreated, "POST", "/v1/chef/servers", e.admin, map[string]any{"name": "chef1", "url": srv.URL,
		"clientName": srv.ClientName, "key": string(srv.Key)}).decode(t, &cs)

	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "vm1", "start": true, "chef": map[string]any{"serverId": cs.ID},
		"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20, "image": map[string]string{"format": "vmdk", "name": "tiny.vmdk"}},
	}).decode(t, &it)
	id := it.Instance.ID
	t.Cleanup(func() {
		sim.Remove(t, "vm1-"+string(id.Short()))
		_ = srv.Admin.Nodes.Delete(string(id))
		_ = srv.Admin.Clients.Delete(string(id))
	})
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, it.Task.ID).State, "the VM is created")
	var n apitypes.ChefNode
	require.Eventually(t, func() bool {
		e.must(http.StatusOK, "GET", "/v1/instances/"+string(id)+"/chef", tn.token, nil).decode(t, &n)
		return n.State != apitypes.ChefNodeEnrolling
	}, time.Minute, 50*time.Millisecond)
	assert.Equal(t, apitypes.ChefNodeFailed, n.State)
	assert.Contains(t, n.Message, "gives a VM no cloud-init user-data")
	_, err := srv.Admin.Nodes.Get(string(id))
	assert.Error(t, err, "no node on goiardi")
	_, err = srv.Admin.Clients.Get(string(id))
	assert.Error(t, err, "no client on goiardi")
	p := problemOf(t, e.must(http.StatusNotImplemented, "POST", "/v1/instances/"+string(id)+"/chef", tn.token, map[string]any{"serverId": cs.ID}))
	assert.Contains(t, p.Detail, "runs no commands inside instances")
}
