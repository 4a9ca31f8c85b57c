package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// metricRows bounds the rows of one multi-row statement (16 parameters a
// row stays far below both engines' limits). The embedded engine's
// driver looks each parameter's name up in a list as long as the
// statement's parameters, so its statements stay short.
const metricRows = 256

// rowsPerStatement is metricRows for the dialect.
func (t *tx) rowsPerStatement() int {
	if t.s.d.name == sqliteDialect.name {
		return 12
	}
	return metricRows
}

// pointColumns are metric_points' columns after the key, in the order of
// pointValues.
var pointColumns = []string{"samples", "cpu_sum", "cpu_max", "mem_sum", "mem_max", "mem_limit",
	"seconds", "net_rx", "net_tx", "disk_read", "disk_write", "disk_read_ops", "disk_write_ops"}

func pointValues(p store.MetricPoint) []any {
	return []any{p.Samples, p.CPUSum, p.CPUMax, p.MemorySum, p.MemoryMax, p.MemoryLimit,
		p.Seconds, p.NetRxBytes, p.NetTxBytes, p.DiskRead, p.DiskWrite, p.DiskReadOps, p.DiskWriteOps}
}

// pointKey identifies a row of metric_points.
type pointKey struct {
	subject ovm.ID
	res     time.Duration
	bucket  int64
}

// RecordMetrics adds every sample into its raw bucket and its bucket of
// each rollup resolution in upserts of many rows, then upserts each
// subject's latest sample. Samples falling in one bucket are merged
// first: one statement may not change a row twice. Rows are written in
// key order, one lock order for concurrent writers.
func (t *tx) RecordMetrics(ctx context.Context, samples []store.MetricSample, rollups []time.Duration) error {
	if err := checkSamples(samples, rollups); err != nil {
		return err
	}
	points := map[pointKey]store.MetricPoint{}
	for _, s := range samples {
		for _, res := range append([]time.Duration{store.RawResolution}, rollups...) {
			p := store.PointOf(s, res)
			k := pointKey{s.Subject, res, p.Bucket.Unix()}
			if have, ok := points[k]; ok {
				p = have.Merge(p)
			}
			points[k] = p
		}
	}
	keys := make([]pointKey, 0, len(points))
	for k := range points {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b pointKey) int {
		return cmpKeys(a, b)
	})
	set := make([]string, 0, len(pointColumns))
	for _, c := range pointColumns {
		switch c {
		case "cpu_max", "mem_max":
			set = append(set, fmt.Sprintf("%[1]s = CASE WHEN excluded.%[1]s > metric_points.%[1]s THEN excluded.%[1]s ELSE metric_points.%[1]s END", c))
		case "mem_limit":
			set = append(set, "mem_limit = excluded.mem_limit")
		default:
			set = append(set, fmt.Sprintf("%[1]s = metric_points.%[1]s + excluded.%[1]s", c))
		}
	}
	for chunk := range slices.Chunk(keys, t.rowsPerStatement()) {
		var args []any
		rows := make([]string, 0, len(chunk))
		for _, k := range chunk {
			rows = append(rows, "("+params(len(args)+1, 3+len(pointColumns))+")")
			args = append(args, string(k.subject), int64(k.res/time.Second), k.bucket)
			args = append(args, pointValues(points[k])...)
		}
		if _, err := t.exec(ctx, `INSERT INTO metric_points (subject_id, res, bucket, `+strings.Join(pointColumns, ", ")+`)
			VALUES `+strings.Join(rows, ", ")+`
			ON CONFLICT (subject_id, res, bucket) DO UPDATE SET `+strings.Join(set, ", "), args...); err != nil {
			return fmt.Errorf("store: record metric points: %w", err)
		}
	}
	return t.recordLatest(ctx, samples)
}

func cmpKeys(a, b pointKey) int {
	if c := strings.Compare(string(a.subject), string(b.subject)); c != 0 {
		return c
	}
	if a.res != b.res {
		return int(a.res/time.Second - b.res/time.Second)
	}
	return int(a.bucket - b.bucket)
}

