//go:build integration

package tasks

import (
	"testing"

	"github.com/openovm/ovm/internal/pgtest"
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
	return "postgres:" + pgtest.Schema(t)
}
