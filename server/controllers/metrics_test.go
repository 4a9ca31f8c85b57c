package controllers_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// slowStats wraps the platform: each sample takes a while, and the most
// samples in flight on one host at once are counted.
type slowStats struct {
	*core.System
	delay    time.Duration
	mu       sync.Mutex
	inFlight map[ovm.ID]int
	most     map[ovm.ID]int
	calls    atomic.Int64
}

func (s *slowStats) SampleInstance(ctx context.Context, h core.MetricHost, inst core.MetricInstance) (hypervisor.Stats, error) {
	s.calls.Add(1)
	s.mu.Lock()
	s.inFlight[h.ID]++
	s.most[h.ID] = max(s.most[h.ID], s.inFlight[h.ID])
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight[h.ID]--
		s.mu.Unlock()
	}()
	time.Sleep(s.delay)
	return s.System.SampleInstance(ctx, h, inst)
}

// seriesValues reads one metric of a series.
func seriesValues(t *testing.T, s apitypes.MetricSeries, m apitypes.Metric) []apitypes.MetricPoint {
	t.Helper()
	for _, v := range s.Series {
		if v.Metric == m {
			return v.Points
		}
	}
	t.Fatalf("series has no metric %s", m)
	return nil
}

// TestCollectorRound: a round samples every running instance through its
// driver, at most PerHost at a time on one host, and stores a sample per
// instance, per host (their sums) and per VDC; the second round records
// the counters' growth as rates. A stopped instance is not sampled.
func TestCollectorRound(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := newCluster(t, b.open(t), clusterOptions{hosts: 2})
			var insts []ovm.Instance
			for _, name := range []string{"m1", "m2", "m3", "m4", "m5"} {
				insts = append(insts, c.create(name, c.instanceSpec(false, false)))
			}
			stopped := c.create("m6", c.instanceSpec(false, false))
			it, err := c.svc.InstanceAction(t.Context(), c.admin, stopped.ID, core.OpStop, 0)
			require.NoError(t, err)
			_, err = c.svc.WaitTask(t.Context(), c.admin, it.Task.ID)
			require.NoError(t, err)

			wrap := &slowStats{System: core.NewSystem(c.svc), delay: 30 * time.Millisecond,
				inFlight: map[ovm.ID]int{}, most: map[ovm.ID]int{}}
			col := &controllers.Collector{Platform: wrap, PerHost: 2}
			rep, err := col.Round(t.Context(), nil)
			require.NoError(t, err)
			assert.Equal(t, controllers.RoundReport{Hosts: 2, Sampled: 5, Errors: map[ovm.ID]error{}}, rep)
			assert.Equal(t, int64(5), wrap.calls.Load(), "one sample per running instance, none of the stopped one")
			for h, n := range wrap.most {
				assert.LessOrEqual(t, n, 2, "samples in flight on host %s", h)
			}
			time.Sleep(1100 * time.Millisecond) // the fake's counters grow per second
			_, err = col.Round(t.Context(), nil)
			require.NoError(t, err)

			q := core.MetricsQuery{From: time.Now().Add(-time.Minute), To: time.Now().Add(time.Minute), Step: 5 * time.Second}
			got, err := c.svc.InstanceMetrics(t.Context(), c.admin, insts[0].ID, q)
			require.NoError(t, err)
			assert.Equal(t, int64(0), got.ResolutionSeconds, "a short range reads the full resolution")
			cpu := seriesValues(t, got, apitypes.MetricCPUPercent)
			require.NotEmpty(t, cpu)
			for _, p := range cpu {
				// The fake's 1-vCPU VM uses 10 + (uptime mod 30) percent.
				assert.True(t, p.Value >= 10 && p.Value < 40, "cpuPercent: got %v, want 10 to 40", p.Value)
			}
			rx := seriesValues(t, got, apitypes.MetricNetRxBytesPerSecond)
			require.NotEmpty(t, rx, "the second round measures the counters' growth")
			for _, p := range rx {
				assert.InDelta(t, 1500, p.Value, 1500*0.5, "the fake receives 1500 bytes a second")
			}
			mem := seriesValues(t, got, apitypes.MetricMemoryLimitBytes)
			require.NotEmpty(t, mem)
			assert.Equal(t, float64(256*ovm.MiB), mem[0].Value)

			// The VDC's usage is the sum of its five running instances.
			vdc, err := c.svc.VDCMetrics(t.Context(), c.admin, c.vdc, q)
			require.NoError(t, err)
			vmem := seriesValues(t, vdc, apitypes.MetricMemoryLimitBytes)
			require.NotEmpty(t, vmem)
			assert.Equal(t, float64(5*256*ovm.MiB), vmem[0].Value, "the VDC's memory limit sums its instances'")
			vcpu := seriesValues(t, vdc, apitypes.MetricCPUPercent)
			require.NotEmpty(t, vcpu)
			assert.True(t, vcpu[0].Value >= 50 && vcpu[0].Value < 200, "VDC cpuPercent: got %v, want five instances' sum", vcpu[0].Value)

			// A host's series: its instances' sums, its capacity as the limit.
			h := c.host(c.hosts[0].ID)
			hs, err := c.svc.HostMetrics(t.Context(), c.admin, h.ID, q)
			require.NoError(t, err)
			hm := seriesValues(t, hs, apitypes.MetricMemoryLimitBytes)
			require.NotEmpty(t, hm)
			assert.Equal(t, float64(h.Capacity.Memory), hm[0].Value)

			// Tenants: their instances and VDC, never hosts.
			tenant := auth.Principal{UserID: ovm.NewID(), Name: "u", Role: auth.RoleVDCMember, VDCID: c.vdc}
			_, err = c.svc.InstanceMetrics(t.Context(), tenant, insts[0].ID, q)
			require.NoError(t, err)
			_, err = c.svc.HostMetrics(t.Context(), tenant, h.ID, q)
			assert.ErrorIs(t, err, ovm.ErrNotFound, "a tenant asking for a host's metrics")
			other := auth.Principal{UserID: ovm.NewID(), Name: "o", Role: auth.RoleVDCMember, VDCID: ovm.NewID()}
			_, err = c.svc.InstanceMetrics(t.Context(), other, insts[0].ID, q)
			assert.ErrorIs(t, err, ovm.ErrNotFound, "another VDC's tenant asking for an instance's metrics")
			_, err = c.svc.VDCMetrics(t.Context(), other, c.vdc, q)
			assert.ErrorIs(t, err, ovm.ErrNotFound, "another VDC's tenant asking for a VDC's metrics")
		})
	}
}

