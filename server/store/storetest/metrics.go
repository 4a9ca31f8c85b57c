package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

var metricTests = []suiteTest{
	{"MetricsRollups", testMetricsRollups},
	{"MetricsLatest", testMetricsLatest},
	{"MetricsPrune", testMetricsPrune},
	{"MetricsConcurrent", testMetricsConcurrent},
	{"MetricsInvalid", testMetricsInvalid},
}

// metricT0 is a minute boundary; the samples below are 15 s apart.
var metricT0 = time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)

// sampleAt is a sample of an instance at t0 + at.
func sampleAt(id ovm.ID, at time.Duration, cpu float64, mem int64, rx int64) store.MetricSample {
	return store.MetricSample{
		Subject: id, Kind: store.MetricInstance, VDCID: ovm.NewID(), HostID: ovm.NewID(), InstanceType: ovm.TypeContainer,
		At: metricT0.Add(at), CPUPercent: cpu, MemoryUsed: mem, MemoryLimit: 1 << 30,
		MetricCounters: store.MetricCounters{Seconds: 15, NetRxBytes: rx, DiskReadOps: 2},
	}
}

func recordSamples(t *testing.T, s store.Store, samples ...store.MetricSample) {
	t.Helper()
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.RecordMetrics(ctx, samples, []time.Duration{time.Minute, time.Hour})
	})
}

func pointsOf(t *testing.T, s store.Store, id ovm.ID, res time.Duration, from, to time.Time) []store.MetricPoint {
	t.Helper()
	var out []store.MetricPoint
	require.NoError(t, s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = tx.MetricPoints(ctx, id, res, from, to)
		return err
	}))
	return out
}

// testMetricsRollups: each sample is a raw point and is added into its
// minute and hour buckets; a range reads [from, to) in time order.
func testMetricsRollups(t *testing.T, s store.Store) {
	a, b := ovm.NewID(), ovm.NewID()
	// Five samples of a over 75 s (two minutes), written in two rounds, and
	// one of b that must not show in a's series.
	recordSamples(t, s, sampleAt(a, 0, 10, 100, 1000), sampleAt(a, 15*time.Second, 30, 300, 3000), sampleAt(b, 0, 99, 9, 9))
	recordSamples(t, s, sampleAt(a, 30*time.Second, 20, 200, 2000), sampleAt(a, 45*time.Second, 60, 600, 6000))
	recordSamples(t, s, sampleAt(a, 75*time.Second, 50, 500, 5000))

	raw := pointsOf(t, s, a, store.RawResolution, metricT0, metricT0.Add(time.Hour))
	require.Len(t, raw, 5, "raw points of a")
	for i, want := range []struct {
		at  time.Duration
		cpu float64
	}{{0, 10}, {15 * time.Second, 30}, {30 * time.Second, 20}, {45 * time.Second, 60}, {75 * time.Second, 50}} {
		assert.Equal(t, metricT0.Add(want.at), raw[i].Bucket, "raw point %d time", i)
		assert.Equal(t, int64(1), raw[i].Samples, "raw point %d samples", i)
		assert.InDelta(t, want.cpu, raw[i].CPUSum, 1e-9, "raw point %d cpu", i)
	}

	minutes := pointsOf(t, s, a, time.Minute, metricT0, metricT0.Add(time.Hour))
	require.Len(t, minutes, 2, "minute points of a")
	// Minute 0: samples at 0, 15, 30, 45 s.
	want0 := store.MetricPoint{Subject: a, Resolution: time.Minute, Bucket: metricT0, Samples: 4,
		CPUSum: 120, CPUMax: 60, MemorySum: 1200, MemoryMax: 600, MemoryLimit: 1 << 30,
		MetricCounters: store.MetricCounters{Seconds: 60, NetRxBytes: 12000, DiskReadOps: 8}}
	assert.Equal(t, want0, minutes[0], "minute 0: sums of four samples, max of their maxima")
	assert.Equal(t, metricT0.Add(time.Minute), minutes[1].Bucket)
	assert.Equal(t, int64(1), minutes[1].Samples)

	hours := pointsOf(t, s, a, time.Hour, metricT0, metricT0.Add(time.Hour))
	require.Len(t, hours, 1, "hour points of a")
	assert.Equal(t, int64(5), hours[0].Samples)
	assert.InDelta(t, 170, hours[0].CPUSum, 1e-9)
	assert.Equal(t, int64(17000), hours[0].NetRxBytes)

	// [from, to) bounds the buckets.
	assert.Len(t, pointsOf(t, s, a, store.RawResolution, metricT0.Add(15*time.Second), metricT0.Add(45*time.Second)), 2,
		"raw points in [15s, 45s)")
	assert.Empty(t, pointsOf(t, s, a, time.Minute, metricT0.Add(2*time.Minute), metricT0.Add(time.Hour)), "after the samples")
	// Bounds between whole seconds: a bucket is read when it starts in
	// [from, to), so the sample at 75 s is in [74.5 s, 75.5 s) and not in
	// [75.5 s, 80 s).
	assert.Len(t, pointsOf(t, s, a, store.RawResolution, metricT0.Add(74500*time.Millisecond), metricT0.Add(75500*time.Millisecond)), 1,
		"raw points in [74.5s, 75.5s)")
	assert.Empty(t, pointsOf(t, s, a, store.RawResolution, metricT0.Add(75500*time.Millisecond), metricT0.Add(80*time.Second)),
		"raw points in [75.5s, 80s)")
	assert.Len(t, pointsOf(t, s, b, time.Minute, metricT0, metricT0.Add(time.Hour)), 1, "b has its own series")
}

