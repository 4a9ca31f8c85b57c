package controllers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/controllers/controllerstest"
	"github.com/openovm/ovm/server/core"
)

// monitorOptions probe often and sync never.
func monitorOptions(f controllers.Fencer) controllers.Options {
	return controllers.Options{SyncInterval: time.Hour, MonitorInterval: 100 * time.Millisecond,
		ProbeTimeout: 2 * time.Second, LeaseTTL: 3 * time.Second, Fencer: f}
}

// stateChanges returns the host states the monitor logged for a host, in
// order.
func stateChanges(c *cluster, h ovm.Host) []string {
	var out []string
	for _, r := range c.logs.find("host state changed", map[string]string{"hostId": string(h.ID)}) {
		out = append(out, r.attrs["to"])
	}
	return out
}

func TestMonitorEvacuatesFencedHost(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 3, haEnabled: true})
	h1 := c.hosts[0]
	web := c.create("web", c.instanceSpec(true, true))
	db := c.create("db", c.instanceSpec(false, true))
	batch := c.create("batch", c.instanceSpec(true, false))
	for _, inst := range []ovm.Instance{web, db, batch} {
		require.Equal(t, h1.ID, inst.Status.HostID, "PROGRESSIVE puts %s on host1", inst.Name)
	}
	c.start("r1", monitorOptions(controllerstest.FakePowerFence{Hosts: c.fakes}))
	require.Eventually(t, func() bool {
		return len(c.logs.find("lease taken", map[string]string{"lease": controllers.LeaseMonitor})) > 0
	},
		waitFor, tick, "the monitor never starts")

	c.fake(h1).SetUnreachable(true)

	require.Eventually(t, func() bool {
		got := c.instance(web.ID)
		return got.Status.Phase == ovm.PhaseReady && got.Status.HostID != h1.ID && got.Status.HostID != ""
	}, waitFor, tick, "web (shared storage, ha) is never restarted on another host: %+v", c.instance(web.ID).Status)
	assert.Equal(t, ovm.HostFailed, c.host(h1.ID).State, "failed host's state")
	assert.Equal(t, []string{"suspect", "failed"}, stateChanges(c, h1), "host1's state changes")

	moved := c.instance(web.ID)
	to := c.hostOf(moved.Status.HostID)
	assert.Equal(t, ovm.PowerRunning, power(t, c.fake(to), hypervisor.ByID(web.ID)), "web on %s", to.Name)
	assert.Equal(t, moved.Status.NativeID, func() string {
		got, err := c.fake(to).Get(t.Context(), hypervisor.ByID(web.ID))
		require.NoError(t, err)
		return got.NativeID
	}(), "web's native id is the new host's")

	gotDB := c.instance(db.ID)
	assert.Equal(t, ovm.PhaseLost, gotDB.Status.Phase, "db (local storage): phase")
	assert.Equal(t, h1.ID, gotDB.Status.HostID, "db stays recorded on the failed host")
	assert.Eventually(t, func() bool { return len(c.logs.find("ALERT", map[string]string{"alert": "instances-lost"})) > 0 },
		waitFor, tick, "no alert for the lost instance")
	gotBatch := c.instance(batch.ID)
	assert.Equal(t, h1.ID, gotBatch.Status.HostID, "batch (ha disabled) is not moved")
	assert.Equal(t, ovm.PowerUnknown, gotBatch.Status.Power, "batch's power")

	// The power-off stopped host1's copies; when it comes back, nothing is
	// left to stop and it takes work again.
	c.fake(h1).SetUnreachable(false)
	require.Eventually(t, func() bool { return c.host(h1.ID).State == ovm.HostUp },
		waitFor, tick, "host1 never comes back up: %+v", c.host(h1.ID))
	assert.Equal(t, ovm.PowerStopped, power(t, c.fake(h1), hypervisor.ByID(web.ID)), "web's old copy on host1")
	assert.Equal(t, ovm.PowerRunning, power(t, c.fake(to), hypervisor.ByID(web.ID)), "web on %s after host1 came back", to.Name)
}

