package sqlstore

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// TestMigrationList: versions grow (a range of versions is reserved per
// line of work, so there may be gaps) with unique names, and every
// statement is idempotent DDL in the dialect's tokens.
func TestMigrationList(t *testing.T) {
	names := map[string]bool{}
	// Versions grow (with gaps: each line of work has a range of its own).
	for i, m := range migrations {
		if i > 0 {
			assert.Greater(t, m.version, migrations[i-1].version, "version of migration %d (%s)", i, m.name)
		}
		assert.False(t, names[m.name], "migration name %q twice", m.name)
		names[m.name] = true
		assert.Regexp(t, `^CREATE (UNIQUE )?(TABLE|INDEX) IF NOT EXISTS `, m.ddl, "migration %d", m.version)
	}
	assert.Equal(t, migrations[len(migrations)-1].version, SchemaVersion())
}

// appliedMigrations reads schema_migrations.
func appliedMigrations(t *testing.T, s *Store) map[int64]time.Time {
	t.Helper()
	rows, err := s.db.QueryContext(t.Context(), `SELECT version, applied_at FROM schema_migrations`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[int64]time.Time{}
	for rows.Next() {
		var v int64
		var at time.Time
		require.NoError(t, rows.Scan(&v, timeValue{&at}))
		out[v] = at
	}
	require.NoError(t, rows.Err())
	return out
}

// testMigrations: opening a store applies every migration once; opening
// it again changes nothing; servers opening one empty database at once
// all succeed, with every migration applied once and the lease given back.
// fresh returns the key of a new empty database, open opens a store on it.
func testMigrations(t *testing.T, fresh func(t *testing.T) string, open func(ctx context.Context, key string) (*Store, error)) {
	openT := func(t *testing.T, key string) *Store {
		s, err := open(t.Context(), key)
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, s.Close()) })
		return s
	}
	t.Run("twice", func(t *testing.T) {
		key := fresh(t)
		first := appliedMigrations(t, openT(t, key))
		require.Len(t, first, len(migrations), "applied migrations")
		for _, m := range migrations {
			assert.Contains(t, first, m.version)
		}
		again := appliedMigrations(t, openT(t, key))
		assert.Equal(t, first, again, "a second open applies nothing")
	})
	t.Run("after a crash", func(t *testing.T) {
		// A server died while migrating: its lease is still valid for a
		// while and the last migration is not recorded.
		const left = 500 * time.Millisecond
		key := fresh(t)
		dead := openT(t, key)
		last := migrations[len(migrations)-1]
		_, err := dead.db.ExecContext(t.Context(), `DELETE FROM schema_migrations WHERE version = $1`, last.version)
		require.NoError(t, err)
		_, err = dead.db.ExecContext(t.Context(), dead.sql(`INSERT INTO schema_lease (name, holder, expires_at)
			VALUES ('migrate', 'crashed', `+dead.d.nowPlus("$1")+`)`), left.Microseconds())
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(t.Context(), left/5)
		defer cancel()
		_, err = open(ctx, key)
		require.ErrorIs(t, err, context.DeadlineExceeded, "opening while another server holds the lease waits")

		start := time.Now()
		s := openT(t, key)
		assert.GreaterOrEqual(t, time.Since(start), left/2, "the new server waited for the lease to expire")
		assert.Len(t, appliedMigrations(t, s), len(migrations), "the unrecorded migration is applied again")
	})
	t.Run("at once", func(t *testing.T) {
		const servers = 4
		key := fresh(t)
		stores := make(chan *Store, servers)
		errs := make(chan error, servers)
		for range servers {
			go func() {
				s, err := open(t.Context(), key)
				errs <- err
				stores <- s
			}()
		}
		var opened []*Store
		for range servers {
			require.NoError(t, <-errs)
			s := <-stores
			opened = append(opened, s)
			t.Cleanup(func() { assert.NoError(t, s.Close()) })
		}
		assert.Len(t, appliedMigrations(t, opened[0]), len(migrations), "each migration recorded once")
		var leases int
		require.NoError(t, opened[0].db.QueryRowContext(t.Context(), `SELECT count(*) FROM schema_lease`).Scan(&leases))
		assert.Zero(t, leases, "the migration lease is given back")
		for i, s := range opened {
			require.NoError(t, s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
				_, err := tx.Count(ctx, store.Filter{Kind: store.KindHost})
				return err
			}), "store %d works", i)
		}
	})
}

// testDriverErrorKept: a unique violation is ovm.ErrConflict naming the
// object, with the driver's error in the chain but not in the text.
func testDriverErrorKept(t *testing.T, s *Store, isUnique func(error) bool) {
	vdc := ovm.NewID()
	a, err := store.NewRecord(store.KindNetwork, ovm.NewID(), vdc, "lan", nil)
	require.NoError(t, err)
	b, err := store.NewRecord(store.KindNetwork, ovm.NewID(), vdc, "wan", nil)
	require.NoError(t, err)
	require.NoError(t, s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
		if err := tx.Insert(ctx, &a); err != nil {
			return err
		}
		return tx.Insert(ctx, &b)
	}))
	b.Name = "lan"
	err = s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.Update(ctx, &b, 0) })
	require.ErrorIs(t, err, ovm.ErrConflict)
	assert.True(t, isUnique(err), "the driver's unique violation is in the chain of %q", err)
	assert.Equal(t, `network named "lan" already exists in vdc `+string(vdc), err.Error())
	assert.ErrorIs(t, err, ovm.ErrInternal, "the driver's error is classified internal where it arises")
	assert.Equal(t, err.Error(), ovm.PublicMessage(err), "a client reads the conflict, not the driver's text")

	// A statement the database refuses is the store's own failure:
	// internal, its text for logs only.
	err = s.Tx(t.Context(), func(ctx context.Context, stx store.Tx) error {
		_, err := stx.(*tx).exec(ctx, `UPDATE records SET no_such_column = 1 WHERE id = $1`, "x")
		return err
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, ovm.ErrInternal, "a refused statement: %q", err)
	assert.Equal(t, ovm.KindInternal, ovm.KindOf(err), "a refused statement: %q", err)
	assert.Empty(t, ovm.PublicMessage(err), "a refused statement has no text for clients")
}

// benchmarkTx measures a small transaction: insert a record, update it.
func benchmarkTx(b *testing.B, s *Store) {
	ctx := context.Background()
	vdc := ovm.NewID()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		err := s.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
			r := store.Record{Kind: store.KindInstance, ID: ovm.NewID(), VDCID: vdc, Name: "vm-" + strconv.Itoa(i),
				Data: json.RawMessage(`{"state":"creating"}`)}
			if err := tx.Insert(ctx, &r); err != nil {
				return err
			}
			r.Data = json.RawMessage(`{"state":"running"}`)
			return tx.Update(ctx, &r, r.Version)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
