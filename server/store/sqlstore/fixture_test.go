package sqlstore

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// The schema fixtures are databases made by this schema and kept in
// testdata/fixture: a SQLite file and a PostgreSQL dump, each with what was
// written into it. Every later schema change must migrate them with nothing
// lost. -update-fixture makes them again (for a new fixture version; the
// old ones stay as they are).
var updateFixture = flag.Bool("update-fixture", false, "write the schema fixtures of the current schema to testdata/fixture")

// fixtureDir is where the fixtures of one schema version live.
var fixtureDir = filepath.Join("testdata", "fixture", "schema-81")

// fixtureData is upgradeData as JSON.
type fixtureData struct {
	Migrations int              `json:"migrations"`
	VDC        ovm.ID           `json:"vdc"`
	Host       ovm.ID           `json:"host"`
	Network    ovm.ID           `json:"network"`
	Records    []store.Record   `json:"records"`
	Task       store.TaskRecord `json:"task"`
	Token      store.Token      `json:"token"`
}

func saveFixture(t *testing.T, name string, n int, d upgradeData) {
	t.Helper()
	b, err := json.MarshalIndent(fixtureData{Migrations: n, VDC: d.vdc, Host: d.host, Network: d.network, Records: d.records, Task: d.task, Token: d.token}, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(fixtureDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(fixtureDir, name), append(b, '\n'), 0o644))
}

func loadFixture(t *testing.T, name string) (upgradeData, int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	require.NoError(t, err, "the fixture; make it with -update-fixture")
	var f fixtureData
	require.NoError(t, json.Unmarshal(b, &f))
	return upgradeData{vdc: f.VDC, host: f.Host, network: f.Network, records: f.Records, task: f.Task, token: f.Token}, f.Migrations
}

// TestSchemaFixtureSQLite opens a copy of the SQLite fixture with the
// current code, which migrates it, and reads everything back.
func TestSchemaFixtureSQLite(t *testing.T) {
	db := filepath.Join(fixtureDir, SQLiteFile)
	if *updateFixture {
		dir := t.TempDir()
		s, err := OpenSQLite(context.Background(), dir)
		require.NoError(t, err)
		d := writeOld(t, s, len(migrations))
		require.NoError(t, os.MkdirAll(fixtureDir, 0o755))
		_ = os.Remove(db)
		require.NoError(t, s.BackupTo(t.Context(), db))
		require.NoError(t, s.Close())
		saveFixture(t, "sqlite.json", len(migrations), d)
	}
	d, n := loadFixture(t, "sqlite.json")
	b, err := os.ReadFile(db)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, SQLiteFile), b, 0o600))
	s, err := OpenSQLite(context.Background(), dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	readNew(t, s, d, n)
}
