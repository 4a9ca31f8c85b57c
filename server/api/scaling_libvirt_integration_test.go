//go:build integration

package api

import (
	"net/http"
	"path/filepath"
	"strings"
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

// TestScalingLibvirt: a group of 64 MiB TCG guests at min 1, max 2,
// driven by a schedule (every minute: desired 2) and a metric rule (memory
// below 1 GiB, which libvirt's balloon reports for these guests, for two
// periods: one less). The schedule grows it to two running guests on the
// engine; the rule (with a cooldown of 20 s, so that the new guest boots
// before it may act) brings it back to one, removing the newer guest from
// the engine; both decisions say what fired.
func TestScalingLibvirt(t *testing.T) {
	e, tn, lh, template := kvmTenant(t)

	var g core.ScalingGroup
	e.must(http.StatusCreated, "POST", "/v1/scaling-groups", tn.token, map[string]any{"name": "tcg",
		"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20,
			"image": map[string]string{"format": "qcow2", "name": filepath.Base(template)}},
		"policy": map[string]any{"min": 1, "max": 2,
			"schedules": []map[string]any{{"cron": "* * * * *", "desired": 2}},
			"rules": []map[string]any{{"metric": "memoryUsedBytes", "direction": "below", "threshold": 1 << 30, "periods": 2, "step": 1,
				"cooldownSeconds": 20}},
		}}).decode(t, &g)
	t.Cleanup(func() { e.removeGuests(lh, tn) })
	e.runControllers(controllers.Options{MetricsInterval: time.Second, ScalerInterval: 3 * time.Second,
		SyncInterval: time.Hour, MonitorInterval: time.Hour, LeaseTTL: 5 * time.Second})

	decided := func(kind apitypes.ScalingEventKind, cause string) bool {
		var ev []core.ScalingEvent
		e.must(http.StatusOK, "GET", "/v1/scaling-groups/"+string(g.ID)+"/decisions", tn.token, nil).decode(t, &ev)
		for _, d := range ev {
			if d.Kind == kind && strings.HasPrefix(d.Cause, cause) {
				return true
			}
		}
		return false
	}
	ms := e.waitRunning(tn, g.ID, 1, 2*time.Minute, time.Second)
	require.NotNil(t, ms, "the group makes its minimum")
	first := ms[0]
	if ms = e.waitRunning(tn, g.ID, 2, 3*time.Minute, time.Second); ms == nil {
		t.Fatalf("the schedule does not grow the group to two running guests: %s", e.groupState(tn, g.ID, first))
	}
	second := ms[1]
	assert.True(t, decided(apitypes.ScaleOut, `schedules[0] "* * * * *" fired`), "the schedule's decision")
	assert.False(t, decided(apitypes.ScaleRefused, ""), "no refusal: the host has room for two 64 MiB guests")
	var inst ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(second), tn.token, nil).decode(t, &inst)
	st, ok := lh.State(t, guestDomain(inst.Name, second))
	require.True(t, ok, "the second guest is a domain on the engine")
	t.Logf("second guest's domain state: %v", st)

	require.Eventually(t, func() bool {
		return decided(apitypes.ScaleIn, "rules[0]: average memoryUsedBytes below") && len(e.members(tn, g.ID, false)) == 1
	}, 2*time.Minute, time.Second, "the metric rule shrinks the group")
	ms = e.members(tn, g.ID, false)
	require.Len(t, ms, 1)
	assert.Equal(t, first, ms[0], "the first guest stays: scale-in removes the newest")
	require.Eventually(t, func() bool {
		_, ok := lh.State(t, guestDomain(inst.Name, second))
		return !ok
	}, time.Minute, time.Second, "the newer guest is gone from the engine")
}

