package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/store"
)

// TestMetricsQueryResolve: the stored resolution a query reads is the
// coarsest no wider than its step that still holds its start; the step
// is at least that resolution; defaults fill the rest.
func TestMetricsQueryResolve(t *testing.T) {
	now := time.Date(2026, 5, 6, 12, 0, 0, 0, time.UTC)
	r := MetricsRetention{}.withDefaults() // raw 6h, minute 24h, hour 30d
	tests := []struct {
		name     string
		q        MetricsQuery
		res      time.Duration
		step     time.Duration
		from, to time.Time
	}{
		// 1h / 120 = 30 s: raw holds the last 6 h.
		{"defaults", MetricsQuery{}, store.RawResolution, 30 * time.Second, now.Add(-time.Hour), now},
		{"recent, fine step", MetricsQuery{From: now.Add(-10 * time.Minute), Step: 15 * time.Second}, store.RawResolution, 15 * time.Second, now.Add(-10 * time.Minute), now},
		{"recent, minute step", MetricsQuery{From: now.Add(-2 * time.Hour), Step: 5 * time.Minute}, time.Minute, 5 * time.Minute, now.Add(-2 * time.Hour), now},
		{"recent, hour step", MetricsQuery{From: now.Add(-5 * time.Hour), Step: 2 * time.Hour}, time.Hour, 2 * time.Hour, now.Add(-5 * time.Hour), now},
		// Raw no longer holds 12 h ago: minutes, the step raised to them.
		{"past raw retention", MetricsQuery{From: now.Add(-12 * time.Hour), Step: 15 * time.Second}, time.Minute, time.Minute, now.Add(-12 * time.Hour), now},
		{"past minute retention", MetricsQuery{From: now.Add(-72 * time.Hour), Step: time.Minute}, time.Hour, time.Hour, now.Add(-72 * time.Hour), now},
		// Default step over a week: 7 d / 120 = 84 min, from hours.
		{"a week", MetricsQuery{From: now.Add(-7 * 24 * time.Hour)}, time.Hour, 84 * time.Minute, now.Add(-7 * 24 * time.Hour), now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			res, err := q.resolve(now, r)
			require.NoError(t, err)
			assert.Equal(t, tt.res, res, "resolution")
			assert.Equal(t, tt.step, q.Step, "step")
			assert.Equal(t, tt.from, q.From)
			assert.Equal(t, tt.to, q.To)
			assert.Equal(t, apitypes.Metrics, q.Metrics, "all metrics by default")
		})
	}
	for _, tt := range []struct {
		name  string
		q     MetricsQuery
		field string
	}{
		{"from after to", MetricsQuery{From: now, To: now.Add(-time.Hour)}, "from"},
		{"step of a fraction", MetricsQuery{Step: 1500 * time.Millisecond}, "step"},
		{"negative step", MetricsQuery{Step: -time.Second}, "step"},
		{"unknown metric", MetricsQuery{Metrics: []apitypes.Metric{"cpuPercent", "load"}}, "metrics[1]"},
		{"too many points", MetricsQuery{From: now.Add(-5 * time.Hour), Step: time.Second}, "step"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			_, err := q.resolve(now, r)
			require.ErrorIs(t, err, ovm.ErrInvalid)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

// TestSeriesOf: stored points merge into steps aligned on the epoch; the
// averages, peaks and rates are computed per step; a step without counter
// growth has no rate.
func TestSeriesOf(t *testing.T) {
	t0 := time.Date(2026, 5, 6, 12, 0, 0, 0, time.UTC)
	pt := func(at time.Duration, cpu float64, mem int64, rx int64, secs float64) store.MetricPoint {
		return store.MetricPoint{Bucket: t0.Add(at), Samples: 1, CPUSum: cpu, CPUMax: cpu, MemorySum: mem, MemoryMax: mem, MemoryLimit: 1000,
			MetricCounters: store.MetricCounters{Seconds: secs, NetRxBytes: rx}}
	}
	points := []store.MetricPoint{
		pt(0, 10, 100, 0, 0), pt(15*time.Second, 30, 300, 1500, 15), // step 0: first sample has no growth
		pt(60*time.Second, 50, 500, 3000, 15),
	}
	q := MetricsQuery{From: t0, To: t0.Add(2 * time.Minute), Step: time.Minute,
		Metrics: []apitypes.Metric{apitypes.MetricCPUPercent, apitypes.MetricCPUPeakPercent, apitypes.MetricMemoryUsedBytes, apitypes.MetricNetRxBytesPerSecond}}
	got := seriesOf(apitypes.SubjectInstance, "id", q, store.RawResolution, points)
	want := [][]apitypes.MetricPoint{
		{{Time: t0, Value: 20}, {Time: t0.Add(time.Minute), Value: 50}},   // (10+30)/2
		{{Time: t0, Value: 30}, {Time: t0.Add(time.Minute), Value: 50}},   // peaks
		{{Time: t0, Value: 200}, {Time: t0.Add(time.Minute), Value: 500}}, // (100+300)/2
		{{Time: t0, Value: 100}, {Time: t0.Add(time.Minute), Value: 200}}, // 1500/15, 3000/15
	}
	require.Len(t, got.Series, 4)
	for i, s := range got.Series {
		assert.Equal(t, q.Metrics[i], s.Metric)
		assert.Equal(t, want[i], s.Points, "%s", s.Metric)
	}
	assert.Equal(t, int64(60), got.StepSeconds)

	none := seriesOf(apitypes.SubjectInstance, "id", q, store.RawResolution, []store.MetricPoint{pt(0, 1, 1, 0, 0)})
	assert.Empty(t, none.Series[3].Points, "no growth measured: no rate")
}
