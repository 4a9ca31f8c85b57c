package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/store/storetest"
)

// openSQLite opens a store in dir (a fresh temporary one when empty).
func openSQLite(t testing.TB, dir string, opts ...Option) *Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := OpenSQLite(context.Background(), dir, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openSQLite(t, "") })
}

func TestSQLiteRetry(t *testing.T) {
	storetest.RunRetry(t, storetest.Faults{
		Open: func(t *testing.T, inject func(int) error) store.Store {
			return openSQLite(t, "", WithFaultInjector(inject))
		},
		SerializationFailure: sqliteBusy,
		Concurrent:           false, // one transaction at a time
	})
}

// sqliteBusy provokes a genuine SQLITE_BUSY: a second connection asks for
// the write lock another one holds, without waiting.
func sqliteBusy(t *testing.T) error {
	path := filepath.Join(t.TempDir(), "busy.db")
	holder, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	require.NoError(t, err)
	defer holder.Close()
	tx, err := holder.Begin()
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	other, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate&_pragma=busy_timeout(0)")
	require.NoError(t, err)
	defer other.Close()
	_, err = other.Begin()
	var se *sqlite.Error
	require.ErrorAs(t, err, &se, "a second writer")
	require.Equal(t, sqlite3.SQLITE_BUSY, se.Code(), "sqlite code: got %d, want SQLITE_BUSY", se.Code())
	return err
}

// TestSQLiteOneWriter: transactions never overlap, so SQLite never has two
// writers to refuse.
func TestSQLiteOneWriter(t *testing.T) {
	s := openSQLite(t, "")
	var active, peak atomic.Int32
	errs := make(chan error, 16)
	for range cap(errs) {
		go func() {
			errs <- s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
				n := active.Add(1)
				defer active.Add(-1)
				if n > peak.Load() {
					peak.Store(n)
				}
				time.Sleep(time.Millisecond)
				_, err := tx.Now(ctx)
				return err
			})
		}()
	}
	for range cap(errs) {
		require.NoError(t, <-errs)
	}
	assert.Equal(t, int32(1), peak.Load(), "transactions running at once")
}

// TestSQLiteWaitsForOtherWriter: another process's write transaction makes
// the store wait (busy timeout), not fail.
func TestSQLiteWaitsForOtherWriter(t *testing.T) {
	dir := t.TempDir()
	s := openSQLite(t, dir)
	other, err := sql.Open("sqlite", "file:"+filepath.Join(dir, SQLiteFile)+"?_txlock=immediate")
	require.NoError(t, err)
	defer other.Close()
	tx, err := other.Begin()
	require.NoError(t, err)
	_, err = tx.Exec(`INSERT INTO leases (name, holder, epoch, expires_at) VALUES ('x', 'other', 1, 0)`)
	require.NoError(t, err)
	released := make(chan struct{})
	go func() {
		time.Sleep(200 * time.Millisecond)
		_ = tx.Commit()
		close(released)
	}()
	err = s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, _, err := tx.AcquireLease(ctx, "y", "me", time.Minute)
		return err
	})
	<-released
	require.NoError(t, err)
}

// TestSQLiteReadersCannotWrite: the connections views use refuse writes
// themselves (query_only), beside the store's own check.
func TestSQLiteReadersCannotWrite(t *testing.T) {
	s := openSQLite(t, "")
	_, err := s.rdb.ExecContext(t.Context(), `INSERT INTO leases (name, holder, epoch, expires_at) VALUES ('x', 'me', 1, 0)`)
	var se *sqlite.Error
	require.ErrorAs(t, err, &se, "a write on a reader connection")
	assert.Equal(t, sqlite3.SQLITE_READONLY, se.Code()&0xff, "sqlite code: got %d, want SQLITE_READONLY", se.Code())
	assert.NotSame(t, s.db, s.rdb, "views have a pool of their own")
}

