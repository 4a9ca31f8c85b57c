package core

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// MetricsRetention says how long each stored resolution of metrics history
// is kept: full-resolution samples, minute and hour rollups.
type MetricsRetention struct {
	Raw    time.Duration
	Minute time.Duration
	Hour   time.Duration
}

// The default retention of metrics.
const (
	DefaultMetricsRaw    = 6 * time.Hour
	DefaultMetricsMinute = 24 * time.Hour
	DefaultMetricsHour   = 30 * 24 * time.Hour
)

func (r MetricsRetention) withDefaults() MetricsRetention {
	if r.Raw <= 0 {
		r.Raw = DefaultMetricsRaw
	}
	if r.Minute <= 0 {
		r.Minute = DefaultMetricsMinute
	}
	if r.Hour <= 0 {
		r.Hour = DefaultMetricsHour
	}
	return r
}

// MetricRollups are the resolutions of the rollups the store keeps beside
// full-resolution samples.
var MetricRollups = []time.Duration{time.Minute, time.Hour}

// resolution is a stored resolution and how long it is kept.
type resolution struct {
	res, keep time.Duration
}

// resolutions lists the stored resolutions, coarsest first.
func (r MetricsRetention) resolutions() []resolution {
	return []resolution{{time.Hour, r.Hour}, {time.Minute, r.Minute}, {store.RawResolution, r.Raw}}
}

// Cutoffs returns, for each stored resolution, the time before which its
// points are dropped at now, and the time before which a subject last seen
// is forgotten (the longest retention).
func (r MetricsRetention) Cutoffs(now time.Time) (map[time.Duration]time.Time, time.Time) {
	out := map[time.Duration]time.Time{}
	longest := time.Duration(0)
	for _, x := range r.resolutions() {
		out[x.res] = now.Add(-x.keep)
		longest = max(longest, x.keep)
	}
	return out, now.Add(-longest)
}

// MetricsQuery asks for a series. Zero To is now, zero From is an hour
// before To, zero Step gives about 120 points; no Metrics is all of them.
type MetricsQuery struct {
	From, To time.Time
	Step     time.Duration
	Metrics  []apitypes.Metric
}

// MaxMetricPoints bounds the points of one series.
const MaxMetricPoints = 5000

// resolve checks q against now and the retention and fills its defaults;
// it returns the stored resolution to read.
func (q *MetricsQuery) resolve(now time.Time, r MetricsRetention) (time.Duration, error) {
	var f ovm.Fields
	if q.To.IsZero() {
		q.To = now
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-time.Hour)
	}
	q.From, q.To = q.From.UTC(), q.To.UTC()
	if !q.From.Before(q.To) {
		f.Add("from", fmt.Sprintf("must be before to (%s)", q.To.Format(time.RFC3339)))
	}
	if q.Step < 0 || q.Step%time.Second != 0 {
		f.Add("step", "must be a positive number of whole seconds")
	}
	seen := map[apitypes.Metric]bool{}
	for i, m := range q.Metrics {
		if !m.Valid() {
			f.Add(fmt.Sprintf("metrics[%d]", i), fmt.Sprintf("must be one of %s", metricNames()))
		}
		if seen[m] {
			f.Add(fmt.Sprintf("metrics[%d]", i), "is named twice")
		}
		seen[m] = true
	}
	if err := f.Err("invalid metrics query"); err != nil {
		return 0, err
	}
	span := q.To.Sub(q.From)
	if q.Step == 0 {
		q.Step = max((span / 120).Round(time.Second), 15*time.Second)
	}
	if len(q.Metrics) == 0 {
		q.Metrics = apitypes.Metrics
	}
	// Of the stored resolutions that still hold from, the coarsest no
	// wider than the step, else the finest; when none holds from, hours.
	res := time.Hour
	for _, x := range r.resolutions() { // coarsest first
		if q.From.Before(now.Add(-x.keep)) {
			continue
		}
		res = x.res
		if x.res <= q.Step {
			break
		}
	}
	q.Step = max(q.Step, res)
	if n := int64(span / q.Step); n > MaxMetricPoints {
		return 0, invalid("invalid metrics query", "step",
			fmt.Sprintf("gives %d points from %s to %s, at most %d: ask for a step of at least %s",
				n, q.From.Format(time.RFC3339), q.To.Format(time.RFC3339), MaxMetricPoints, (span/MaxMetricPoints).Truncate(time.Second)+time.Second))
	}
	return res, nil
}

