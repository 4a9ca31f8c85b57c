package core

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/scaling"
	"github.com/openovm/ovm/server/store"
)

// ScalingGroupIDs lists every scaling group.
func (y *System) ScalingGroupIDs(ctx context.Context) ([]ovm.ID, error) {
	var out []ovm.ID
	err := y.s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		rs, err := listAll(ctx, tx, store.Filter{Kind: kindScalingGroup, AllVDCs: true})
		out = out[:0]
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return err
	})
	return out, err
}

// ScaleGroup runs one decision of a group, its period the scaler's
// interval: in a transaction that first runs guard, it reads the group
// and its members' recent samples, decides (package scaling), records the
// decision as an event with its inputs and plans the members to create
// (each with an idempotency key) or to delete (the newest first). Then it
// carries the plan out through the ordinary create and delete paths; a
// create refused (quota, capacity) is an event, and the desired count
// goes back to the members there are, and the group does not grow again
// for RefusalBackoff periods.
// A replica that lost the lease records nothing; one that takes over
// carries out the plan recorded, and the keys make each member once.
func (y *System) ScaleGroup(ctx context.Context, id ovm.ID, period time.Duration, guard Guard) error {
	s := y.s
	var g scalingGroupRecord
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := guard.check(ctx, tx); err != nil {
			return err
		}
		var r store.Record
		var err error
		if g, r, err = getAs[scalingGroupRecord](ctx, tx, kindScalingGroup, id); err != nil {
			return err
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		if err := dropGoneMembers(ctx, tx, &g); err != nil {
			return err
		}
		pol := policyOf(g.Policy)
		hist, err := groupHistory(ctx, tx, g, pol, period, now)
		if err != nil {
			return err
		}
		d := scaling.Decide(pol, scaling.Input{Now: now, Desired: g.Desired, History: hist, LastChange: g.LastChange, LastDecision: g.LastDecision})
		g.LastDecision = now
		if d.Changed && d.Desired > g.Desired && now.Sub(g.RefusedAt) < RefusalBackoff*period {
			return save(ctx, tx, &r, g) // the refusal's event says why; try again later
		}
		switch {
		case d.Changed:
			kind := apitypes.ScaleOut
			if d.Desired < g.Desired {
				kind = apitypes.ScaleIn
			}
			g.addEvent(ScalingEvent{At: now, Kind: kind, From: g.Desired, To: d.Desired, Cause: d.Cause, Values: d.Values})
			g.Desired, g.LastChange = d.Desired, now
		case d.Cause != "" && !repeated(g, d.Cause):
			g.addEvent(ScalingEvent{At: now, Kind: apitypes.ScaleHeld, From: g.Desired, To: g.Desired, Cause: d.Cause, Values: d.Values})
		}
		plan(&g)
		return save(ctx, tx, &r, g)
	})
	if err != nil {
		return err
	}
	return y.carryOut(ctx, g, guard)
}

// repeated reports whether the group's last event already says cause.
func repeated(g scalingGroupRecord, cause string) bool {
	return len(g.Events) > 0 && g.Events[len(g.Events)-1].Cause == cause
}

// dropGoneMembers forgets members whose instance is gone or lost.
func dropGoneMembers(ctx context.Context, tx store.Tx, g *scalingGroupRecord) error {
	kept := g.Members[:0]
	for _, m := range g.Members {
		inst, _, err := getAs[instanceRecord](ctx, tx, store.KindInstance, m.ID)
		switch {
		case ovm.KindOf(err) == ovm.KindNotFound:
			continue
		case err != nil:
			return err
		case inst.Status.Phase == ovm.PhaseDeleting || inst.Status.Phase == ovm.PhaseLost:
			continue
		}
		kept = append(kept, m)
	}
	g.Members = kept
	return nil
}

// plan brings the members planned to the desired count: new members
// with their names and keys, or the newest members to delete.
func plan(g *scalingGroupRecord) {
	for len(g.Members)+len(g.Pending) < g.Desired {
		g.Seq++
		g.Pending = append(g.Pending, pendingMember{Key: fmt.Sprintf("%s-%d", g.ID, g.Seq), Name: fmt.Sprintf("%s-%d", g.Name, g.Seq), Seq: g.Seq})
	}
	for len(g.Pending) > 0 && len(g.Members)+len(g.Pending) > g.Desired {
		g.Pending = g.Pending[:len(g.Pending)-1]
	}
	if extra := len(g.Members) - g.Desired; extra > 0 {
		slices.SortFunc(g.Members, func(a, b groupMember) int { return int(a.Seq - b.Seq) })
		for _, m := range g.Members[len(g.Members)-extra:] {
			g.Deleting = append(g.Deleting, m.ID)
		}
		g.Members = g.Members[:len(g.Members)-extra]
		if n := len(g.Events); n > 0 && g.Events[n-1].Kind == apitypes.ScaleIn {
			g.Events[n-1].Members = slices.Clone(g.Deleting)
		}
	}
}

