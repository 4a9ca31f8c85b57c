package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

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