func TestMonitorStopsStaleCopiesOfReturningHost(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 3, haEnabled: true})
	h1 := c.hosts[0]
	web := c.create("web", c.instanceSpec(true, true))
	fence := &diskLockFence{}
	c.start("r1", monitorOptions(fence))

	c.fake(h1).SetUnreachable(true)
	require.Eventually(t, func() bool {
		got := c.instance(web.ID)
		return got.Status.Phase == ovm.PhaseReady && got.Status.HostID != h1.ID
	}, waitFor, tick, "web is never restarted elsewhere")
	assert.Equal(t, int64(1), fence.n.Load(), "fences of host1")
	to := c.hostOf(c.instance(web.ID).Status.HostID)
	// Disk locks leave the host's own copy running: it is a stale copy.
	oldNative := web.Status.NativeID
	c.fake(h1).SetUnreachable(false)
	assert.Equal(t, ovm.PowerRunning, power(t, c.fake(h1), hypervisor.ByNative(oldNative)), "stale copy before the host is reconciled")

	require.Eventually(t, func() bool { return c.host(h1.ID).State == ovm.HostUp },
		waitFor, tick, "host1 never takes work again: %+v", c.host(h1.ID))
	assert.Equal(t, ovm.PowerStopped, power(t, c.fake(h1), hypervisor.ByNative(oldNative)), "stale copy on host1 after reconciliation")
	assert.Equal(t, ovm.PowerRunning, power(t, c.fake(to), hypervisor.ByID(web.ID)), "web on %s", to.Name)
	assert.Eventually(t, func() bool { return len(c.logs.find("ALERT", map[string]string{"alert": "stale-copies"})) > 0 },
		waitFor, tick, "no stale-copies alert")
	assert.Equal(t, []string{"suspect", "failed", "returned"}, stateChanges(c, h1), "host1's state changes")
}

func TestMonitorWithoutFenceMarksUnknown(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 2, haEnabled: true})
	h1, h2 := c.hosts[0], c.hosts[1]
	web := c.create("web", c.instanceSpec(true, true))
	c.start("r1", monitorOptions(nil))

	c.fake(h1).SetUnreachable(true)
	require.Eventually(t, func() bool { return c.instance(web.ID).Status.Phase == ovm.PhaseUnknown },
		waitFor, tick, "web never becomes unknown: %+v", c.instance(web.ID).Status)
	got := c.instance(web.ID)
	assert.Equal(t, h1.ID, got.Status.HostID, "web is not moved without a fence")
	assert.Equal(t, ovm.PowerState(""), power(t, c.fake(h2), hypervisor.ByID(web.ID)), "web must not run on host2")
	// The monitor logs the alert once the evacuation's transaction, which
	// made web unknown, has committed: it may come a moment after.
	assert.Eventually(t, func() bool { return len(c.logs.find("ALERT", map[string]string{"alert": "fence-unconfirmed"})) > 0 },
		waitFor, tick, "no fence-unconfirmed alert")
	// The alert is stored, open, for administrators to see.
	var stored core.Alert
	require.Eventually(t, func() bool {
		as := c.alerts(ha.AlertFenceUnconfirmed, h1.ID)
		if len(as) == 1 {
			stored = as[0]
		}
		return len(as) == 1
	}, waitFor, tick, "no stored fence-unconfirmed alert for host1: %+v", c.alerts("", ""))
	assert.True(t, stored.Open(), "the alert while host1 is down: %+v", stored)
	assert.Equal(t, []ovm.ID{web.ID}, stored.InstanceIDs, "the alert's instances")
	assert.Equal(t, 1, stored.Count, "the alert's count")
	assert.NotEmpty(t, stored.Message, "the alert's message")

	// The host comes back with web still on it: web is found again.
	c.fake(h1).SetUnreachable(false)
	require.Eventually(t, func() bool { return c.host(h1.ID).State == ovm.HostUp }, waitFor, tick, "host1 never comes back up")
	require.Eventually(t, func() bool { return c.instance(web.ID).Status.Phase == ovm.PhaseReady },
		waitFor, tick, "web is never found again: %+v", c.instance(web.ID).Status)
	assert.Equal(t, ovm.PowerRunning, c.instance(web.ID).Status.Power, "web's power once found again")
	// Host1 is up: its alert is resolved by the monitor.
	require.Eventually(t, func() bool {
		a, _, err := c.svc.GetAlert(t.Context(), c.admin, stored.ID)
		require.NoError(t, err)
		return !a.Open()
	}, waitFor, tick, "the fence-unconfirmed alert is never resolved once host1 is up")
	resolved, _, err := c.svc.GetAlert(t.Context(), c.admin, stored.ID)
	require.NoError(t, err)
	assert.Equal(t, "host-monitor", resolved.ResolvedBy, "who resolved the alert")
	assert.Len(t, c.alerts(ha.AlertFenceUnconfirmed, h1.ID), 1, "alerts of host1 after it came back")
}

