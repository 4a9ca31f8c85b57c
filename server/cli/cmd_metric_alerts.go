package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
)

func alertRuleCommands() *command {
	const kind = "alert rule"
	return &command{name: "alert-rule", aliases: []string{"alert-rules"}, summary: "Threshold alert rules on metrics", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List threshold alert rules", run: listCmd[apitypes.AlertRule]{noun: "alert rules", vdc: true,
			list: (*client.Client).ListAlertRules,
			head: []any{"NAME", "ID", "ON", "WHEN", "FOR", "OPEN"},
			cells: func(r apitypes.AlertRule, _ time.Time) []any {
				return []any{r.Name, r.ID, ruleOn(r), ruleWhen(r), fmt.Sprintf("%ds", r.ForSeconds), r.OpenAlerts}
			}}.run},
		{name: "show", aliases: []string{"get"}, summary: "Show a threshold alert rule", run: showCmd(kind, "NAME|ID", "Show a threshold alert rule.",
			(*client.Client).GetAlertRule, alertRuleDetail)},
		{name: "create", summary: "Define a threshold alert rule", run: (*app).alertRuleCreate},
		{name: "delete", aliases: []string{"rm"}, summary: "Delete a threshold alert rule", run: deleteCmd(kind,
			"Delete a threshold alert rule; its open alerts are cleared.", (*client.Client).DeleteAlertRule,
			func(ref string, id ovm.ID) string { return deletedText(kind, ref, id) })},
	}}
}

func metricAlertCommands() *command {
	return &command{name: "metric-alert", aliases: []string{"metric-alerts"}, summary: "Alerts raised by threshold rules", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List threshold alerts, open and cleared", run: listCmd[apitypes.MetricAlert]{
			noun: "threshold alerts", vdc: true, list: (*client.Client).ListMetricAlerts,
			head: []any{"ID", "RULE", "STATE", "ON", "METRIC", "LAST VALUE", "RAISED", "CLEARED"},
			cells: func(a apitypes.MetricAlert, now time.Time) []any {
				cleared := ""
				if a.ClearedAt != nil {
					cleared = ago(*a.ClearedAt, now)
				}
				return []any{a.ID, a.RuleName, metricAlertState(a), string(a.Subject) + " " + string(a.SubjectID.Short()), a.Metric,
					lastValue(a), ago(a.RaisedAt, now), cleared}
			}}.run},
		{name: "show", aliases: []string{"get"}, summary: "Show a threshold alert", run: func(a *app, path string, args []string) error {
			f := a.flags(path, "ID", "Show a threshold alert with the samples that fired it.")
			pos, err := f.parseN(args, "ID")
			if err != nil {
				return err
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			al, err := cl.GetMetricAlert(a.ctx, ovm.ID(pos[0]))
			if err != nil {
				return err
			}
			return a.show(al, func(w io.Writer) { metricAlertDetail(w, al) })
		}},
	}}
}

// ruleOn says what a rule watches.
func ruleOn(r apitypes.AlertRule) string {
	switch {
	case r.SubjectID != "":
		return string(r.Subject) + " " + string(r.SubjectID)
	case r.Subject == apitypes.AlertOnHost:
		return "every host"
	case r.VDCID != "":
		return "every instance of vdc " + string(r.VDCID)
	}
	return "every instance"
}

// ruleWhen is a rule's condition, as "cpuPercent above 80".
func ruleWhen(r apitypes.AlertRule) string {
	return fmt.Sprintf("%s %s %g", r.Metric, r.Comparison, r.Threshold)
}

func alertRuleDetail(w io.Writer, r apitypes.AlertRule) {
	field(w, "Name", r.Name)
	field(w, "ID", r.ID)
	field(w, "On", ruleOn(r))
	field(w, "When", ruleWhen(r))
	field(w, "For", fmt.Sprintf("%ds", r.ForSeconds))
	field(w, "Open alerts", r.OpenAlerts)
}

func metricAlertState(a apitypes.MetricAlert) string {
	if a.Open() {
		return "open"
	}
	return "cleared"
}

