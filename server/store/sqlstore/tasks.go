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

const taskColumns = `id, host_id, task, input, state_data, lease_owner, lease_expires, version`

func scanTask(row rowScanner) (store.TaskRecord, error) {
	var tr store.TaskRecord
	var id, host string
	var task, input, state []byte
	if err := row.Scan(&id, &host, &task, &input, &state, &tr.LeaseOwner, timeValue{&tr.LeaseExpires}, &tr.Version); err != nil {
		return store.TaskRecord{}, err
	}
	if err := json.Unmarshal(task, &tr.Task); err != nil {
		return store.TaskRecord{}, fmt.Errorf("decode task %s: %w", id, err)
	}
	tr.HostID = ovm.ID(host)
	if input != nil {
		tr.Input = json.RawMessage(input)
	}
	if state != nil {
		tr.State = json.RawMessage(state)
	}
	return tr, nil
}

// checkTask validates what CreateTask and UpdateTask store.
func checkTask(tr *store.TaskRecord) error {
	var f ovm.Fields
	if !tr.Task.ID.Valid() {
		f.Add("task.id", "must be a lower-case UUID")
	}
	if tr.Task.Kind == "" {
		f.Add("task.kind", "must not be empty")
	}
	if !tr.HostID.IsZero() && !tr.HostID.Valid() {
		f.Add("hostId", "must be empty or a lower-case UUID")
	}
	if len(tr.Input) > 0 && !json.Valid(tr.Input) {
		f.Add("input", "must be JSON")
	}
	if len(tr.State) > 0 && !json.Valid(tr.State) {
		f.Add("state", "must be JSON")
	}
	return f.Err("invalid task")
}

// CreateTask stores a new task at version 1. An empty state is pending; a
// zero CreatedAt is the database's time; UpdatedAt is the database's time.
// A LeaseOwner with a LeaseExpires creates the task already claimed.
func (t *tx) CreateTask(ctx context.Context, tr *store.TaskRecord) error {
	if err := checkTask(tr); err != nil {
		return err
	}
	now, err := t.Now(ctx)
	if err != nil {
		return err
	}
	rec := *tr
	if rec.Task.State == "" {
		rec.Task.State = ovm.TaskPending
	}
	if rec.Task.CreatedAt.IsZero() {
		rec.Task.CreatedAt = now
	}
	rec.Task.CreatedAt = rec.Task.CreatedAt.UTC().Truncate(time.Microsecond)
	rec.Task.UpdatedAt = now
	rec.Version = 1
	task, err := json.Marshal(rec.Task)
	if err != nil {
		return fmt.Errorf("store: encode task %s: %w", rec.Task.ID, err)
	}
	n, err := t.exec(ctx, `INSERT INTO tasks (id, vdc_id, host_id, kind, state, final, task, input, state_data,
			lease_owner, lease_expires, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $13) ON CONFLICT DO NOTHING`,
		string(rec.Task.ID), string(rec.Task.VDCID), string(rec.HostID), rec.Task.Kind, string(rec.Task.State),
		rec.Task.State.Final(), string(task), jsonOrNull(rec.Input), jsonOrNull(rec.State),
		rec.LeaseOwner, t.ts(rec.LeaseExpires), t.ts(rec.Task.CreatedAt), t.ts(now))
	if err != nil {
		return fmt.Errorf("store: create task %s: %w", rec.Task.ID, err)
	}
	if n == 0 {
		return conflict(nil, "task %s already exists", rec.Task.ID)
	}
	*tr = rec
	return nil
}