// TestSQLiteStatementCache: a query run again while its first rows are
// still open gets a statement of its own, and a statement that failed is
// not reused; results stay right throughout.
func TestSQLiteStatementCache(t *testing.T) {
	s := openSQLite(t, "")
	vdc := ovm.NewID()
	require.NoError(t, s.Tx(t.Context(), func(ctx context.Context, stx store.Tx) error {
		for i := range 3 {
			r, err := store.NewRecord(store.KindNetwork, ovm.NewID(), vdc, "n"+strconv.Itoa(i), map[string]int{"n": i})
			if err != nil {
				return err
			}
			if err := stx.Insert(ctx, &r); err != nil {
				return err
			}
		}
		return nil
	}))
	const q = `SELECT name FROM records WHERE vdc_id = $1 ORDER BY name`
	for _, view := range []bool{false, true} {
		run := s.Tx
		if view {
			run = s.View
		}
		var outer, inner []string
		require.NoError(t, run(t.Context(), func(ctx context.Context, stx store.Tx) error {
			outer, inner = nil, nil
			t := stx.(*tx)
			rows, err := t.query(ctx, q, string(vdc))
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var name string
				if err := rows.Scan(&name); err != nil {
					return err
				}
				outer = append(outer, name)
				// The same text while the first rows are open.
				names, err := collect(ctx, t, func(r rowScanner) (string, error) {
					var n string
					return n, r.Scan(&n)
				}, q, string(vdc))
				if err != nil {
					return err
				}
				inner = append(inner, names...)
			}
			return rows.Err()
		}), "view %v", view)
		assert.Equal(t, []string{"n0", "n1", "n2"}, outer, "outer rows (view %v)", view)
		assert.Equal(t, slices.Repeat([]string{"n0", "n1", "n2"}, 3), inner, "inner rows (view %v)", view)
	}
	// A failing statement, then the same text succeeding.
	dup := func() error {
		return s.Tx(t.Context(), func(ctx context.Context, stx store.Tx) error {
			_, err := stx.(*tx).exec(ctx, `INSERT INTO leases (name, holder, epoch, expires_at) VALUES ($1, 'me', 1, 0)`, "l")
			return err
		})
	}
	require.NoError(t, dup())
	require.Error(t, dup(), "a duplicate lease")
	require.NoError(t, s.Tx(t.Context(), func(ctx context.Context, stx store.Tx) error {
		_, err := stx.(*tx).exec(ctx, `DELETE FROM leases WHERE name = $1`, "l")
		return err
	}))
	require.NoError(t, dup(), "the statement that failed runs again")
}

func TestSQLiteMigrations(t *testing.T) {
	testMigrations(t, func(t *testing.T) string { return t.TempDir() },
		func(ctx context.Context, dir string) (*Store, error) { return OpenSQLite(ctx, dir) })
}

func TestSQLiteDriverErrorKept(t *testing.T) {
	testDriverErrorKept(t, openSQLite(t, ""), func(err error) bool {
		var se *sqlite.Error
		return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	})
}

func BenchmarkTx(b *testing.B) {
	benchmarkTx(b, openSQLite(b, ""))
}

// TestSQLiteLocalNow: the clock Tx.Now reads in Go on SQLite is the one
// {now} reads in SQL, to its millisecond, and Now runs no statement.
func TestSQLiteLocalNow(t *testing.T) {
	s := openSQLite(t, "")
	for range 20 {
		require.NoError(t, s.Tx(t.Context(), func(ctx context.Context, stx store.Tx) error {
			x := stx.(*tx)
			before := s.Stats().Statements
			local, err := x.Now(ctx)
			require.NoError(t, err)
			assert.Equal(t, before, s.Stats().Statements, "Now runs no statement on SQLite")
			var db time.Time
			require.NoError(t, x.scan(ctx, "SELECT {now}", nil, timeValue{&db}))
			after, err := x.Now(ctx)
			require.NoError(t, err)
			assert.Zero(t, local.Nanosecond()%int(time.Millisecond), "Now has SQLite's millisecond precision: %s", local)
			assert.False(t, db.Before(local), "SQL's clock %s is before Go's %s read first", db, local)
			assert.False(t, after.Before(db), "Go's clock %s read last is before SQL's %s", after, db)
			assert.Less(t, after.Sub(local), 50*time.Millisecond)
			return nil
		}))
	}
}
