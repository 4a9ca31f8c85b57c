package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// tx is one attempt of a transaction.
type tx struct {
	s  *Store
	tx *sql.Tx
	// retry is the first serialization failure a statement reported; the
	// attempt is retried even if fn swallowed it.
	retry error
}

var _ store.Tx = (*tx)(nil)

// note classifies a statement's error and remembers a serialization
// failure.
func (t *tx) note(err error) error {
	if err == nil || errors.Is(err, sql.ErrNoRows) {
		return err
	}
	err = t.s.classify(err)
	if t.retry == nil && retryable(err) {
		t.retry = err
	}
	return err
}

// exec runs a statement and returns the number of rows it changed.
func (t *tx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := t.tx.ExecContext(ctx, t.s.sql(q), args...)
	if err != nil {
		return 0, t.note(err)
	}
	n, err := res.RowsAffected()
	return n, t.note(err)
}

// query runs a query; the caller closes the rows and checks rows.Err
// through t.rowsErr.
func (t *tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	rows, err := t.tx.QueryContext(ctx, t.s.sql(q), args...)
	return rows, t.note(err)
}

// scan runs a query of one row into dest; no row is sql.ErrNoRows.
func (t *tx) scan(ctx context.Context, q string, args []any, dest ...any) error {
	return t.note(t.tx.QueryRowContext(ctx, t.s.sql(q), args...).Scan(dest...))
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// isNoRows reports that a one-row query found none.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// collect reads every row of a query with scanRow.
func collect[T any](ctx context.Context, t *tx, scanRow func(rowScanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scanRow(rows)
		if err != nil {
			return nil, t.note(err)
		}
		out = append(out, v)
	}
	return out, t.note(rows.Err())
}

// ts is the value a time column stores for tm.
func (t *tx) ts(tm time.Time) any { return t.s.d.timeArg(tm) }

// Now returns the database's clock (on PostgreSQL and CockroachDB, the
// transaction's timestamp).
func (t *tx) Now(ctx context.Context) (time.Time, error) {
	var now time.Time
	if err := t.scan(ctx, "SELECT {now}", nil, timeValue{&now}); err != nil {
		return time.Time{}, fmt.Errorf("store: read the database clock: %w", err)
	}
	return now, nil
}

// params returns "$from, $from+1, ..." for n parameters.
func params(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$")
		b.WriteString(strconv.Itoa(from + i))
	}
	return b.String()
}

// jsonArg is the value a JSON column stores for raw: the text itself (both
// drivers take a string as JSON text), "null" when raw is empty.
func jsonArg(raw []byte) any {
	if len(raw) == 0 {
		return "null"
	}
	return string(raw)
}

// jsonOrNull is like jsonArg but stores SQL NULL for empty raw.
func jsonOrNull(raw []byte) any {
	if len(raw) == 0 {
		return nil
	}
	return string(raw)
}

// micros converts a lease duration to whole microseconds, at least one.
func micros(d time.Duration) int64 { return max(d.Microseconds(), 1) }

// pageLimit checks a page size: 0 is 100, above 1000 is 1000.
func pageLimit(p store.Page) (int, error) {
	switch {
	case p.Limit < 0:
		return 0, ovm.Invalid("invalid page", ovm.FieldError{Field: "limit", Reason: "must not be negative", Value: p.Limit})
	case p.Limit == 0:
		return 100, nil
	case p.Limit > 1000:
		return 1000, nil
	}
	return p.Limit, nil
}
