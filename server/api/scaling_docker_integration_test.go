//go:build integration

package api

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// TestScalingDocker: a group of busybox containers at min 1, max 3 grows
// to 3 while its first member spins (yes > /dev/null, through exec), and
// shrinks back to 1 once the load stops, each change a decision with the
// rule and the averages that fired; members are made and removed on the
// engine through the ordinary create and delete paths.
func TestScalingDocker(t *testing.T) {
	e, tn, dc, image, _ := dockerTenant(t, quota)

	var g core.ScalingGroup
	e.must(http.StatusCreated, "POST", "/v1/scaling-groups", tn.token, map[string]any{"name": "burn",
		"spec": map[string]any{"type": "container", "cpuMilli": 500, "memoryBytes": 32 << 20,
			"image": map[string]string{"format": "oci", "name": image}, "command": bootCommand},
		"policy": map[string]any{"min": 1, "max": 3, "rules": []map[string]any{
			{"metric": "cpuPercent", "direction": "above", "threshold": 5, "periods": 2, "step": 1},
			{"metric": "cpuPercent", "direction": "below", "threshold": 2, "periods": 2, "step": 1},
		}}}).decode(t, &g)
	t.Cleanup(func() {
		for _, id := range e.members(tn, g.ID, true) {
			removeLabelled(t, dc, id)
		}
	})
	// A round of Docker stats takes a second or two: periods of 3 s each
	// hold a sample.
	e.runControllers(controllers.Options{MetricsInterval: time.Second, ScalerInterval: 3 * time.Second,
		SyncInterval: time.Hour, MonitorInterval: time.Hour, LeaseTTL: 5 * time.Second})
	path := "/v1/scaling-groups/" + string(g.ID)

	ms := e.waitRunning(tn, g.ID, 1, time.Minute, 200*time.Millisecond)
	require.NotNil(t, ms, "the group makes its minimum")
	first := ms[0]
	e.shell(tn, first, "yes > /dev/null 2>&1 & yes > /dev/null 2>&1 & echo started")
	loaded := time.Now()
	grown := assert.Eventually(t, func() bool {
		ms := e.members(tn, g.ID, false)
		return len(ms) == 3 && e.running(tn, ms[1]) && e.running(tn, ms[2])
	}, 90*time.Second, 500*time.Millisecond, "the loaded group grows to its maximum")
	require.True(t, grown, "%s", e.groupState(tn, g.ID, first))
	t.Logf("grew to 3 in %s", time.Since(loaded).Round(time.Millisecond))
	assert.Len(t, labelledAll(t, e, dc, tn, g.ID), 3, "three members on the engine")

	e.shell(tn, first, "killall yes; echo stopped")
	require.Eventually(t, func() bool { return len(e.members(tn, g.ID, false)) == 1 }, 90*time.Second, 500*time.Millisecond,
		"the idle group shrinks to its minimum")
	ms = e.members(tn, g.ID, false)
	assert.Equal(t, first, ms[0], "scale-in removes the newest members first")

	var ev []core.ScalingEvent
	e.must(http.StatusOK, "GET", path+"/decisions", tn.token, nil).decode(t, &ev)
	var outs, ins int
	for _, d := range ev {
		switch d.Kind {
		case apitypes.ScaleOut:
			outs++
			assert.Contains(t, d.Cause, "cpuPercent above 5")
			assert.Len(t, d.Values, 2, "the two periods' averages")
		case apitypes.ScaleIn:
			ins++
			assert.Contains(t, d.Cause, "cpuPercent below 2")
			assert.Len(t, d.Members, 1, "the member removed")
		}
	}
	assert.Equal(t, [2]int{2, 2}, [2]int{outs, ins}, "two scale-outs and two scale-ins: %+v", ev)
	require.Eventually(t, func() bool { return len(labelledAll(t, e, dc, tn, g.ID)) == 1 }, time.Minute, 500*time.Millisecond,
		"the removed members are gone from the engine")
}

