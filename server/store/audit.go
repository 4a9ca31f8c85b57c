package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/openovm/ovm/ovm"
)

// AuditObject names one object a change wrote.
type AuditObject struct {
	Kind Kind   `json:"kind"`
	ID   ovm.ID `json:"id"`
	Name string `json:"name,omitempty"`
	// VDCID is the object's VDC, empty for platform objects.
	VDCID ovm.ID `json:"vdcId,omitempty"`
}

// AuditEvent is one entry of the audit trail: who (as which role, from
// which address) did what (the API operation) to which object, with which
// outcome and task. It never holds a request body, a password or a token.
type AuditEvent struct {
	// ID orders events by time (NewAuditID); At is when it happened.
	ID ovm.ID    `json:"id"`
	At time.Time `json:"at"`
	// VDCID is the VDC the change concerns (its tenants read the event);
	// empty for platform changes.
	VDCID ovm.ID `json:"vdcId,omitempty"`
	// Who: the user, by id and name, and the role it acted as.
	UserID ovm.ID `json:"userId,omitempty"`
	User   string `json:"user"`
	Role   string `json:"role,omitempty"`
	// Address is the client's address; RequestID the API request's id.
	Address   string `json:"address,omitempty"`
	RequestID string `json:"requestId,omitempty"`
	// Operation is the API operation (such as "create-instance").
	Operation string `json:"operation"`
	// Object is the first object the change wrote; Objects all of them.
	Object  AuditObject   `json:"object"`
	Objects []AuditObject `json:"objects,omitempty"`
	// TaskID is the task the change started, if any.
	TaskID ovm.ID `json:"taskId,omitempty"`
	// Outcome is how it ended: succeeded, failed or throttled (the API's
	// AuditOutcome).
	Outcome string `json:"outcome"`
	// Status is the HTTP status of a failure; Message what it said.
	Status  int    `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// AuditFilter selects audit events. Zero fields do not filter.
type AuditFilter struct {
	// VDCID limits the list to one VDC's events; AllVDCs lists every
	// scope, else an empty VDCID is the platform's.
	VDCID   ovm.ID
	AllVDCs bool
	// User is a user name; Operation an API operation; ObjectID an object
	// the change wrote first.
	User      string
	Operation string
	ObjectID  ovm.ID
	Outcome   string
	// Since and Until bound At (Since included, Until excluded).
	Since, Until time.Time
}

// AuditTx is the audit trail's part of a transaction (sqlstore's
// transactions implement it). Events are keyed by the day they fall in and
// their time-ordered id: no sequence, no single hot row.
type AuditTx interface {
	// AppendAudit writes an event; a zero ID or At is filled in.
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// ListAudit returns one page of events, newest first, and the cursor
	// of the next (older) page, "" after the last. Page.After is a cursor.
	ListAudit(ctx context.Context, f AuditFilter, p Page) ([]AuditEvent, ovm.ID, error)
}

// NewAuditID returns a UUID (version 7) whose text sorts by at, in
// milliseconds, then at random.
func NewAuditID(at time.Time) ovm.ID {
	var b [16]byte
	_, _ = rand.Read(b[6:])
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(at.UnixMilli()))
	copy(b[:6], ms[2:])
	b[6] = b[6]&0x0f | 0x70 // version 7
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	h := hex.EncodeToString(b[:])
	return ovm.ID(h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:])
}

// AuditIDTime returns the millisecond an audit id was made at.
func AuditIDTime(id ovm.ID) (time.Time, bool) {
	if !id.Valid() {
		return time.Time{}, false
	}
	b, err := hex.DecodeString(string(id[0:8]) + string(id[9:13]))
	if err != nil {
		return time.Time{}, false
	}
	var ms [8]byte
	copy(ms[2:], b)
	return time.UnixMilli(int64(binary.BigEndian.Uint64(ms[:]))).UTC(), true
}
