package core

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// PatchScalingGroup is the API's change of a group.
type PatchScalingGroup = apitypes.ScalingGroupPatch

// validatePolicy checks a group's policy, naming each field that is wrong.
func validatePolicy(pol apitypes.ScalingPolicy) error {
	var f ovm.Fields
	metrics := make([]string, len(apitypes.Metrics))
	for i, m := range apitypes.Metrics {
		metrics[i] = string(m)
	}
	f.Merge("", policyOf(pol).Validate(metrics))
	if pol.Max > MaxGroupMembers {
		f.Add("max", fmt.Sprintf("must be at most %d", MaxGroupMembers))
	}
	return f.Err("invalid scaling group")
}

// UpdateScalingGroup changes a group's bounds, desired count, tolerance,
// rules or schedules under If-Match. A desired count outside new bounds is
// brought within them; a change of the desired count is a decision of its
// own (an event naming who set it), which the scaler's next round carries
// out through the ordinary create and delete paths, and which starts the
// rules' cooldown.
func (s *Service) UpdateScalingGroup(ctx context.Context, p auth.Principal, id ovm.ID, in PatchScalingGroup, ifVersion int64) (ScalingGroup, int64, error) {
	var out ScalingGroup
	var ver int64
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getVisible(ctx, tx, p, kindScalingGroup, id)
		if err != nil {
			return err
		}
		if err := manageVDC(p, r.VDCID, "changing scaling groups"); err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		g, err := decode[scalingGroupRecord](r)
		if err != nil {
			return err
		}
		pol := g.Policy
		pol.Rules, pol.Schedules = slices.Clone(pol.Rules), slices.Clone(pol.Schedules)
		if in.Min != nil {
			pol.Min = *in.Min
		}
		if in.Max != nil {
			pol.Max = *in.Max
		}
		if in.Tolerance != nil {
			pol.Tolerance = *in.Tolerance
		}
		if in.Rules != nil {
			pol.Rules = *in.Rules
		}
		if in.Schedules != nil {
			pol.Schedules = *in.Schedules
		}
		if err := validatePolicy(pol); err != nil {
			return err
		}
		desired := min(max(g.Desired, pol.Min), pol.Max)
		cause := fmt.Sprintf("bounds set to %d..%d by %s", pol.Min, pol.Max, who(p))
		if in.Desired != nil {
			if *in.Desired < pol.Min || *in.Desired > pol.Max {
				return invalid("invalid scaling group", "desired", fmt.Sprintf("must be between min %d and max %d", pol.Min, pol.Max))
			}
			desired, cause = *in.Desired, fmt.Sprintf("desired set to %d by %s", *in.Desired, who(p))
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		g.Policy = pol
		if desired != g.Desired {
			kind := apitypes.ScaleOut
			if desired < g.Desired {
				kind = apitypes.ScaleIn
			}
			g.addEvent(ScalingEvent{At: now, Kind: kind, From: g.Desired, To: desired, Cause: cause})
			g.Desired, g.LastChange = desired, now
			if kind == apitypes.ScaleOut {
				g.RefusedAt = time.Time{} // a hand's growth is not held back by an earlier refusal
			}
		}
		if err := save(ctx, tx, &r, g); err != nil {
			return err
		}
		out, ver = g.view(), r.Version
		return nil
	})
	return out, ver, err
}

// who names a principal in an event.
func who(p auth.Principal) string {
	if p.Name != "" {
		return p.Name
	}
	return string(p.UserID)
}
