package apitypes

import (
	"time"

	"github.com/openovm/ovm/ovm"
)

// AuditOutcome is how an audited change ended.
type AuditOutcome string

// The outcomes.
const (
	// AuditSucceeded: the change committed, with its event.
	AuditSucceeded AuditOutcome = "succeeded"
	// AuditFailed: the request was refused or failed; nothing changed.
	AuditFailed AuditOutcome = "failed"
	// AuditThrottled: a login refused because of earlier failures.
	AuditThrottled AuditOutcome = "throttled"
)

// AuditOutcomes are the outcomes.
var AuditOutcomes = []AuditOutcome{AuditSucceeded, AuditFailed, AuditThrottled}

// AuditObject is an object a change wrote.
type AuditObject struct {
	// Kind is the object's kind, such as "instance" or "user".
	Kind string `json:"kind"`
	ID   ovm.ID `json:"id"`
	Name string `json:"name,omitempty"`
}

// AuditEvent is one entry of the audit trail: who (as which role, from
// where) did what to which object, with which outcome and task. It never
// holds a request body, a password or a token.
type AuditEvent struct {
	ID ovm.ID    `json:"id"`
	At time.Time `json:"at"`
	// VDCID is the VDC the change concerns; absent for platform changes.
	VDCID ovm.ID `json:"vdcId,omitempty"`
	// User is the user's name (for a failed login, the name given);
	// UserID and Role are absent when no user was recognised.
	User   string `json:"user"`
	UserID ovm.ID `json:"userId,omitempty"`
	Role   Role   `json:"role,omitempty"`
	// Address is the client's address; RequestID the request's
	// X-Request-Id.
	Address   string `json:"address,omitempty"`
	RequestID string `json:"request,omitempty"`
	// Operation is the API operation, such as "create-instance".
	Operation string `json:"operation"`
	// Object is the first object the change wrote; Objects every one.
	Object  *AuditObject  `json:"object,omitempty"`
	Objects []AuditObject `json:"objects,omitempty"`
	// TaskID is the task the change started.
	TaskID  ovm.ID       `json:"taskId,omitempty"`
	Outcome AuditOutcome `json:"outcome"`
	// Status is the HTTP status of a failure, Message what it said.
	Status  int    `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}