// TestCollectorLease: the collector runs under its lease, every interval;
// a round whose lease was lost writes nothing.
func TestCollectorLease(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := newCluster(t, b.open(t), clusterOptions{hosts: 1})
			inst := c.create("leased", c.instanceSpec(false, false))
			r := c.start("r1", controllers.Options{MetricsInterval: 50 * time.Millisecond, LeaseTTL: time.Second,
				SyncInterval: time.Hour, MonitorInterval: time.Hour})
			q := core.MetricsQuery{From: time.Now().Add(-time.Minute), To: time.Now().Add(time.Minute), Step: time.Second}
			require.Eventually(t, func() bool {
				s, err := c.svc.InstanceMetrics(t.Context(), c.admin, inst.ID, q)
				return err == nil && len(seriesValues(t, s, apitypes.MetricCPUPercent)) >= 3
			}, waitFor, tick, "the leader samples every interval")
			assert.True(t, r.ctl.Leading()[controllers.LeaseMetrics])
			r.stop()

			// A guard whose lease is gone refuses the round's write.
			stale := controllers.Lease{Name: controllers.LeaseMetrics, Holder: "gone", Epoch: 1}
			col := &controllers.Collector{Platform: core.NewSystem(c.svc)}
			_, err := col.Round(t.Context(), stale.Guard())
			require.ErrorIs(t, err, controllers.ErrLeaseLost)
			var latest []store.MetricSample
			require.NoError(t, c.st.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
				var err error
				latest, err = tx.LatestMetrics(ctx, store.MetricInstance, time.Time{})
				return err
			}))
			require.Len(t, latest, 1)
			assert.WithinDuration(t, time.Now(), latest[0].At, time.Minute)
		})
	}
}

// ownHost is a platform whose hosts report their own counters: a CPU
// time that grows by busy of total each round over 4 CPUs, and memory.
type ownHost struct {
	*core.System
	mu    sync.Mutex
	round int
}

func (o *ownHost) SampleHost(_ context.Context, h core.MetricHost) (hypervisor.HostStats, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.round++
	n := time.Duration(o.round)
	return hypervisor.HostStats{Time: time.Now(), CPUs: 4, CPUBusy: n * 5 * time.Second, CPUTime: n * 10 * time.Second,
		MemoryUsed: 3 * ovm.GiB, MemoryTotal: 8 * ovm.GiB}, true, nil
}

// TestCollectorHostCounters: a host whose driver reads its own counters
// gets its CPU share from their growth between rounds (half of 4 CPUs
// busy: 200) and its own memory, in place of its instances' sums; its
// network and disk stay the sums.
func TestCollectorHostCounters(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 1})
	c.create("m1", c.instanceSpec(false, false))
	col := &controllers.Collector{Platform: &ownHost{System: core.NewSystem(c.svc)}}
	for range 2 {
		_, err := col.Round(t.Context(), nil)
		require.NoError(t, err)
		time.Sleep(1100 * time.Millisecond)
	}
	q := core.MetricsQuery{From: time.Now().Add(-time.Minute), To: time.Now().Add(time.Minute), Step: time.Second}
	hs, err := c.svc.HostMetrics(t.Context(), c.admin, c.hosts[0].ID, q)
	require.NoError(t, err)
	cpu := seriesValues(t, hs, apitypes.MetricCPUPercent)
	require.Len(t, cpu, 2)
	assert.InDelta(t, 200, cpu[1].Value, 0.01, "the busy share of the host's CPU time, 100 per CPU")
	assert.Less(t, cpu[0].Value, 100.0, "the first round: the instances' sum, no growth to measure yet")
	for _, m := range []struct {
		metric apitypes.Metric
		want   float64
	}{{apitypes.MetricMemoryUsedBytes, float64(3 * ovm.GiB)}, {apitypes.MetricMemoryLimitBytes, float64(8 * ovm.GiB)}} {
		vs := seriesValues(t, hs, m.metric)
		require.NotEmpty(t, vs, string(m.metric))
		assert.Equal(t, m.want, vs[len(vs)-1].Value, string(m.metric))
	}
	rx := seriesValues(t, hs, apitypes.MetricNetRxBytesPerSecond)
	require.NotEmpty(t, rx, "network stays the instances' sum")
}
