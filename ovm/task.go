package ovm

import (
	"encoding/json"
	"time"
)

// TaskState is where a task is in its life.
type TaskState string

// The task states. Succeeded, Failed and RolledBack are final.
const (
	TaskPending     TaskState = "pending"
	TaskRunning     TaskState = "running"
	TaskSucceeded   TaskState = "succeeded"
	TaskRollingBack TaskState = "rolling-back"
	TaskRolledBack  TaskState = "rolled-back" // a step failed; completed steps were undone
	TaskFailed      TaskState = "failed"      // a step failed and could not be undone
)

// Final reports whether the task will not change any more.
func (s TaskState) Final() bool {
	return s == TaskSucceeded || s == TaskRolledBack || s == TaskFailed
}

// StepState is where one step of a task is.
type StepState string

// The step states.
const (
	StepPending     StepState = "pending"
	StepRunning     StepState = "running"
	StepDone        StepState = "done"
	StepFailed      StepState = "failed"
	StepCompensated StepState = "compensated"
)

// TaskStep is one idempotent step of a task, with its compensation.
type TaskStep struct {
	Name  string    `json:"name"`
	State StepState `json:"state"`
	Error string    `json:"error,omitempty"`
}

// TaskLogEntry is one line of a task's log. Message keeps the hypervisor's
// own error text.
type TaskLogEntry struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
}

// Task is a persisted change on a hypervisor.
type Task struct {
	ID       ID             `json:"id"`
	Kind     string         `json:"kind"` // such as "instance.create"
	VDCID    ID             `json:"vdcId,omitempty"`
	TargetID ID             `json:"targetId,omitempty"`
	State    TaskState      `json:"state"`
	Progress int            `json:"progress"` // percent
	Steps    []TaskStep     `json:"steps"`
	Log      []TaskLogEntry `json:"log,omitempty"`
	Error    string         `json:"error,omitempty"`
	// Result is what a task that succeeded made, in its kind's form (an
	// image conversion's pushed reference and digest, say); most kinds
	// have none.
	Result     json.RawMessage `json:"result,omitempty" doc:"What the task made once it succeeded, in its kind's form; image.to-template and image.to-container give {templateId, template, reference, digest, size}."`
	CreatedAt  time.Time       `json:"createdAt"`
	UpdatedAt  time.Time       `json:"updatedAt"`
	FinishedAt *time.Time      `json:"finishedAt,omitempty"`
}
