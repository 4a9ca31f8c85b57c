package core

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/scaling"
	"github.com/openovm/ovm/server/store"
)

// kindScalingGroup is the record kind of scaling groups.
const kindScalingGroup store.Kind = "scalinggroup"

// ScalingGroup and its create request and events are the API's.
type (
	ScalingGroup       = apitypes.ScalingGroup
	CreateScalingGroup = apitypes.ScalingGroupCreate
	ScalingEvent       = apitypes.ScalingEvent
)

// MaxScalingEvents bounds the events a group keeps (the newest).
const MaxScalingEvents = 100

// MaxGroupMembers bounds a group's max.
const MaxGroupMembers = 100

// pendingMember is a member the scaler decided to create: its name and
// the idempotency key of its create, so that a create retried by this or
// another replica makes it once.
type pendingMember struct {
	Key  string `json:"key"`
	Name string `json:"name"`
	Seq  int64  `json:"seq"`
}

// groupMember is a member with its creation order.
type groupMember struct {
	ID  ovm.ID `json:"id"`
	Seq int64  `json:"seq"`
}

// scalingGroupRecord is a group as stored.
type scalingGroupRecord struct {
	ID        ovm.ID                 `json:"id"`
	Name      string                 `json:"name"`
	VDCID     ovm.ID                 `json:"vdcId"`
	Spec      ovm.InstanceSpec       `json:"spec"`
	Policy    apitypes.ScalingPolicy `json:"policy"`
	Desired   int                    `json:"desired"`
	Members   []groupMember          `json:"members"`
	Pending   []pendingMember        `json:"pending,omitempty"`
	Deleting  []ovm.ID               `json:"deleting,omitempty"`
	Seq       int64                  `json:"seq"`
	Events    []ScalingEvent         `json:"events"`
	CreatedAt time.Time              `json:"createdAt"`
	// LastChange is when the desired count last changed; LastDecision
	// when the scaler last decided.
	LastChange   time.Time `json:"lastChange"`
	LastDecision time.Time `json:"lastDecision"`
	// RefusedAt is when a member's create was last refused: the group
	// does not grow again for RefusalBackoff periods.
	RefusedAt time.Time `json:"refusedAt,omitzero"`
	// AntiAffinity places no two members on one host.
	AntiAffinity bool `json:"antiAffinity,omitempty"`
}

// RefusalBackoff is how many periods a group waits after a refused
// create before it grows again.
const RefusalBackoff = 10

func (g scalingGroupRecord) view() ScalingGroup {
	out := ScalingGroup{ID: g.ID, Name: g.Name, VDCID: g.VDCID, Spec: g.Spec, Policy: g.Policy, Desired: g.Desired,
		AntiAffinity: g.AntiAffinity, Members: []ovm.ID{}, CreatedAt: g.CreatedAt}
	for _, m := range g.Members {
		out.Members = append(out.Members, m.ID)
	}
	return out
}

// addEvent keeps the newest MaxScalingEvents events.
func (g *scalingGroupRecord) addEvent(e ScalingEvent) {
	g.Events = append(g.Events, e)
	if n := len(g.Events) - MaxScalingEvents; n > 0 {
		g.Events = slices.Delete(g.Events, 0, n)
	}
}

// policyOf converts the API's policy for the decision package.
func policyOf(p apitypes.ScalingPolicy) scaling.Policy {
	out := scaling.Policy{Min: p.Min, Max: p.Max, Tolerance: p.Tolerance}
	for _, r := range p.Rules {
		out.Rules = append(out.Rules, scaling.Rule{Metric: string(r.Metric), Direction: scaling.Direction(r.Direction),
			Threshold: r.Threshold, Periods: r.Periods, Step: r.Step, Cooldown: time.Duration(r.CooldownSeconds) * time.Second})
	}
	for _, s := range p.Schedules {
		out.Schedules = append(out.Schedules, scaling.Schedule{Cron: s.Cron, Desired: s.Desired})
	}
	return out
}

