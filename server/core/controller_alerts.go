package core

import (
	"context"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/store"
)

// AlertRound is what one evaluation of the threshold rules did.
type AlertRound struct {
	Rules, Raised, Cleared int
}

// staleRounds is how many collector intervals a subject may go without a
// sample before its open alerts clear (it stopped, or is gone).
const staleRounds = 3

// EvaluateMetricAlerts runs every threshold rule against the latest
// samples, in a transaction that first runs guard (the collector's
// lease); interval is the collector's. A subject whose latest sample is
// beyond a rule's threshold, and whose samples have been beyond it for the
// rule's duration, raises an alert with those samples; an open alert
// clears when the latest sample is back within the threshold, or when its
// subject has had no sample for a few intervals.
func (y *System) EvaluateMetricAlerts(ctx context.Context, interval time.Duration, guard Guard) (AlertRound, error) {
	var out AlertRound
	none := false
	if err := y.s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		pg, _, err := tx.List(ctx, store.Filter{Kind: kindAlertRule, AllVDCs: true}, store.Page{Limit: 1})
		none = len(pg) == 0
		return err
	}); err != nil || none {
		return out, err // no rule: no write transaction
	}
	err := y.s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		out = AlertRound{}
		if err := guard.check(ctx, tx); err != nil {
			return err
		}
		rules, err := listAll(ctx, tx, store.Filter{Kind: kindAlertRule, AllVDCs: true})
		if err != nil || len(rules) == 0 {
			return err
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		since := now.Add(-staleRounds * max(interval, time.Second))
		latest := map[apitypes.AlertSubject][]store.MetricSample{}
		for _, k := range []struct {
			subject apitypes.AlertSubject
			kind    store.MetricKind
		}{{apitypes.AlertOnInstance, store.MetricInstance}, {apitypes.AlertOnHost, store.MetricHost}} {
			if latest[k.subject], err = tx.LatestMetrics(ctx, k.kind, since); err != nil {
				return err
			}
		}
		out.Rules = len(rules)
		for _, r := range rules {
			rule, err := decode[alertRuleRecord](r)
			if err != nil {
				return err
			}
			raised, cleared, err := evaluateRule(ctx, tx, &rule, latest[rule.Subject], interval, now)
			if err != nil {
				return err
			}
			out.Raised, out.Cleared = out.Raised+raised, out.Cleared+cleared
			if raised+cleared > 0 {
				if err := save(ctx, tx, &r, rule); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return out, err
}

// watches reports whether a rule looks at a subject's sample.
func (r alertRuleRecord) watches(s store.MetricSample) bool {
	return (r.SubjectID == "" || r.SubjectID == s.Subject) && (r.VDCID == "" || r.VDCID == s.VDCID)
}

// beyond reports whether v fires the rule.
func (r alertRuleRecord) beyond(v float64) bool {
	if r.Comparison == apitypes.AlertBelow {
		return v < r.Threshold
	}
	return v > r.Threshold
}

// evaluateRule raises and clears one rule's alerts; it returns how many.
func evaluateRule(ctx context.Context, tx store.Tx, rule *alertRuleRecord, latest []store.MetricSample, interval time.Duration, now time.Time) (raised, cleared int, err error) {
	seen := map[ovm.ID]bool{}
	for _, s := range latest {
		if !rule.watches(s) {
			continue
		}
		seen[s.Subject] = true
		v, ok := metricValue(rule.Metric, store.PointOf(s, store.RawResolution))
		if !ok {
			continue
		}
		open, isOpen := rule.Open[s.Subject]
		switch {
		case isOpen && !rule.beyond(v):
			if err := clearAlert(ctx, tx, open, now, clearedByValue, &v); err != nil {
				return raised, cleared, err
			}
			delete(rule.Open, s.Subject)
			cleared++
		case !isOpen && rule.beyond(v):
			values, err := firing(ctx, tx, *rule, s, interval)
			if err != nil {
				return raised, cleared, err
			}
			if values == nil {
				continue // not for long enough yet
			}
			if err := raiseAlert(ctx, tx, rule, s.Subject, values, now); err != nil {
				return raised, cleared, err
			}
			raised++
		}
	}
	for subject, id := range rule.Open {
		if seen[subject] {
			continue
		}
		if err := clearAlert(ctx, tx, id, now, clearedByNoData, nil); err != nil {
			return raised, cleared, err
		}
		delete(rule.Open, subject)
		cleared++
	}
	return raised, cleared, nil
}

// firing returns the samples of the run beyond the threshold that ends at
// the subject's latest sample when the run has lasted the rule's duration
// (nil otherwise), the latest MaxAlertValues of them.
func firing(ctx context.Context, tx store.Tx, rule alertRuleRecord, latest store.MetricSample, interval time.Duration) ([]apitypes.MetricPoint, error) {
	last := store.BucketOf(latest.At, store.RawResolution)
	dur := time.Duration(rule.ForSeconds) * time.Second
	points, err := tx.MetricPoints(ctx, latest.Subject, store.RawResolution, last.Add(-dur-staleRounds*max(interval, time.Second)), last.Add(time.Second))
	if err != nil {
		return nil, err
	}
	var run []apitypes.MetricPoint
	for i := len(points) - 1; i >= 0; i-- {
		v, ok := metricValue(rule.Metric, points[i])
		if !ok {
			continue
		}
		if !rule.beyond(v) {
			break
		}
		run = append(run, apitypes.MetricPoint{Time: points[i].Bucket, Value: v})
	}
	if len(run) == 0 || last.Sub(run[len(run)-1].Time) < dur {
		return nil, nil
	}
	for i, j := 0, len(run)-1; i < j; i, j = i+1, j-1 {
		run[i], run[j] = run[j], run[i]
	}
	if n := len(run) - MaxAlertValues; n > 0 {
		run = run[n:]
	}
	return run, nil
}

// raiseAlert records a rule's alert on a subject with the samples that
// fired it.
func raiseAlert(ctx context.Context, tx store.Tx, rule *alertRuleRecord, subject ovm.ID, values []apitypes.MetricPoint, now time.Time) error {
	a := MetricAlert{ID: ovm.NewID(), RuleID: rule.ID, RuleName: rule.Name, VDCID: rule.VDCID, Subject: rule.Subject,
		SubjectID: subject, Metric: rule.Metric, Comparison: rule.Comparison, Threshold: rule.Threshold,
		ForSeconds: rule.ForSeconds, Values: values, RaisedAt: now}
	r, err := store.NewRecord(kindMetricAlert, a.ID, rule.VDCID, openAlertName(rule.ID, subject), a)
	if err != nil {
		return err
	}
	r.ParentID = rule.ID
	if err := tx.Insert(ctx, &r); err != nil {
		return err
	}
	if rule.Open == nil {
		rule.Open = map[ovm.ID]ovm.ID{}
	}
	rule.Open[subject] = a.ID
	return nil
}
