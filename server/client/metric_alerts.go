package client

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// ListAlertRules returns every threshold rule the caller sees.
func (c *Client) ListAlertRules(ctx context.Context, o ListOptions) ([]apitypes.AlertRule, error) {
	return All[apitypes.AlertRule](ctx, c, "/v1/alert-rules", o)
}

// CreateAlertRule defines a threshold rule on a metric.
func (c *Client) CreateAlertRule(ctx context.Context, in apitypes.AlertRuleCreate) (apitypes.AlertRule, error) {
	return post[apitypes.AlertRule](ctx, c, "/v1/alert-rules", in, in.IdempotencyKey)
}

// GetAlertRule returns a threshold rule.
func (c *Client) GetAlertRule(ctx context.Context, id ovm.ID) (apitypes.AlertRule, error) {
	return get[apitypes.AlertRule](ctx, c, idPath("alert-rules", id))
}

// DeleteAlertRule deletes a threshold rule and clears its open alerts.
func (c *Client) DeleteAlertRule(ctx context.Context, id ovm.ID) error {
	_, err := c.Do(ctx, Request{Method: http.MethodDelete, Path: idPath("alert-rules", id)}, nil)
	return err
}

// ListMetricAlerts returns every threshold alert the caller sees, open and
// cleared.
func (c *Client) ListMetricAlerts(ctx context.Context, o ListOptions) ([]apitypes.MetricAlert, error) {
	return All[apitypes.MetricAlert](ctx, c, "/v1/metric-alerts", o)
}

// GetMetricAlert returns a threshold alert.
func (c *Client) GetMetricAlert(ctx context.Context, id ovm.ID) (apitypes.MetricAlert, error) {
	return get[apitypes.MetricAlert](ctx, c, idPath("metric-alerts", id))
}
