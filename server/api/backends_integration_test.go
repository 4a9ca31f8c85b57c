//go:build integration

package api

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/pgtest"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/store/sqlstore"
)

// integrationBackends adds PostgreSQL at OVM_TEST_DATABASE_URL (make
// testenv), each test in a schema of its own.
func integrationBackends() []backend {
	return []backend{{name: "postgres", open: openPostgres}}
}

func openPostgres(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlstore.OpenPostgres(context.Background(), pgtest.Schema(t), sqlstore.WithMaxConns(32))
	require.NoError(t, err, "open postgres")
	t.Cleanup(func() { _ = st.Close() }) // before pgtest drops the schema
	return st
}
