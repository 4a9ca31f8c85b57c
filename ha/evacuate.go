package ha

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
)

// Instance is an instance recorded on a host, as the evacuation planner
// sees it.
type Instance struct {
	ID   ovm.ID
	Name string
	// HostID is the host the platform has the instance on now. Only the
	// instances on the failed host are part of its evacuation.
	HostID ovm.ID
	// Demand is what it takes from its host.
	Demand ovm.Resources
	// Kinds lists the host kinds that can run its image; empty means any.
	Kinds []ovm.HostKind
	// Networks and SharedStorage are the networks it joins and the shared
	// storage pools its disks are on; a new host must reach every one.
	Networks      []ovm.ID
	SharedStorage []ovm.ID
	// LocalStorage is set when any of its disks is on the failed host's
	// local storage: it cannot run anywhere else.
	LocalStorage bool
	// HA is its HA setting: disabled instances are not restarted, higher
	// priorities restart first.
	HA ovm.HAPolicy
	// Group is its anti-affinity group (the vApp's id when the vApp keeps
	// its members apart), "" for none. Evacuation keeps it.
	Group ovm.ID
}

// Evacuation is the input of [PlanEvacuation].
type Evacuation struct {
	// Host is the failed host.
	Host ovm.ID
	// Pool is the failed host's pool: instances restart on its other hosts.
	Pool ovm.ID
	// Policy is the pool's placement policy (PERFORMANCE when empty).
	Policy ovm.PlacementPolicy
	// Hosts are the pool's hosts as placement sees them. The failed host
	// may be among them (it must then be failed); it is never chosen.
	Hosts []placement.Host
	// Instances are the instances recorded on the failed host. Instances
	// recorded elsewhere (already restarted) are ignored.
	Instances []Instance
	// Fence is the answer to the host's [FenceRequest]. Nothing restarts
	// unless it is confirmed.
	Fence FenceResult
	// Cursor is the pool's round-robin position, carried into the plan.
	Cursor placement.Cursor
	// At is the time of the plan, stamped on its alerts.
	At time.Time
}

// Plan is what to do with each instance of a failed host. Every instance of
// the host is in exactly one of Restarts, NotRestarted, Lost, Unknown and
// Skipped; each list is in priority order (highest first), then by name
// and id, which is also the order placement saw them in.
type Plan struct {
	Host  ovm.ID
	At    time.Time
	Fence FenceResult
	// Restarts: start the instance on To (its disks are on shared storage).
	Restarts []Restart
	// NotRestarted: HA instances placement found no host for, with each
	// host's rejection reason. They stay on the failed host, down.
	NotRestarted []NotRestarted
	// Lost: HA instances on the failed host's local storage (phase lost).
	Lost []Outcome
	// Unknown: the fence did not confirm the host is down, so no instance
	// of it is restarted and every one of them is here, HA or not; the
	// platform does not know whether they still run (phase unknown).
	Unknown []Outcome
	// Skipped: instances with HA disabled (the fence confirmed).
	Skipped []Outcome
	// Alerts for lost, not restarted and unknown instances.
	Alerts []Alert
	// Cursor is the round-robin position after the plan's placements.
	Cursor placement.Cursor
}

// Restart moves one instance from the failed host to a new one.
type Restart struct {
	Instance ovm.ID
	Name     string
	Priority int
	From, To ovm.ID
	// Demand and Group are what the new host takes on (for its allocation).
	Demand ovm.Resources
	Group  ovm.ID
}

// Outcome is an instance that is not restarted, and why.
type Outcome struct {
	Instance ovm.ID
	Name     string
	Priority int
	Reason   string
}

// NotRestarted is an HA instance for which placement found no host.
type NotRestarted struct {
	Outcome
	// Rejections gives every host of the pool and why it could not take
	// the instance (empty when the request itself was refused).
	Rejections []placement.Rejection
}

