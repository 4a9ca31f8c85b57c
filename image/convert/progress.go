package convert

// Progress is one report of a conversion's advance.
type Progress struct {
	Step  string // what is being done, e.g. "pull", "mke2fs"
	Index int    // the step's number, from 1
	Steps int    // how many steps the conversion has
	Done  int64  // bytes done in this step, when known
	Total int64  // bytes the step will handle, when known (0: unknown)
}

// ProgressFunc receives progress reports; it must return quickly. Reports
// of one conversion come one at a time, not always from the caller's
// goroutine (the push reports from go-containerregistry's).
type ProgressFunc func(Progress)

// reporter numbers the steps of one conversion.
type reporter struct {
	fn    ProgressFunc
	steps int
	index int
	name  string
}

func newReporter(fn ProgressFunc, steps int) *reporter {
	return &reporter{fn: fn, steps: steps}
}

// step starts the next step.
func (r *reporter) step(name string, total int64) {
	r.index++
	r.name = name
	r.bytes(0, total)
}

// bytes reports the current step's advance.
func (r *reporter) bytes(done, total int64) {
	if r.fn != nil {
		r.fn(Progress{Step: r.name, Index: r.index, Steps: r.steps, Done: done, Total: total})
	}
}
