package cli

import (
	"context"
	"io"
	"slices"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
)

func alertCommands() *command {
	return &command{name: "alert", aliases: []string{"alerts"}, summary: "HA alerts of the host monitor (administrators)", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List HA alerts, open and resolved", run: listCmd[apitypes.Alert]{noun: "alerts", limit: true,
			desc: "List the HA alerts the host monitor raised (fence unconfirmed, partition, instances lost or not restarted,\n" +
				"stale copies), newest first. An alert stays open until its host is up again or it is acknowledged.",
			list: func(cl *client.Client, ctx context.Context, o client.ListOptions) ([]apitypes.Alert, error) {
				if o.Limit > 0 {
					pg, err := client.List[apitypes.Alert](ctx, cl, "/v1/alerts", o)
					return pg.Items, err
				}
				return cl.ListAlerts(ctx, o)
			},
			table: alertTable}.run},
		{name: "show", aliases: []string{"get"}, summary: "Show an HA alert", run: alertCmd("Show an HA alert.", (*client.Client).GetAlert)},
		{name: "ack", summary: "Acknowledge an HA alert (mark it resolved)", run: alertCmd("Acknowledge an HA alert: mark it resolved.",
			(*client.Client).AckAlert)},
	}}
}

// alertTable prints alerts newest first.
func alertTable(w io.Writer, items []apitypes.Alert, now time.Time) {
	items = slices.Clone(items)
	slices.SortStableFunc(items, func(a, b apitypes.Alert) int { return b.LastRaisedAt.Compare(a.LastRaisedAt) })
	row(w, "ID", "KIND", "STATE", "ON", "COUNT", "RAISED", "LAST", "MESSAGE")
	for _, a := range items {
		row(w, a.ID, a.Kind, alertState(a), alertOn(a, true), a.Count, ago(a.RaisedAt, now), ago(a.LastRaisedAt, now), a.Message)
	}
}

// alertState is "open" or "resolved".
func alertState(a apitypes.Alert) string {
	if a.Open() {
		return "open"
	}
	return "resolved"
}

// alertOn names what an alert is about: its host, or its partitioned
// pool or datacenter.
func alertOn(a apitypes.Alert, short bool) string {
	id := func(i ovm.ID) string {
		if short {
			return string(i.Short())
		}
		return string(i)
	}
	switch {
	case !a.HostID.IsZero():
		return "host " + id(a.HostID)
	case !a.GroupID.IsZero():
		return string(a.Scope) + " " + id(a.GroupID)
	}
	return ""
}

func alertDetail(w io.Writer, a apitypes.Alert) {
	field(w, "ID", a.ID)
	field(w, "Kind", a.Kind)
	field(w, "State", alertState(a))
	field(w, "On", alertOn(a, false))
	if len(a.HostIDs) > 0 {
		field(w, "Hosts", joinIDs(a.HostIDs))
	}
	if len(a.InstanceIDs) > 0 {
		field(w, "Instances", joinIDs(a.InstanceIDs))
	}
	field(w, "Message", a.Message)
	field(w, "Count", a.Count)
	field(w, "Raised", a.RaisedAt.Format(time.RFC3339))
	field(w, "Last raised", a.LastRaisedAt.Format(time.RFC3339))
	if a.ResolvedAt != nil {
		field(w, "Resolved", a.ResolvedAt.Format(time.RFC3339)+" by "+a.ResolvedBy)
	}
}

// alertCmd returns the leaf that calls do on the alert named by its one
// argument (an id or a unique id prefix) and shows the alert do returns.
func alertCmd(desc string, do func(*client.Client, context.Context, ovm.ID) (apitypes.Alert, error)) leaf {
	return func(a *app, path string, args []string) error {
		f := a.flags(path, "ID", desc+" The alert is named by its id or a unique prefix of it (four characters or more).")
		pos, err := f.parseN(args, "ID")
		if err != nil {
			return err
		}
		cl, err := a.client()
		if err != nil {
			return err
		}
		id, err := resolveIn("alert", pos[0], func() ([]named, error) {
			as, err := cl.ListAlerts(a.ctx, client.ListOptions{})
			return namesOf(as, err, func(al apitypes.Alert) named { return named{al.ID, ""} })
		})
		if err != nil {
			return err
		}
		al, err := do(cl, a.ctx, id)
		if err != nil {
			return err
		}
		return a.show(al, func(w io.Writer) { alertDetail(w, al) })
	}
}
