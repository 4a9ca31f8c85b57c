//go:build integration

package tasks

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	_ "github.com/openovm/ovm/server/store/sqlstore" // registers database/sql's "pgx" driver through pgx's stdlib
)

// integrationBackends adds PostgreSQL at OVM_TEST_DATABASE_URL (written by
// make testenv), each test in a schema of its own.
func integrationBackends() []backend {
	return []backend{{name: "postgres", fresh: freshPostgres}}
}

// freshPostgres creates an empty schema, dropped with t, and returns a DSN
// whose connections use it.
func freshPostgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv("OVM_TEST_DATABASE_URL")
	require.NotEmpty(t, base, "OVM_TEST_DATABASE_URL is not set: run make testenv and . ./.testenv")
	db, err := sql.Open("pgx", base)
	require.NoError(t, err, "open %s", base)
	schema := "ovm_tasks_" + strings.ReplaceAll(string(ovm.NewID()), "-", "")
	_, err = db.ExecContext(context.Background(), "CREATE SCHEMA "+schema)
	require.NoError(t, err, "create schema %s", schema)
	t.Cleanup(func() {
		_, err := db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		_ = db.Close()
	})
	u, err := url.Parse(base)
	require.NoError(t, err, "parse %s", base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return "postgres:" + u.String()
}
