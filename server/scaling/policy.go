package scaling

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/openovm/ovm/ovm"
)

// Direction says which way a metric rule looks.
type Direction string

// The directions of metric rules.
const (
	Above Direction = "above"
	Below Direction = "below"
)

// Rule is a metric rule: when the group's average of Metric has been
// beyond Threshold (in Direction) for Periods periods in a row, the group
// grows (Above) or shrinks (Below) by Step members, unless the group
// changed less than Cooldown ago.
type Rule struct {
	Metric    string        `json:"metric"`
	Direction Direction     `json:"direction"`
	Threshold float64       `json:"threshold"`
	Periods   int           `json:"periods"`
	Step      int           `json:"step"`
	Cooldown  time.Duration `json:"cooldown"`
}

// Schedule sets the desired count when its cron expression fires.
type Schedule struct {
	Cron    string `json:"cron"`
	Desired int    `json:"desired"`
}

// Policy is how a group scales: the bounds of its size, its metric rules
// and its schedules. Tolerance is the band around a threshold, as a
// fraction of it, within which a value counts as neither beyond nor
// back (0: DefaultTolerance), so the group does not flap around it.
type Policy struct {
	Min       int        `json:"min"`
	Max       int        `json:"max"`
	Tolerance float64    `json:"tolerance"`
	Rules     []Rule     `json:"rules"`
	Schedules []Schedule `json:"schedules"`
}

// DefaultTolerance is the band around thresholds, as Kubernetes' HPA.
const DefaultTolerance = 0.1

// MaxPeriods bounds a rule's periods.
const MaxPeriods = 100

// Validate names every field of the policy it refuses. metrics are the
// metric names rules may read.
func (p Policy) Validate(metrics []string) error {
	var f ovm.Fields
	if p.Min < 0 {
		f.Add("min", "must not be negative")
	}
	if p.Max < p.Min || p.Max < 1 {
		f.Add("max", fmt.Sprintf("must be at least min (%d) and at least 1", p.Min))
	}
	if p.Tolerance < 0 || p.Tolerance >= 1 {
		f.Add("tolerance", "must be from 0 to less than 1")
	}
	for i, r := range p.Rules {
		at := fmt.Sprintf("rules[%d].", i)
		if !slices.Contains(metrics, r.Metric) {
			f.Add(at+"metric", fmt.Sprintf("must be one of %v", metrics))
		}
		if r.Direction != Above && r.Direction != Below {
			f.Add(at+"direction", "must be above or below")
		}
		if math.IsNaN(r.Threshold) || math.IsInf(r.Threshold, 0) || r.Threshold <= 0 {
			f.Add(at+"threshold", "must be a positive number")
		}
		if r.Periods < 1 || r.Periods > MaxPeriods {
			f.Add(at+"periods", fmt.Sprintf("must be 1 to %d", MaxPeriods))
		}
		if r.Step < 1 {
			f.Add(at+"step", "must be at least 1")
		}
		if r.Cooldown < 0 {
			f.Add(at+"cooldown", "must not be negative")
		}
	}
	for i, s := range p.Schedules {
		at := fmt.Sprintf("schedules[%d].", i)
		if _, err := ParseCron(s.Cron); err != nil {
			f.Add(at+"cron", err.Error())
		}
		if s.Desired < p.Min || s.Desired > p.Max {
			f.Add(at+"desired", fmt.Sprintf("must be from min (%d) to max (%d)", p.Min, p.Max))
		}
	}
	return f.Err("invalid scaling policy")
}

// Input is what one decision sees.
type Input struct {
	Now time.Time
	// Desired is the group's desired count now.
	Desired int
	// History is the group's average of each metric over the latest
	// periods, oldest first; a period without a sample is NaN.
	History map[string][]float64
	// LastChange is when the desired count last changed (cooldowns).
	LastChange time.Time
	// LastDecision is when the previous decision ran: a schedule fires
	// when its time is in (LastDecision, Now].
	LastDecision time.Time
}

// Decision is what the policy decided and why: the rule or schedule
// that fired and the values it saw. Desired is the new desired count;
// Wanted what the rule asked before the bounds (it differs when a bound
// held the group).
type Decision struct {
	Desired int       `json:"desired"`
	Wanted  int       `json:"wanted"`
	Changed bool      `json:"changed"`
	Cause   string    `json:"cause"`
	Values  []float64 `json:"values,omitempty"`
}

// Decide applies the policy to in. A schedule that fired wins over the
// metric rules; of the metric rules, those that grow the group are tried
// first (the first that fires decides), then those that shrink it. A
// rule in its cooldown does not fire. The result stays within [Min,
// Max]; a desired count outside them (the policy changed) is brought in.
// Decide is pure: the same input gives the same decision.
func Decide(p Policy, in Input) Decision {
	tol := p.Tolerance
	if tol == 0 {
		tol = DefaultTolerance
	}
	d := Decision{Desired: in.Desired, Wanted: in.Desired}
	var latest time.Time
	for i, s := range p.Schedules {
		c, err := ParseCron(s.Cron)
		if err != nil {
			continue // Validate refuses it before it is stored
		}
		if at, ok := c.Fired(in.LastDecision, in.Now); ok && !at.Before(latest) {
			latest = at
			d.Wanted = s.Desired
			d.Cause = fmt.Sprintf("schedules[%d] %q fired at %s: desired %d", i, s.Cron, at.UTC().Format(time.RFC3339), s.Desired)
		}
	}
	if d.Cause == "" {
		d = decideRules(p, in, tol, d)
	}
	d.Desired = min(max(d.Wanted, p.Min), p.Max)
	switch {
	case d.Cause == "" && d.Desired != in.Desired:
		d.Cause = fmt.Sprintf("desired %d is outside min %d and max %d", in.Desired, p.Min, p.Max)
	case d.Desired != d.Wanted && d.Wanted > p.Max:
		d.Cause += fmt.Sprintf("; held at max %d", p.Max)
	case d.Desired != d.Wanted:
		d.Cause += fmt.Sprintf("; held at min %d", p.Min)
	}
	d.Changed = d.Desired != in.Desired
	return d
}

// decideRules tries the metric rules, growing ones first.
func decideRules(p Policy, in Input, tol float64, d Decision) Decision {
	for _, dir := range []Direction{Above, Below} {
		for i, r := range p.Rules {
			if r.Direction != dir || in.Now.Sub(in.LastChange) < r.Cooldown {
				continue
			}
			vals, ok := beyond(r, in.History[r.Metric], tol)
			if !ok {
				continue
			}
			step := r.Step
			if dir == Below {
				step = -step
			}
			d.Wanted = in.Desired + step
			d.Values = vals
			d.Cause = fmt.Sprintf("rules[%d]: average %s %s %g (tolerance %g%%) for %d periods: %+d", i, r.Metric, dir, r.Threshold,
				tol*100, r.Periods, step)
			return d
		}
	}
	return d
}

// beyond reports whether the last r.Periods values are all beyond the
// rule's threshold by more than the tolerance, and returns them.
func beyond(r Rule, history []float64, tol float64) ([]float64, bool) {
	if len(history) < r.Periods {
		return nil, false
	}
	vals := history[len(history)-r.Periods:]
	for _, v := range vals {
		switch {
		case math.IsNaN(v):
			return nil, false
		case r.Direction == Above && v <= r.Threshold*(1+tol):
			return nil, false
		case r.Direction == Below && v >= r.Threshold*(1-tol):
			return nil, false
		}
	}
	return slices.Clone(vals), true
}
