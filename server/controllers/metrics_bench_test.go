package controllers_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/store/sqlstore"
)

// benchPlatform is many instances on fake hosts whose statistics cost
// nothing to read, over a real store: what a round costs is the
// collector's own work and the store's.
type benchPlatform struct {
	st    store.Store
	hosts []core.MetricHost
	start time.Time
}

func (p *benchPlatform) MetricTargets(context.Context) ([]core.MetricHost, error) {
	return p.hosts, nil
}

func (p *benchPlatform) SampleInstance(_ context.Context, _ core.MetricHost, inst core.MetricInstance) (hypervisor.Stats, error) {
	up := uint64(time.Since(p.start) / time.Second)
	return hypervisor.Stats{Time: time.Now(), CPUPercent: float64(len(inst.ID) % 100), MemoryUsed: 200 * ovm.MiB, MemoryLimit: 512 * ovm.MiB,
		NetRxBytes: 1500 * up, NetTxBytes: 700 * up, DiskRead: 65536 * up, DiskWrite: 16384 * up, DiskReadOps: 16 * up, DiskWriteOps: 4 * up}, nil
}

func (p *benchPlatform) SampleHost(context.Context, core.MetricHost) (hypervisor.HostStats, bool, error) {
	up := time.Since(p.start)
	return hypervisor.HostStats{Time: time.Now(), CPUs: 32, CPUBusy: up * 8, CPUTime: up * 32, MemoryUsed: 64 * ovm.GiB, MemoryTotal: 256 * ovm.GiB}, true, nil
}

func (p *benchPlatform) RecordMetrics(ctx context.Context, samples []store.MetricSample, _ core.Guard) error {
	return p.st.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.RecordMetrics(ctx, samples, core.MetricRollups)
	})
}

func (p *benchPlatform) PruneMetrics(context.Context, core.Guard) (int64, error) { return 0, nil }

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCollectorRound: one round over 10,000 instances on 50 fake
// hosts (20 VDCs) into the embedded store. Reported: the CPU a round
// costs as a share of one core at the default 15 s interval, and the
// database's bytes per stored point (each round stores a point per
// instance at full resolution and adds into its minute and hour rows).
func BenchmarkCollectorRound(b *testing.B) {
	const instances, hostCount, vdcCount = 10000, 50, 20
	dir := b.TempDir()
	st, err := sqlstore.OpenSQLite(b.Context(), filepath.Join(dir, "db"), sqlstore.WithExclusive())
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Close() })
	p := &benchPlatform{st: st, start: time.Now()}
	vdcs := make([]ovm.ID, vdcCount)
	for i := range vdcs {
		vdcs[i] = ovm.NewID()
	}
	for h := range hostCount {
		mh := core.MetricHost{ID: ovm.NewID(), Kind: ovm.HostFake, Capacity: ovm.Resources{CPU: ovm.CPUs(64), Memory: 512 * ovm.GiB}}
		for i := range instances / hostCount {
			mh.Instances = append(mh.Instances, core.MetricInstance{ID: ovm.NewID(), VDCID: vdcs[(h+i)%vdcCount], Type: ovm.TypeVM})
		}
		p.hosts = append(p.hosts, mh)
	}
	col := &controllers.Collector{Platform: p, PerHost: 4}
	_, err = col.Round(b.Context(), nil) // the first round: no counter growth yet
	require.NoError(b, err)
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		_, err := col.Round(b.Context(), nil)
		require.NoError(b, err)
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	perRound := cpu / time.Duration(b.N)
	b.ReportMetric(perRound.Seconds()/15*100, "%core@15s")
	b.ReportMetric(perRound.Seconds()*1000, "cpu-ms/round")
	size := int64(0)
	files, err := os.ReadDir(filepath.Join(dir, "db"))
	require.NoError(b, err)
	for _, f := range files {
		if fi, err := f.Info(); err == nil {
			size += fi.Size()
		}
	}
	rows := int64(instances+hostCount+vdcCount) * int64(b.N+1)
	b.ReportMetric(float64(size)/float64(rows), "db-bytes/raw-point")
}