// checkSamples refuses what the tables cannot key.
func checkSamples(samples []store.MetricSample, rollups []time.Duration) error {
	var f ovm.Fields
	for i, s := range samples {
		if !s.Subject.Valid() {
			f.Add(fmt.Sprintf("samples[%d].subject", i), "must be a lower-case UUID")
		}
		switch s.Kind {
		case store.MetricInstance, store.MetricHost, store.MetricVDC:
		default:
			f.Add(fmt.Sprintf("samples[%d].kind", i), "must be instance, host or vdc")
		}
		if s.At.IsZero() {
			f.Add(fmt.Sprintf("samples[%d].at", i), "must be set")
		}
	}
	for i, r := range rollups {
		if r < time.Second || r%time.Second != 0 {
			f.Add(fmt.Sprintf("rollups[%d]", i), "must be whole seconds")
		}
	}
	return f.Err("invalid metric samples")
}

// latestColumns are metric_latest's columns, in the order of latestValues.
var latestColumns = []string{"subject_id", "kind", "vdc_id", "host_id", "instance_type", "at_us", "cpu", "mem_used", "mem_limit",
	"seconds", "net_rx", "net_tx", "disk_read", "disk_write", "disk_read_ops", "disk_write_ops"}

func latestValues(s store.MetricSample) []any {
	return []any{string(s.Subject), string(s.Kind), string(s.VDCID), string(s.HostID), string(s.InstanceType), s.At.UnixMicro(),
		s.CPUPercent, s.MemoryUsed, s.MemoryLimit, s.Seconds, s.NetRxBytes, s.NetTxBytes, s.DiskRead, s.DiskWrite, s.DiskReadOps, s.DiskWriteOps}
}

// recordLatest keeps each subject's newest sample (a later write of an
// older sample leaves the newer one).
func (t *tx) recordLatest(ctx context.Context, samples []store.MetricSample) error {
	newest := map[ovm.ID]store.MetricSample{}
	for _, s := range samples {
		if have, ok := newest[s.Subject]; !ok || s.At.After(have.At) {
			newest[s.Subject] = s
		}
	}
	subjects := make([]ovm.ID, 0, len(newest))
	for id := range newest {
		subjects = append(subjects, id)
	}
	slices.Sort(subjects)
	set := make([]string, 0, len(latestColumns)-1)
	for _, c := range latestColumns[1:] {
		set = append(set, c+" = excluded."+c)
	}
	for chunk := range slices.Chunk(subjects, t.rowsPerStatement()) {
		var args []any
		rows := make([]string, 0, len(chunk))
		for _, id := range chunk {
			rows = append(rows, "("+params(len(args)+1, len(latestColumns))+")")
			args = append(args, latestValues(newest[id])...)
		}
		if _, err := t.exec(ctx, `INSERT INTO metric_latest (`+strings.Join(latestColumns, ", ")+`)
			VALUES `+strings.Join(rows, ", ")+`
			ON CONFLICT (subject_id) DO UPDATE SET `+strings.Join(set, ", ")+`
			WHERE excluded.at_us >= metric_latest.at_us`, args...); err != nil {
			return fmt.Errorf("store: record latest metrics: %w", err)
		}
	}
	return nil
}

// MetricPoints reads a range of one subject's points of one resolution.
func (t *tx) MetricPoints(ctx context.Context, subject ovm.ID, res time.Duration, from, to time.Time) ([]store.MetricPoint, error) {
	out, err := collect(ctx, t, func(r rowScanner) (store.MetricPoint, error) {
		p := store.MetricPoint{Subject: subject, Resolution: res}
		var bucket int64
		err := r.Scan(&bucket, &p.Samples, &p.CPUSum, &p.CPUMax, &p.MemorySum, &p.MemoryMax, &p.MemoryLimit,
			&p.Seconds, &p.NetRxBytes, &p.NetTxBytes, &p.DiskRead, &p.DiskWrite, &p.DiskReadOps, &p.DiskWriteOps)
		p.Bucket = time.Unix(bucket, 0).UTC()
		return p, err
	}, `SELECT bucket, `+strings.Join(pointColumns, ", ")+` FROM metric_points
		WHERE subject_id = $1 AND res = $2 AND bucket >= $3 AND bucket < $4 ORDER BY bucket`,
		string(subject), int64(res/time.Second), ceilSecond(from), ceilSecond(to))
	if err != nil {
		return nil, fmt.Errorf("store: read the metrics of %s: %w", subject, err)
	}
	return out, nil
}

