//go:build integration

package api

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// TestNetworkDocker: a tenant's network becomes a Docker network on the
// host its container lands on, the container gets the address OVM's IPAM
// chose (read back from the engine and from inside the container), and
// deleting the network removes the Docker network.
func TestNetworkDocker(t *testing.T) {
	host := testEnvVar(t, "DOCKER_HOST")
	image := testEnvVar(t, "OVM_TEST_DOCKER_IMAGE")
	dc := dockerClient(t, host)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "docker1", "kind": "docker", "endpoint": host, "poolId": pl.pool})
	tn := e.newTenant("acme", pl.pool, quota)

	name := "ovmnet-" + string(ovm.NewID().Short())
	subnet := fmt.Sprintf("10.%d.%d.0/24", 100+rand.IntN(100), rand.IntN(250))
	var n ovm.Network
	e.must(http.StatusCreated, "POST", "/v1/networks", tn.token, map[string]any{"name": name, "subnet": subnet}).decode(t, &n)
	t.Cleanup(func() {
		if err := dc.NetworkRemove(context.Background(), name); err != nil && !client.IsErrNotFound(err) {
			t.Errorf("cleanup: remove network %s: %v", name, err)
		}
	})

	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "web", "start": true,
		"spec": map[string]any{"type": "container", "cpuMilli": 100, "memoryBytes": 32 << 20,
			"image": map[string]string{"format": "oci", "name": image}, "command": bootCommand,
			"nics": []map[string]any{{"networkId": n.ID}}}}).decode(t, &it)
	t.Cleanup(func() { removeLabelled(t, dc, it.Instance.ID) })
	task := e.waitTask(tn.token, it.Task.ID)
	require.Equal(t, ovm.TaskSucceeded, task.State, "create: %s", task.Error)

	var inst ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(it.Instance.ID), tn.token, nil).decode(t, &inst)
	require.Len(t, inst.Spec.NICs, 1)
	ip := inst.Spec.NICs[0].IP
	require.True(t, n.Subnet.Contains(ip), "IPAM chose %s in %s", ip, n.Subnet)

	nw, err := dc.NetworkInspect(t.Context(), name, network.InspectOptions{})
	require.NoError(t, err, "the Docker network exists")
	require.NotEmpty(t, nw.IPAM.Config)
	assert.Equal(t, subnet, nw.IPAM.Config[0].Subnet)
	onHost := labelled(t, dc, it.Instance.ID)
	require.Len(t, onHost, 1)
	insp, err := dc.ContainerInspect(t.Context(), onHost[0].ID)
	require.NoError(t, err)
	ep, ok := insp.NetworkSettings.Networks[name]
	require.True(t, ok, "the container is on %s: %v", name, insp.NetworkSettings.Networks)
	assert.Equal(t, ip.String(), ep.IPAddress, "the engine gave the container IPAM's address")

	var res core.ExecResult
	e.must(http.StatusOK, "POST", "/v1/instances/"+string(it.Instance.ID)+"/exec", tn.token,
		map[string]any{"command": []string{"ip", "-4", "addr"}}).decode(t, &res)
	assert.Contains(t, res.Stdout, ip.String()+"/24", "the address inside the container")

	// Another VDC's network of the same name on the same host is its own
	// Docker network.
	other := e.newTenant("globex", pl.pool, quota)
	subnet2 := fmt.Sprintf("10.%d.%d.0/24", 100+rand.IntN(100), rand.IntN(250))
	for subnet2 == subnet {
		subnet2 = fmt.Sprintf("10.%d.%d.0/24", 100+rand.IntN(100), rand.IntN(250))
	}
	var n2 ovm.Network
	e.must(http.StatusCreated, "POST", "/v1/networks", other.token, map[string]any{"name": name, "subnet": subnet2}).decode(t, &n2)
	t.Cleanup(func() {
		if err := dc.NetworkRemove(context.Background(), name+"-"+string(n2.ID.Short())); err != nil && !client.IsErrNotFound(err) {
			t.Errorf("cleanup: remove network of %s: %v", n2.ID, err)
		}
	})
	var it2 core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", other.token, map[string]any{"name": "web", "start": true,
		"spec": map[string]any{"type": "container", "cpuMilli": 100, "memoryBytes": 32 << 20,
			"image": map[string]string{"format": "oci", "name": image}, "command": bootCommand,
			"nics": []map[string]any{{"networkId": n2.ID}}}}).decode(t, &it2)
	t.Cleanup(func() { removeLabelled(t, dc, it2.Instance.ID) })
	task2 := e.waitTask(other.token, it2.Task.ID)
	require.Equal(t, ovm.TaskSucceeded, task2.State, "create on the same-named network of another VDC: %s", task2.Error)
	var inst2 ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(it2.Instance.ID), other.token, nil).decode(t, &inst2)
	e.must(http.StatusOK, "POST", "/v1/instances/"+string(it2.Instance.ID)+"/exec", other.token,
		map[string]any{"command": []string{"ip", "-4", "addr"}}).decode(t, &res)
	assert.Contains(t, res.Stdout, inst2.Spec.NICs[0].IP.String()+"/24", "the other VDC's container has its own network's address")
	assert.True(t, n2.Subnet.Contains(inst2.Spec.NICs[0].IP))
	e.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(it2.Instance.ID), other.token, nil).decode(t, &it2)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(other.token, it2.Task.ID).State)
	e.must(http.StatusNoContent, "DELETE", "/v1/networks/"+string(n2.ID), other.token, nil)

	e.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(it.Instance.ID), tn.token, nil).decode(t, &it)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, it.Task.ID).State)
	e.must(http.StatusNoContent, "DELETE", "/v1/networks/"+string(n.ID), tn.token, nil)
	require.Eventually(t, func() bool {
		_, err := dc.NetworkInspect(t.Context(), name, network.InspectOptions{})
		return client.IsErrNotFound(err) || (err != nil && strings.Contains(err.Error(), "not found"))
	}, 30*time.Second, 50*time.Millisecond, "the Docker network is removed after the network is deleted")
}
