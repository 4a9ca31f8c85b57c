// Package pgtest gives each test a PostgreSQL schema of its own on the
// test cluster at OVM_TEST_DATABASE_URL (written to .testenv by
// scripts/testenv.sh).
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	neturl "net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// EnvURL names the environment variable with the test cluster's URL.
const EnvURL = "OVM_TEST_DATABASE_URL"

// Schema creates an empty schema ovm_<random> on the cluster at
// OVM_TEST_DATABASE_URL, dropped (with all it holds) when t ends, and
// returns the cluster's URL with search_path set to it, so that every
// connection opened with the URL works in the schema. It fails t when
// OVM_TEST_DATABASE_URL is unset or the schema cannot be made.
//
// The schema is dropped by a cleanup registered now: a store opened on the
// URL afterwards, and closed by a cleanup of its own, is closed first.
func Schema(t testing.TB) (url string) {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		t.Fatalf("%s is not set: run ./scripts/testenv.sh (make testenv) and . ./.testenv", EnvURL)
	}
	u, err := neturl.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", base, err)
	}
	schema := "ovm_" + randomHex()
	if _, err := db.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		_ = db.Close()
		t.Fatalf("create schema %s on %s: %v", schema, base, err)
	}
	t.Cleanup(func() {
		// Not t.Context(): it is cancelled before the cleanups run.
		if _, err := db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		_ = db.Close()
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// randomHex returns 32 random hexadecimal digits: a schema name's suffix
// that no other test picks.
func randomHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}
