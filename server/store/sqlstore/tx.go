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

// tx is one attempt of a transaction, or of a view (Store.View).
type tx struct {
	s *Store
	// tx is the database transaction; nil in a view that runs its one
	// statement on its own (single).
	tx *sql.Tx
	// view refuses every statement but a SELECT, with store.ErrReadOnly.
	view bool
	// single is a view without a transaction: its first statement runs on
	// the readers' pool on its own; a second one sets again and fails, and
	// the view runs again in a read-only transaction.
	single, used, again bool
	// retry is the first serialization failure a statement reported; the
	// attempt is retried even if fn swallowed it.
	retry error
	// touched lists the records a write transaction inserted, updated or
	// deleted, for the record cache.
	touched []recKey
	// now is the transaction's timestamp once read, on an engine whose
	// clock stands still within a transaction (PostgreSQL's now()).
	now time.Time
}

var _ store.Tx = (*tx)(nil)

// errAgain fails the second statement of a view that began without a
// transaction; Store.View runs the function again in one.
var errAgain = errors.New("store: a view read twice outside a transaction")

// start admits the next statement, q as the dialect expanded it, and
// returns the context it runs with.
func (t *tx) start(ctx context.Context, q string) (context.Context, error) {
	if t.view && !isSelect(q) {
		return ctx, store.ErrReadOnly
	}
	if t.view && t.s.d.detachViews {
		// A statement that cannot wait (see dialect.detachViews) runs to
		// its end: no watcher goroutines for a context that may end.
		if err := ctx.Err(); err != nil {
			return ctx, err
		}
		ctx = context.WithoutCancel(ctx)
	}
	if t.single {
		if t.used {
			t.again = true
			return ctx, errAgain
		}
		t.used = true
	}
	t.s.n.statements.Add(1)
	return ctx, nil
}

// isSelect reports whether a statement is a query that writes nothing.
func isSelect(q string) bool {
	q = strings.TrimLeft(q, " \t\r\n")
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT")
}

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
	return internal(err)
}

// exec runs a statement and returns the number of rows it changed.
func (t *tx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	x := t.s.sql(q)
	ctx, err := t.start(ctx, x)
	if err != nil {
		return 0, err
	}
	var res sql.Result
	if t.tx == nil {
		res, err = t.s.rdb.ExecContext(ctx, x, args...)
	} else {
		res, err = t.tx.ExecContext(ctx, x, args...)
	}
	if err != nil {
		return 0, t.note(err)
	}
	n, err := res.RowsAffected()
	return n, t.note(err)
}

// query runs a query; the caller closes the rows and checks rows.Err
// through t.rowsErr.
func (t *tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	x := t.s.sql(q)
	ctx, err := t.start(ctx, x)
	if err != nil {
		return nil, err
	}
	var rows *sql.Rows
	if t.tx == nil {
		rows, err = t.s.rdb.QueryContext(ctx, x, args...)
	} else {
		rows, err = t.tx.QueryContext(ctx, x, args...)
	}
	return rows, t.note(err)
}

// queryRow runs a query of one row; the caller scans it and passes the
// error through t.note.
func (t *tx) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	x := t.s.sql(q)
	ctx, err := t.start(ctx, x)
	if err != nil {
		return errRow{err}
	}
	if t.tx == nil {
		return t.s.rdb.QueryRowContext(ctx, x, args...)
	}
	return t.tx.QueryRowContext(ctx, x, args...)
}

// scan runs a query of one row into dest; no row is sql.ErrNoRows.
func (t *tx) scan(ctx context.Context, q string, args []any, dest ...any) error {
	return t.note(t.queryRow(ctx, q, args...).Scan(dest...))
}

// errRow is a row whose query was refused.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

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
	if !t.now.IsZero() {
		return t.now, nil
	}
	if t.s.d.localNow != nil {
		return t.s.d.localNow(), nil
	}
	var now time.Time
	if err := t.scan(ctx, "SELECT {now}", nil, timeValue{&now}); err != nil {
		return time.Time{}, fmt.Errorf("store: read the database clock: %w", err)
	}
	t.sawNow(now)
	return now, nil
}

// sawNow keeps the database's clock that a statement read (alone or
// beside its result) on an engine whose clock stands still within a
// transaction: the same value every later read would return, so a later
// Now costs no round trip.
func (t *tx) sawNow(now time.Time) {
	if t.tx != nil && t.s.d.fixedNow && !now.IsZero() {
		t.now = now
	}
}

// withNow is a row with one more column, the database's clock, scanned
// into now after the columns its caller scans.
type withNow struct {
	row rowScanner
	now *time.Time
}

func (r withNow) Scan(dest ...any) error { return r.row.Scan(append(dest, timeValue{r.now})...) }

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
