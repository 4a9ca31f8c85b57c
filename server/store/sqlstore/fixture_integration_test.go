//go:build integration

package sqlstore

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fixtureSchema stands for the schema's name in the PostgreSQL dump.
const fixtureSchema = "ovm_fixture_schema"

// TestSchemaFixturePostgres loads the PostgreSQL dump into a new schema,
// opens it with the current code, which migrates it, and reads everything
// back.
func TestSchemaFixturePostgres(t *testing.T) {
	dump := filepath.Join(fixtureDir, "postgres.sql")
	if *updateFixture {
		u := freshSchema(t)
		s, err := OpenPostgres(context.Background(), u)
		require.NoError(t, err)
		d := writeOld(t, s, len(migrations))
		require.NoError(t, s.Close())
		schema := schemaOf(t, u)
		base, err := url.Parse(databaseURL(t))
		require.NoError(t, err)
		out, err := exec.CommandContext(t.Context(), "pg_dump", "--schema="+schema, "--inserts", "--no-owner", "--no-privileges",
			"--dbname="+base.String()).Output()
		require.NoError(t, err, "pg_dump")
		require.NoError(t, os.MkdirAll(fixtureDir, 0o755))
		require.NoError(t, os.WriteFile(dump, []byte(strings.ReplaceAll(string(out), schema, fixtureSchema)), 0o644))
		saveFixture(t, "postgres.json", len(migrations), d)
	}
	d, n := loadFixture(t, "postgres.json")
	b, err := os.ReadFile(dump)
	require.NoError(t, err)
	u := freshSchema(t)
	schema := schemaOf(t, u)
	var stmts []string
	for _, line := range strings.Split(strings.ReplaceAll(string(b), fixtureSchema, schema), "\n") {
		// The session settings and the schema itself (freshSchema made it)
		// are not the dump's to set here.
		if strings.HasPrefix(line, "SET ") || strings.HasPrefix(line, "SELECT pg_catalog.set_config") ||
			strings.HasPrefix(line, "CREATE SCHEMA") || strings.HasPrefix(line, "--") || strings.HasPrefix(line, "\\") {
			continue
		}
		stmts = append(stmts, line)
	}
	db, err := sql.Open("pgx", databaseURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.ExecContext(t.Context(), strings.Join(stmts, "\n"))
	require.NoError(t, err, "load the dump")
	s, err := OpenPostgres(context.Background(), u)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	readNew(t, s, d, n)
}

// schemaOf returns the schema a freshSchema URL uses.
func schemaOf(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	require.NoError(t, err)
	s := p.Query().Get("search_path")
	require.NotEmpty(t, s)
	return s
}
