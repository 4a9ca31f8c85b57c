package sqlstore

import (
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds what differs between the engines; everything else is one
// body of SQL. Queries name the differences with {tokens} that expand is
// given once per query text.
type dialect struct {
	name string
	// fixedNow: {now} is the same value all through a transaction, so a
	// transaction reads it once.
	fixedNow bool
	// localNow, when set, is the engine's clock read without a statement:
	// an engine that runs in this process (SQLite) reads the same system
	// clock as Go, so Tx.Now costs no round trip. It returns the value
	// {now} would, to the same precision.
	localNow func() time.Time
	// replacer expands {json}, {bytes}, {time}, {bool} (column types) and
	// {now} (the database's clock as a value of the {time} type).
	replacer *strings.Replacer
	// nowPlus returns the SQL of the database's clock plus param
	// microseconds.
	nowPlus func(param string) string
	// timeArg returns the value a {time} column stores for t (nil for the
	// zero time); scanTime reads it back.
	timeArg func(t time.Time) any
	// unique reports a unique or primary key violation.
	unique func(err error) bool
	// busy reports an engine failure that means "run the transaction
	// again" beyond SQLSTATE 40001.
	busy func(err error) bool
	// txOptions begins every transaction, viewOptions every read-only
	// transaction of a view.
	txOptions, viewOptions *sql.TxOptions
	// detachViews runs a view's statements to their end once started,
	// whatever their context: for an engine whose reads cannot wait on
	// anything (SQLite in WAL mode: readers never wait for the writer),
	// this spares the two watcher goroutines database/sql and the driver
	// start for each statement whose context may end. The context is
	// still checked before every statement.
	detachViews bool
}

// postgres is CockroachDB's and PostgreSQL's dialect.
var postgresDialect = dialect{
	name: "postgres",
	// now() is the transaction's start: the same all through it.
	fixedNow: true,
	replacer: strings.NewReplacer(
		"{json}", "JSONB", "{bytes}", "BYTEA", "{time}", "TIMESTAMPTZ", "{bool}", "BOOL",
		"{now}", "now()"),
	nowPlus: func(p string) string {
		return "(now() + CAST(" + p + " AS INT8) * INTERVAL '1 microsecond')"
	},
	timeArg: func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Truncate(time.Microsecond)
	},
	unique: func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "23505"
	},
	busy:        func(error) bool { return false },
	txOptions:   &sql.TxOptions{Isolation: sql.LevelSerializable},
	viewOptions: &sql.TxOptions{Isolation: sql.LevelSerializable, ReadOnly: true},
}

// sqliteNow is SQLite's clock in microseconds since the epoch, to the
// millisecond its 'subsec' modifier gives.
const sqliteNow = "(CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER) * 1000)"

// sqliteLocalNow is sqliteNow read in Go: SQLite runs in this process and
// its 'subsec' clock is the system's real-time clock that time.Now reads,
// in whole milliseconds (cut, not rounded).
func sqliteLocalNow() time.Time {
	return time.UnixMilli(time.Now().UnixMilli()).UTC()
}

// sqliteDialect is the embedded engine's dialect. Times are INTEGER
// microseconds since the epoch, so that they compare and add as numbers.
var sqliteDialect = dialect{
	name: "sqlite",
	replacer: strings.NewReplacer(
		"{json}", "TEXT", "{bytes}", "BLOB", "{time}", "INTEGER", "{bool}", "BOOLEAN",
		"{now}", sqliteNow),
	nowPlus:  func(p string) string { return "(" + sqliteNow + " + " + p + ")" },
	localNow: sqliteLocalNow,
	timeArg: func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UnixMicro()
	},
	unique: func(err error) bool {
		var se *sqlite.Error
		if !errors.As(err, &se) {
			return false
		}
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	},
	busy: func(err error) bool {
		var se *sqlite.Error
		if !errors.As(err, &se) {
			return false
		}
		c := se.Code() & 0xff // the primary code of an extended one
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	},
	txOptions: &sql.TxOptions{Isolation: sql.LevelSerializable},
	// A read-only transaction is SQLite's BEGIN DEFERRED: a snapshot from
	// its first read, no lock against the writer in WAL mode.
	viewOptions: &sql.TxOptions{Isolation: sql.LevelSerializable, ReadOnly: true},
	detachViews: true,
}

// timeValue scans a {time} column of either dialect into a time.Time: a
// time.Time from PostgreSQL, microseconds from SQLite, NULL as the zero
// time. Times come back in UTC.
type timeValue struct{ t *time.Time }

// Scan implements sql.Scanner.
func (v timeValue) Scan(src any) error {
	switch s := src.(type) {
	case nil:
		*v.t = time.Time{}
	case time.Time:
		*v.t = s.UTC()
	case int64:
		*v.t = time.UnixMicro(s).UTC()
	default:
		return errors.New("sqlstore: a time column holds neither a time nor microseconds")
	}
	return nil
}

// retryError marks an engine failure that means "run the transaction
// again" (SQLITE_BUSY) with SQLSTATE 40001, so that one classification,
// cockroach-go's, decides retries for both engines.
type retryError struct{ err error }

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// SQLState reports a serialization failure.
func (e *retryError) SQLState() string { return "40001" }

// retryable reports whether err asks for the transaction to run again:
// SQLSTATE 40001 or CockroachDB's legacy CR000, found as cockroach-go finds
// them (an error in the chain with a SQLState method: pgconn.PgError and
// retryError).
func retryable(err error) bool {
	var s interface{ SQLState() string }
	if !errors.As(err, &s) {
		return false
	}
	code := s.SQLState()
	return code == "40001" || code == "CR000"
}
