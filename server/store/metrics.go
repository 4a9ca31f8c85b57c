package store

import (
	"context"
	"time"

	"github.com/openovm/ovm/ovm"
)

// MetricKind is what a series of metrics describes.
type MetricKind string

// The subjects of metrics.
const (
	MetricInstance MetricKind = "instance"
	MetricHost     MetricKind = "host"
	MetricVDC      MetricKind = "vdc"
)

// RawResolution is the resolution of full-resolution points: one per
// sample, in the bucket of the sample's second.
const RawResolution time.Duration = 0

// MetricSample is one sample of one subject, as the collector writes it.
// The counters are what grew since the subject's previous sample, over
// Seconds (0 for a first sample, whose counters are then zero).
type MetricSample struct {
	Subject ovm.ID
	Kind    MetricKind
	// VDCID is the VDC of an instance or the VDC itself; HostID the host
	// of an instance or the host itself. InstanceType is an instance's
	// type (vm or container).
	VDCID, HostID ovm.ID
	InstanceType  ovm.InstanceType
	At            time.Time
	CPUPercent    float64
	MemoryUsed    int64
	MemoryLimit   int64
	MetricCounters
}

// MetricCounters are the counter growths of a sample or a point, and the
// seconds they cover.
type MetricCounters struct {
	Seconds                   float64
	NetRxBytes, NetTxBytes    int64
	DiskRead, DiskWrite       int64
	DiskReadOps, DiskWriteOps int64
}

// Add returns the sum of c and o.
func (c MetricCounters) Add(o MetricCounters) MetricCounters {
	return MetricCounters{
		Seconds: c.Seconds + o.Seconds, NetRxBytes: c.NetRxBytes + o.NetRxBytes, NetTxBytes: c.NetTxBytes + o.NetTxBytes,
		DiskRead: c.DiskRead + o.DiskRead, DiskWrite: c.DiskWrite + o.DiskWrite,
		DiskReadOps: c.DiskReadOps + o.DiskReadOps, DiskWriteOps: c.DiskWriteOps + o.DiskWriteOps,
	}
}

// MetricPoint is the sum of the samples of one subject in one bucket of
// one resolution: the averages are the sums over Samples.
type MetricPoint struct {
	Subject    ovm.ID
	Resolution time.Duration
	Bucket     time.Time // the bucket's start
	Samples    int64
	CPUSum     float64
	CPUMax     float64
	MemorySum  int64
	MemoryMax  int64
	// MemoryLimit is the limit of the bucket's last sample.
	MemoryLimit int64
	MetricCounters
}

// BucketOf returns the start of the bucket of resolution res that holds
// at (the second of at for RawResolution).
func BucketOf(at time.Time, res time.Duration) time.Time {
	if res < time.Second {
		res = time.Second
	}
	return at.Truncate(res).UTC()
}

// PointOf returns the point a single sample adds to a bucket of res.
func PointOf(s MetricSample, res time.Duration) MetricPoint {
	return MetricPoint{
		Subject: s.Subject, Resolution: res, Bucket: BucketOf(s.At, res), Samples: 1,
		CPUSum: s.CPUPercent, CPUMax: s.CPUPercent, MemorySum: s.MemoryUsed, MemoryMax: s.MemoryUsed,
		MemoryLimit: s.MemoryLimit, MetricCounters: s.MetricCounters,
	}
}

// Merge adds o, a later point of the same bucket, to p.
func (p MetricPoint) Merge(o MetricPoint) MetricPoint {
	p.Samples += o.Samples
	p.CPUSum += o.CPUSum
	p.CPUMax = max(p.CPUMax, o.CPUMax)
	p.MemorySum += o.MemorySum
	p.MemoryMax = max(p.MemoryMax, o.MemoryMax)
	p.MemoryLimit = o.MemoryLimit
	p.MetricCounters = p.MetricCounters.Add(o.MetricCounters)
	return p
}

// Metrics is the store's history of samples. It is part of Tx.
type Metrics interface {
	// RecordMetrics stores samples: each as a raw point, added into its
	// bucket of every resolution of rollups (guarded increments, so
	// replicas and retries add up), and as its subject's latest sample.
	RecordMetrics(ctx context.Context, samples []MetricSample, rollups []time.Duration) error
	// MetricPoints returns the subject's points of resolution res whose
	// buckets start in [from, to), in time order.
	MetricPoints(ctx context.Context, subject ovm.ID, res time.Duration, from, to time.Time) ([]MetricPoint, error)
	// LatestMetrics returns the latest sample of every subject of kind
	// taken at or after since, in subject order.
	LatestMetrics(ctx context.Context, kind MetricKind, since time.Time) ([]MetricSample, error)
	// PruneMetrics deletes, for at most limit subjects after the subject
	// after (in subject order), their points of each resolution of before
	// whose buckets start before its time, and forgets the latest sample
	// of those whose latest is older than forget. It returns the last
	// subject it looked at ("" when none was left) and the points deleted.
	PruneMetrics(ctx context.Context, before map[time.Duration]time.Time, forget time.Time, after ovm.ID, limit int) (ovm.ID, int64, error)
}
