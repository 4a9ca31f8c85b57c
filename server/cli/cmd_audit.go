package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
)

func auditCommands() *command {
	return &command{name: "audit", summary: "The audit trail: who changed what, from where, with which outcome", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List audit events, newest first", run: (*app).auditList},
	}}
}

// defaultAuditLimit is how many events audit list shows without --limit.
const defaultAuditLimit = 100

func (a *app) auditList(path string, args []string) error {
	f := a.flags(path, "[--vdc VDC] [--user NAME] [--operation OP] [--object ID] [--outcome OUTCOME] [--since WHEN] [--until WHEN] [--limit N]",
		"List the audit trail, newest first: every change, failed request, failed and throttled login, with who made it\n"+
			"(as which role, from which address), the object and the task. Administrators see every event; tenants see\n"+
			"their VDC's. WHEN is a time (2026-01-02T15:04:05Z) or a duration before now (90m, 24h).")
	vdcRef := f.String("vdc", "", "only the events of one `VDC` (administrators)")
	var q client.AuditQuery
	f.StringVar(&q.User, "user", "", "only the events of this user `name`")
	f.StringVar(&q.Operation, "operation", "", "only the events of this API `operation` (such as create-instance)")
	f.StringVar(&q.ObjectID, "object", "", "only the events whose first object has this `id`")
	outcome := f.String("outcome", "", "only the events with this `outcome`: succeeded, failed or throttled")
	since := f.String("since", "", "only the events at or after `WHEN`")
	until := f.String("until", "", "only the events before `WHEN`")
	limit := f.Int("limit", defaultAuditLimit, "show at most `N` events (0: all)")
	if _, err := f.parseN(args); err != nil {
		return err
	}
	now := time.Now()
	var err error
	if q.Since, err = when(*since, now); err != nil {
		return f.fail("--since: %s", err)
	}
	if q.Until, err = when(*until, now); err != nil {
		return f.fail("--until: %s", err)
	}
	q.Outcome = apitypes.AuditOutcome(*outcome)
	if *limit < 0 {
		return f.fail("--limit: must not be negative")
	}
	cl, vdc, err := a.clientIn(*vdcRef)
	if err != nil {
		return err
	}
	o := client.ListOptions{VDCID: string(vdc)}
	var items []apitypes.AuditEvent
	if *limit > 0 {
		o.Limit = min(*limit, 1000)
		pg, err := cl.AuditEvents(a.ctx, q, o)
		if err != nil {
			return err
		}
		items = pg.Items
	} else if items, err = cl.AllAuditEvents(a.ctx, q, o); err != nil {
		return err
	}
	return a.show(page(items), func(w io.Writer) {
		row(w, "TIME", "USER", "ROLE", "FROM", "OPERATION", "OBJECT", "TASK", "OUTCOME", "MESSAGE")
		for _, e := range items {
			obj := ""
			if e.Object != nil {
				obj = e.Object.Kind + " " + firstOf(e.Object.Name, string(e.Object.ID.Short()))
			}
			out := string(e.Outcome)
			if e.Status != 0 {
				out += fmt.Sprintf(" (%d)", e.Status)
			}
			row(w, e.At.Local().Format(time.DateTime), e.User, e.Role, e.Address, e.Operation, obj, e.TaskID.Short(), out, e.Message)
		}
	})
}

// when reads a time, or a duration before now; "" is the zero time.
func when(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a time like 2026-01-02T15:04:05Z nor a duration like 24h", s)
	}
	return t, nil
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