// GetTask returns a task.
func (t *tx) GetTask(ctx context.Context, id ovm.ID) (store.TaskRecord, error) {
	tr, err := scanTask(t.queryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = $1`, string(id)))
	if err = t.note(err); err != nil {
		if isNoRows(err) {
			return store.TaskRecord{}, notFound("task", id)
		}
		return store.TaskRecord{}, fmt.Errorf("store: get task %s: %w", id, err)
	}
	return tr, nil
}

// ListTasks returns one page of the VDC's tasks (empty: the platform's),
// or of every task when all is set, in ID order.
func (t *tx) ListTasks(ctx context.Context, vdcID ovm.ID, all bool, p store.Page) ([]store.TaskRecord, ovm.ID, error) {
	limit, err := pageLimit(p)
	if err != nil {
		return nil, "", err
	}
	q := `SELECT ` + taskColumns + ` FROM tasks WHERE id > $1`
	args := []any{string(p.After)}
	if !all {
		args = append(args, string(vdcID))
		q += ` AND vdc_id = $2`
	}
	args = append(args, limit+1)
	q += ` ORDER BY id LIMIT $` + strconv.Itoa(len(args))
	out, err := collect(ctx, t, scanTask, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list tasks: %w", err)
	}
	return page(out, limit, func(tr store.TaskRecord) ovm.ID { return tr.Task.ID })
}

// UpdateTask saves the task, its host, input and state when its version is
// still tr.Version, and bumps the version in tr. The lease is not touched:
// ClaimTask and RenewTask own it.
func (t *tx) UpdateTask(ctx context.Context, tr *store.TaskRecord) error {
	if err := checkTask(tr); err != nil {
		return err
	}
	if tr.Version <= 0 {
		return ovm.Invalid("invalid task", ovm.FieldError{Field: "version", Reason: "must be the version read", Value: tr.Version})
	}
	now, err := t.Now(ctx)
	if err != nil {
		return err
	}
	rec := *tr
	rec.Task.UpdatedAt = now
	task, err := json.Marshal(rec.Task)
	if err != nil {
		return fmt.Errorf("store: encode task %s: %w", rec.Task.ID, err)
	}
	err = t.scan(ctx, `UPDATE tasks SET vdc_id = $2, host_id = $3, kind = $4, state = $5, final = $6, task = $7,
			input = $8, state_data = $9, version = version + 1, updated_at = $10
		WHERE id = $1 AND version = $11 RETURNING version`,
		[]any{string(rec.Task.ID), string(rec.Task.VDCID), string(rec.HostID), rec.Task.Kind, string(rec.Task.State),
			rec.Task.State.Final(), string(task), jsonOrNull(rec.Input), jsonOrNull(rec.State), t.ts(now), rec.Version},
		&rec.Version)
	switch {
	case err == nil:
		*tr = rec
		return nil
	case !isNoRows(err):
		return fmt.Errorf("store: update task %s: %w", rec.Task.ID, err)
	}
	var have int64
	switch err := t.scan(ctx, `SELECT version FROM tasks WHERE id = $1`, []any{string(rec.Task.ID)}, &have); {
	case isNoRows(err):
		return notFound("task", rec.Task.ID)
	case err != nil:
		return fmt.Errorf("store: read the version of task %s: %w", rec.Task.ID, err)
	}
	return versionMismatch("task", rec.Task.ID, have, tr.Version)
}

// leaseFree is the condition of a task whose lease is free or expired by
// the database's clock.
const leaseFree = `(lease_expires IS NULL OR lease_expires <= {now})`

// ClaimTask leases the oldest unfinished task with a free or expired lease
// and no host in busyHosts to owner for ttl, bumping its version so that a
// previous owner's UpdateTask fails. It finds, leases and returns the task
// in one statement: one round trip, and the shortest window for another
// claim of the same task.
func (t *tx) ClaimTask(ctx context.Context, owner string, ttl time.Duration, busyHosts []ovm.ID) (store.TaskRecord, bool, error) {
	if err := checkLease(owner, ttl); err != nil {
		return store.TaskRecord{}, false, err
	}
	// The claim index (final, created_at, id) in order.
	where, args := notBusy(`WHERE id = (SELECT id FROM tasks WHERE final = FALSE AND `+leaseFree, busyHosts, owner, micros(ttl))
	return t.lease(ctx, where+` ORDER BY created_at, id LIMIT 1) AND NOT final AND `+leaseFree, args...)
}

// ClaimTaskByID leases the task id when it is unfinished with a free or
// expired lease and not on a busy host, in one statement that reads only
// its row.
func (t *tx) ClaimTaskByID(ctx context.Context, id ovm.ID, owner string, ttl time.Duration, busyHosts []ovm.ID) (store.TaskRecord, bool, error) {
	if err := checkLease(owner, ttl); err != nil {
		return store.TaskRecord{}, false, err
	}
	where, args := notBusy(`WHERE id = $3 AND NOT final AND `+leaseFree, busyHosts, owner, micros(ttl), string(id))
	return t.lease(ctx, where, args...)
}

// notBusy appends to the condition where, whose parameters are args, that
// the task's host is none of busy.
func notBusy(where string, busy []ovm.ID, args ...any) (string, []any) {
	if len(busy) == 0 {
		return where, args
	}
	first := len(args) + 1
	for _, h := range busy {
		args = append(args, string(h))
	}
	return where + ` AND host_id NOT IN (` + params(first, len(busy)) + `)`, args
}

// lease leases to owner ($1) for ttl ($2) the task where selects and
// returns it, ok false when where selects none.
func (t *tx) lease(ctx context.Context, where string, args ...any) (store.TaskRecord, bool, error) {
	// The clock comes back too: the start that follows a claim saves the
	// task with it.
	var now time.Time
	tr, err := scanTask(withNow{t.queryRow(ctx, `UPDATE tasks SET lease_owner = $1, lease_expires = `+t.s.d.nowPlus("$2")+`,
			version = version + 1
		`+where+` RETURNING `+taskColumns+`, {now}`, args...), &now})
	switch err = t.note(err); {
	case isNoRows(err):
		return store.TaskRecord{}, false, nil
	case err != nil:
		return store.TaskRecord{}, false, fmt.Errorf("store: claim a task: %w", err)
	}
	t.sawNow(now)
	return tr, true, nil
}

// RenewTask extends owner's lease of the task by ttl from the database's
// clock. It fails with ovm.ErrConflict once another owner claimed the task
// (a lease that expired but that nobody took is renewed).
func (t *tx) RenewTask(ctx context.Context, id ovm.ID, owner string, ttl time.Duration) error {
	if err := checkLease(owner, ttl); err != nil {
		return err
	}
	n, err := t.exec(ctx, `UPDATE tasks SET lease_expires = `+t.s.d.nowPlus("$3")+` WHERE id = $1 AND lease_owner = $2`,
		string(id), owner, micros(ttl))
	if err != nil {
		return fmt.Errorf("store: renew the lease of task %s: %w", id, err)
	}
	if n == 1 {
		return nil
	}
	if _, err := t.GetTask(ctx, id); err != nil {
		return err
	}
	return conflict(nil, "task %s is not leased to %s", id, owner)
}

// checkLease validates a lease request.
func checkLease(holder string, ttl time.Duration) error {
	var f ovm.Fields
	if holder == "" {
		f.Add("holder", "must not be empty")
	}
	if ttl <= 0 {
		f.Add("ttl", "must be positive")
	}
	return f.Err("invalid lease")
}
