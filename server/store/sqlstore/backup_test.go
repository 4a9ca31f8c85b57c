package sqlstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// TestBackupWhileWriting copies the store while writers insert records:
// the copy opens as a store of its own and holds a prefix of the writes,
// each record whole.
func TestBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	s := openSQLite(t, filepath.Join(dir, "live"), WithExclusive())
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var written atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				r, err := store.NewRecord(store.KindDatacenter, ovm.NewID(), "", fmt.Sprintf("w%d-%d", w, i), map[string]int{"n": i})
				require.NoError(t, err)
				if err := s.Tx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.Insert(ctx, &r) }); err != nil {
					return
				}
				written.Add(1)
			}
		})
	}
	for written.Load() < 50 {
		time.Sleep(time.Millisecond)
	}
	copyDir := filepath.Join(dir, "copy")
	require.NoError(t, s.BackupTo(t.Context(), filepath.Join(dir, "backup.db")))
	before := written.Load()
	for written.Load() < before+50 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	wg.Wait()
	require.ErrorContains(t, s.BackupTo(t.Context(), filepath.Join(dir, "backup.db")), "exists")

	require.NoError(t, copyFile(filepath.Join(dir, "backup.db"), filepath.Join(copyDir, SQLiteFile)))
	c := openSQLite(t, copyDir)
	var inCopy, inLive int64
	require.NoError(t, c.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		var err error
		inCopy, err = tx.Count(ctx, store.Filter{Kind: store.KindDatacenter})
		return err
	}))
	require.NoError(t, s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		var err error
		inLive, err = tx.Count(ctx, store.Filter{Kind: store.KindDatacenter})
		return err
	}))
	assert.GreaterOrEqual(t, inCopy, int64(50), "the copy holds what was written before it")
	assert.Less(t, inCopy, inLive, "writes went on during and after the copy")
	t.Logf("copy: %d records, live: %d", inCopy, inLive)
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}
