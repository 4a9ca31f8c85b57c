package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// MetricsParams select a range of a series.
type MetricsParams struct {
	IDPath
	From    string `query:"from" format:"date-time" doc:"The range's start (RFC 3339); default an hour before to."`
	To      string `query:"to" format:"date-time" doc:"The range's end (RFC 3339); default now."`
	Step    string `query:"step" maxLength:"32" doc:"The width of a point: a duration (30s, 5m, 1h) or seconds; default about 120 points over the range. At least the stored resolution the range is read from."`
	Metrics string `query:"metrics" maxLength:"512" doc:"The metrics to return, separated by commas (default all): cpuPercent, cpuPeakPercent, memoryUsedBytes, memoryLimitBytes, netRxBytesPerSecond, netTxBytesPerSecond, diskReadBytesPerSecond, diskWriteBytesPerSecond, diskReadOpsPerSecond, diskWriteOpsPerSecond."`
}

// query converts the parameters, naming each one it refuses.
func (m MetricsParams) query() (core.MetricsQuery, error) {
	var q core.MetricsQuery
	var f ovm.Fields
	parseTime := func(field, v string) time.Time {
		if v == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			f.Add(field, "must be a time in RFC 3339 (2026-01-02T15:04:05Z)")
		}
		return t
	}
	q.From, q.To = parseTime("from", m.From), parseTime("to", m.To)
	if m.Step != "" {
		if n, err := strconv.ParseInt(m.Step, 10, 64); err == nil && n > 0 && n <= int64(366*24*time.Hour/time.Second) {
			q.Step = time.Duration(n) * time.Second
		} else if d, err := time.ParseDuration(m.Step); err == nil && d > 0 && d%time.Second == 0 {
			q.Step = d
		} else {
			f.Add("step", "must be a positive duration of whole seconds (30s, 5m, 1h) or a number of seconds")
		}
	}
	if m.Metrics != "" {
		for _, name := range strings.Split(m.Metrics, ",") {
			q.Metrics = append(q.Metrics, apitypes.Metric(strings.TrimSpace(name)))
		}
	}
	return q, f.Err("invalid metrics query")
}

// metricsRoutes are the series of instances, hosts and VDCs.
func (s *server) metricsRoutes() {
	series := func(o op, read func(ctx context.Context, p auth.Principal, id ovm.ID, q core.MetricsQuery) (apitypes.MetricSeries, error)) {
		register(s, o, func(ctx context.Context, p auth.Principal, in *MetricsParams) (*Out[apitypes.MetricSeries], error) {
			q, err := in.query()
			if err != nil {
				return nil, err
			}
			out, err := read(ctx, p, ovm.ID(in.ID), q)
			if err != nil {
				return nil, err
			}
			return &Out[apitypes.MetricSeries]{Body: out}, nil
		})
	}
	const how = " The collector samples every running instance at an interval; points come from full-resolution samples, " +
		"minute or hour rollups, whichever is the coarsest no wider than the step that still holds the range's start. " +
		"A step without a sample has no point."
	series(op{id: "get-instance-metrics", method: http.MethodGet, path: "/v1/instances/{id}/metrics",
		summary: "Get an instance's metrics over time", tags: []string{"instances"},
		desc: "CPU (100 per busy vCPU), memory, network and disk of one instance." + how}, s.svc.InstanceMetrics)
	series(op{id: "get-host-metrics", method: http.MethodGet, path: "/v1/hosts/{id}/metrics",
		summary: "Get a host's metrics over time (administrators)", tags: []string{"hosts"},
		desc: "A host's own CPU use (100 per busy CPU) and memory (used, and its size as the limit) where its engine reports them (KVM: the node's statistics; ESXi: the host's quick statistics); on Docker, and for network and disk, the sums of the samples of the instances on it (its memory capacity as the limit)." + how}, s.svc.HostMetrics)
	series(op{id: "get-vdc-metrics", method: http.MethodGet, path: "/v1/vdcs/{id}/metrics",
		summary: "Get a VDC's usage over time", tags: []string{"vdcs"},
		desc: "The sums of the samples of a VDC's running instances." + how}, s.svc.VDCMetrics)
}