// PlanEvacuation plans the evacuation of a failed host. It restarts nothing
// unless in.Fence is a confirmed fence of that host; then it places every
// HA instance on shared storage on another host of the pool, highest
// priority first, each placement seeing the earlier ones (so no target is
// over-committed and vApp anti-affinity holds), and reports every other
// instance with its reason. The plan depends on its input only.
//
// Bad input is ovm.ErrInvalid naming each field; a failed host the snapshot
// shows in another state than failed is ovm.ErrConflict (a host in
// maintenance is never evacuated).
func PlanEvacuation(in Evacuation) (Plan, error) {
	policy := cmp.Or(in.Policy, ovm.PolicyPerformance)
	if err := in.validate(policy); err != nil {
		return Plan{}, err
	}
	for _, h := range in.Hosts {
		if h.ID == in.Host && h.State != ovm.HostFailed {
			return Plan{}, ovm.Errorf(ovm.KindConflict, "host %s is %s: only a failed host is evacuated", in.Host, h.State)
		}
	}
	fleet, err := placement.NewFleet(in.Hosts)
	if err != nil {
		return Plan{}, ovm.Wrap(ovm.KindInvalid, err, "invalid evacuation hosts")
	}

	var todo []*Instance
	for i := range in.Instances {
		if in.Instances[i].HostID == in.Host {
			todo = append(todo, &in.Instances[i])
		}
	}
	slices.SortFunc(todo, func(a, b *Instance) int {
		return cmp.Or(cmp.Compare(b.HA.Priority, a.HA.Priority), strings.Compare(a.Name, b.Name),
			strings.Compare(string(a.ID), string(b.ID)))
	})

	p := Plan{Host: in.Host, At: in.At, Fence: in.Fence, Cursor: in.Cursor}
	scope := ovm.Scope{Kind: ovm.ScopePool, PoolID: in.Pool}
	exclude := []ovm.ID{in.Host}
	for _, inst := range todo {
		out := Outcome{Instance: inst.ID, Name: inst.Name, Priority: inst.HA.Priority}
		switch {
		case !in.Fence.Confirmed():
			out.Reason = in.Fence.describe()
			p.Unknown = append(p.Unknown, out)
		case !inst.HA.Enabled:
			out.Reason = "ha disabled"
			p.Skipped = append(p.Skipped, out)
		case inst.LocalStorage:
			out.Reason = "disks on the failed host's local storage"
			p.Lost = append(p.Lost, out)
		default:
			req := placement.Request{Name: inst.Name, Demand: inst.Demand, Kinds: inst.Kinds, Networks: inst.Networks,
				SharedStorage: inst.SharedStorage, Group: inst.Group, Exclude: exclude}
			d, err := fleet.Place(req, policy, scope, p.Cursor)
			if err == nil {
				err = fleet.Assign(d.HostID, inst.Demand, inst.Group)
			}
			if err != nil {
				nr := NotRestarted{Outcome: out}
				nr.Reason = err.Error()
				var nf *placement.NoFitError
				if errors.As(err, &nf) {
					nr.Rejections = nf.Rejections
				}
				p.NotRestarted = append(p.NotRestarted, nr)
				continue
			}
			p.Cursor = d.Cursor
			p.Restarts = append(p.Restarts, Restart{Instance: inst.ID, Name: inst.Name, Priority: inst.HA.Priority,
				From: in.Host, To: d.HostID, Demand: inst.Demand, Group: inst.Group})
		}
	}
	p.alerts()
	return p, nil
}

// validate checks the evacuation's own fields.
func (in *Evacuation) validate(policy ovm.PlacementPolicy) error {
	var f ovm.Fields
	if in.Host.IsZero() {
		f.Add("host", "is required")
	}
	if in.Pool.IsZero() {
		f.Add("pool", "is required")
	}
	if !policy.Valid() {
		f.Addf("policy", "must be %q or %q", ovm.PolicyPerformance, ovm.PolicyProgressive)
	}
	f.Merge("fence", in.Fence.Validate())
	if !in.Fence.Host.IsZero() && in.Fence.Host != in.Host {
		f.Addf("fence.host", "fences %s, not the failed host %s", in.Fence.Host, in.Host)
	}
	seen := make(map[ovm.ID]int, len(in.Instances))
	for i, inst := range in.Instances {
		p := fmt.Sprintf("instances[%d]", i)
		switch j, dup := seen[inst.ID]; {
		case inst.ID.IsZero():
			f.Add(p+".id", "is required")
		case dup:
			f.Addf(p+".id", "duplicates instances[%d].id", j)
		default:
			seen[inst.ID] = i
		}
		if inst.Demand.Negative() {
			f.Add(p+".demand", "must not be negative")
		}
	}
	return f.Err("invalid evacuation")
}

// alerts raises one alert per kind of trouble in the plan.
func (p *Plan) alerts() {
	ids := func(os []Outcome) []ovm.ID {
		out := make([]ovm.ID, len(os))
		for i, o := range os {
			out[i] = o.Instance
		}
		return out
	}
	if len(p.Unknown) > 0 {
		p.Alerts = append(p.Alerts, Alert{Kind: AlertFenceUnconfirmed, At: p.At, Host: p.Host, Instances: ids(p.Unknown),
			Message: fmt.Sprintf("host %s failed and was not fenced (%s): %d instances unknown, none restarted",
				p.Host, p.Fence.describe(), len(p.Unknown))})
	}
	if len(p.Lost) > 0 {
		p.Alerts = append(p.Alerts, Alert{Kind: AlertInstancesLost, At: p.At, Host: p.Host, Instances: ids(p.Lost),
			Message: fmt.Sprintf("host %s failed: %d instances on its local storage are lost", p.Host, len(p.Lost))})
	}
	if len(p.NotRestarted) > 0 {
		os := make([]Outcome, len(p.NotRestarted))
		for i, n := range p.NotRestarted {
			os[i] = n.Outcome
		}
		p.Alerts = append(p.Alerts, Alert{Kind: AlertNotRestarted, At: p.At, Host: p.Host, Instances: ids(os),
			Message: fmt.Sprintf("host %s failed: no host of the pool can take %d of its ha instances", p.Host, len(os))})
	}
}