func metricNames() string {
	names := make([]string, len(apitypes.Metrics))
	for i, m := range apitypes.Metrics {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

// InstanceMetrics returns an instance's history. A tenant asking for an
// instance of another VDC gets ovm.ErrNotFound.
func (s *Service) InstanceMetrics(ctx context.Context, p auth.Principal, id ovm.ID, q MetricsQuery) (apitypes.MetricSeries, error) {
	return s.metricSeries(ctx, apitypes.SubjectInstance, id, q, func(ctx context.Context, tx store.Tx) error {
		_, err := getVisible(ctx, tx, p, store.KindInstance, id)
		return err
	})
}

// HostMetrics returns a host's history: its own CPU and memory where its
// driver reads them (KVM, ESXi), else its instances' sums, and its
// instances' network and disk. Only administrators see hosts; anybody else gets
// ovm.ErrNotFound.
func (s *Service) HostMetrics(ctx context.Context, p auth.Principal, id ovm.ID, q MetricsQuery) (apitypes.MetricSeries, error) {
	return s.metricSeries(ctx, apitypes.SubjectHost, id, q, func(ctx context.Context, tx store.Tx) error {
		_, err := getPlatform(ctx, tx, p, store.KindHost, id)
		return err
	})
}

// VDCMetrics returns a VDC's usage over time: the sums of its instances'
// samples. A tenant sees its own VDC only.
func (s *Service) VDCMetrics(ctx context.Context, p auth.Principal, id ovm.ID, q MetricsQuery) (apitypes.MetricSeries, error) {
	return s.metricSeries(ctx, apitypes.SubjectVDC, id, q, func(ctx context.Context, tx store.Tx) error {
		_, err := getVisible(ctx, tx, p, store.KindVDC, id)
		return err
	})
}

// metricSeries checks the query, runs visible (the principal may see the
// subject) and reads the points in one view.
func (s *Service) metricSeries(ctx context.Context, kind apitypes.MetricSubject, id ovm.ID, q MetricsQuery,
	visible func(ctx context.Context, tx store.Tx) error) (apitypes.MetricSeries, error) {
	res, err := q.resolve(s.now(), s.o.Metrics)
	if err != nil {
		return apitypes.MetricSeries{}, err
	}
	var points []store.MetricPoint
	err = s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := visible(ctx, tx); err != nil {
			return err
		}
		// A point is read when its bucket starts in the range; a coarse
		// bucket begun before from is read too, so its step is whole.
		points, err = tx.MetricPoints(ctx, id, res, store.BucketOf(q.From, max(res, q.Step)), q.To)
		return err
	})
	if err != nil {
		return apitypes.MetricSeries{}, err
	}
	return seriesOf(kind, id, q, res, points), nil
}

// seriesOf merges stored points into steps (aligned on multiples of the
// step since the epoch) and computes each metric of each step.
func seriesOf(kind apitypes.MetricSubject, id ovm.ID, q MetricsQuery, res time.Duration, points []store.MetricPoint) apitypes.MetricSeries {
	var steps []store.MetricPoint
	for _, p := range points {
		b := store.BucketOf(p.Bucket, q.Step)
		p.Bucket = b
		if n := len(steps); n > 0 && steps[n-1].Bucket.Equal(b) {
			steps[n-1] = steps[n-1].Merge(p)
			continue
		}
		steps = append(steps, p)
	}
	out := apitypes.MetricSeries{Subject: kind, ID: id, From: q.From, To: q.To,
		StepSeconds: int64(q.Step / time.Second), ResolutionSeconds: int64(res / time.Second)}
	for _, m := range apitypes.Metrics {
		if !slices.Contains(q.Metrics, m) {
			continue
		}
		v := apitypes.MetricValues{Metric: m, Points: []apitypes.MetricPoint{}}
		for _, p := range steps {
			if x, ok := metricValue(m, p); ok {
				v.Points = append(v.Points, apitypes.MetricPoint{Time: p.Bucket, Value: x})
			}
		}
		out.Series = append(out.Series, v)
	}
	return out
}

// metricValue is metric m of a step; ok is false when the step cannot
// tell (no sample, or no counter growth measured for a rate).
func metricValue(m apitypes.Metric, p store.MetricPoint) (float64, bool) {
	if p.Samples == 0 {
		return 0, false
	}
	rate := func(n int64) (float64, bool) {
		if p.Seconds <= 0 {
			return 0, false
		}
		return float64(n) / p.Seconds, true
	}
	round := func(v float64) float64 { return math.Round(v*1000) / 1000 }
	switch m {
	case apitypes.MetricCPUPercent:
		return round(p.CPUSum / float64(p.Samples)), true
	case apitypes.MetricCPUPeakPercent:
		return round(p.CPUMax), true
	case apitypes.MetricMemoryUsedBytes:
		return math.Round(float64(p.MemorySum) / float64(p.Samples)), true
	case apitypes.MetricMemoryLimitBytes:
		return float64(p.MemoryLimit), true
	case apitypes.MetricNetRxBytesPerSecond:
		return rate(p.NetRxBytes)
	case apitypes.MetricNetTxBytesPerSecond:
		return rate(p.NetTxBytes)
	case apitypes.MetricDiskReadBytesPerSec:
		return rate(p.DiskRead)
	case apitypes.MetricDiskWriteBytesPerSec:
		return rate(p.DiskWrite)
	case apitypes.MetricDiskReadOpsPerSecond:
		return rate(p.DiskReadOps)
	case apitypes.MetricDiskWriteOpsPerSecond:
		return rate(p.DiskWriteOps)
	}
	return 0, false
}
