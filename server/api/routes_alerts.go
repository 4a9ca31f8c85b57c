package api

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// alertRoutes are the HA alerts the host monitor raises (administrators).
func (s *server) alertRoutes() {
	tags := []string{"alerts"}
	pageRoute(s, op{id: "list-alerts", method: http.MethodGet, path: "/v1/alerts", summary: "List HA alerts, open and resolved",
		desc: "The alerts the host monitor raised: fence unconfirmed, partition, instances lost or not restarted, stale copies. " +
			"An alert is open until its host is up again (a partition: until it clears) or an administrator acknowledges it.",
		tags: tags}, s.svc.ListAlerts)
	getRoute(s, op{id: "get-alert", method: http.MethodGet, path: "/v1/alerts/{id}", summary: "Get an HA alert", tags: tags}, s.svc.GetAlert)
	register(s, op{id: "ack-alert", method: http.MethodPost, path: "/v1/alerts/{id}/ack", summary: "Acknowledge an HA alert: mark it resolved",
		tags: tags},
		func(ctx context.Context, p auth.Principal, in *IDPath) (*Object[core.Alert], error) {
			return obj(s.svc.AckAlert(ctx, p, ovm.ID(in.ID)))
		})
}
