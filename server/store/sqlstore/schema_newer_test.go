package sqlstore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

// TestRefusesNewerSchema: a database a newer server migrated (a migration
// this server does not know) is refused with a message that says so.
func TestRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSQLite(context.Background(), dir)
	require.NoError(t, err)
	_, err = s.db.ExecContext(t.Context(), s.sql(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (1000000, 'from the future', {now})`))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = OpenSQLite(context.Background(), dir)
	require.ErrorIs(t, err, ErrNewerSchema)
	require.ErrorContains(t, err, "a newer OVM server made it")
	require.Equal(t, ovm.KindUnavailable, ovm.KindOf(err))
}
