package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
)

func metricsCommands() *command {
	return &command{name: "metrics", summary: "Metrics over time of instances, hosts and VDCs", sub: []*command{
		{name: "instance", summary: "Show an instance's metrics over time", run: metricsRun("instance",
			"Show an instance's CPU (100 per busy vCPU), memory, network and disk over time.", (*client.Client).InstanceMetrics)},
		{name: "host", summary: "Show a host's metrics over time (administrators)", run: metricsRun("host",
			"Show the sums of the samples of a host's instances over time, with its memory as the limit.", (*client.Client).HostMetrics)},
		{name: "vdc", summary: "Show a VDC's usage over time", run: metricsRun("vdc",
			"Show the sums of the samples of a VDC's running instances over time.", (*client.Client).VDCMetrics)},
	}}
}

// metricsRun returns the leaf that shows the series of the object of kind
// its one argument names.
func metricsRun(kind, desc string, read func(*client.Client, context.Context, ovm.ID, client.MetricsQuery) (apitypes.MetricSeries, error)) leaf {
	return func(a *app, path string, args []string) error {
		f := a.flags(path, "NAME|ID [--since 1h | --from TIME --to TIME] [--step 1m] [--metrics cpuPercent,...]", desc+
			"\nOne row per step; a step without a sample is left out. Metrics: "+metricList()+".")
		since := f.Duration("since", 0, "show the last `duration` (default 1h)")
		from := f.String("from", "", "the range's start, RFC 3339 such as 2026-01-02T15:04:05Z")
		to := f.String("to", "", "the range's end, RFC 3339 (default now)")
		step := f.Duration("step", 0, "the width of a row, such as 30s, 5m or 1h (default about 120 rows)")
		metrics := f.String("metrics", "", "the metrics to show, separated by commas (default all)")
		vdcRef := f.String("vdc", "", "look the instance's name up in this `VDC` (administrators)")
		pos, err := f.parseN(args, "NAME|ID")
		if err != nil {
			return err
		}
		var q client.MetricsQuery
		if *since < 0 {
			return f.fail("--since %s: want a positive duration", *since)
		}
		if *since > 0 && *from != "" {
			return f.fail("give --since or --from, not both")
		}
		for _, t := range []struct {
			flag, v string
			dst     *time.Time
		}{{"from", *from, &q.From}, {"to", *to, &q.To}} {
			if t.v == "" {
				continue
			}
			if *t.dst, err = time.Parse(time.RFC3339, t.v); err != nil {
				return f.fail("--%s %q: want a time such as 2026-01-02T15:04:05Z", t.flag, t.v)
			}
		}
		if *since > 0 {
			q.From = time.Now().Add(-*since)
		}
		if *step < 0 || *step%time.Second != 0 {
			return f.fail("--step %s: want whole seconds such as 30s or 5m", *step)
		}
		q.Step = *step
		if *metrics != "" {
			for _, m := range strings.Split(*metrics, ",") {
				q.Metrics = append(q.Metrics, apitypes.Metric(strings.TrimSpace(m)))
			}
		}
		cl, vdc, err := a.clientIn(*vdcRef)
		if err != nil {
			return err
		}
		id, err := a.resolve(kind, pos[0], vdc)
		if err != nil {
			return err
		}
		s, err := read(cl, a.ctx, id, q)
		if err != nil {
			return err
		}
		return a.show(s, func(w io.Writer) { seriesTable(w, s) })
	}
}

func metricList() string {
	names := make([]string, len(apitypes.Metrics))
	for i, m := range apitypes.Metrics {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

// seriesTable prints one row per step with a column per metric.
func seriesTable(w io.Writer, s apitypes.MetricSeries) {
	head := []any{"TIME"}
	byTime := map[time.Time][]string{}
	var times []time.Time
	for i, v := range s.Series {
		head = append(head, metricHeader(v.Metric))
		for _, p := range v.Points {
			cells, ok := byTime[p.Time]
			if !ok {
				cells = make([]string, len(s.Series))
				times = append(times, p.Time)
			}
			cells[i] = metricCell(v.Metric, p.Value)
			byTime[p.Time] = cells
		}
	}
	slices.SortFunc(times, time.Time.Compare)
	row(w, head...)
	for _, t := range times {
		cells := []any{t.Local().Format("2006-01-02 15:04:05")}
		for _, c := range byTime[t] {
			if c == "" {
				c = "-"
			}
			cells = append(cells, c)
		}
		row(w, cells...)
	}
	if len(times) == 0 {
		fmt.Fprintf(w, "no samples from %s to %s\n", s.From.Local().Format(time.RFC3339), s.To.Local().Format(time.RFC3339))
	}
}

// metricHeader is a metric's column title.
func metricHeader(m apitypes.Metric) string {
	switch m {
	case apitypes.MetricCPUPercent:
		return "CPU%"
	case apitypes.MetricCPUPeakPercent:
		return "PEAK%"
	case apitypes.MetricMemoryUsedBytes:
		return "MEM"
	case apitypes.MetricMemoryLimitBytes:
		return "LIMIT"
	case apitypes.MetricNetRxBytesPerSecond:
		return "RX/s"
	case apitypes.MetricNetTxBytesPerSecond:
		return "TX/s"
	case apitypes.MetricDiskReadBytesPerSec:
		return "READ/s"
	case apitypes.MetricDiskWriteBytesPerSec:
		return "WRITE/s"
	case apitypes.MetricDiskReadOpsPerSecond:
		return "RIOPS"
	case apitypes.MetricDiskWriteOpsPerSecond:
		return "WIOPS"
	}
	return strings.ToUpper(string(m))
}

// metricCell formats a value: percents with one decimal, bytes in binary
// units, operations as numbers.
func metricCell(m apitypes.Metric, v float64) string {
	switch m {
	case apitypes.MetricCPUPercent, apitypes.MetricCPUPeakPercent:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case apitypes.MetricDiskReadOpsPerSecond, apitypes.MetricDiskWriteOpsPerSecond:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return ovm.Bytes(v).String()
}
