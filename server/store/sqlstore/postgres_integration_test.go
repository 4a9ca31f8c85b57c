//go:build integration

package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/store/storetest"
)

// databaseURL is the test database that scripts/testenv.sh prepared.
func databaseURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("OVM_TEST_DATABASE_URL")
	if u == "" {
		t.Fatal("OVM_TEST_DATABASE_URL is not set: run `make testenv` and `. ./.testenv`")
	}
	return u
}

// freshSchema creates an empty schema in the test database, dropped in
// t.Cleanup, and returns a URL whose connections use it.
func freshSchema(t testing.TB) string {
	t.Helper()
	base := databaseURL(t)
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "ovm_test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	_, err = admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema)
	require.NoError(t, err, "create schema %s", schema)
	t.Cleanup(func() {
		_, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		assert.NoError(t, err, "drop schema %s", schema)
		assert.NoError(t, admin.Close())
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// openPostgres opens a store on a fresh schema.
func openPostgres(t testing.TB, opts ...Option) *Store {
	t.Helper()
	s, err := OpenPostgres(context.Background(), freshSchema(t), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

func TestPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openPostgres(t) })
}

func TestPostgresRetry(t *testing.T) {
	storetest.RunRetry(t, storetest.Faults{
		Open: func(t *testing.T, inject func(int) error) store.Store {
			return openPostgres(t, WithFaultInjector(inject))
		},
		SerializationFailure: func(*testing.T) error {
			return &pgconn.PgError{Severity: "ERROR", Code: "40001",
				Message: "could not serialize access due to read/write dependencies among transactions"}
		},
		Concurrent: true,
	})
}

// TestPostgresSerializable: every transaction is SERIALIZABLE, whatever
// the server's default.
func TestPostgresSerializable(t *testing.T) {
	s := openPostgres(t, WithMaxConns(1)) // the session setting and the Tx share the connection
	_, err := s.db.ExecContext(t.Context(), "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED")
	require.NoError(t, err)
	var level string
	require.NoError(t, s.Tx(t.Context(), func(ctx context.Context, stx store.Tx) error {
		return stx.(*tx).tx.QueryRowContext(ctx, "SHOW transaction_isolation").Scan(&level)
	}))
	assert.Equal(t, "serializable", level)
}

// TestPostgresViewSerializable: a view's lone statement runs serializable
// whatever the URL asks as the session default, and a view that reads more
// than once runs in a SERIALIZABLE READ ONLY transaction.
func TestPostgresViewSerializable(t *testing.T) {
	u, err := url.Parse(freshSchema(t))
	require.NoError(t, err)
	q := u.Query()
	q.Set("default_transaction_isolation", "read committed")
	u.RawQuery = q.Encode()
	s, err := OpenPostgres(t.Context(), u.String())
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	var single, iso, ro string
	require.NoError(t, s.View(t.Context(), func(ctx context.Context, stx store.Tx) error {
		return stx.(*tx).queryRow(ctx, "SELECT current_setting('transaction_isolation')").Scan(&single)
	}))
	assert.Equal(t, "serializable", single, "isolation of a view's lone statement")
	require.NoError(t, s.View(t.Context(), func(ctx context.Context, stx store.Tx) error {
		if err := stx.(*tx).queryRow(ctx, "SELECT current_setting('transaction_isolation')").Scan(&iso); err != nil {
			return err
		}
		return stx.(*tx).queryRow(ctx, "SELECT current_setting('transaction_read_only')").Scan(&ro)
	}))
	assert.Equal(t, "serializable", iso, "isolation of a view's transaction")
	assert.Equal(t, "on", ro, "a view's transaction is read-only")
}

func TestPostgresMigrations(t *testing.T) {
	testMigrations(t, func(t *testing.T) string { return freshSchema(t) },
		func(ctx context.Context, u string) (*Store, error) { return OpenPostgres(ctx, u) })
}

func TestPostgresDriverErrorKept(t *testing.T) {
	testDriverErrorKept(t, openPostgres(t), func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "23505"
	})
}

func TestPostgresMissingDatabase(t *testing.T) {
	u, err := url.Parse(databaseURL(t))
	require.NoError(t, err)
	u.Path = "/ovm_no_such_database"
	_, err = OpenPostgres(t.Context(), u.String())
	require.Error(t, err, "opening a database that does not exist")
}

func BenchmarkTxPostgres(b *testing.B) {
	benchmarkTx(b, openPostgres(b))
}

// TestPostgresClockRidesAlong: the statements of a placing transaction
// and of a claim that read the database's clock beside their result (the
// pool cursor, the claim) leave Now and the task saves that follow
// without a round trip of their own, with the transaction's clock; the
// counters see the statements the store ran.
func TestPostgresClockRidesAlong(t *testing.T) {
	s := openPostgres(t)
	ctx := t.Context()
	pool := ovm.NewID()
	task := store.TaskRecord{Task: ovm.Task{ID: ovm.NewID(), Kind: "k"}}
	for _, tc := range []struct {
		name string
		read func(ctx context.Context, tx store.Tx) error
	}{
		{"pool cursor", func(ctx context.Context, tx store.Tx) error {
			c, err := tx.PoolCursor(ctx, pool)
			assert.Empty(t, c, "a pool without a cursor")
			return err
		}},
		{"claim", func(ctx context.Context, tx store.Tx) error {
			_, ok, err := tx.ClaimTask(ctx, "me", time.Minute, nil)
			assert.True(t, ok, "the task is claimed")
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "claim" {
				require.NoError(t, s.Tx(ctx, func(ctx context.Context, stx store.Tx) error { return stx.CreateTask(ctx, &task) }))
			}
			require.NoError(t, s.Tx(ctx, func(ctx context.Context, stx store.Tx) error {
				if err := tc.read(ctx, stx); err != nil {
					return err
				}
				before := s.Stats().Statements
				got, err := stx.Now(ctx)
				require.NoError(t, err)
				assert.Equal(t, before, s.Stats().Statements, "Now ran no statement")
				var want time.Time
				require.NoError(t, stx.(*tx).tx.QueryRowContext(ctx, "SELECT now()").Scan(&want))
				assert.True(t, want.Equal(got), "Now %s, the transaction's clock %s", got, want)
				return nil
			}))
		})
	}
	st := s.Stats()
	assert.Positive(t, st.Transactions)
	assert.Positive(t, st.Statements)
}
