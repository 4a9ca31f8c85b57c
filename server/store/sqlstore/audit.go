package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// auditBucket is the day an event falls in: the first part of the audit
// table's key, so that writes of one day spread over the ids and old days
// can be dropped whole.
func auditBucket(at time.Time) int64 { return at.UTC().Unix() / 86400 }

// AppendAudit writes an audit event.
func (t *tx) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	if e.ID.IsZero() {
		e.ID = store.NewAuditID(e.At)
	}
	var f ovm.Fields
	if _, ok := store.AuditIDTime(e.ID); !ok {
		f.Add("id", "must be a lower-case UUID")
	}
	if e.Operation == "" {
		f.Add("operation", "must not be empty")
	}
	if e.Outcome == "" {
		f.Add("outcome", "must not be empty")
	}
	if err := f.Err("invalid audit event"); err != nil {
		return err
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("store: encode audit event: %w", err)
	}
	// The bucket follows the id's time, so a cursor (an id) finds its
	// bucket.
	at, _ := store.AuditIDTime(e.ID)
	if _, err := t.exec(ctx, `INSERT INTO audit_events (bucket, id, at, vdc_id, user_name, operation, object_id, outcome, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		auditBucket(at), string(e.ID), t.ts(e.At), string(e.VDCID), e.User, e.Operation, string(e.Object.ID), e.Outcome, string(data)); err != nil {
		return fmt.Errorf("store: write audit event: %w", err)
	}
	return nil
}

// ListAudit returns one page of audit events, newest first.
func (t *tx) ListAudit(ctx context.Context, f store.AuditFilter, p store.Page) ([]store.AuditEvent, ovm.ID, error) {
	limit, err := pageLimit(p)
	if err != nil {
		return nil, "", err
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	cond := "1 = 1"
	if !f.AllVDCs {
		cond += " AND vdc_id = " + arg(string(f.VDCID))
	}
	if f.User != "" {
		cond += " AND user_name = " + arg(f.User)
	}
	if f.Operation != "" {
		cond += " AND operation = " + arg(f.Operation)
	}
	if !f.ObjectID.IsZero() {
		cond += " AND object_id = " + arg(string(f.ObjectID))
	}
	if f.Outcome != "" {
		cond += " AND outcome = " + arg(f.Outcome)
	}
	if !f.Since.IsZero() {
		cond += " AND bucket >= " + arg(auditBucket(f.Since)) + " AND at >= " + arg(t.ts(f.Since))
	}
	if !f.Until.IsZero() {
		cond += " AND bucket <= " + arg(auditBucket(f.Until)) + " AND at < " + arg(t.ts(f.Until))
	}
	if !p.After.IsZero() {
		at, ok := store.AuditIDTime(p.After)
		if !ok {
			return nil, "", ovm.Invalid("invalid page", ovm.FieldError{Field: "cursor", Reason: "is not a cursor of this list"})
		}
		b := arg(auditBucket(at))
		cond += " AND (bucket < " + b + " OR (bucket = " + b + " AND id < " + arg(string(p.After)) + "))"
	}
	q := `SELECT data FROM audit_events WHERE ` + cond + ` ORDER BY bucket DESC, id DESC LIMIT ` + arg(limit+1)
	out, err := collect(ctx, t, func(r rowScanner) (store.AuditEvent, error) {
		var data []byte
		if err := r.Scan(&data); err != nil {
			return store.AuditEvent{}, err
		}
		var e store.AuditEvent
		if err := json.Unmarshal(data, &e); err != nil {
			return store.AuditEvent{}, fmt.Errorf("decode audit event: %w", err)
		}
		return e, nil
	}, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list audit events: %w", err)
	}
	return page(out, limit, func(e store.AuditEvent) ovm.ID { return e.ID })
}

var _ store.AuditTx = (*tx)(nil)