// TestScalingLibvirtMetric: a group of 64 MiB TCG guests grown by a
// metric rule (memory used above 1 byte for two periods: as soon as the
// first guest reports) to two running guests, then, its rules changed by a
// PATCH to one that removes a member below 1 GiB, shrunk back to the first.
func TestScalingLibvirtMetric(t *testing.T) {
	e, tn, lh, template := kvmTenant(t)
	var g core.ScalingGroup
	e.must(http.StatusCreated, "POST", "/v1/scaling-groups", tn.token, map[string]any{"name": "tcgm",
		"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20,
			"image": map[string]string{"format": "qcow2", "name": filepath.Base(template)}},
		"policy": map[string]any{"min": 1, "max": 2,
			"rules": []map[string]any{{"metric": "memoryUsedBytes", "direction": "above", "threshold": 1, "periods": 2, "step": 1}},
		}}).decode(t, &g)
	t.Cleanup(func() { e.removeGuests(lh, tn) })
	e.runControllers(controllers.Options{MetricsInterval: time.Second, ScalerInterval: 3 * time.Second,
		SyncInterval: time.Hour, MonitorInterval: time.Hour, LeaseTTL: 5 * time.Second})
	ms := e.waitRunning(tn, g.ID, 1, 2*time.Minute, time.Second)
	require.NotNil(t, ms, "the group makes its minimum")
	first := ms[0]
	if ms = e.waitRunning(tn, g.ID, 2, 3*time.Minute, time.Second); ms == nil {
		t.Fatalf("the metric rule does not grow the group to two running guests: %s", e.groupState(tn, g.ID, first))
	}
	second := ms[1]
	var ev []core.ScalingEvent
	e.must(http.StatusOK, "GET", "/v1/scaling-groups/"+string(g.ID)+"/decisions", tn.token, nil).decode(t, &ev)
	require.NotEmpty(t, ev)
	assert.Equal(t, apitypes.ScaleOut, ev[len(ev)-1].Kind)
	assert.Contains(t, ev[len(ev)-1].Cause, "rules[0]: average memoryUsedBytes above 1")
	var inst ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(second), tn.token, nil).decode(t, &inst)
	_, ok := lh.State(t, guestDomain(inst.Name, second))
	require.True(t, ok, "the second guest is a domain on the engine")

	e.must(http.StatusOK, "PATCH", "/v1/scaling-groups/"+string(g.ID), tn.token, map[string]any{
		"rules": []map[string]any{{"metric": "memoryUsedBytes", "direction": "below", "threshold": 1 << 30, "periods": 2, "step": 1}}})
	require.Eventually(t, func() bool { return len(e.members(tn, g.ID, false)) == 1 }, 2*time.Minute, time.Second,
		"the changed rule shrinks the group")
	require.Eventually(t, func() bool {
		_, ok := lh.State(t, guestDomain(inst.Name, second))
		return !ok
	}, time.Minute, time.Second, "the newer guest is gone from the engine")
}

// guestDomain is the libvirt domain of an instance.
func guestDomain(name string, id ovm.ID) string { return name + "-" + string(id.Short()) }

// removeGuests removes the domains and volumes of the tenant's instances
// from the test libvirtd.
func (e *env) removeGuests(lh *libvirthost.Host, tn tenant) {
	var page core.Page[ovm.Instance]
	if r := e.do("GET", "/v1/instances?limit=1000", tn.token, nil); r.status == http.StatusOK {
		r.decode(e.t, &page)
	}
	for _, inst := range page.Items {
		lh.RemoveDomain(guestDomain(inst.Name, inst.ID))
		lh.RemoveVolumes(inst.ID)
	}
}

// kvmTenant is a server with the test libvirtd registered as a host of a
// pool (its capacity logged), and a tenant of that pool; it returns the
// engine's handle and the test template.
func kvmTenant(t *testing.T) (*env, tenant, *libvirthost.Host, string) {
	t.Helper()
	uri, template, opts := libvirtTestHost(t)
	lh := libvirthost.Dial(t, uri, opts)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	var h ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "kvm1", "kind": "kvm", "endpoint": uri,
		"poolId": pl.pool, "options": opts}).decode(t, &h)
	t.Logf("the test host's capacity: %s", h.Capacity)
	return e, e.newTenant("acme", pl.pool, quota), lh, template
}
