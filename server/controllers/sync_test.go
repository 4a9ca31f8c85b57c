package controllers_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
)

// removeBehindOVM deletes an instance on its host without telling OVM.
func removeBehindOVM(t *testing.T, c *cluster, inst ovm.Instance) {
	t.Helper()
	d := c.fake(c.hostOf(inst.Status.HostID))
	ref := hypervisor.ByNative(inst.Status.NativeID)
	require.NoError(t, d.Stop(t.Context(), ref, hypervisor.StopOptions{Force: true}))
	require.NoError(t, d.Delete(t.Context(), ref))
}

// orphanOn makes an object carrying an OVM id the store does not know.
func orphanOn(t *testing.T, c *cluster, h ovm.Host, name string) hypervisor.Instance {
	t.Helper()
	got, err := c.fake(h).Create(t.Context(), hypervisor.CreateSpec{ID: ovm.NewID(), Name: name, Spec: c.instanceSpec(false, false)})
	require.NoError(t, err)
	return got
}

func TestSyncHostGuardedReports(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 2})
	h1, h2 := c.hosts[0], c.hosts[1]
	kept := c.create("kept", c.instanceSpec(false, false))
	gone := c.create("gone", c.instanceSpec(false, false))
	require.Equal(t, h1.ID, gone.Status.HostID, "PROGRESSIVE puts the first instances on host1")
	removeBehindOVM(t, c, gone)
	legacy, err := c.fake(h1).AddUnmanaged("legacy-db", ovm.InstanceSpec{}, true)
	require.NoError(t, err)
	ghost := orphanOn(t, c, h1, "ghost")

	tests := []struct {
		name        string
		host        ovm.Host
		wantAdded   int
		wantDisc    []string
		wantMissing []ovm.ID
		wantOrphans []ovm.ID
	}{
		{name: "first sync of host1", host: h1, wantAdded: 1, wantDisc: []string{legacy.NativeID},
			wantMissing: []ovm.ID{gone.ID}, wantOrphans: []ovm.ID{ghost.OVMID}},
		// The second sync records nothing new and finds gone lost already.
		{name: "second sync of host1", host: h1, wantAdded: 0, wantDisc: []string{legacy.NativeID},
			wantOrphans: []ovm.ID{ghost.OVMID}},
		{name: "empty host2", host: h2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := core.NewSystem(c.svc).SyncHost(t.Context(), tt.host.ID, nil)
			require.NoError(t, err)
			assert.Equal(t, tt.wantAdded, rep.Added, "added: got %d, want %d", rep.Added, tt.wantAdded)
			var disc []string
			for _, d := range rep.Discovered {
				disc = append(disc, d.NativeID)
			}
			assert.Equal(t, tt.wantDisc, disc, "discovered native ids")
			var missing, orphans []ovm.ID
			for _, m := range rep.Missing {
				missing = append(missing, m.ID)
			}
			for _, o := range rep.Orphans {
				orphans = append(orphans, o.OVMID)
			}
			assert.Equal(t, tt.wantMissing, missing, "missing instances")
			assert.Equal(t, tt.wantOrphans, orphans, "orphans")
		})
	}
	got := c.instance(gone.ID)
	assert.Equal(t, ovm.PhaseLost, got.Status.Phase, "instance removed behind OVM's back: phase")
	assert.Contains(t, got.Status.Message, "removed outside OVM")
	assert.Equal(t, ovm.PhaseReady, c.instance(kept.ID).Status.Phase, "instance still on its host: phase")
}

