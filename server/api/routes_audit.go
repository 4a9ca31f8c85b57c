package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// AuditParams select a page of the audit trail.
type AuditParams struct {
	ListParams
	User      string                `query:"user" maxLength:"64" doc:"Only the events of this user name."`
	Operation string                `query:"operation" maxLength:"64" doc:"Only the events of this API operation (an operationId, such as create-instance)."`
	ObjectID  string                `query:"objectId" format:"uuid" doc:"Only the events whose first object is this one."`
	Outcome   apitypes.AuditOutcome `query:"outcome" doc:"Only the events with this outcome."`
	Since     string                `query:"since" format:"date-time" doc:"Only the events at or after this time (RFC 3339)."`
	Until     string                `query:"until" format:"date-time" doc:"Only the events before this time (RFC 3339)."`
}

func (in AuditParams) audit() (core.AuditQuery, error) {
	q := core.AuditQuery{User: in.User, Operation: in.Operation, ObjectID: ovm.ID(in.ObjectID), Outcome: in.Outcome}
	var f ovm.Fields
	parse := func(field, v string, into *time.Time) {
		if v == "" {
			return
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			f.Add("query."+field, "must be a time like 2026-01-02T15:04:05Z")
			return
		}
		*into = t
	}
	parse("since", in.Since, &q.Since)
	parse("until", in.Until, &q.Until)
	return q, f.Err("invalid audit query")
}

func (in AuditParams) query() url.Values {
	q := in.ListParams.query()
	for k, v := range map[string]string{"user": in.User, "operation": in.Operation, "objectId": in.ObjectID,
		"outcome": string(in.Outcome), "since": in.Since, "until": in.Until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// auditRoutes serve the audit trail: every change, failed request, failed
// and throttled login.
func (s *server) auditRoutes() {
	o := op{id: "list-audit-events", method: http.MethodGet, path: "/v1/audit-events", summary: "List the audit trail",
		desc: "The audit trail, newest first: who (as which role, from which address) changed what, which object, the outcome " +
			"and the task it started; failed requests, failed and throttled logins too. Administrators read every event " +
			"(vdcId: one VDC's); tenants read their VDC's, without the infrastructure and without the text of failures. " +
			"No event holds a password or a token.",
		tags: []string{"audit"}, more: pageDoc}
	register(s, o, func(ctx context.Context, p auth.Principal, in *AuditParams) (*List[core.AuditEvent], error) {
		q, err := in.audit()
		if err != nil {
			return nil, err
		}
		pg, err := s.svc.ListAudit(ctx, p, q, in.options())
		return list(o.path, in.query(), pg), err
	})
}
