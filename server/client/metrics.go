package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// MetricsQuery selects a range of a series. Zero From, To and Step take
// the server's defaults (the last hour, about 120 points); no Metrics
// asks for all of them.
type MetricsQuery struct {
	From, To time.Time
	Step     time.Duration
	Metrics  []apitypes.Metric
}

// values are the query's parameters.
func (q MetricsQuery) values() url.Values {
	v := url.Values{}
	if !q.From.IsZero() {
		v.Set("from", q.From.UTC().Format(time.RFC3339Nano))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.UTC().Format(time.RFC3339Nano))
	}
	if q.Step > 0 {
		v.Set("step", strconv.FormatInt(int64((q.Step+time.Second-1)/time.Second), 10))
	}
	if len(q.Metrics) > 0 {
		names := make([]string, len(q.Metrics))
		for i, m := range q.Metrics {
			names[i] = string(m)
		}
		v.Set("metrics", strings.Join(names, ","))
	}
	return v
}

// InstanceMetrics returns an instance's metrics over time.
func (c *Client) InstanceMetrics(ctx context.Context, id ovm.ID, q MetricsQuery) (apitypes.MetricSeries, error) {
	return c.series(ctx, idPath("instances", id)+"/metrics", q)
}

// HostMetrics returns a host's metrics over time (administrators).
func (c *Client) HostMetrics(ctx context.Context, id ovm.ID, q MetricsQuery) (apitypes.MetricSeries, error) {
	return c.series(ctx, idPath("hosts", id)+"/metrics", q)
}

// VDCMetrics returns a VDC's usage over time.
func (c *Client) VDCMetrics(ctx context.Context, id ovm.ID, q MetricsQuery) (apitypes.MetricSeries, error) {
	return c.series(ctx, idPath("vdcs", id)+"/metrics", q)
}

func (c *Client) series(ctx context.Context, path string, q MetricsQuery) (apitypes.MetricSeries, error) {
	return Call[apitypes.MetricSeries](ctx, c, Request{Method: http.MethodGet, Path: path, Query: q.values()})
}
