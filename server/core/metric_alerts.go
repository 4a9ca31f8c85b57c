package core

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// Record kinds of threshold rules and of the alerts they raise.
const (
	kindAlertRule   store.Kind = "alertrule"
	kindMetricAlert store.Kind = "metricalert"
)

// AlertRule, its create request and MetricAlert are the API's.
type (
	AlertRule       = apitypes.AlertRule
	CreateAlertRule = apitypes.AlertRuleCreate
	MetricAlert     = apitypes.MetricAlert
)

// MaxAlertFor bounds a rule's duration: the history it reads is the
// full-resolution one.
const MaxAlertFor = time.Hour

// MaxAlertValues bounds the samples an alert keeps (the latest).
const MaxAlertValues = 30

// Who clears an alert.
const (
	clearedByValue   = "value"
	clearedByNoData  = "no-samples"
	clearedByDeleted = "rule-deleted"
)

// alertRuleRecord is a rule as stored: the API's view and its open
// alerts by subject, so that a round reads the rules only.
type alertRuleRecord struct {
	AlertRule
	Open map[ovm.ID]ovm.ID `json:"open,omitempty"`
}

func (r alertRuleRecord) view() AlertRule {
	out := r.AlertRule
	out.OpenAlerts = len(r.Open)
	return out
}

// openAlertName is the record name of a rule's open alert on a subject:
// one at a time; a cleared alert is renamed to its id.
func openAlertName(rule, subject ovm.ID) string {
	return fmt.Sprintf("open:%s:%s", rule, subject)
}

// validateAlertRule checks a rule's fields, naming each that is wrong.
func validateAlertRule(p auth.Principal, in CreateAlertRule) error {
	var f ovm.Fields
	if r := ovm.ValidateName(in.Name); r != "" {
		f.Add("name", r)
	}
	switch in.Subject {
	case apitypes.AlertOnInstance:
	case apitypes.AlertOnHost:
		if !p.Admin() {
			f.Add("subject", "must be instance")
		} else if in.VDCID != "" {
			f.Add("vdcId", "must be left out of a host rule")
		}
	default:
		f.Addf("subject", "must be one of %v", apitypes.AlertSubjects)
	}
	if in.SubjectID != "" && !in.SubjectID.Valid() {
		f.Add("subjectId", "must be a lower-case UUID")
	}
	if !in.Metric.Valid() {
		f.Addf("metric", "must be one of %v", apitypes.Metrics)
	}
	if in.Comparison != apitypes.AlertAbove && in.Comparison != apitypes.AlertBelow {
		f.Addf("comparison", "must be one of %v", apitypes.AlertComparisons)
	}
	if math.IsNaN(in.Threshold) || math.IsInf(in.Threshold, 0) {
		f.Add("threshold", "must be a finite number")
	}
	if in.ForSeconds < 0 || in.ForSeconds > int64(MaxAlertFor/time.Second) {
		f.Addf("forSeconds", "must be between 0 and %d", int64(MaxAlertFor/time.Second))
	}
	return f.Err("invalid alert rule")
}

// CreateAlertRule defines a threshold rule. Tenants (VDC administrators)
// define rules on their VDC's instances; administrators also define
// platform-wide instance rules and host rules.
func (s *Service) CreateAlertRule(ctx context.Context, p auth.Principal, in CreateAlertRule) (AlertRule, error) {
	if err := validateAlertRule(p, in); err != nil {
		return AlertRule{}, err
	}
	vdc, err := resolveVDC(p, in.VDCID, false)
	if err != nil {
		return AlertRule{}, err
	}
	if err := manageVDC(p, vdc, "defining alert rules"); err != nil {
		return AlertRule{}, err
	}
	var out AlertRule
	err = s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return idempotent(ctx, tx, p, "alert-rule.create", in.IdempotencyKey, in, &out, func() error {
			if vdc != "" {
				if _, err := s.tenantVDC(ctx, tx, p, vdc); err != nil {
					return err
				}
			}
			if err := checkAlertSubject(ctx, tx, p, vdc, in); err != nil {
				return err
			}
			now, err := tx.Now(ctx)
			if err != nil {
				return err
			}
			rule := alertRuleRecord{AlertRule: AlertRule{ID: ovm.NewID(), Name: in.Name, VDCID: vdc, Subject: in.Subject,
				SubjectID: in.SubjectID, Metric: in.Metric, Comparison: in.Comparison, Threshold: in.Threshold,
				ForSeconds: in.ForSeconds, CreatedAt: now}}
			r, err := store.NewRecord(kindAlertRule, rule.ID, vdc, rule.Name, rule)
			if err != nil {
				return err
			}
			if err := tx.Insert(ctx, &r); err != nil {
				if ovm.KindOf(err) == ovm.KindConflict {
					return nameTaken(kindAlertRule, rule.Name, "name")
				}
				return err
			}
			out = rule.view()
			return nil
		})
	})
	return out, err
}

