package scaling

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cron is a parsed five-field cron expression: minute, hour, day of the
// month, month, day of the week (0 or 7 is Sunday). A field is "*", a
// number, a range "a-b", a list "a,b", each with an optional step "/n".
// As in cron, when both days are restricted a time matches either.
type Cron struct {
	minute, hour, dom, month, dow uint64 // bit i set: value i matches
	domAll, dowAll                bool
}

// cronField is one field's bounds.
type cronField struct {
	name     string
	min, max int
}

var cronFields = []cronField{{"minute", 0, 59}, {"hour", 0, 23}, {"day of month", 1, 31}, {"month", 1, 12}, {"day of week", 0, 7}}

// ParseCron parses a five-field expression, naming the field it refuses.
func ParseCron(s string) (Cron, error) {
	parts := strings.Fields(s)
	if len(parts) != len(cronFields) {
		return Cron{}, fmt.Errorf("want five fields (minute hour day-of-month month day-of-week), got %d", len(parts))
	}
	var bits [5]uint64
	for i, f := range cronFields {
		b, err := parseField(parts[i], f)
		if err != nil {
			return Cron{}, err
		}
		bits[i] = b
	}
	if bits[4]&(1<<7) != 0 { // 7 is Sunday too
		bits[4] |= 1
	}
	return Cron{minute: bits[0], hour: bits[1], dom: bits[2], month: bits[3], dow: bits[4],
		domAll: parts[2] == "*", dowAll: parts[4] == "*"}, nil
}

func parseField(s string, f cronField) (uint64, error) {
	var out uint64
	for item := range strings.SplitSeq(s, ",") {
		lo, hi, step := f.min, f.max, 1
		rng, st, hasStep := strings.Cut(item, "/")
		if hasStep {
			n, err := strconv.Atoi(st)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("%s: step %q must be a positive number", f.name, st)
			}
			step = n
		}
		if rng != "*" {
			a, b, isRange := strings.Cut(rng, "-")
			x, err := strconv.Atoi(a)
			if err != nil {
				return 0, fmt.Errorf("%s: %q is not a number", f.name, a)
			}
			lo, hi = x, x
			if isRange {
				if hi, err = strconv.Atoi(b); err != nil {
					return 0, fmt.Errorf("%s: %q is not a number", f.name, b)
				}
			} else if hasStep {
				hi = f.max
			}
		}
		if lo < f.min || hi > f.max || lo > hi {
			return 0, fmt.Errorf("%s: %q is outside %d-%d", f.name, item, f.min, f.max)
		}
		for v := lo; v <= hi; v += step {
			out |= 1 << v
		}
	}
	return out, nil
}

// Matches reports whether the minute of t matches.
func (c Cron) Matches(t time.Time) bool {
	if c.minute&(1<<t.Minute()) == 0 || c.hour&(1<<t.Hour()) == 0 || c.month&(1<<int(t.Month())) == 0 {
		return false
	}
	dom, dow := c.dom&(1<<t.Day()) != 0, c.dow&(1<<int(t.Weekday())) != 0
	switch {
	case c.domAll && c.dowAll:
		return true
	case c.domAll:
		return dow
	case c.dowAll:
		return dom
	}
	return dom || dow
}

// Fired returns the latest minute in (after, upTo] that matches, and
// whether there is one. It looks at most a day back from upTo: a scaler
// that stopped longer does not replay older schedules.
func (c Cron) Fired(after, upTo time.Time) (time.Time, bool) {
	t := upTo.Truncate(time.Minute)
	limit := upTo.Add(-24 * time.Hour)
	if after.After(limit) {
		limit = after
	}
	for ; t.After(limit); t = t.Add(-time.Minute) {
		if c.Matches(t) {
			return t, true
		}
	}
	return time.Time{}, false
}
