package scaling_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/scaling"
)

// monday is 2026-01-05 08:00 UTC, a Monday.
var monday = time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)

func TestCron(t *testing.T) {
	tests := []struct {
		expr  string
		at    time.Time
		match bool
	}{
		{"* * * * *", monday.Add(17 * time.Minute), true},
		{"0 8 * * 1-5", monday, true},                                     // weekdays at 8:00
		{"0 8 * * 1-5", monday.AddDate(0, 0, 5), false},                   // Saturday
		{"0 8 * * 0", monday.AddDate(0, 0, 6), true},                      // Sunday as 0
		{"0 8 * * 7", monday.AddDate(0, 0, 6), true},                      // Sunday as 7
		{"*/15 * * * *", monday.Add(45 * time.Minute), true},              // every quarter
		{"*/15 * * * *", monday.Add(50 * time.Minute), false},             // not a quarter
		{"5-10/5 * * * *", monday.Add(10 * time.Minute), true},            // 5 and 10
		{"0 8,20 * * *", monday.Add(12 * time.Hour), true},                // 20:00
		{"0 8 1 * *", monday, false},                                      // the 1st only
		{"0 8 1 * 1", monday, true},                                       // the 1st or a Monday
		{"0 8 5 1 *", monday, true},                                       // January 5th
		{"0 8 5 2 *", monday, false},                                      // February 5th
		{"30 8 * * *", monday.Add(30*time.Minute + 20*time.Second), true}, // within the minute
	}
	for _, tt := range tests {
		t.Run(tt.expr+" "+tt.at.Format(time.DateTime), func(t *testing.T) {
			c, err := scaling.ParseCron(tt.expr)
			require.NoError(t, err)
			assert.Equal(t, tt.match, c.Matches(tt.at))
		})
	}
	for _, bad := range []struct{ expr, says string }{
		{"* * * *", "five fields"},
		{"60 * * * *", "minute"},
		{"* 24 * * *", "hour"},
		{"* * 0 * *", "day of month"},
		{"* * * 13 *", "month"},
		{"* * * * 8", "day of week"},
		{"*/0 * * * *", "step"},
		{"a * * * *", "not a number"},
		{"5-1 * * * *", "outside"},
	} {
		t.Run("bad "+bad.expr, func(t *testing.T) {
			_, err := scaling.ParseCron(bad.expr)
			require.Error(t, err)
			assert.Contains(t, err.Error(), bad.says)
		})
	}

	c, err := scaling.ParseCron("0 8 * * 1-5")
	require.NoError(t, err)
	at, ok := c.Fired(monday.Add(-time.Minute), monday.Add(30*time.Second))
	assert.True(t, ok, "8:00 is in (7:59, 8:00:30]")
	assert.Equal(t, monday, at)
	_, ok = c.Fired(monday, monday.Add(time.Hour))
	assert.False(t, ok, "8:00 is not in (8:00, 9:00]: a schedule fires once")
	_, ok = c.Fired(time.Time{}, monday.Add(-time.Minute))
	assert.False(t, ok, "from Monday 7:59 it looks a day back, to Sunday: Friday's 8:00 is not replayed")
	at, ok = c.Fired(time.Time{}, monday.Add(time.Hour))
	assert.True(t, ok)
	assert.Equal(t, monday, at)
}

// cpuRules grow by 2 above 70% for 3 periods and shrink by 1 below 20%
// for 3 periods, both with a 5-minute cooldown.
var cpuRules = scaling.Policy{Min: 1, Max: 5, Rules: []scaling.Rule{
	{Metric: "cpuPercent", Direction: scaling.Below, Threshold: 20, Periods: 3, Step: 1, Cooldown: 5 * time.Minute},
	{Metric: "cpuPercent", Direction: scaling.Above, Threshold: 70, Periods: 3, Step: 2, Cooldown: 5 * time.Minute},
}}

