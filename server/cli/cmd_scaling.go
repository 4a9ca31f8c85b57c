package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
)

func scalingCommands() *command {
	const kind = "scaling group"
	return &command{name: "scaling-group", aliases: []string{"scaling-groups", "sg"}, summary: "Scaling groups of VMs or containers", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List scaling groups", run: listCmd[apitypes.ScalingGroup]{noun: "scaling groups", vdc: true,
			list: (*client.Client).ListScalingGroups,
			head: []any{"NAME", "ID", "TYPE", "DESIRED", "MEMBERS", "MIN", "MAX", "RULES", "SCHEDULES"},
			cells: func(g apitypes.ScalingGroup, _ time.Time) []any {
				return []any{g.Name, g.ID, g.Spec.Type, g.Desired, len(g.Members), g.Policy.Min, g.Policy.Max, len(g.Policy.Rules), len(g.Policy.Schedules)}
			}}.run},
		{name: "show", aliases: []string{"get"}, summary: "Show a scaling group", run: showCmd(kind, "NAME|ID", "Show a scaling group and its policy.",
			(*client.Client).GetScalingGroup, scalingDetail)},
		{name: "create", summary: "Create a scaling group from a file", run: (*app).scalingCreate},
		{name: "set", summary: "Change a scaling group's bounds or desired count", run: (*app).scalingSet},
		{name: "delete", aliases: []string{"rm"}, summary: "Delete a scaling group and its members", run: deleteCmd(kind,
			"Delete a scaling group; each member is deleted by a task of its own.", (*client.Client).DeleteScalingGroup,
			func(ref string, id ovm.ID) string { return deletedText(kind, ref, id) })},
		{name: "decisions", summary: "List a scaling group's decisions, newest first", run: func(a *app, path string, args []string) error {
			f := a.flags(path, "NAME|ID", "List the scaler's decisions on a group: scale-outs, scale-ins, refusals (quota, capacity) and\n"+
				"bounds that held it, each with the rule or schedule that fired and the averages it saw.")
			cl, id, err := f.object(args, "NAME|ID", kind)
			if err != nil {
				return err
			}
			ev, err := cl.ScalingDecisions(a.ctx, id)
			if err != nil {
				return err
			}
			now := time.Now()
			return a.show(ev, func(w io.Writer) {
				row(w, "WHEN", "KIND", "FROM", "TO", "CAUSE", "VALUES", "ERROR")
				for _, e := range ev {
					row(w, ago(e.At, now), e.Kind, e.From, e.To, e.Cause, averages(e.Values), e.Error)
				}
			})
		}},
	}}
}

// averages prints the averages a decision saw.
func averages(vs []float64) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fmt.Sprintf("%.1f", v)
	}
	return strings.Join(out, " ")
}

func scalingDetail(w io.Writer, g apitypes.ScalingGroup) {
	field(w, "Name", g.Name)
	field(w, "ID", g.ID)
	field(w, "Type", g.Spec.Type)
	field(w, "Image", g.Spec.Image)
	field(w, "Desired", g.Desired)
	field(w, "Bounds", fmt.Sprintf("%d to %d", g.Policy.Min, g.Policy.Max))
	if g.AntiAffinity {
		field(w, "Anti-affinity", "one member per host")
	}
	for i, r := range g.Policy.Rules {
		step := r.Step
		if r.Direction == apitypes.ScaleBelow {
			step = -step
		}
		field(w, fmt.Sprintf("Rule %d", i), fmt.Sprintf("%s %s %g for %d periods: %+d (cooldown %ds)", r.Metric, r.Direction, r.Threshold,
			r.Periods, step, r.CooldownSeconds))
	}
	for i, s := range g.Policy.Schedules {
		field(w, fmt.Sprintf("Schedule %d", i), fmt.Sprintf("%q: desired %d", s.Cron, s.Desired))
	}
	field(w, "Members", joinIDs(g.Members))
}

func (a *app) scalingCreate(path string, args []string) error {
	f := a.flags(path, "-f FILE [--name NAME] [--vdc VDC]",
		"Create a scaling group described by a JSON or YAML file (\"-\" reads stdin) in the API's shape:\n\n"+
			"  name: web\n  antiAffinity: true\n  spec: {type: container, cpuMilli: 500, memoryBytes: 67108864, image: {format: oci, name: nginx:1.27}}\n"+
			"  policy:\n    min: 1\n    max: 3\n    rules:\n"+
			"      - {metric: cpuPercent, direction: above, threshold: 70, periods: 3, step: 1, cooldownSeconds: 60}\n"+
			"      - {metric: cpuPercent, direction: below, threshold: 20, periods: 3, step: 1, cooldownSeconds: 60}\n"+
			"    schedules:\n      - {cron: \"0 8 * * 1-5\", desired: 2}")
	file := f.String("f", "", "the group `file` (JSON or YAML)")
	name := f.String("name", "", "the group's name (overrides the file's)")
	vdcRef := f.String("vdc", "", "the VDC to create in (administrators)")
	if _, err := f.parseN(args); err != nil {
		return err
	}
	if *file == "" {
		return f.fail("-f FILE is required")
	}
	g, err := postDocument[apitypes.ScalingGroup](a, "/v1/scaling-groups", *file, *name, *vdcRef, nil)
	if err != nil {
		return err
	}
	return a.show(g, func(w io.Writer) { scalingDetail(w, g) })
}

func (a *app) scalingSet(path string, args []string) error {
	f := a.flags(path, "NAME|ID [--min N] [--max N] [--desired N]",
		"Change a scaling group's bounds or desired count; a desired count outside new bounds is brought within them.\n"+
			"The scaler's next round creates or deletes members to match.")
	minN := f.Int("min", -1, "the group's `minimum`")
	maxN := f.Int("max", -1, "the group's `maximum`")
	desired := f.Int("desired", -1, "the desired `count` of members")
	pos, err := f.parseN(args, "NAME|ID")
	if err != nil {
		return err
	}
	var in apitypes.ScalingGroupPatch
	for _, v := range []struct {
		n   *int
		dst **int
	}{{minN, &in.Min}, {maxN, &in.Max}, {desired, &in.Desired}} {
		if *v.n >= 0 {
			*v.dst = v.n
		}
	}
	if in.Min == nil && in.Max == nil && in.Desired == nil {
		return f.fail("give --min, --max or --desired")
	}
	cl, id, err := f.lookup("scaling group", pos[0])
	if err != nil {
		return err
	}
	g, err := cl.UpdateScalingGroup(a.ctx, id, in)
	if err != nil {
		return err
	}
	return a.show(g, func(w io.Writer) { scalingDetail(w, g) })
}