func TestSyncLoop(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 3})
	h1, h2, h3 := c.hosts[0], c.hosts[1], c.hosts[2]
	gone := c.create("gone", c.instanceSpec(false, false))
	removeBehindOVM(t, c, gone)
	legacy, err := c.fake(h2).AddUnmanaged("legacy-db", ovm.InstanceSpec{}, true)
	require.NoError(t, err)
	ghost := orphanOn(t, c, h2, "ghost")
	// host3 does not answer: it is skipped, the round goes on.
	c.fake(h3).SetUnreachable(true)

	c.start("r1", controllers.Options{SyncInterval: 50 * time.Millisecond, MonitorInterval: time.Hour, LeaseTTL: 3 * time.Second})

	require.Eventually(t, func() bool {
		ds := c.discovered()
		return len(ds) == 1 && ds[0].NativeID == legacy.NativeID && ds[0].HostID == h2.ID
	}, waitFor, tick, "the unmanaged object on host2 is never recorded as discovered: got %+v", c.discovered())
	require.Eventually(t, func() bool { return c.instance(gone.ID).Status.Phase == ovm.PhaseLost },
		waitFor, tick, "the instance removed from host1 is never marked lost")
	require.Eventually(t, func() bool {
		return len(c.logs.find("orphan", map[string]string{"ovmId": string(ghost.OVMID), "host": h2.Name})) > 0
	}, waitFor, tick, "the orphan on host2 is never reported")
	require.Eventually(t, func() bool {
		return len(c.logs.find("host skipped", map[string]string{"host": h3.Name})) >= 2
	}, waitFor, tick, "the unreachable host3 is never reported skipped in two rounds")
	assert.Equal(t, ovm.HostUp, c.host(h1.ID).State, "sync changes no host state")

	// A discovered object stays recorded once, round after round.
	n := len(c.logs.find("host skipped", nil))
	require.Eventually(t, func() bool { return len(c.logs.find("host skipped", nil)) >= n+3 }, waitFor, tick)
	assert.Len(t, c.discovered(), 1, "discovered objects after several rounds")
}

// TestSyncRecordsPowerChangedOutsideOVM: an instance stopped or started on
// its host behind OVM's back gets the host's power at the next sync, and a
// discovered object keeps the power it has now.
func TestSyncRecordsPowerChangedOutsideOVM(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 1})
	h1 := c.hosts[0]
	d := c.fake(h1)
	stopped := c.create("stopped", c.instanceSpec(false, false))
	kept := c.create("kept", c.instanceSpec(false, false))
	legacy, err := d.AddUnmanaged("legacy-db", ovm.InstanceSpec{}, true)
	require.NoError(t, err)

	tests := []struct {
		name        string
		outside     func(t *testing.T)
		wantPowered map[ovm.ID]ovm.PowerState
		wantLegacy  ovm.PowerState
	}{
		{name: "nothing changed", outside: func(*testing.T) {}, wantLegacy: ovm.PowerRunning},
		{name: "stopped outside", outside: func(t *testing.T) {
			require.NoError(t, d.Stop(t.Context(), hypervisor.ByNative(stopped.Status.NativeID), hypervisor.StopOptions{Force: true}))
			require.NoError(t, d.Stop(t.Context(), hypervisor.ByNative(legacy.NativeID), hypervisor.StopOptions{Force: true}))
		}, wantPowered: map[ovm.ID]ovm.PowerState{stopped.ID: ovm.PowerStopped}, wantLegacy: ovm.PowerStopped},
		{name: "recorded already", outside: func(*testing.T) {}, wantLegacy: ovm.PowerStopped},
		{name: "started outside", outside: func(t *testing.T) {
			require.NoError(t, d.Start(t.Context(), hypervisor.ByNative(stopped.Status.NativeID)))
		}, wantPowered: map[ovm.ID]ovm.PowerState{stopped.ID: ovm.PowerRunning}, wantLegacy: ovm.PowerStopped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.outside(t)
			rep, err := core.NewSystem(c.svc).SyncHost(t.Context(), h1.ID, nil)
			require.NoError(t, err)
			got := map[ovm.ID]ovm.PowerState{}
			for _, p := range rep.Powered {
				got[p.ID] = p.To
			}
			if tt.wantPowered == nil {
				tt.wantPowered = map[ovm.ID]ovm.PowerState{}
			}
			assert.Equal(t, tt.wantPowered, got, "power changes the sync reports")
			for id, p := range tt.wantPowered {
				assert.Equal(t, p, c.instance(id).Status.Power, "recorded power of %s", id)
			}
			require.Len(t, rep.Discovered, 1)
			assert.Equal(t, tt.wantLegacy, rep.Discovered[0].Power, "discovered object's power in the report")
			ds := c.discovered()
			require.Len(t, ds, 1)
			assert.Equal(t, tt.wantLegacy, ds[0].Power, "discovered object's recorded power")
		})
	}
	assert.Equal(t, ovm.PowerRunning, c.instance(kept.ID).Status.Power, "an instance nobody touched keeps its power")
	assert.Equal(t, ovm.PhaseReady, c.instance(stopped.ID).Status.Phase)
}