// lastValue is the latest sample that fired an alert.
func lastValue(a apitypes.MetricAlert) string {
	if len(a.Values) == 0 {
		return ""
	}
	return fmt.Sprintf("%g", a.Values[len(a.Values)-1].Value)
}

func metricAlertDetail(w io.Writer, a apitypes.MetricAlert) {
	field(w, "ID", a.ID)
	field(w, "Rule", a.RuleName+" ("+string(a.RuleID)+")")
	field(w, "State", metricAlertState(a))
	field(w, "On", string(a.Subject)+" "+string(a.SubjectID))
	field(w, "When", fmt.Sprintf("%s %s %g for %ds", a.Metric, a.Comparison, a.Threshold, a.ForSeconds))
	field(w, "Raised", a.RaisedAt.Format(time.RFC3339))
	for _, v := range a.Values {
		field(w, "  "+v.Time.Format(time.RFC3339), fmt.Sprintf("%g", v.Value))
	}
	if a.ClearedAt != nil {
		c := a.ClearedAt.Format(time.RFC3339) + " (" + a.ClearedBy + ")"
		if a.ClearValue != nil {
			c += fmt.Sprintf(" at %g", *a.ClearValue)
		}
		field(w, "Cleared", c)
	}
}

func (a *app) alertRuleCreate(path string, args []string) error {
	f := a.flags(path, "NAME --metric METRIC (--above|--below) N [--for DURATION] [--instance NAME|ID | --host NAME|ID | --hosts] [--vdc VDC]",
		"Define a threshold rule: an alert is raised when the metric of an instance (or a host) has been above or below\n"+
			"the threshold for the duration, and cleared when it is back. Without --instance the rule watches every instance\n"+
			"of the VDC (administrators without --vdc: every instance); --host and --hosts are for administrators.")
	metric := f.String("metric", "", "the `metric` (cpuPercent, memoryUsedBytes, netRxBytesPerSecond, ...)")
	above := f.String("above", "", "fire above this `threshold`")
	below := f.String("below", "", "fire below this `threshold`")
	dur := f.Duration("for", 0, "how long the metric must stay beyond the threshold (`duration`, e.g. 1m)")
	inst := f.String("instance", "", "watch one `instance`")
	host := f.String("host", "", "watch one `host` (administrators)")
	hosts := f.Bool("hosts", false, "watch every host (administrators)")
	vdcRef := f.String("vdc", "", "the VDC the rule watches (administrators)")
	pos, err := f.parseN(args, "NAME")
	if err != nil {
		return err
	}
	in := apitypes.AlertRuleCreate{Name: pos[0], Metric: apitypes.Metric(*metric), Subject: apitypes.AlertOnInstance,
		ForSeconds: int64(dur.Seconds()), IdempotencyKey: newKey()}
	switch {
	case (*above == "") == (*below == ""):
		return f.fail("give one of --above and --below")
	case *above != "":
		in.Comparison = apitypes.AlertAbove
		_, err = fmt.Sscan(*above, &in.Threshold)
	default:
		in.Comparison = apitypes.AlertBelow
		_, err = fmt.Sscan(*below, &in.Threshold)
	}
	if err != nil {
		return f.fail("the threshold must be a number")
	}
	cl, vdc, err := a.clientIn(*vdcRef)
	if err != nil {
		return err
	}
	in.VDCID = vdc
	switch {
	case *host != "":
		in.Subject = apitypes.AlertOnHost
		if in.SubjectID, err = a.resolve("host", *host, ""); err != nil {
			return err
		}
	case *hosts:
		in.Subject = apitypes.AlertOnHost
	case *inst != "":
		if in.SubjectID, err = a.resolve("instance", *inst, vdc); err != nil {
			return err
		}
	}
	r, err := cl.CreateAlertRule(a.ctx, in)
	if err != nil {
		return err
	}
	return a.show(r, func(w io.Writer) { alertRuleDetail(w, r) })
}