// testMetricsLatest: the latest sample of each subject, by kind and age; an
// older sample written later does not replace a newer one.
func testMetricsLatest(t *testing.T, s store.Store) {
	a, b := ovm.NewID(), ovm.NewID()
	host := sampleAt(ovm.NewID(), 0, 5, 5, 5)
	host.Kind = store.MetricHost
	recordSamples(t, s, sampleAt(a, 0, 10, 100, 1), sampleAt(b, 0, 20, 200, 2), host)
	recordSamples(t, s, sampleAt(a, 30*time.Second, 30, 300, 3))
	recordSamples(t, s, sampleAt(a, 15*time.Second, 99, 999, 9)) // late and older

	latest := func(kind store.MetricKind, since time.Time) []store.MetricSample {
		var out []store.MetricSample
		require.NoError(t, s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
			var err error
			out, err = tx.LatestMetrics(ctx, kind, since)
			return err
		}))
		return out
	}
	got := latest(store.MetricInstance, metricT0)
	require.Len(t, got, 2, "latest instance samples")
	byID := map[ovm.ID]store.MetricSample{got[0].Subject: got[0], got[1].Subject: got[1]}
	want := sampleAt(a, 30*time.Second, 30, 300, 3)
	want.VDCID, want.HostID = byID[a].VDCID, byID[a].HostID
	assert.Equal(t, want, byID[a], "a's latest is the sample at 30 s")
	assert.InDelta(t, 20, byID[b].CPUPercent, 1e-9)
	assert.Less(t, string(got[0].Subject), string(got[1].Subject), "in subject order")

	recent := latest(store.MetricInstance, metricT0.Add(10*time.Second))
	require.Len(t, recent, 1, "since 10 s only a is recent")
	assert.Equal(t, a, recent[0].Subject)
	hosts := latest(store.MetricHost, time.Time{})
	require.Len(t, hosts, 1)
	assert.Equal(t, host.Subject, hosts[0].Subject)
}