// checkAlertSubject checks that a rule's one subject exists where the rule
// looks: an instance the principal sees (of the rule's VDC when it has
// one), or a host.
func checkAlertSubject(ctx context.Context, tx store.Tx, p auth.Principal, vdc ovm.ID, in CreateAlertRule) error {
	if in.SubjectID == "" {
		return nil
	}
	if in.Subject == apitypes.AlertOnHost {
		if _, err := getPlatform(ctx, tx, p, store.KindHost, in.SubjectID); err != nil {
			return fieldNotFound(err, "subjectId")
		}
		return nil
	}
	r, err := getVisible(ctx, tx, p, store.KindInstance, in.SubjectID)
	if err != nil {
		return fieldNotFound(err, "subjectId")
	}
	if vdc != "" && r.VDCID != vdc {
		return invalid("invalid alert rule", "subjectId", "is not an instance of the rule's vdc")
	}
	return nil
}

// GetAlertRule returns a rule the principal sees (a tenant: its VDC's).
func (s *Service) GetAlertRule(ctx context.Context, p auth.Principal, id ovm.ID) (AlertRule, int64, error) {
	r, ver, err := getVisibleAs[alertRuleRecord](ctx, s, p, kindAlertRule, id)
	return r.view(), ver, err
}

// ListAlertRules lists the rules of the principal's VDC (administrators:
// of the VDC named, or all, platform rules included).
func (s *Service) ListAlertRules(ctx context.Context, p auth.Principal, o ListOptions) (Page[AlertRule], error) {
	return listVisible(ctx, s, p, kindAlertRule, o, func(r store.Record) (AlertRule, error) {
		rule, err := decode[alertRuleRecord](r)
		return rule.view(), err
	})
}

// DeleteAlertRule deletes a rule and clears its open alerts.
func (s *Service) DeleteAlertRule(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) error {
	return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getVisible(ctx, tx, p, kindAlertRule, id)
		if err != nil {
			return err
		}
		if err := manageVDC(p, r.VDCID, "deleting alert rules"); err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		rule, err := decode[alertRuleRecord](r)
		if err != nil {
			return err
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		for _, alertID := range rule.Open {
			if err := clearAlert(ctx, tx, alertID, now, clearedByDeleted, nil); err != nil {
				return err
			}
		}
		return tx.Delete(ctx, kindAlertRule, id, r.Version)
	})
}

// ListMetricAlerts lists the threshold alerts, open and cleared, that the
// principal sees: a tenant those of its VDC's rules, never a host's.
func (s *Service) ListMetricAlerts(ctx context.Context, p auth.Principal, o ListOptions) (Page[MetricAlert], error) {
	return listVisible[MetricAlert](ctx, s, p, kindMetricAlert, o, nil)
}

// GetMetricAlert returns a threshold alert the principal sees.
func (s *Service) GetMetricAlert(ctx context.Context, p auth.Principal, id ovm.ID) (MetricAlert, int64, error) {
	return getVisibleAs[MetricAlert](ctx, s, p, kindMetricAlert, id)
}

// clearAlert marks an open alert cleared at by who (with the value that
// cleared it, if any) and renames it to its id.
func clearAlert(ctx context.Context, tx store.Tx, id ovm.ID, at time.Time, who string, value *float64) error {
	a, r, err := getAs[MetricAlert](ctx, tx, kindMetricAlert, id)
	switch {
	case ovm.KindOf(err) == ovm.KindNotFound:
		return nil
	case err != nil:
		return err
	case !a.Open():
		return nil
	}
	a.ClearedAt, a.ClearedBy, a.ClearValue = &at, who, value
	r.Name = string(r.ID)
	return save(ctx, tx, &r, a)
}

// dropVDCAlerts deletes a VDC's threshold rules and alerts with the VDC.
func dropVDCAlerts(ctx context.Context, tx store.Tx, vdc ovm.ID) error {
	for _, k := range []store.Kind{kindAlertRule, kindMetricAlert} {
		rs, err := listAll(ctx, tx, store.Filter{Kind: k, VDCID: vdc})
		if err != nil {
			return err
		}
		for _, r := range rs {
			if err := tx.Delete(ctx, k, r.ID, r.Version); err != nil {
				return err
			}
		}
	}
	return nil
}
