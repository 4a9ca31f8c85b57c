//go:build integration

package controllers_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/store/sqlstore"
)

// integrationBackends adds PostgreSQL at OVM_TEST_DATABASE_URL, each test
// in a schema of its own.
func integrationBackends() []backend {
	return []backend{{name: "postgres", open: openPostgres}}
}

func openPostgres(t testing.TB) store.Store {
	t.Helper()
	base := os.Getenv("OVM_TEST_DATABASE_URL")
	require.NotEmpty(t, base, "OVM_TEST_DATABASE_URL is not set: run make testenv and . ./.testenv")
	db, err := sql.Open("pgx", base)
	require.NoError(t, err, "open %s", base)
	schema := "ovm_ctl_" + strings.ReplaceAll(string(ovm.NewID()), "-", "")
	_, err = db.ExecContext(context.Background(), "CREATE SCHEMA "+schema)
	require.NoError(t, err, "create schema %s", schema)
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	st, err := sqlstore.OpenPostgres(context.Background(), u.String(), sqlstore.WithMaxConns(16))
	require.NoError(t, err, "open postgres")
	t.Cleanup(func() {
		_ = st.Close()
		if _, err := db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		_ = db.Close()
	})
	return st
}
