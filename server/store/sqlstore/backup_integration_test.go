//go:build integration

package sqlstore

import (
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
