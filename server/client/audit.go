package client

import (
	"context"
	"net/url"
	"time"

	"github.com/openovm/ovm/server/apitypes"
)

// AuditQuery filters the audit trail; zero fields do not filter.
type AuditQuery struct {
	User      string
	Operation string
	ObjectID  string
	Outcome   apitypes.AuditOutcome
	Since     time.Time
	Until     time.Time
}

func (q AuditQuery) values(o ListOptions) url.Values {
	v := o.query()
	for k, s := range map[string]string{"user": q.User, "operation": q.Operation, "objectId": q.ObjectID, "outcome": string(q.Outcome)} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	return v
}

// AuditEvents returns one page of the audit trail, newest first: every
// event for administrators (o.VDCID: one VDC's), their VDC's for tenants.
func (c *Client) AuditEvents(ctx context.Context, q AuditQuery, o ListOptions) (apitypes.Page[apitypes.AuditEvent], error) {
	return Call[apitypes.Page[apitypes.AuditEvent]](ctx, c, Request{Method: "GET", Path: "/v1/audit-events", Query: q.values(o)})
}

// AllAuditEvents returns every event q selects, newest first.
func (c *Client) AllAuditEvents(ctx context.Context, q AuditQuery, o ListOptions) ([]apitypes.AuditEvent, error) {
	var out []apitypes.AuditEvent
	for range maxPages {
		pg, err := c.AuditEvents(ctx, q, o)
		if err != nil {
			return out, err
		}
		out = append(out, pg.Items...)
		if pg.Next == "" {
			return out, nil
		}
		o.Cursor = pg.Next
	}
	return out, nil
}