// TestMonitorProbesEveryHost: a host of a pool without HA that stops
// answering is marked failed and placement skips it, without a fence or an
// evacuation; it is up again once it answers. A host of an HA pool is
// probed in the same rounds.
func TestMonitorProbesEveryHost(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 2, haEnabled: false})
	h1, h2 := c.hosts[0], c.hosts[1]
	web := c.create("web", c.instanceSpec(true, true))
	require.Equal(t, h1.ID, web.Status.HostID, "PROGRESSIVE puts web on host1")
	ctx := t.Context()
	pool2, err := c.svc.CreatePool(ctx, c.admin, core.CreatePool{Name: "pool2", DatacenterID: c.dc, HAEnabled: true})
	require.NoError(t, err)
	watched, err := c.svc.RegisterHost(ctx, c.admin, core.RegisterHost{Name: "watched", Kind: ovm.HostFake,
		Endpoint: "fake://" + strings.ToLower(string(ovm.NewID().Short())) + "-watched", PoolID: pool2.ID})
	require.NoError(t, err)
	c.start("r1", monitorOptions(controllerstest.FakePowerFence{Hosts: c.fakes}))
	c.fake(h1).SetUnreachable(true)

	require.Eventually(t, func() bool { return c.host(h1.ID).State == ovm.HostFailed }, waitFor, tick,
		"host1 of a pool without HA is never marked failed: %+v", c.host(h1.ID))
	assert.Equal(t, []string{"suspect", "failed"}, stateChanges(c, h1), "state changes of host1")
	assert.Positive(t, c.fake(watched).Calls(fake.MethodPing), "probes of the host of the HA pool")
	assert.Equal(t, ovm.HostUp, c.host(watched.ID).State, "the answering host of the HA pool")
	assert.Equal(t, ovm.HostUp, c.host(h2.ID).State, "the answering host2")

	// Placement skips the failed host: PROGRESSIVE would fill host1 first.
	next := c.create("next", c.instanceSpec(true, false))
	assert.Equal(t, h2.ID, next.Status.HostID, "an instance created while host1 is failed")
	// No fence, no evacuation: web waits for its host.
	got := c.instance(web.ID)
	assert.Equal(t, h1.ID, got.Status.HostID, "web's host")
	assert.Equal(t, ovm.PhaseReady, got.Status.Phase, "web's phase")
	assert.Empty(t, c.logs.find("failed host fenced", nil), "fences of a host in a pool without HA")
	assert.Empty(t, c.alerts("", h1.ID), "alerts of a host in a pool without HA")

	c.fake(h1).SetUnreachable(false)
	require.Eventually(t, func() bool { return c.host(h1.ID).State == ovm.HostUp }, waitFor, tick, "host1 never comes back up")
	assert.Equal(t, ovm.PowerRunning, c.instance(web.ID).Status.Power, "web still runs on host1")
	assert.Equal(t, h1.ID, c.instance(web.ID).Status.HostID)
}

// TestMonitorStartsHAInstancesOnReturn: an HA instance that could not be
// restarted elsewhere (no fence) and whose host lost power is started
// again when the host comes back, instead of staying stopped for good; an
// instance without HA is left as the host reports it.
func TestMonitorStartsHAInstancesOnReturn(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 2, haEnabled: true})
	h1 := c.hosts[0]
	web := c.create("web", c.instanceSpec(true, true))
	plain := c.create("plain", c.instanceSpec(true, false))
	require.Equal(t, h1.ID, plain.Status.HostID, "PROGRESSIVE puts plain on host1")
	c.start("r1", monitorOptions(nil))

	c.fake(h1).SetUnreachable(true)
	c.fake(h1).PowerCut()
	require.Eventually(t, func() bool { return c.instance(web.ID).Status.Phase == ovm.PhaseUnknown },
		waitFor, tick, "web never becomes unknown: %+v", c.instance(web.ID).Status)
	require.Equal(t, h1.ID, c.instance(web.ID).Status.HostID, "web is not moved without a fence")

	c.fake(h1).SetUnreachable(false)
	require.Eventually(t, func() bool {
		got := c.instance(web.ID).Status
		return got.Phase == ovm.PhaseReady && got.Power == ovm.PowerRunning
	}, waitFor, tick, "web is never started again on host1: %+v", c.instance(web.ID).Status)
	assert.Equal(t, ovm.PowerRunning, power(t, c.fake(h1), hypervisor.ByID(web.ID)), "web on host1")
	require.Eventually(t, func() bool { return c.host(h1.ID).State == ovm.HostUp }, waitFor, tick, "host1 never comes back up")
	require.Eventually(t, func() bool { return c.instance(plain.ID).Status.Phase == ovm.PhaseReady },
		waitFor, tick, "plain is never found again: %+v", c.instance(plain.ID).Status)
	assert.Equal(t, ovm.PowerStopped, c.instance(plain.ID).Status.Power, "plain, without HA, stays as the power cut left it")
	assert.Equal(t, ovm.PowerStopped, power(t, c.fake(h1), hypervisor.ByID(plain.ID)), "plain on host1")
}
