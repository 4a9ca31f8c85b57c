package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// Bounds of a task's log, so that a chatty step cannot grow its record
// without end: the first logHead entries are kept, then one entry counting
// what was dropped, then the newest entries, maxLogEntries in all. A
// message longer than maxLogMessage bytes is cut.
const (
	maxLogEntries = 500
	logHead       = 20
	maxLogMessage = 8 << 10
	droppedFormat = "%d earlier entries dropped"
)

// Run is what a step sees of its task. Its methods are safe for concurrent
// use, also from goroutines the step starts.
type Run struct {
	e      *Engine
	token  string // the lease owner of this claim
	cancel context.CancelCauseFunc

	mu  sync.Mutex
	rec store.TaskRecord // rec.State is the state saved with the last completed step
	// pending is what SetState set during the current step or
	// compensation; nil when nothing was set.
	pending json.RawMessage
	step    int  // index of the step running forward, for Progress
	forward bool // a step is running forward (not a compensation)
	gen     uint64
	saved   uint64 // gen at the last save

	// saveMu serializes the writes of this run (saves and renewals), so
	// that rec.Version follows the database.
	saveMu    sync.Mutex
	lastRenew time.Time
}

// Task returns a copy of the task as it is now.
func (r *Run) Task() ovm.Task {
	r.mu.Lock()
	defer r.mu.Unlock()
	return copyTask(r.rec.Task)
}

// Input decodes the task's input into v.
func (r *Run) Input(v any) error {
	r.mu.Lock()
	in := r.rec.Input
	r.mu.Unlock()
	if err := json.Unmarshal(in, v); err != nil {
		return fmt.Errorf("tasks: decode the input of task %s: %w", r.rec.Task.ID, err)
	}
	return nil
}

// State decodes what the steps recorded with SetState into v: the value
// set during the current step when there is one, else the value saved with
// the last completed step. With nothing recorded yet v is left as it is.
func (r *Run) State(v any) error {
	r.mu.Lock()
	st := r.pending
	if st == nil {
		st = r.rec.State
	}
	r.mu.Unlock()
	if len(st) == 0 || bytes.Equal(st, []byte("null")) {
		return nil
	}
	if err := json.Unmarshal(st, v); err != nil {
		return fmt.Errorf("tasks: decode the state of task %s: %w", r.rec.Task.ID, err)
	}
	return nil
}

// SetState records v (as JSON) as the task's state. It is saved together
// with the completion of the step or compensation that set it, and
// discarded when that one fails or is interrupted.
func (r *Run) SetState(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("tasks: encode the state of task %s: %w", r.rec.Task.ID, err)
	}
	r.mu.Lock()
	r.pending = b
	r.mu.Unlock()
	return nil
}

// SetResult records v (as JSON) as the task's result, what clients read
// of a task that succeeded. It is saved with the step that sets it.
func (r *Run) SetResult(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("tasks: encode the result of task %s: %w", r.rec.Task.ID, err)
	}
	r.mu.Lock()
	r.rec.Task.Result = b
	r.gen++
	r.mu.Unlock()
	return nil
}

// Logf adds a line to the task's log, at level ("info", "warn", "error";
// "debug" for anything below info). Put the hypervisor's own error text
// in it. Lines written during a step are saved within PollInterval and
// with the step's completion.
func (r *Run) Logf(level slog.Level, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.appendLog(level, msg)
	r.mu.Unlock()
	r.e.log.Debug("tasks: task log", "task", r.rec.Task.ID, "level", level, "message", msg)
}

// Progress reports how far the running step is, 0 to 100; the task's
// progress is derived from it and the steps done. Compensations do not
// report progress.
func (r *Run) Progress(percent int) {
	percent = min(max(percent, 0), 100)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.forward {
		return
	}
	if p := progress(r.step, percent, len(r.rec.Task.Steps)); p != r.rec.Task.Progress {
		r.rec.Task.Progress = p
		r.gen++
	}
}

// Store returns the engine's store, for steps that read or write records
// (in their own transactions).
func (r *Run) Store() store.Store { return r.e.st }

// progress is the task's percent with done steps of n complete and the
// next one at percent.
func progress(done, percent, n int) int {
	if n == 0 {
		return 100
	}
	return (done*100 + percent) / n
}

// appendLog adds an entry to the task's log; r.mu is held.
func (r *Run) appendLog(level slog.Level, msg string) {
	addLog(&r.rec.Task, r.e.o.Now(), level, msg)
	r.gen++
}

// addLog adds an entry to t's log within the bounds.
func addLog(t *ovm.Task, now time.Time, level slog.Level, msg string) {
	if len(msg) > maxLogMessage {
		cut := maxLogMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + " [truncated]"
	}
	if len(t.Log) >= maxLogEntries {
		// The entry at logHead counts the dropped ones; the oldest entries
		// after it make room for the new one.
		n := 0
		if _, err := fmt.Sscanf(t.Log[logHead].Message, droppedFormat, &n); err != nil || t.Log[logHead].Level != "warn" {
			n = 0
			t.Log = slices.Insert(t.Log, logHead, ovm.TaskLogEntry{Time: t.Log[logHead].Time, Level: "warn"})
		}
		drop := len(t.Log) - (maxLogEntries - 1)
		t.Log = slices.Delete(t.Log, logHead+1, logHead+1+drop)
		t.Log[logHead].Message = fmt.Sprintf(droppedFormat, n+drop)
	}
	t.Log = append(t.Log, ovm.TaskLogEntry{Time: now, Level: levelName(level), Message: msg})
}

// levelName is the log level as the task log spells it.
func levelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "error"
	case l >= slog.LevelWarn:
		return "warn"
	case l >= slog.LevelInfo:
		return "info"
	default:
		return "debug"
	}
}
