package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

const recordColumns = `kind, id, vdc_id, parent_id, host_id, name, version, data, created_at, updated_at`

func scanRecord(row rowScanner) (store.Record, error) {
	var r store.Record
	var kind, id, vdc, parent, host string
	var data []byte
	err := row.Scan(&kind, &id, &vdc, &parent, &host, &r.Name, &r.Version, &data,
		timeValue{&r.CreatedAt}, timeValue{&r.UpdatedAt})
	r.Kind, r.ID, r.VDCID, r.ParentID, r.HostID = store.Kind(kind), ovm.ID(id), ovm.ID(vdc), ovm.ID(parent), ovm.ID(host)
	r.Data = json.RawMessage(data)
	return r, err
}

// checkRecord validates what Insert and Update store.
func checkRecord(r *store.Record) error {
	var f ovm.Fields
	if r.Kind == "" {
		f.Add("kind", "must not be empty")
	}
	if !r.ID.Valid() {
		f.Add("id", "must be a lower-case UUID")
	}
	for _, l := range []struct {
		field string
		id    ovm.ID
	}{{"vdcId", r.VDCID}, {"parentId", r.ParentID}, {"hostId", r.HostID}} {
		if !l.id.IsZero() && !l.id.Valid() {
			f.Add(l.field, "must be empty or a lower-case UUID")
		}
	}
	if r.Name == "" {
		f.Add("name", "must not be empty")
	}
	if len(r.Data) > 0 && !json.Valid(r.Data) {
		f.Add("data", "must be JSON")
	}
	return f.Err(fmt.Sprintf("invalid %s record", r.Kind))
}

// scopeOf names a VDC scope in messages.
func scopeOf(vdcID ovm.ID) string {
	if vdcID.IsZero() {
		return "the platform scope"
	}
	return "vdc " + string(vdcID)
}