func TestDecide(t *testing.T) {
	nan := math.NaN()
	long := monday.Add(-time.Hour) // the last change, past every cooldown
	tests := []struct {
		name    string
		policy  scaling.Policy
		in      scaling.Input
		desired int
		changed bool
		cause   string
		values  []float64
	}{
		{name: "above for 3 periods: +2", policy: cpuRules,
			in:      scaling.Input{Now: monday, Desired: 1, LastChange: long, History: map[string][]float64{"cpuPercent": {10, 80, 90, 85}}},
			desired: 3, changed: true, cause: "rules[1]: average cpuPercent above 70", values: []float64{80, 90, 85}},
		{name: "above for 2 periods only", policy: cpuRules,
			in:      scaling.Input{Now: monday, Desired: 1, LastChange: long, History: map[string][]float64{"cpuPercent": {10, 90, 85}}},
			desired: 1},
		// 70 x 1.1 = 77: 76 is inside the band, not beyond it.
		{name: "inside the tolerance band", policy: cpuRules,
			in:      scaling.Input{Now: monday, Desired: 2, LastChange: long, History: map[string][]float64{"cpuPercent": {80, 76, 90}}},
			desired: 2},
		{name: "a period without samples", policy: cpuRules,
			in:      scaling.Input{Now: monday, Desired: 2, LastChange: long, History: map[string][]float64{"cpuPercent": {80, nan, 90}}},
			desired: 2},
		// 20 x 0.9 = 18: all three below.
		{name: "below for 3 periods: -1", policy: cpuRules,
			in:      scaling.Input{Now: monday, Desired: 3, LastChange: long, History: map[string][]float64{"cpuPercent": {5, 10, 17.9}}},
			desired: 2, changed: true, cause: "rules[0]: average cpuPercent below 20", values: []float64{5, 10, 17.9}},
		{name: "in the cooldown", policy: cpuRules,
			in:      scaling.Input{Now: monday, Desired: 1, LastChange: monday.Add(-4 * time.Minute), History: map[string][]float64{"cpuPercent": {80, 90, 85}}},
			desired: 1},
		{name: "held at max", policy: cpuRules,
			in:      scaling.Input{Now: monday, Desired: 4, LastChange: long, History: map[string][]float64{"cpuPercent": {80, 90, 85}}},
			desired: 5, changed: true, cause: "held at max 5"},
		{name: "at max: nothing to do, said", policy: cpuRules,
			in:      scaling.Input{Now: monday, Desired: 5, LastChange: long, History: map[string][]float64{"cpuPercent": {80, 90, 85}}},
			desired: 5, cause: "held at max 5"},
		{name: "held at min", policy: cpuRules,
			in:      scaling.Input{Now: monday, Desired: 1, LastChange: long, History: map[string][]float64{"cpuPercent": {1, 1, 1}}},
			desired: 1, cause: "held at min 1"},
		{name: "outside the bounds after a policy change", policy: cpuRules,
			in:      scaling.Input{Now: monday, Desired: 9, LastChange: long},
			desired: 5, changed: true, cause: "desired 9 is outside min 1 and max 5"},
		{name: "a schedule wins over the rules",
			policy: scaling.Policy{Min: 1, Max: 5, Rules: cpuRules.Rules, Schedules: []scaling.Schedule{{Cron: "0 8 * * 1-5", Desired: 4}}},
			in: scaling.Input{Now: monday.Add(15 * time.Second), Desired: 1, LastChange: long, LastDecision: monday.Add(-15 * time.Second),
				History: map[string][]float64{"cpuPercent": {1, 1, 1}}},
			desired: 4, changed: true, cause: `schedules[0] "0 8 * * 1-5" fired`},
		{name: "a schedule fires once",
			policy:  scaling.Policy{Min: 1, Max: 5, Schedules: []scaling.Schedule{{Cron: "0 8 * * 1-5", Desired: 4}}},
			in:      scaling.Input{Now: monday.Add(30 * time.Second), Desired: 2, LastChange: long, LastDecision: monday.Add(15 * time.Second)},
			desired: 2},
		{name: "the latest of two schedules",
			policy:  scaling.Policy{Min: 0, Max: 5, Schedules: []scaling.Schedule{{Cron: "0 20 * * *", Desired: 0}, {Cron: "0 8 * * *", Desired: 3}}},
			in:      scaling.Input{Now: monday.Add(time.Minute), Desired: 0, LastChange: long, LastDecision: monday.Add(-13 * time.Hour)},
			desired: 3, changed: true, cause: `schedules[1] "0 8 * * *"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.policy.Validate([]string{"cpuPercent"}))
			d := scaling.Decide(tt.policy, tt.in)
			assert.Equal(t, tt.desired, d.Desired, "desired: %+v", d)
			assert.Equal(t, tt.changed, d.Changed, "changed: %+v", d)
			if tt.cause == "" {
				assert.Empty(t, d.Cause)
			} else {
				assert.Contains(t, d.Cause, tt.cause)
			}
			if tt.values != nil {
				assert.Equal(t, tt.values, d.Values, "the values that fired")
			}
			assert.Equal(t, d, scaling.Decide(tt.policy, tt.in), "the same input decides alike")
		})
	}
}

// TestDecideDoesNotFlap: a load that swings inside the tolerance band
// around a threshold never scales.
func TestDecideDoesNotFlap(t *testing.T) {
	p := scaling.Policy{Min: 1, Max: 5, Rules: []scaling.Rule{
		{Metric: "cpuPercent", Direction: scaling.Above, Threshold: 50, Periods: 1, Step: 1},
		{Metric: "cpuPercent", Direction: scaling.Below, Threshold: 50, Periods: 1, Step: 1},
	}}
	desired := 3
	for i, v := range []float64{46, 54, 45.1, 54.9, 50, 47, 53} {
		d := scaling.Decide(p, scaling.Input{Now: monday.Add(time.Duration(i) * time.Minute), Desired: desired,
			History: map[string][]float64{"cpuPercent": {v}}})
		assert.False(t, d.Changed, "period %d at %v: %+v", i, v, d)
	}
}

func TestPolicyValidate(t *testing.T) {
	bad := scaling.Policy{Min: 3, Max: 2, Tolerance: 1, Rules: []scaling.Rule{
		{Metric: "load", Direction: "sideways", Threshold: math.NaN(), Periods: 0, Step: 0, Cooldown: -time.Second},
	}, Schedules: []scaling.Schedule{{Cron: "every day", Desired: 9}}}
	err := bad.Validate([]string{"cpuPercent"})
	require.ErrorIs(t, err, ovm.ErrInvalid)
	var fe *ovm.Error
	require.ErrorAs(t, err, &fe)
	var fields []string
	for _, f := range fe.Fields {
		fields = append(fields, f.Field)
	}
	assert.ElementsMatch(t, []string{"max", "tolerance", "rules[0].metric", "rules[0].direction", "rules[0].threshold",
		"rules[0].periods", "rules[0].step", "rules[0].cooldown", "schedules[0].cron", "schedules[0].desired"}, fields)
}