// dockerTenant is a server with the test dockerd registered as a host of
// a pool, and a tenant of that pool with quota q; it returns the engine's
// client and the test image.
func dockerTenant(t *testing.T, q ovm.Quota) (*env, tenant, *client.Client, string, ovm.Host) {
	t.Helper()
	host := testEnvVar(t, "DOCKER_HOST")
	image := testEnvVar(t, "OVM_TEST_DOCKER_IMAGE")
	dc := dockerClient(t, host)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	var h ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "docker1", "kind": "docker", "endpoint": host,
		"poolId": pl.pool}).decode(t, &h)
	return e, e.newTenant("acme", pl.pool, q), dc, image, h
}

// shell runs a shell command in an instance and requires it to succeed.
func (e *env) shell(tn tenant, id ovm.ID, cmd string) {
	e.t.Helper()
	var res core.ExecResult
	e.must(http.StatusOK, "POST", "/v1/instances/"+string(id)+"/exec", tn.token, map[string]any{"command": []string{"sh", "-c", cmd}}).decode(e.t, &res)
	require.Equal(e.t, 0, res.ExitCode, "%s: %+v", cmd, res)
}

// groupState says what a group decided and what its first member's CPU
// was, for a failure's message.
func (e *env) groupState(tn tenant, id, first ovm.ID) string {
	r := e.do("GET", "/v1/scaling-groups/"+string(id)+"/decisions", tn.token, nil)
	m := e.do("GET", "/v1/instances/"+string(first)+"/metrics?metrics=cpuPercent&step=1&from="+
		time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), tn.token, nil)
	g := e.do("GET", "/v1/scaling-groups/"+string(id), tn.token, nil)
	return "decisions " + string(r.body) + "\ngroup " + string(g.body) + "\nfirst member's CPU " + string(m.body)
}

// members reads a group's members; all adds those being deleted.
func (e *env) members(tn tenant, id ovm.ID, all bool) []ovm.ID {
	e.t.Helper()
	var g core.ScalingGroup
	r := e.do("GET", "/v1/scaling-groups/"+string(id), tn.token, nil)
	if r.status != http.StatusOK {
		return nil
	}
	r.decode(e.t, &g)
	if !all {
		return g.Members
	}
	var out []ovm.ID
	var page core.Page[ovm.Instance]
	e.must(http.StatusOK, "GET", "/v1/instances?limit=1000", tn.token, nil).decode(e.t, &page)
	for _, inst := range page.Items {
		out = append(out, inst.ID)
	}
	return out
}

// waitRunning waits until a group has n members, all running, and returns
// them (nil if it does not within the time given).
func (e *env) waitRunning(tn tenant, group ovm.ID, n int, within, tick time.Duration) []ovm.ID {
	e.t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(tick) {
		ms := e.members(tn, group, false)
		if len(ms) == n && !slices.ContainsFunc(ms, func(id ovm.ID) bool { return !e.running(tn, id) }) {
			return ms
		}
		if time.Now().After(deadline) {
			return nil
		}
	}
}

// running reports whether an instance runs.
func (e *env) running(tn tenant, id ovm.ID) bool {
	var inst ovm.Instance
	r := e.do("GET", "/v1/instances/"+string(id), tn.token, nil)
	if r.status != http.StatusOK {
		return false
	}
	r.decode(e.t, &inst)
	return inst.Status.Phase == ovm.PhaseReady && inst.Status.Power == ovm.PowerRunning
}

// labelledAll lists the containers on the engine of the tenant's
// instances.
func labelledAll(t *testing.T, e *env, dc *client.Client, tn tenant, group ovm.ID) []string {
	t.Helper()
	var out []string
	for _, id := range e.members(tn, group, true) {
		for _, c := range labelled(t, dc, id) {
			out = append(out, c.ID)
		}
	}
	return out
}