// CreateScalingGroup records a group at its minimum size; the scaler
// creates its members through the ordinary create path.
func (s *Service) CreateScalingGroup(ctx context.Context, p auth.Principal, in CreateScalingGroup) (ScalingGroup, error) {
	var f ovm.Fields
	// A member is named after the group and its number.
	validateInstance(in.Name+"-1000", in.Spec, "", &f)
	if r := ovm.ValidateName(in.Name); r != "" {
		f.Add("name", r)
	}
	f.Merge("policy", validatePolicy(in.Policy))
	if err := f.Err("invalid scaling group"); err != nil {
		return ScalingGroup{}, err
	}
	vdc, err := resolveVDC(p, in.VDCID, true)
	if err != nil {
		return ScalingGroup{}, err
	}
	var out ScalingGroup
	err = s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return idempotent(ctx, tx, p, "scaling-group.create", in.IdempotencyKey, in, &out, func() error {
			if _, err := s.tenantVDC(ctx, tx, p, vdc); err != nil {
				return err
			}
			now, err := tx.Now(ctx)
			if err != nil {
				return err
			}
			g := scalingGroupRecord{ID: ovm.NewID(), Name: in.Name, VDCID: vdc, Spec: in.Spec, Policy: in.Policy,
				AntiAffinity: in.AntiAffinity, Desired: in.Policy.Min, CreatedAt: now, LastDecision: now, Events: []ScalingEvent{}}
			r, err := store.NewRecord(kindScalingGroup, g.ID, vdc, g.Name, g)
			if err != nil {
				return err
			}
			if err := tx.Insert(ctx, &r); err != nil {
				if ovm.KindOf(err) == ovm.KindConflict {
					return nameTaken(kindScalingGroup, g.Name, "name")
				}
				return err
			}
			out = g.view()
			return nil
		})
	})
	return out, err
}

// GetScalingGroup returns a group of the principal's VDC.
func (s *Service) GetScalingGroup(ctx context.Context, p auth.Principal, id ovm.ID) (ScalingGroup, int64, error) {
	g, ver, err := getVisibleAs[scalingGroupRecord](ctx, s, p, kindScalingGroup, id)
	return g.view(), ver, err
}

// ListScalingGroups lists the groups of the principal's VDC (or of the one
// an administrator names, or all).
func (s *Service) ListScalingGroups(ctx context.Context, p auth.Principal, o ListOptions) (Page[ScalingGroup], error) {
	return listVisible(ctx, s, p, kindScalingGroup, o, func(r store.Record) (ScalingGroup, error) {
		g, err := decode[scalingGroupRecord](r)
		return g.view(), err
	})
}

// ScalingEvents returns a group's events, newest first.
func (s *Service) ScalingEvents(ctx context.Context, p auth.Principal, id ovm.ID) ([]ScalingEvent, error) {
	g, _, err := getVisibleAs[scalingGroupRecord](ctx, s, p, kindScalingGroup, id)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(g.Events)
	slices.Reverse(out)
	if out == nil {
		out = []ScalingEvent{}
	}
	return out, nil
}

// DeleteScalingGroup deletes a group and its members (each a delete
// task); it returns the members' tasks.
func (s *Service) DeleteScalingGroup(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) ([]ovm.Task, error) {
	var g scalingGroupRecord
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getVisible(ctx, tx, p, kindScalingGroup, id)
		if err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		if g, err = decode[scalingGroupRecord](r); err != nil {
			return err
		}
		// Members being made or changed would be left behind: refuse,
		// the caller tries again once their tasks are done.
		if len(g.Pending) > 0 {
			return conflictf("scaling group %s is creating members; try again when their tasks are done", g.Name)
		}
		for _, m := range g.Members {
			inst, _, err := getAs[instanceRecord](ctx, tx, store.KindInstance, m.ID)
			switch {
			case ovm.KindOf(err) == ovm.KindNotFound:
			case err != nil:
				return err
			case inst.PendingTask != "" && inst.Status.Phase != ovm.PhaseDeleting:
				return conflictf("member %s of scaling group %s has a task in progress (%s); try again when it is done", inst.Name, g.Name, inst.PendingTask)
			}
		}
		return tx.Delete(ctx, kindScalingGroup, id, r.Version)
	})
	if err != nil {
		return nil, err
	}
	tasks := []ovm.Task{}
	for _, m := range g.Members {
		it, err := s.DeleteInstance(ctx, scalerPrincipal(g), m.ID, 0)
		switch {
		case ovm.KindOf(err) == ovm.KindNotFound, ovm.KindOf(err) == ovm.KindConflict && deleting(ctx, s, m.ID):
		case err != nil:
			return tasks, fmt.Errorf("delete member %s of scaling group %s: %w", m.ID, g.Name, err)
		case it.Task != nil:
			tasks = append(tasks, *it.Task)
		}
	}
	return tasks, nil
}

// deleting reports whether an instance is being deleted already.
func deleting(ctx context.Context, s *Service, id ovm.ID) bool {
	var phase ovm.Phase
	_ = s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		inst, _, err := getAs[instanceRecord](ctx, tx, store.KindInstance, id)
		phase = inst.Status.Phase
		return err
	})
	return phase == ovm.PhaseDeleting
}

// scalerPrincipal is who the scaler acts as in a group's VDC: its creates
// and deletes take the ordinary path, quota and tenancy included.
func scalerPrincipal(g scalingGroupRecord) auth.Principal {
	return auth.Principal{UserID: g.ID, Name: "scaling-group " + g.Name, Role: auth.RoleVDCAdmin, VDCID: g.VDCID}
}
