//go:build integration

package sqlstore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

// TestPostgresBackupIsTheDatabases: the online backup is the embedded
// store's; PostgreSQL's is its own (pg_dump).
func TestPostgresBackupIsTheDatabases(t *testing.T) {
	s := openPostgres(t)
	err := s.BackupTo(t.Context(), filepath.Join(t.TempDir(), "copy.db"))
	require.Equal(t, ovm.KindUnsupported, ovm.KindOf(err), "%v", err)
	require.ErrorContains(t, err, "postgres")
}

func TestUpgradePostgres(t *testing.T) {
	testUpgrades(t, func(t *testing.T) opener {
		url := freshSchema(t)
		return func(t *testing.T, opts ...Option) *Store {
			s, err := OpenPostgres(context.Background(), url, opts...)
			require.NoError(t, err)
			return s
		}
	})
}

func TestPostgresRefusesNewerSchema(t *testing.T) {
	url := freshSchema(t)
	s, err := OpenPostgres(context.Background(), url)
	require.NoError(t, err)
	_, err = s.db.ExecContext(t.Context(), s.sql(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (1000000, 'from the future', {now})`))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = OpenPostgres(context.Background(), url)
	require.ErrorIs(t, err, ErrNewerSchema)
	require.ErrorContains(t, err, "a newer OVM server made it")
}
