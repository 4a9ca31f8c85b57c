package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SQLiteFile is the name of the database file in the data directory.
const SQLiteFile = "ovm.db"

// OpenSQLite opens (creating it when needed) the embedded store in dir and
// applies the migrations. The database runs in WAL mode with a busy timeout
// of five seconds, foreign keys on and full synchronous commits; the store
// runs one transaction at a time (BEGIN IMMEDIATE), so SQLite never reports
// SQLITE_BUSY to a caller from inside this process.
func OpenSQLite(ctx context.Context, dir string, opts ...Option) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create the data directory: %w", err)
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(5000)", "foreign_keys(1)", "synchronous(FULL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + filepath.Join(dir, SQLiteFile) + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite in %s: %w", dir, err)
	}
	// One connection: every transaction may write, and SQLite has one
	// writer; the store's semaphore makes callers wait for it.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	d := sqliteDialect
	return open(ctx, db, &d, 1, newOptions(opts))
}
