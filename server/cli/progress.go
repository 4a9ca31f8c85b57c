package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/openovm/ovm/ovm"
)

// logTail is how many log lines a failed task shows.
const logTail = 10

// progress renders a task's changes: a bar redrawn in place on a terminal,
// one line per change otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	width int
	last  string
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: isTerminal(w), width: terminalWidth(w)}
}

// currentStep names the step a task is at: the running one, else the
// first not done, else the last.
func currentStep(t ovm.Task) string {
	for _, s := range t.Steps {
		if s.State == ovm.StepRunning {
			return s.Name
		}
	}
	for _, s := range t.Steps {
		if s.State == ovm.StepPending || s.State == ovm.StepFailed {
			return s.Name
		}
	}
	if len(t.Steps) > 0 {
		return t.Steps[len(t.Steps)-1].Name
	}
	return ""
}

// stepIndex returns "2/4" for the step a task is at.
func stepIndex(t ovm.Task) string {
	done := 0
	for _, s := range t.Steps {
		if s.State == ovm.StepDone {
			done++
		}
	}
	if len(t.Steps) == 0 {
		return ""
	}
	n := min(done+1, len(t.Steps))
	if t.State.Final() {
		n = done
	}
	return fmt.Sprintf("%d/%d", n, len(t.Steps))
}

// update shows t.
func (p *progress) update(t ovm.Task) {
	step := currentStep(t)
	if p.tty {
		const barWidth = 30
		filled := max(0, min(barWidth, t.Progress*barWidth/100))
		bar := strings.Repeat("█", filled) + strings.Repeat("░", barWidth-filled)
		line := fmt.Sprintf("%s %s %3d%% %-12s %s %s", t.ID.Short(), bar, t.Progress, escape(string(t.State)), stepIndex(t), escape(step))
		if len([]rune(line)) > p.width-1 {
			line = string([]rune(line)[:p.width-1])
		}
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		if t.State.Final() {
			fmt.Fprintln(p.w)
		}
		return
	}
	line := fmt.Sprintf("task %s %s: %s %d%%", t.ID.Short(), escape(t.Kind), escape(string(t.State)), t.Progress)
	if step != "" && !t.State.Final() {
		line += fmt.Sprintf(" step %s %s", stepIndex(t), escape(step))
	}
	if line == p.last {
		return
	}
	p.last = line
	fmt.Fprintln(p.w, line)
}

// taskFailed is a task that ended without succeeding.
type taskFailed struct{ t ovm.Task }

func (e *taskFailed) Error() string {
	msg := fmt.Sprintf("task %s (%s) %s", e.t.ID, e.t.Kind, e.t.State)
	if e.t.Error != "" {
		msg += ": " + e.t.Error
	}
	return msg
}

// printLogTail writes the last lines of a task's log.
func printLogTail(w io.Writer, t ovm.Task) {
	if len(t.Log) == 0 {
		return
	}
	from := max(0, len(t.Log)-logTail)
	fmt.Fprintf(w, "Last %d log lines of task %s:\n", len(t.Log)-from, t.ID)
	for _, l := range t.Log[from:] {
		fmt.Fprintf(w, "  %s %-5s %s\n", l.Time.Format("15:04:05"), escape(l.Level), escape(l.Message))
	}
}

// watch follows a task to its end, drawing progress on w; a task that did
// not succeed is an error, after its log tail is printed on Stderr.
func (a *app) watch(w io.Writer, id ovm.ID) (ovm.Task, error) {
	cl, err := a.client()
	if err != nil {
		return ovm.Task{}, err
	}
	p := newProgress(w)
	t, err := cl.WatchTask(a.ctx, id, p.update)
	if err != nil {
		return t, err
	}
	if t.State != ovm.TaskSucceeded {
		printLogTail(a.env.Stderr, t)
		return t, &taskFailed{t: t}
	}
	return t, nil
}

// waitAll watches tasks one after the other (they run in parallel on the
// server) and returns the first failure after watching them all. Progress
// goes to Stderr, so that Stdout keeps only the command's output.
func (a *app) waitAll(tasks ...*ovm.Task) error {
	var first error
	for _, t := range tasks {
		if t == nil {
			continue
		}
		if _, err := a.watch(a.env.Stderr, t.ID); err != nil && first == nil {
			first = err
		}
	}
	return first
}