// groupHistory is the group's average of each metric its rules read, per
// period, oldest first (NaN for a period without samples).
func groupHistory(ctx context.Context, tx store.Tx, g scalingGroupRecord, pol scaling.Policy, period time.Duration, now time.Time) (map[string][]float64, error) {
	periods := 0
	for _, r := range pol.Rules {
		periods = max(periods, r.Periods)
	}
	if periods == 0 || len(g.Members) == 0 {
		return nil, nil
	}
	// The periods end at the members' newest sample, not at now: a
	// sample is stamped when its round starts and stored when the round
	// ends, so the last period up to now would often hold none yet. A
	// newest sample older than two periods is not waited for.
	span := time.Duration(periods) * period
	var points []store.MetricPoint
	for _, m := range g.Members {
		ps, err := tx.MetricPoints(ctx, m.ID, store.RawResolution, now.Add(-span-period), now.Add(time.Second))
		if err != nil {
			return nil, err
		}
		points = append(points, ps...)
	}
	end := now
	if len(points) > 0 {
		newest := slices.MaxFunc(points, func(a, b store.MetricPoint) int { return a.Bucket.Compare(b.Bucket) }).Bucket.Add(time.Second)
		if newest.Before(end) && now.Sub(newest) < 2*period {
			end = newest
		}
	}
	from := end.Add(-span)
	out := map[string][]float64{}
	for _, r := range pol.Rules {
		if _, ok := out[r.Metric]; ok {
			continue
		}
		sums, counts := make([]float64, periods), make([]int, periods)
		for _, p := range points {
			i := int(p.Bucket.Sub(from) / period)
			if i < 0 || i >= periods {
				continue
			}
			if v, ok := metricValue(apitypes.Metric(r.Metric), p); ok {
				sums[i] += v
				counts[i]++
			}
		}
		vals := make([]float64, periods)
		for i := range vals {
			vals[i] = math.NaN()
			if counts[i] > 0 {
				vals[i] = sums[i] / float64(counts[i])
			}
		}
		out[r.Metric] = vals
	}
	return out, nil
}

// carryOut creates the pending members and deletes those planned, each
// outcome recorded under guard.
func (y *System) carryOut(ctx context.Context, g scalingGroupRecord, guard Guard) error {
	s := y.s
	p := scalerPrincipal(g)
	group := ovm.ID("")
	if g.AntiAffinity {
		group = g.ID
	}
	for _, pm := range g.Pending {
		it, err := s.CreateInstance(ctx, p, CreateInstance{VDCID: g.VDCID, Name: pm.Name, Spec: g.Spec, Start: true, IdempotencyKey: pm.Key,
			PlacementGroup: group})
		// Over quota, no room in the pool, or the name taken: recorded,
		// not retried until the next decision asks again.
		refused := slices.Contains([]ovm.Kind{ovm.KindQuotaExceeded, ovm.KindUnavailable, ovm.KindConflict}, ovm.KindOf(err))
		if err != nil && !refused {
			return fmt.Errorf("scaling group %s: create %s: %w", g.Name, pm.Name, err)
		}
		if err := y.settle(ctx, g.ID, guard, func(g *scalingGroupRecord, now time.Time) {
			n := len(g.Pending)
			g.Pending = slices.DeleteFunc(g.Pending, func(x pendingMember) bool { return x.Key == pm.Key })
			if len(g.Pending) == n {
				return // another replica settled this member
			}
			if refused {
				from := g.Desired
				g.Desired = len(g.Members) + len(g.Pending)
				g.LastChange, g.RefusedAt = now, now
				g.addEvent(ScalingEvent{At: now, Kind: apitypes.ScaleRefused, From: from, To: g.Desired,
					Cause: "member " + pm.Name + " was refused", Error: ovm.PublicMessage(err)})
				return
			}
			g.Members = append(g.Members, groupMember{ID: it.Instance.ID, Seq: pm.Seq})
		}); err != nil {
			return err
		}
		if refused {
			break // the rest would be refused alike
		}
	}
	for _, id := range g.Deleting {
		_, err := s.DeleteInstance(ctx, p, id, 0)
		switch {
		case err == nil, ovm.KindOf(err) == ovm.KindNotFound:
		case ovm.KindOf(err) == ovm.KindConflict && !deleting(ctx, s, id):
			continue // a task of its own is in progress (its create): the next decision tries again
		case ovm.KindOf(err) != ovm.KindConflict:
			return fmt.Errorf("scaling group %s: delete member %s: %w", g.Name, id, err)
		}
		if err := y.settle(ctx, g.ID, guard, func(g *scalingGroupRecord, _ time.Time) {
			g.Deleting = slices.DeleteFunc(g.Deleting, func(x ovm.ID) bool { return x == id })
		}); err != nil {
			return err
		}
	}
	return nil
}

// settle changes a group's record in a transaction that first runs guard.
func (y *System) settle(ctx context.Context, id ovm.ID, guard Guard, change func(g *scalingGroupRecord, now time.Time)) error {
	return y.s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := guard.check(ctx, tx); err != nil {
			return err
		}
		g, r, err := getAs[scalingGroupRecord](ctx, tx, kindScalingGroup, id)
		if err != nil {
			return err
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		change(&g, now)
		return save(ctx, tx, &r, g)
	})
}
