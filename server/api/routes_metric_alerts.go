package api

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// metricAlertRoutes are the threshold rules on metrics and the alerts
// they raise.
func (s *server) metricAlertRoutes() {
	tags := []string{"metric-alerts"}
	listRoute(s, op{id: "list-alert-rules", method: http.MethodGet, path: "/v1/alert-rules", summary: "List threshold alert rules", tags: tags},
		s.svc.ListAlertRules)
	register(s, op{id: "create-alert-rule", method: http.MethodPost, path: "/v1/alert-rules",
		summary: "Define a threshold alert rule on a metric",
		desc: "An alert is raised when a metric of an instance (or, for administrators, a host) has been above or below a " +
			"threshold for a duration, and cleared when it is back. Tenants define rules on their VDC's instances; " +
			"administrators also define platform-wide and host rules. The collector evaluates the rules after each round.",
		tags: tags, status: http.StatusCreated, errors: []int{403, 409}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body apitypes.AlertRuleCreate
		}) (*Out[core.AlertRule], error) {
			in.Body.IdempotencyKey = in.Key
			r, err := s.svc.CreateAlertRule(ctx, p, in.Body)
			if err != nil {
				return nil, err
			}
			return &Out[core.AlertRule]{Body: r}, nil
		})
	getRoute(s, op{id: "get-alert-rule", method: http.MethodGet, path: "/v1/alert-rules/{id}", summary: "Get a threshold alert rule", tags: tags},
		s.svc.GetAlertRule)
	deleteRoute(s, op{id: "delete-alert-rule", method: http.MethodDelete, path: "/v1/alert-rules/{id}",
		summary: "Delete a threshold alert rule", desc: "Its open alerts are cleared.",
		tags: tags, status: http.StatusNoContent, errors: []int{403, 412}}, s.svc.DeleteAlertRule)
	listRoute(s, op{id: "list-metric-alerts", method: http.MethodGet, path: "/v1/metric-alerts",
		summary: "List threshold alerts, open and cleared",
		desc: "Each alert names its rule and subject and keeps the samples that fired it, and when and at what value it cleared. " +
			"Tenants see the alerts of their VDC's rules only.", tags: tags}, s.svc.ListMetricAlerts)
	getRoute(s, op{id: "get-metric-alert", method: http.MethodGet, path: "/v1/metric-alerts/{id}", summary: "Get a threshold alert", tags: tags},
		s.svc.GetMetricAlert)
}
