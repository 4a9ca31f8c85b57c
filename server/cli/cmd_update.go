package cli

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"strings"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// The update commands send the API's changes of datacenters, pools and
// users: only what a flag names changes.

func (a *app) datacenterUpdate(path string, args []string) error {
	f := a.flags(path, "NAME|ID --description TEXT", "Change a datacenter's description.")
	desc := f.String("description", "", "the new description")
	pos, err := f.parseN(args, "NAME|ID")
	if err != nil {
		return err
	}
	var patch apitypes.DatacenterPatch
	f.Visit(func(fl *flag.Flag) {
		if fl.Name == "description" {
			patch.Description = desc
		}
	})
	if patch.Description == nil {
		return f.fail("--description is required")
	}
	cl, id, err := a.lookup("datacenter", pos[0])
	if err != nil {
		return err
	}
	d, err := cl.UpdateDatacenter(a.ctx, id, patch)
	if err != nil {
		return err
	}
	return a.show(d, func(w io.Writer) { datacenterDetail(w, d) })
}

// parseScope reads a placement scope written KIND:REF[,REF...]:
// datacenter:DC, pool:POOL or hosts:HOST,HOST...
func (a *app) parseScope(s string) (ovm.Scope, error) {
	kind, refs, ok := strings.Cut(s, ":")
	if !ok || refs == "" {
		return ovm.Scope{}, fmt.Errorf("--scope %q: want datacenter:DC, pool:POOL or hosts:HOST[,HOST...]", s)
	}
	sc := ovm.Scope{Kind: ovm.ScopeKind(kind)}
	one := func(what string) (ovm.ID, error) {
		if strings.Contains(refs, ",") {
			return "", fmt.Errorf("--scope %q: a %s scope names one %s", s, kind, what)
		}
		_, id, err := a.lookup(what, refs)
		return id, err
	}
	var err error
	switch sc.Kind {
	case ovm.ScopeDatacenter:
		sc.DatacenterID, err = one("datacenter")
	case ovm.ScopePool:
		sc.PoolID, err = one("pool")
	case ovm.ScopeHosts:
		for r := range strings.SplitSeq(refs, ",") {
			_, id, lerr := a.lookup("host", r)
			if lerr != nil {
				return sc, lerr
			}
			sc.HostIDs = append(sc.HostIDs, id)
		}
	default:
		return sc, fmt.Errorf("--scope %q: the kind is datacenter, pool or hosts", s)
	}
	return sc, err
}

func (a *app) poolUpdate(path string, args []string) error {
	f := a.flags(path, "NAME|ID [--policy P] [--ha on|off] [--scope KIND:REF[,REF...]] [--cpu-overcommit R]...",
		"Change a pool's placement policy, HA, placement scope or overcommit ratios; what no flag names stays.")
	policy := f.String("policy", "", "PERFORMANCE (most free host) or PROGRESSIVE (fill one host first)")
	ha := f.String("ha", "", "on: restart the instances of a failed host elsewhere; off: do not")
	scope := f.String("scope", "", "the hosts placement chooses from: datacenter:DC, pool:POOL or hosts:HOST[,HOST...]")
	cpuOC := f.Float64("cpu-overcommit", 0, "CPU overcommit ratio, 1 to 64")
	memOC := f.Float64("memory-overcommit", 0, "memory overcommit ratio, 1 to 64")
	diskOC := f.Float64("disk-overcommit", 0, "disk overcommit ratio, 1 to 64")
	pos, err := f.parseN(args, "NAME|ID")
	if err != nil {
		return err
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	cl, id, err := a.lookup("pool", pos[0])
	if err != nil {
		return err
	}
	var patch apitypes.PoolPatch
	if set["policy"] {
		p := ovm.PlacementPolicy(strings.ToUpper(*policy))
		patch.Policy = &p
	}
	if set["ha"] {
		var on bool
		switch *ha {
		case "on", "true":
			on = true
		case "off", "false":
		default:
			return f.fail("--ha %q: want on or off", *ha)
		}
		patch.HAEnabled = &on
	}
	if set["scope"] {
		sc, err := a.parseScope(*scope)
		if err != nil {
			return f.fail("%v", err)
		}
		patch.Scope = &sc
	}
	if set["cpu-overcommit"] || set["memory-overcommit"] || set["disk-overcommit"] {
		p, err := cl.GetPool(a.ctx, id)
		if err != nil {
			return err
		}
		oc := p.Overcommit
		for name, v := range map[string]struct {
			dst *float64
			val float64
		}{"cpu-overcommit": {&oc.CPU, *cpuOC}, "memory-overcommit": {&oc.Memory, *memOC}, "disk-overcommit": {&oc.Disk, *diskOC}} {
			if set[name] {
				*v.dst = v.val
			}
		}
		patch.Overcommit = &oc
	}
	if patch == (apitypes.PoolPatch{}) {
		return f.fail("nothing to change: give --policy, --ha, --scope or an overcommit ratio")
	}
	p, err := cl.UpdatePool(a.ctx, id, patch)
	if err != nil {
		return err
	}
	return a.show(p, func(w io.Writer) { poolDetail(w, p) })
}

func (a *app) userRole(path string, args []string) error {
	f := a.flags(path, "NAME|ID admin|vdc-admin|vdc-member", "Change a user's role.")
	pos, err := f.parseN(args, "NAME|ID", "ROLE")
	if err != nil {
		return err
	}
	cl, id, err := a.lookup("user", pos[0])
	if err != nil {
		return err
	}
	role := apitypes.Role(pos[1])
	u, err := cl.UpdateUser(a.ctx, id, apitypes.UserPatch{Role: &role})
	if err != nil {
		return err
	}
	return a.show(u, func(w io.Writer) { userDetail(w, u) })
}

func (a *app) instanceLabel(path string, args []string) error {
	f := a.flags(path, "NAME|ID [KEY=VALUE...] [--remove KEY]...", "Set or remove an instance's labels (at once, no task); the other labels stay.")
	var remove multi
	f.Var(&remove, "remove", "a label `KEY` to remove; repeatable")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return f.fail("NAME|ID is required")
	}
	set, err := parsePairs("label", pos[1:])
	if err != nil {
		return f.fail("%v", err)
	}
	if len(set) == 0 && len(remove) == 0 {
		return f.fail("nothing to change: give KEY=VALUE or --remove KEY")
	}
	cl, id, err := a.lookup("instance", pos[0])
	if err != nil {
		return err
	}
	i, err := cl.GetInstance(a.ctx, id)
	if err != nil {
		return err
	}
	labels := map[string]string{}
	maps.Copy(labels, i.Spec.Labels)
	maps.Copy(labels, set)
	for _, k := range remove {
		delete(labels, k)
	}
	it, err := cl.UpdateInstance(a.ctx, id, apitypes.InstancePatch{Labels: &labels})
	if err != nil {
		return err
	}
	return a.afterInstanceTask(it, false, "labelled")
}