// Insert stores a new record with version 1 and the database's time.
func (t *tx) Insert(ctx context.Context, r *store.Record) error {
	if err := checkRecord(r); err != nil {
		return err
	}
	t.touch(r.Kind, r.ID)
	rec := *r
	err := t.scan(ctx, `INSERT INTO records (`+recordColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, 1, $7, {now}, {now})
		ON CONFLICT DO NOTHING
		RETURNING version, created_at, updated_at`,
		[]any{string(r.Kind), string(r.ID), string(r.VDCID), string(r.ParentID), string(r.HostID), r.Name, jsonArg(r.Data)},
		&rec.Version, timeValue{&rec.CreatedAt}, timeValue{&rec.UpdatedAt})
	switch {
	case err == nil:
		*r = rec
		if len(r.Data) == 0 {
			r.Data = json.RawMessage("null")
		}
		return nil
	case !isNoRows(err):
		return t.recordErr(err, "insert", r.Kind, r.ID)
	}
	// Nothing inserted: the id or the name is taken.
	var one int64
	switch err := t.scan(ctx, `SELECT 1 FROM records WHERE kind = $1 AND id = $2`, []any{string(r.Kind), string(r.ID)}, &one); {
	case err == nil:
		return conflict(nil, "%s %s already exists", r.Kind, r.ID)
	case !isNoRows(err):
		return t.recordErr(err, "insert", r.Kind, r.ID)
	}
	return conflict(nil, "%s named %q already exists in %s", r.Kind, r.Name, scopeOf(r.VDCID))
}

// recordErr wraps a driver error of an operation on a record.
func (t *tx) recordErr(err error, op string, kind store.Kind, id ovm.ID) error {
	return fmt.Errorf("store: %s %s %s: %w", op, kind, id, err)
}

// Get returns the record of kind with id.
func (t *tx) Get(ctx context.Context, kind store.Kind, id ovm.ID) (store.Record, error) {
	// A one-read view of an exclusive store reads the record cache.
	cached := t.single && t.s.cache != nil && !t.used
	var gen uint64
	if cached {
		r, g, ok := t.s.cache.get(recKey{kind, id})
		if ok {
			t.used = true
			return r, nil
		}
		gen = g
	}
	r, err := scanRecord(t.queryRow(ctx, `SELECT `+recordColumns+`
		FROM records WHERE kind = $1 AND id = $2`, string(kind), string(id)))
	if err = t.note(err); err != nil {
		if isNoRows(err) {
			return store.Record{}, notFound(string(kind), id)
		}
		return store.Record{}, t.recordErr(err, "get", kind, id)
	}
	if cached {
		t.s.cache.fill(gen, r)
	}
	return r, nil
}

// touch notes a record a write transaction changes, for the record cache.
func (t *tx) touch(kind store.Kind, id ovm.ID) {
	if t.s.cache != nil {
		t.touched = append(t.touched, recKey{kind, id})
	}
}

// GetByName returns the record of kind named name in the VDC (empty: the
// platform scope).
func (t *tx) GetByName(ctx context.Context, kind store.Kind, vdcID ovm.ID, name string) (store.Record, error) {
	r, err := scanRecord(t.queryRow(ctx, `SELECT `+recordColumns+`
		FROM records WHERE kind = $1 AND vdc_id = $2 AND name = $3`, string(kind), string(vdcID), name))
	if err = t.note(err); err != nil {
		if isNoRows(err) {
			return store.Record{}, withKind(ovm.KindNotFound, nil, "%s named %q not found in %s", kind, name, scopeOf(vdcID))
		}
		return store.Record{}, fmt.Errorf("store: get %s named %q: %w", kind, name, err)
	}
	return r, nil
}

// Update replaces the record's VDC, links, name and data when its version
// is ifVersion (0: any), and sets r's version and times to the stored ones.
func (t *tx) Update(ctx context.Context, r *store.Record, ifVersion int64) error {
	if err := checkRecord(r); err != nil {
		return err
	}
	if ifVersion < 0 {
		return ovm.Invalid("invalid update", ovm.FieldError{Field: "ifVersion", Reason: "must not be negative", Value: ifVersion})
	}
	t.touch(r.Kind, r.ID)
	q := `UPDATE records SET vdc_id = $3, parent_id = $4, host_id = $5, name = $6, data = $7,
		version = version + 1, updated_at = {now}
		WHERE kind = $1 AND id = $2`
	args := []any{string(r.Kind), string(r.ID), string(r.VDCID), string(r.ParentID), string(r.HostID), r.Name, jsonArg(r.Data)}
	if ifVersion != 0 {
		q += ` AND version = $8`
		args = append(args, ifVersion)
	}
	rec := *r
	err := t.scan(ctx, q+` RETURNING version, created_at, updated_at`, args,
		&rec.Version, timeValue{&rec.CreatedAt}, timeValue{&rec.UpdatedAt})
	switch {
	case err == nil:
		*r = rec
		if len(r.Data) == 0 {
			r.Data = json.RawMessage("null")
		}
		return nil
	case t.s.d.unique(err):
		return conflict(err, "%s named %q already exists in %s", r.Kind, r.Name, scopeOf(r.VDCID))
	case !isNoRows(err):
		return t.recordErr(err, "update", r.Kind, r.ID)
	}
	return t.missedVersion(ctx, r.Kind, r.ID, ifVersion)
}

// missedVersion explains why a versioned write changed nothing: the record
// is gone, or at another version.
func (t *tx) missedVersion(ctx context.Context, kind store.Kind, id ovm.ID, want int64) error {
	var have int64
	err := t.scan(ctx, `SELECT version FROM records WHERE kind = $1 AND id = $2`, []any{string(kind), string(id)}, &have)
	switch {
	case isNoRows(err):
		return notFound(string(kind), id)
	case err != nil:
		return t.recordErr(err, "read the version of", kind, id)
	}
	return versionMismatch(string(kind), id, have, want)
}

// Delete removes the record when its version is ifVersion (0: any).
func (t *tx) Delete(ctx context.Context, kind store.Kind, id ovm.ID, ifVersion int64) error {
	if ifVersion < 0 {
		return ovm.Invalid("invalid delete", ovm.FieldError{Field: "ifVersion", Reason: "must not be negative", Value: ifVersion})
	}
	t.touch(kind, id)
	q := `DELETE FROM records WHERE kind = $1 AND id = $2`
	args := []any{string(kind), string(id)}
	if ifVersion != 0 {
		q += ` AND version = $3`
		args = append(args, ifVersion)
	}
	n, err := t.exec(ctx, q, args...)
	if err != nil {
		return t.recordErr(err, "delete", kind, id)
	}
	if n == 0 {
		return t.missedVersion(ctx, kind, id, ifVersion)
	}
	return nil
}

// where renders a filter's conditions, numbering parameters from 1.
func where(f store.Filter) (string, []any, error) {
	if f.Kind == "" {
		return "", nil, ovm.Invalid("invalid filter", ovm.FieldError{Field: "kind", Reason: "must not be empty"})
	}
	conds := []string{"kind = $1"}
	args := []any{string(f.Kind)}
	add := func(col string, v ovm.ID) {
		args = append(args, string(v))
		conds = append(conds, col+" = $"+strconv.Itoa(len(args)))
	}
	if !f.VDCID.IsZero() || !f.AllVDCs {
		add("vdc_id", f.VDCID)
	}
	if !f.ParentID.IsZero() {
		add("parent_id", f.ParentID)
	}
	if !f.HostID.IsZero() {
		add("host_id", f.HostID)
	}
	return strings.Join(conds, " AND "), args, nil
}

// List returns the records f selects with an ID after p.After, in ID
// order, and the cursor of the next page ("" after the last). A VDCID
// filters to that VDC; without one, AllVDCs lists every scope and
// otherwise the platform scope is listed.
func (t *tx) List(ctx context.Context, f store.Filter, p store.Page) ([]store.Record, ovm.ID, error) {
	cond, args, err := where(f)
	if err != nil {
		return nil, "", err
	}
	limit, err := pageLimit(p)
	if err != nil {
		return nil, "", err
	}
	if !p.After.IsZero() {
		args = append(args, string(p.After))
		cond += " AND id > $" + strconv.Itoa(len(args))
	}
	args = append(args, limit+1)
	q := `SELECT ` + recordColumns + ` FROM records WHERE ` + cond + ` ORDER BY id LIMIT $` + strconv.Itoa(len(args))
	out, err := collect(ctx, t, scanRecord, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list %s: %w", f.Kind, err)
	}
	return page(out, limit, func(r store.Record) ovm.ID { return r.ID })
}

// page cuts a list fetched with one extra row to limit and returns the
// cursor of the next page.
func page[T any](rows []T, limit int, id func(T) ovm.ID) ([]T, ovm.ID, error) {
	if len(rows) <= limit {
		return rows, "", nil
	}
	rows = rows[:limit]
	return rows, id(rows[limit-1]), nil
}

// Count returns how many records f selects.
func (t *tx) Count(ctx context.Context, f store.Filter) (int64, error) {
	cond, args, err := where(f)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := t.scan(ctx, `SELECT count(*) FROM records WHERE `+cond, args, &n); err != nil {
		return 0, fmt.Errorf("store: count %s: %w", f.Kind, err)
	}
	return n, nil
}
