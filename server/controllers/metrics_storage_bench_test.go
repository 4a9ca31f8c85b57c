package controllers_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/store/sqlstore"
)

// metricTableBytes is what the metric tables and their indexes take in
// the SQLite database at path (its dbstat table), and their rows.
func metricTableBytes(tb testing.TB, path string) (bytes, rows int64) {
	tb.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(tb, err)
	defer db.Close()
	require.NoError(tb, db.QueryRow(`SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name LIKE '%metric%'`).Scan(&bytes))
	var points, latest int64
	require.NoError(tb, db.QueryRow(`SELECT COUNT(*) FROM metric_points`).Scan(&points))
	require.NoError(tb, db.QueryRow(`SELECT COUNT(*) FROM metric_latest`).Scan(&latest))
	return bytes, points + latest
}

// BenchmarkMetricsStorageDay: a day of samples of 20 instances every 15 s
// (the default interval) into the embedded store, with the minute and hour
// rollups, then the default retention's pruning at the day's end. Reported:
// the metric tables' bytes per instance for the day as written, and per
// instance as kept after pruning (6 h raw, 24 h of minutes, the hours);
// each further day adds its 24 hour rows (kept 30 days).
func BenchmarkMetricsStorageDay(b *testing.B) {
	const instances, interval = 20, 15 * time.Second
	day := 24 * time.Hour
	for b.Loop() {
		dir := b.TempDir()
		ctx := context.Background()
		st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "db"), sqlstore.WithExclusive())
		require.NoError(b, err)
		ids := make([]ovm.ID, instances)
		for i := range ids {
			ids[i] = ovm.NewID()
		}
		vdc, host := ovm.NewID(), ovm.NewID()
		start := time.Now().Add(-day).Truncate(time.Hour)
		for at := start; at.Before(start.Add(day)); at = at.Add(interval) {
			samples := make([]store.MetricSample, instances)
			for i, id := range ids {
				samples[i] = store.MetricSample{Subject: id, Kind: store.MetricInstance, VDCID: vdc, HostID: host, InstanceType: ovm.TypeVM,
					At: at, CPUPercent: float64(i%7) * 11.3, MemoryUsed: int64(200*ovm.MiB) + int64(i)*4096, MemoryLimit: int64(512 * ovm.MiB),
					MetricCounters: store.MetricCounters{Seconds: interval.Seconds(), NetRxBytes: 22500, NetTxBytes: 10500,
						DiskRead: 983040, DiskWrite: 245760, DiskReadOps: 240, DiskWriteOps: 60}}
			}
			require.NoError(b, st.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
				return tx.RecordMetrics(ctx, samples, core.MetricRollups)
			}))
		}
		require.NoError(b, st.Close())
		path := filepath.Join(dir, "db", sqlstore.SQLiteFile)
		written, rows := metricTableBytes(b, path)

		st, err = sqlstore.OpenSQLite(ctx, filepath.Join(dir, "db"), sqlstore.WithExclusive())
		require.NoError(b, err)
		ret := core.MetricsRetention{Raw: core.DefaultMetricsRaw, Minute: core.DefaultMetricsMinute, Hour: core.DefaultMetricsHour}
		before, forget := ret.Cutoffs(start.Add(day))
		require.NoError(b, st.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
			_, _, err := tx.PruneMetrics(ctx, before, forget, "", 0)
			return err
		}))
		require.NoError(b, st.Close())
		db, err := sql.Open("sqlite", path)
		require.NoError(b, err)
		_, err = db.Exec(`VACUUM`)
		require.NoError(b, err)
		require.NoError(b, db.Close())
		kept, keptRows := metricTableBytes(b, path)
		b.ReportMetric(float64(written)/instances, "bytes/instance-day")
		b.ReportMetric(float64(written)/float64(rows), "bytes/row")
		b.ReportMetric(float64(kept)/instances, "kept-bytes/instance")
		b.ReportMetric(float64(keptRows)/instances, "kept-rows/instance")
	}
}
