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
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// TestScalingLibvirt: a group of TCG guests at min 1, max 2, driven by a
// schedule (every minute: desired 2) and a metric rule (memory below
// 1 GiB, which libvirt's balloon reports for these 128 MiB guests, for two
// periods: one less). The schedule grows it to 2 on the engine; the
// rule brings it back to 1, removing the newer guest; both decisions say
// what fired.
func TestScalingLibvirt(t *testing.T) {
	uri, template, opts := libvirtTestHost(t)
	lh := libvirthost.Dial(t, uri, opts)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "kvm1", "kind": "kvm", "endpoint": uri,
		"poolId": pl.pool, "options": opts})
	tn := e.newTenant("acme", pl.pool, quota)

	var g core.ScalingGroup
	e.must(http.StatusCreated, "POST", "/v1/scaling-groups", tn.token, map[string]any{"name": "tcg",
		"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 128 << 20,
			"image": map[string]string{"format": "qcow2", "name": filepath.Base(template)}},
		"policy": map[string]any{"min": 1, "max": 2,
			"schedules": []map[string]any{{"cron": "* * * * *", "desired": 2}},
			"rules":     []map[string]any{{"metric": "memoryUsedBytes", "direction": "below", "threshold": 1 << 30, "periods": 2, "step": 1}},
		}}).decode(t, &g)
	t.Cleanup(func() {
		for _, id := range e.members(tn, g.ID, true) {
			for _, n := range []string{"tcg-1", "tcg-2", "tcg-3", "tcg-4", "tcg-5", "tcg-6"} {
				lh.RemoveDomain(n + "-" + string(id.Short()))
			}
			lh.RemoveVolumes(id)
		}
	})
	e.runControllers(controllers.Options{MetricsInterval: time.Second, ScalerInterval: 3 * time.Second,
		SyncInterval: time.Hour, MonitorInterval: time.Hour, LeaseTTL: 5 * time.Second})

	decided := func(kind apitypes.ScalingEventKind, cause string) bool {
		var ev []core.ScalingEvent
		e.must(http.StatusOK, "GET", "/v1/scaling-groups/"+string(g.ID)+"/decisions", tn.token, nil).decode(t, &ev)
		for _, d := range ev {
			if d.Kind == kind && len(d.Cause) >= len(cause) && d.Cause[:len(cause)] == cause {
				return true
			}
		}
		return false
	}
	require.Eventually(t, func() bool { return decided(apitypes.ScaleOut, `schedules[0] "* * * * *" fired`) }, 2*time.Minute, time.Second,
		"the schedule grows the group at a minute's start")
	// The second guest runs when the host has room (then the rule removes
	// it), or its create is refused with the pool's words (the host is
	// shared with other tests' guests) and the rule is held at min 1.
	shrunk := assert.Eventually(t, func() bool {
		return decided(apitypes.ScaleIn, "rules[0]: average memoryUsedBytes below") ||
			(decided(apitypes.ScaleRefused, "member tcg-") && decided(apitypes.ScaleHeld, "rules[0]: average memoryUsedBytes below"))
	}, 2*time.Minute, time.Second, "the metric rule shrinks the group, or a bound holds it after a refusal")
	require.True(t, shrunk, "%s", e.groupState(tn, g.ID, e.members(tn, g.ID, false)[0]))
	ms := e.members(tn, g.ID, false)
	require.NotEmpty(t, ms)
	assert.LessOrEqual(t, len(ms), 2)
	var inst ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(ms[0]), tn.token, nil).decode(t, &inst)
	assert.Equal(t, "tcg-1", inst.Name, "the first guest stays: scale-in removes the newest")
}
