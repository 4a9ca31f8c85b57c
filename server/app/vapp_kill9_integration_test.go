//go:build integration

package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// soakRounds is how many times a soak test repeats its proof: once in
// make test, OVM_SOAK_ROUNDS times under make soak.
func soakRounds(t *testing.T) int {
	n := 1
	if s := os.Getenv("OVM_SOAK_ROUNDS"); s != "" {
		v, err := strconv.Atoi(s)
		require.NoError(t, err, "OVM_SOAK_ROUNDS")
		n = max(v, 1)
	}
	return n
}

// TestKill9VAppDeploy kills the real binary with SIGKILL in the middle of
// a 20-member vApp deploy on the real dockerd, restarts it on the same
// data directory and checks that the vApp ends deployed (every member
// runs, in one container each) or rolled back (no member left), with no
// orphan and no duplicate container. make soak repeats it twenty times,
// killing at a different moment each time.
func TestKill9VAppDeploy(t *testing.T) {
	image := os.Getenv("OVM_TEST_DOCKER_IMAGE")
	endpoint := os.Getenv("DOCKER_HOST")
	require.NotEmpty(t, image, "OVM_TEST_DOCKER_IMAGE is not set: run make testenv and . ./.testenv")
	require.NotEmpty(t, endpoint, "DOCKER_HOST is not set: run make testenv and . ./.testenv")
	cli, err := client.NewClientWithOpts(client.WithHost(endpoint), client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })

	rounds := soakRounds(t)
	outcomes := map[ovm.Phase]int{}
	for round := range rounds {
		// Kill anywhere from the request's answer to well into the starts.
		after := time.Duration(rand.IntN(1500)) * time.Millisecond
		t.Run(fmt.Sprintf("round %d kill after %s", round+1, after), func(t *testing.T) {
			outcomes[killDuringVAppDeploy(t, cli, endpoint, image, after)]++
		})
	}
	t.Logf("FIGURE %d vApp deploys of 20 members killed with SIGKILL: %d deployed, %d rolled back", rounds, outcomes[ovm.PhaseReady], outcomes[ovm.PhaseFailed])
}

// killDuringVAppDeploy runs one round and returns how the vApp ended.
func killDuringVAppDeploy(t *testing.T, cli *client.Client, endpoint, image string, after time.Duration) ovm.Phase {
	dir := filepath.Join(t.TempDir(), "data")
	addr := freePort(t)
	p := startProc(t, dir, addr)
	require.Eventually(t, func() bool { return p.adminPassword() != "" }, 30*time.Second, 10*time.Millisecond,
		"the first start prints the administrator's password")
	admin := apiLogin(t, p.url, "admin", p.adminPassword())

	var dc ovm.Datacenter
	require.Equal(t, http.StatusCreated, call(t, p.url, "POST", "/v1/datacenters", admin, map[string]any{"name": "dc1"}, &dc))
	var pool ovm.ResourcePool
	require.Equal(t, http.StatusCreated, call(t, p.url, "POST", "/v1/pools", admin, map[string]any{"name": "pool1", "datacenterId": dc.ID, "policy": "PERFORMANCE"}, &pool))
	require.Equal(t, http.StatusCreated, call(t, p.url, "POST", "/v1/hosts", admin, map[string]any{"name": "docker1", "kind": "docker", "endpoint": endpoint, "poolId": pool.ID}, nil))
	var vdc ovm.VDC
	q := ovm.Quota{CPU: ovm.CPUs(8), Memory: 8 * ovm.GiB, Disk: 100 * ovm.GiB, Instances: 40, Networks: 2}
	require.Equal(t, http.StatusCreated, call(t, p.url, "POST", "/v1/vdcs", admin, map[string]any{"name": "acme", "poolId": pool.ID, "quota": q}, &vdc))
	onEngine := func() []container.Summary {
		t.Helper()
		list, err := cli.ContainerList(context.Background(), container.ListOptions{All: true,
			Filters: filters.NewArgs(filters.Arg("label", docker.LabelVDC+"="+string(vdc.ID)))})
		require.NoError(t, err)
		return list
	}
	t.Cleanup(func() {
		for _, c := range onEngine() {
			_ = cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		}
	})

	const n = 20
	members := make([]map[string]any, n)
	for i := range members {
		members[i] = map[string]any{"name": fmt.Sprintf("m%02d", i), "startGroup": i % 3, "spec": map[string]any{
			"type": "container", "cpuMilli": 100, "memoryBytes": 32 << 20,
			"image": map[string]string{"format": "oci", "name": image}, "command": []string{"sleep", "600"}}}
	}
	var vt apitypes.VAppTasks
	require.Equal(t, http.StatusAccepted, call(t, p.url, "POST", "/v1/vapps", admin,
		map[string]any{"name": "big", "vdcId": vdc.ID, "members": members}, &vt))
	time.Sleep(after)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL), "kill -9 the server")
	<-p.done

	p2 := startProc(t, dir, addr)
	admin = apiLogin(t, p2.url, "admin", p.adminPassword())
	var app apitypes.VAppInfo
	require.Eventually(t, func() bool {
		app = apitypes.VAppInfo{}
		require.Equal(t, http.StatusOK, call(t, p2.url, "GET", "/v1/vapps/"+string(vt.VApp.ID), admin, nil, &app))
		return app.Phase != ovm.PhaseCreating && app.TaskID == ""
	}, 5*time.Minute, 200*time.Millisecond, "the vApp never settles after the restart")

	count := map[string]int{}
	settle := func() bool {
		clear(count)
		for _, c := range onEngine() {
			count[c.Labels[docker.LabelID]]++
		}
		return app.Phase == ovm.PhaseReady || len(count) == 0
	}
	// A roll back's deletes run after the vApp is marked failed.
	require.Eventually(t, settle, 3*time.Minute, 200*time.Millisecond, "containers left after the roll back: %v", count)
	switch app.Phase {
	case ovm.PhaseReady:
		for _, m := range app.MemberStatus {
			assert.Equal(t, 1, count[string(m.InstanceID)], "containers of member %s", m.Name)
			assert.Equal(t, ovm.PowerRunning, m.Power, "member %s", m.Name)
			delete(count, string(m.InstanceID))
		}
		assert.Empty(t, count, "containers OVM does not know")
	case ovm.PhaseFailed:
		t.Logf("rolled back: %s", app.Message)
		var page struct{ Items []ovm.Instance }
		require.Equal(t, http.StatusOK, call(t, p2.url, "GET", "/v1/instances?vdcId="+string(vdc.ID), admin, nil, &page))
		assert.Empty(t, page.Items, "members left after the roll back")
	default:
		t.Fatalf("vApp ended %s: %+v", app.Phase, app)
	}
	return app.Phase
}