// testMetricsPrune: each resolution keeps what is newer than its cutoff;
// a subject whose latest sample is older than forget is forgotten, and the
// walk over subjects pages.
func testMetricsPrune(t *testing.T, s store.Store) {
	var ids []ovm.ID
	for range 5 {
		id := ovm.NewID()
		ids = append(ids, id)
		// Two hours of samples, one every 10 minutes.
		var samples []store.MetricSample
		for m := 0; m < 120; m += 10 {
			samples = append(samples, sampleAt(id, time.Duration(m)*time.Minute, 1, 1, 1))
		}
		recordSamples(t, s, samples...)
	}
	gone := ovm.NewID()
	recordSamples(t, s, sampleAt(gone, 0, 1, 1, 1))

	before := map[time.Duration]time.Time{
		store.RawResolution: metricT0.Add(90 * time.Minute), // keep 90, 100, 110
		time.Minute:         metricT0.Add(60 * time.Minute), // keep 60 .. 110
		time.Hour:           metricT0,                       // keep both hours
	}
	forget := metricT0.Add(5 * time.Minute)
	var total int64
	after, pages := ovm.ID(""), 0
	for {
		var next ovm.ID
		var n int64
		do(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			next, n, err = tx.PruneMetrics(ctx, before, forget, after, 2)
			return err
		})
		if next == "" {
			break
		}
		total += n
		after = next
		pages++
	}
	assert.Equal(t, 3, pages, "six subjects, two a page")
	// Each of 5: 9 raw + 6 minute points; gone: 1 raw, 1 minute, 0 hour
	// (its hour bucket starts at t0, not before).
	assert.Equal(t, int64(5*(9+6)+2), total, "points deleted")
	for _, id := range ids {
		assert.Len(t, pointsOf(t, s, id, store.RawResolution, metricT0, metricT0.Add(3*time.Hour)), 3, "raw points kept")
		assert.Len(t, pointsOf(t, s, id, time.Minute, metricT0, metricT0.Add(3*time.Hour)), 6, "minute points kept")
		assert.Len(t, pointsOf(t, s, id, time.Hour, metricT0, metricT0.Add(3*time.Hour)), 2, "hour points kept")
	}
	var latest []store.MetricSample
	require.NoError(t, s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		var err error
		latest, err = tx.LatestMetrics(ctx, store.MetricInstance, time.Time{})
		return err
	}))
	assert.Len(t, latest, 5, "the subject last seen before forget is forgotten")
	for _, l := range latest {
		assert.NotEqual(t, gone, l.Subject)
	}
}

// testMetricsConcurrent: writers adding into the same rollup buckets at
// once lose nothing (the increments are guarded upserts, retried on
// serialization failures).
func testMetricsConcurrent(t *testing.T, s store.Store) {
	const writers = 6
	id := ovm.NewID()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			smp := sampleAt(id, time.Duration(i)*time.Second, 10, 10, 10)
			errs <- s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
				return tx.RecordMetrics(ctx, []store.MetricSample{smp}, []time.Duration{time.Minute, time.Hour})
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for _, res := range []time.Duration{time.Minute, time.Hour} {
		p := pointsOf(t, s, id, res, metricT0, metricT0.Add(time.Hour))
		require.Len(t, p, 1)
		assert.Equal(t, int64(writers), p[0].Samples, "samples in the %s bucket", res)
		assert.Equal(t, int64(10*writers), p[0].NetRxBytes, "bytes in the %s bucket", res)
	}
}

// testMetricsInvalid: samples the tables cannot key are refused, naming
// the field, and nothing is written.
func testMetricsInvalid(t *testing.T, s store.Store) {
	good := sampleAt(ovm.NewID(), 0, 1, 1, 1)
	bad := good
	bad.Subject = "not-an-id"
	noKind := good
	noKind.Subject, noKind.Kind = ovm.NewID(), ""
	for _, tt := range []struct {
		name    string
		samples []store.MetricSample
		rollups []time.Duration
		field   string
	}{
		{"subject", []store.MetricSample{good, bad}, nil, "samples[1].subject"},
		{"kind", []store.MetricSample{noKind}, nil, "samples[0].kind"},
		{"rollup", []store.MetricSample{good}, []time.Duration{1500 * time.Millisecond}, "rollups[0]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
				return tx.RecordMetrics(ctx, tt.samples, tt.rollups)
			})
			requireKind(t, err, ovm.KindInvalid)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
	assert.Empty(t, pointsOf(t, s, good.Subject, store.RawResolution, metricT0, metricT0.Add(time.Hour)), "nothing written")
}
