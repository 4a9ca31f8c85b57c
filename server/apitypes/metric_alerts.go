package apitypes

import (
	"time"

	"github.com/openovm/ovm/ovm"
)

// AlertComparison says which side of its threshold fires a rule.
type AlertComparison string

// The comparisons of threshold rules.
const (
	AlertAbove AlertComparison = "above"
	AlertBelow AlertComparison = "below"
)

// AlertComparisons are the comparisons of threshold rules.
var AlertComparisons = []AlertComparison{AlertAbove, AlertBelow}

// AlertSubject is what a threshold rule watches.
type AlertSubject string

// The subjects of threshold rules.
const (
	AlertOnInstance AlertSubject = "instance"
	AlertOnHost     AlertSubject = "host"
)

// AlertSubjects are the subjects of threshold rules.
var AlertSubjects = []AlertSubject{AlertOnInstance, AlertOnHost}

// AlertRuleCreate defines a threshold rule: an alert is raised when a
// metric of an instance (or a host) has been above or below a threshold
// for a duration, and cleared when it no longer is.
type AlertRuleCreate struct {
	// VDCID scopes an instance rule to a VDC (tenants: their own, always);
	// an administrator's rule without one watches every instance, or hosts.
	VDCID      ovm.ID          `json:"vdcId,omitempty" doc:"The VDC whose instances the rule watches (tenants: their own). Administrators leave it out for platform-wide rules and host rules."`
	Name       string          `json:"name" required:"true"`
	Subject    AlertSubject    `json:"subject" required:"true" doc:"host rules are for administrators."`
	SubjectID  ovm.ID          `json:"subjectId,omitempty" doc:"One instance or host; left out: every instance of the scope, or every host."`
	Metric     Metric          `json:"metric" required:"true"`
	Comparison AlertComparison `json:"comparison" required:"true"`
	Threshold  float64         `json:"threshold" required:"true"`
	ForSeconds int64           `json:"forSeconds" doc:"How long the metric must stay beyond the threshold before the alert is raised (0: one sample)."`

	IdempotencyKey string `json:"-"`
}

// AlertRule is a threshold rule as clients see it.
type AlertRule struct {
	ID         ovm.ID          `json:"id"`
	Name       string          `json:"name"`
	VDCID      ovm.ID          `json:"vdcId,omitempty"`
	Subject    AlertSubject    `json:"subject"`
	SubjectID  ovm.ID          `json:"subjectId,omitempty"`
	Metric     Metric          `json:"metric"`
	Comparison AlertComparison `json:"comparison"`
	Threshold  float64         `json:"threshold"`
	ForSeconds int64           `json:"forSeconds"`
	// OpenAlerts counts the rule's alerts not yet cleared.
	OpenAlerts int       `json:"openAlerts"`
	CreatedAt  time.Time `json:"createdAt"`
}

// MetricAlert is an alert a threshold rule raised on one instance or host:
// the samples that fired it, and when and at what value it cleared.
type MetricAlert struct {
	ID         ovm.ID          `json:"id"`
	RuleID     ovm.ID          `json:"ruleId"`
	RuleName   string          `json:"ruleName"`
	VDCID      ovm.ID          `json:"vdcId,omitempty"`
	Subject    AlertSubject    `json:"subject"`
	SubjectID  ovm.ID          `json:"subjectId"`
	Metric     Metric          `json:"metric"`
	Comparison AlertComparison `json:"comparison"`
	Threshold  float64         `json:"threshold"`
	ForSeconds int64           `json:"forSeconds"`
	// Values are the samples beyond the threshold that fired the alert,
	// oldest first (the latest 30).
	Values   []MetricPoint `json:"values"`
	RaisedAt time.Time     `json:"raisedAt"`
	// ClearedAt is set once the metric is back within the threshold (or
	// the subject has no samples any more, or the rule was deleted);
	// ClearedBy says which, ClearValue is the sample that cleared it.
	ClearedAt  *time.Time `json:"clearedAt,omitempty"`
	ClearedBy  string     `json:"clearedBy,omitempty"`
	ClearValue *float64   `json:"clearValue,omitempty"`
}

// Open reports whether the alert is not cleared.
func (a MetricAlert) Open() bool { return a.ClearedAt == nil }
