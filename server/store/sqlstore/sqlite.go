package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"modernc.org/sqlite"
)

// SQLiteFile is the name of the database file in the data directory.
const SQLiteFile = "ovm.db"

// sqliteReaders is the number of read-only connections views use.
const sqliteReaders = 4

// OpenSQLite opens (creating it when needed) the embedded store in dir and
// applies the migrations. The database runs in WAL mode with a busy timeout
// of five seconds, foreign keys on and full synchronous commits; the store
// runs one database transaction at a time (BEGIN IMMEDIATE) on its one
// writer connection, so SQLite never reports SQLITE_BUSY to a caller from
// inside this process, and commits the write transactions that queued
// meanwhile together, each in a savepoint (see batcher). Views (Store.View) run on a few more connections that
// cannot write (query_only): in WAL mode they read beside the writer
// without waiting for it. Every connection keeps its statements prepared.
func OpenSQLite(ctx context.Context, dir string, opts ...Option) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create the data directory: %w", err)
	}
	o := newOptions(opts)
	var lock *os.File
	if o.exclusive {
		var err error
		if lock, err = lockDir(dir); err != nil {
			return nil, err
		}
	}
	path := filepath.Join(dir, SQLiteFile)
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(5000)", "foreign_keys(1)", "synchronous(FULL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := openSQLiteDB(path, q)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("store: open sqlite in %s: %w", dir, err), closeLock(lock))
	}
	// One writer connection: every transaction may write, and SQLite has
	// one writer; the store's batcher makes callers wait for it.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	d := sqliteDialect
	s, err := open(ctx, db, &d, 1, o)
	if err != nil {
		return nil, errors.Join(err, closeLock(lock))
	}
	if lock != nil {
		s.lock, s.cache = lock, newRecordCache()
	}
	// The readers open once the writer made the database WAL and applied
	// the migrations.
	q = url.Values{}
	for _, p := range []string{"busy_timeout(5000)", "foreign_keys(1)", "query_only(1)"} {
		q.Add("_pragma", p)
	}
	rdb, err := openSQLiteDB(path, q)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("store: open sqlite readers in %s: %w", dir, err), db.Close(), closeLock(lock))
	}
	rdb.SetMaxOpenConns(sqliteReaders)
	rdb.SetMaxIdleConns(sqliteReaders)
	rdb.SetConnMaxLifetime(0)
	s.rdb = rdb
	if err := s.Ping(ctx); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// openSQLiteDB returns a handle on the database file at path whose
// connections cache their prepared statements.
func openSQLiteDB(path string, q url.Values) (*sql.DB, error) {
	c, err := sqlite.NewConnector("file:" + path + "?" + q.Encode())
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(cachingConnector{Connector: c}), nil
}

// closeLock releases a data directory's lock, if any.
func closeLock(f *os.File) error {
	if f == nil {
		return nil
	}
	return f.Close()
}
