package controllers_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// TestTwoReplicasOneLeader runs two replicas on one store: only the one
// holding a loop's lease acts, and the other takes over when it stops.
func TestTwoReplicasOneLeader(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := newCluster(t, b.open(t), clusterOptions{hosts: 2, haEnabled: true})
			_, err := c.fake(c.hosts[1]).AddUnmanaged("legacy-db", ovm.InstanceSpec{}, true)
			require.NoError(t, err)
			o := controllers.Options{SyncInterval: 50 * time.Millisecond, MonitorInterval: 100 * time.Millisecond,
				ProbeTimeout: 2 * time.Second, LeaseTTL: time.Second}
			ra, rb := c.start("replica-a", o), c.start("replica-b", o)

			// Each loop has its own lease: find the leader of each.
			leaderOf := func(lease string) (*replica, *replica) {
				switch {
				case ra.ctl.Leading()[lease]:
					return ra, rb
				case rb.ctl.Leading()[lease]:
					return rb, ra
				}
				return nil, nil
			}
			var syncer, syncIdle, prober, probeIdle *replica
			require.Eventually(t, func() bool {
				syncer, syncIdle = leaderOf(controllers.LeaseSync)
				prober, probeIdle = leaderOf(controllers.LeaseMonitor)
				return syncer != nil && prober != nil
			}, waitFor, tick, "no replica leads the loops")
			require.Eventually(t, func() bool { return syncer.count("List") >= 6 && prober.count("Ping") >= 6 },
				waitFor, tick, "the leaders never sync and probe three rounds")
			assert.Zero(t, syncIdle.count("List"), "sync List calls by the replica without the sync lease")
			assert.Zero(t, probeIdle.count("Ping"), "monitor Ping calls by the replica without the monitor lease")
			assert.False(t, syncIdle.ctl.Leading()[controllers.LeaseSync], "both replicas lead the sync loop")
			assert.False(t, probeIdle.ctl.Leading()[controllers.LeaseMonitor], "both replicas lead the monitor loop")
			assert.Len(t, c.discovered(), 1, "discovered records of the one unmanaged object")

			// The sync leader stops (releasing its leases): the other
			// replica takes every loop over.
			stopped, survivor := syncer, syncIdle
			stopped.stop()
			lists, pings := stopped.count("List"), stopped.count("Ping")
			require.Eventually(t, func() bool {
				l := survivor.ctl.Leading()
				return l[controllers.LeaseSync] && l[controllers.LeaseMonitor]
			}, waitFor, tick, "the other replica never takes over")
			base := survivor.count("List")
			require.Eventually(t, func() bool { return survivor.count("List") >= base+4 }, waitFor, tick,
				"the new sync leader never syncs")
			assert.Equal(t, lists, stopped.count("List"), "List calls by the stopped replica")
			assert.Equal(t, pings, stopped.count("Ping"), "Ping calls by the stopped replica")
			assert.Len(t, c.discovered(), 1, "discovered records after the handover")
		})
	}
}

// TestPausedLeaderCannotWrite: a leader whose lease expired while it was
// paused, and was taken by another replica, writes nothing: each guarded
// write re-checks the epoch in its own transaction.
func TestPausedLeaderCannotWrite(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := newCluster(t, b.open(t), clusterOptions{hosts: 2, haEnabled: true})
			h1 := c.hosts[0]
			web := c.create("web", c.instanceSpec(true, true))
			_, err := c.fake(h1).AddUnmanaged("legacy-db", ovm.InstanceSpec{}, true)
			require.NoError(t, err)
			old, cur := c.takeOver(controllers.LeaseSync)

			writes := []struct {
				name  string
				write func(ctx context.Context, lease controllers.Lease) error
			}{
				{"sync", func(ctx context.Context, l controllers.Lease) error {
					_, err := core.NewSystem(c.svc).SyncHost(ctx, h1.ID, l.Guard())
					return err
				}},
				{"host state", func(ctx context.Context, l controllers.Lease) error {
					return core.NewSystem(c.svc).SetHostState(ctx, h1.ID, ovm.HostSuspect, "probe failed", l.Guard())
				}},
				{"evacuation", func(ctx context.Context, l controllers.Lease) error {
					_, err := core.NewSystem(c.svc).EvacuateHost(ctx, h1.ID, ha.FenceResult{Host: h1.ID, Outcome: ha.FenceNotConfigured}, ha.PlanEvacuation, l.Guard())
					return err
				}},
				{"stale copies", func(ctx context.Context, l controllers.Lease) error {
					_, err := core.NewSystem(c.svc).StopStaleCopies(ctx, h1.ID, []ha.Stop{{Instance: web.ID, NativeID: web.Status.NativeID}}, l.Guard())
					return err
				}},
			}
			for _, w := range writes {
				t.Run(w.name, func(t *testing.T) {
					err := w.write(t.Context(), old)
					require.ErrorIs(t, err, controllers.ErrLeaseLost, "%s by the paused old leader", w.name)
					assert.Equal(t, ovm.KindConflict, ovm.KindOf(err), "kind of the refused write: %v", err)
				})
			}
			assert.Empty(t, c.discovered(), "discovered records written by the old leader")
			assert.Equal(t, ovm.HostUp, c.host(h1.ID).State, "host state written by the old leader")
			assert.Equal(t, ovm.PhaseReady, c.instance(web.ID).Status.Phase, "instance written by the old leader")

			// The new leader's writes go through.
			rep, err := core.NewSystem(c.svc).SyncHost(t.Context(), h1.ID, cur.Guard())
			require.NoError(t, err)
			assert.Equal(t, 1, rep.Added, "objects the new leader discovered")
			assert.Len(t, c.discovered(), 1)
		})
	}
}

// TestLeaderBodyCancelledWhenLeaseLost: a leader whose renewals find the
// lease taken by another holder stops its body.
func TestLeaderBodyCancelledWhenLeaseLost(t *testing.T) {
	st := openSQLite(t)
	l := &controllers.Leader{Store: st, Name: "test.loop", Holder: "a", TTL: 300 * time.Millisecond}
	started := make(chan controllers.Lease, 4)
	stopped := make(chan struct{}, 4)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- l.Run(ctx, func(ctx context.Context, lease controllers.Lease) error {
			started <- lease
			<-ctx.Done()
			stopped <- struct{}{}
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	var first controllers.Lease
	select {
	case first = <-started:
	case <-time.After(waitFor):
		t.Fatal("the body never starts")
	}
	epoch, ok := l.Held()
	require.True(t, ok)
	require.Equal(t, first.Epoch, epoch)
	// Another holder takes the lease by force: the lease row is released
	// under the leader (as if it expired while the leader was paused) and
	// taken by "b" for long.
	require.NoError(t, st.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
		if err := tx.ReleaseLease(ctx, "test.loop", "a"); err != nil {
			return err
		}
		_, held, err := tx.AcquireLease(ctx, "test.loop", "b", time.Minute)
		if err == nil && !held {
			err = ovm.Errorf(ovm.KindConflict, "b did not get the lease")
		}
		return err
	}))
	select {
	case <-stopped:
	case <-time.After(waitFor):
		t.Fatal("the body is not cancelled after the lease was lost")
	}
	require.Eventually(t, func() bool { _, ok := l.Held(); return !ok }, waitFor, tick)
	require.ErrorIs(t, st.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
		return first.Guard()(ctx, tx)
	}), controllers.ErrLeaseLost, "the lost lease's guard")
}
