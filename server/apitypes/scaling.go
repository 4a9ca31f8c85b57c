package apitypes

import (
	"time"

	"github.com/openovm/ovm/ovm"
)

// ScaleDirection says which way a metric rule looks.
type ScaleDirection string

// The directions of metric rules.
const (
	ScaleAbove ScaleDirection = "above"
	ScaleBelow ScaleDirection = "below"
)

// ScaleDirections are the directions of metric rules.
var ScaleDirections = []ScaleDirection{ScaleAbove, ScaleBelow}

// ScalingRule grows (above) or shrinks (below) a group by step members
// when the group's average of a metric has been beyond the threshold,
// outside the policy's tolerance band, for periods periods in a row.
type ScalingRule struct {
	Metric          Metric         `json:"metric" required:"true"`
	Direction       ScaleDirection `json:"direction" required:"true"`
	Threshold       float64        `json:"threshold" required:"true"`
	Periods         int            `json:"periods" required:"true" doc:"Consecutive periods (one a scaler interval) beyond the threshold."`
	Step            int            `json:"step" required:"true" doc:"Members added or removed."`
	CooldownSeconds int64          `json:"cooldownSeconds" doc:"No change by this rule this long after the group's last change."`
}

// ScalingSchedule sets the desired count when its cron expression fires.
type ScalingSchedule struct {
	Cron    string `json:"cron" required:"true" doc:"Five fields: minute hour day-of-month month day-of-week (UTC)."`
	Desired int    `json:"desired" required:"true"`
}

// ScalingPolicy bounds a group and says how it scales.
type ScalingPolicy struct {
	Min       int               `json:"min" required:"true"`
	Max       int               `json:"max" required:"true"`
	Tolerance float64           `json:"tolerance" doc:"The band around each threshold, a fraction of it, within which nothing fires (0: 0.1)."`
	Rules     []ScalingRule     `json:"rules"`
	Schedules []ScalingSchedule `json:"schedules"`
}

// ScalingGroupCreate makes a scaling group: members are instances of the
// spec, VMs or containers alike, made through the ordinary create path.
type ScalingGroupCreate struct {
	VDCID          ovm.ID           `json:"vdcId,omitempty" doc:"The VDC (administrators; tenants create in their own)."`
	Name           string           `json:"name" required:"true"`
	Spec           ovm.InstanceSpec `json:"spec" required:"true"`
	Policy         ScalingPolicy    `json:"policy" required:"true"`
	AntiAffinity   bool             `json:"antiAffinity,omitempty" doc:"No two members on one host (placement's anti-affinity groups); a member with no host left for it is refused."`
	IdempotencyKey string           `json:"-"`
}

// ScalingGroup is a group as clients see it.
type ScalingGroup struct {
	ID      ovm.ID           `json:"id"`
	Name    string           `json:"name"`
	VDCID   ovm.ID           `json:"vdcId"`
	Spec    ovm.InstanceSpec `json:"spec"`
	Policy  ScalingPolicy    `json:"policy"`
	Desired int              `json:"desired"`
	// AntiAffinity keeps members on distinct hosts.
	AntiAffinity bool `json:"antiAffinity"`
	// Members are the group's instances, oldest first.
	Members   []ovm.ID  `json:"members"`
	CreatedAt time.Time `json:"createdAt"`
}

// ScalingEventKind says what a scaling event records.
type ScalingEventKind string

// The kinds of scaling events.
const (
	// ScaleOut and ScaleIn: the desired count changed and members were
	// created or deleted.
	ScaleOut ScalingEventKind = "scale-out"
	ScaleIn  ScalingEventKind = "scale-in"
	// ScaleHeld: a rule fired but a bound held the group.
	ScaleHeld ScalingEventKind = "held"
	// ScaleRefused: a member's create was refused (quota, capacity); the
	// desired count went back to the members there are.
	ScaleRefused ScalingEventKind = "refused"
)

// ScalingEventKinds are the kinds of scaling events.
var ScalingEventKinds = []ScalingEventKind{ScaleOut, ScaleIn, ScaleHeld, ScaleRefused}

// ScalingEvent is one decision of the scaler, with its inputs.
type ScalingEvent struct {
	At   time.Time        `json:"at"`
	Kind ScalingEventKind `json:"kind"`
	From int              `json:"from"`
	To   int              `json:"to"`
	// Cause names the rule or schedule that fired; Values are the
	// group's averages it saw, oldest first.
	Cause   string    `json:"cause"`
	Values  []float64 `json:"values,omitempty"`
	Members []ovm.ID  `json:"members,omitempty"`
	Error   string    `json:"error,omitempty"`
}

// ScalingGroupPatch changes a group's bounds, desired count or rules;
// fields left out stay. A desired count set by hand is carried out by the
// scaler's next decision, like its own.
type ScalingGroupPatch struct {
	Min       *int               `json:"min,omitempty"`
	Max       *int               `json:"max,omitempty"`
	Desired   *int               `json:"desired,omitempty" doc:"Within the (new) min and max."`
	Tolerance *float64           `json:"tolerance,omitempty"`
	Rules     *[]ScalingRule     `json:"rules,omitempty"`
	Schedules *[]ScalingSchedule `json:"schedules,omitempty"`
}