// ceilSecond is the first whole second at or after t: buckets start on
// whole seconds, so a bucket starts at or after t when it starts at or
// after this second.
func ceilSecond(t time.Time) int64 {
	if t.Truncate(time.Second).Equal(t) {
		return t.Unix()
	}
	return t.Unix() + 1
}

// LatestMetrics reads the latest samples of a kind of subject.
func (t *tx) LatestMetrics(ctx context.Context, kind store.MetricKind, since time.Time) ([]store.MetricSample, error) {
	out, err := collect(ctx, t, func(r rowScanner) (store.MetricSample, error) {
		var s store.MetricSample
		var id, k, vdc, host, typ string
		var at int64
		err := r.Scan(&id, &k, &vdc, &host, &typ, &at, &s.CPUPercent, &s.MemoryUsed, &s.MemoryLimit,
			&s.Seconds, &s.NetRxBytes, &s.NetTxBytes, &s.DiskRead, &s.DiskWrite, &s.DiskReadOps, &s.DiskWriteOps)
		s.Subject, s.Kind, s.VDCID, s.HostID, s.InstanceType = ovm.ID(id), store.MetricKind(k), ovm.ID(vdc), ovm.ID(host), ovm.InstanceType(typ)
		s.At = time.UnixMicro(at).UTC()
		return s, err
	}, `SELECT `+strings.Join(latestColumns, ", ")+` FROM metric_latest WHERE kind = $1 AND at_us >= $2 ORDER BY subject_id`,
		string(kind), since.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("store: read the latest %s metrics: %w", kind, err)
	}
	return out, nil
}

// PruneMetrics deletes old points subject by subject (a range of the
// primary key each), so that no statement scans by time.
func (t *tx) PruneMetrics(ctx context.Context, before map[time.Duration]time.Time, forget time.Time, after ovm.ID, limit int) (ovm.ID, int64, error) {
	if limit <= 0 || limit > metricRows {
		limit = metricRows
	}
	subjects, err := collect(ctx, t, func(r rowScanner) (string, error) {
		var id string
		return id, r.Scan(&id)
	}, `SELECT subject_id FROM metric_latest WHERE subject_id > $1 ORDER BY subject_id LIMIT `+fmt.Sprint(limit), string(after))
	if err != nil {
		return "", 0, fmt.Errorf("store: list metric subjects: %w", err)
	}
	if len(subjects) == 0 {
		return "", 0, nil
	}
	args := make([]any, 0, len(subjects)+2)
	for _, id := range subjects {
		args = append(args, id)
	}
	in := params(3, len(subjects))
	var deleted int64
	for res, cut := range before {
		n, err := t.exec(ctx, `DELETE FROM metric_points WHERE res = $1 AND bucket < $2 AND subject_id IN (`+in+`)`,
			append([]any{int64(res / time.Second), cut.Unix()}, args...)...)
		if err != nil {
			return "", 0, fmt.Errorf("store: prune metrics of resolution %s: %w", res, err)
		}
		deleted += n
	}
	if _, err := t.exec(ctx, `DELETE FROM metric_latest WHERE at_us < $1 AND subject_id IN (`+params(2, len(subjects))+`)`,
		append([]any{forget.UnixMicro()}, args...)...); err != nil {
		return "", 0, fmt.Errorf("store: forget old metric subjects: %w", err)
	}
	return ovm.ID(subjects[len(subjects)-1]), deleted, nil
}
