package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/store/storetest"
)

// TestSQLiteExclusive runs the whole store suite on an exclusive store,
// whose one-read views read the record cache.
func TestSQLiteExclusive(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openSQLite(t, "", WithExclusive()) })
}

// TestExclusiveLock: a second exclusive open of a data directory is a
// conflict naming the directory; after Close the directory is free.
func TestExclusiveLock(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSQLite(context.Background(), dir, WithExclusive())
	require.NoError(t, err)
	_, err = OpenSQLite(context.Background(), dir, WithExclusive())
	require.ErrorIs(t, err, ovm.ErrConflict)
	assert.Contains(t, err.Error(), "in use by another ovm server")
	assert.Contains(t, err.Error(), dir)
	require.NoError(t, s.Close())
	s2, err := OpenSQLite(context.Background(), dir, WithExclusive())
	require.NoError(t, err, "the lock goes with Close")
	require.NoError(t, s2.Close())
}

// getView reads a record in a one-read view.
func getView(t testing.TB, s *Store, kind store.Kind, id ovm.ID) (store.Record, error) {
	var r store.Record
	err := s.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		r, err = tx.Get(ctx, kind, id)
		return err
	})
	return r, err
}

// TestRecordCacheFollowsWrites: a cached record read after an update, a
// delete, a rolled-back update and a re-insert is always what the last
// committed transaction left.
func TestRecordCacheFollowsWrites(t *testing.T) {
	s := openSQLite(t, "", WithExclusive())
	ctx := context.Background()
	id := ovm.NewID()
	put := func(data string) {
		require.NoError(t, s.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
			r, err := tx.Get(ctx, store.KindDatacenter, id)
			if ovm.KindOf(err) == ovm.KindNotFound {
				r = store.Record{Kind: store.KindDatacenter, ID: id, Name: "dc", Data: []byte(data)}
				return tx.Insert(ctx, &r)
			}
			r.Data = []byte(data)
			return tx.Update(ctx, &r, 0)
		}))
	}
	put(`{"n":1}`)
	for range 2 { // the second read is a cache hit
		r, err := getView(t, s, store.KindDatacenter, id)
		require.NoError(t, err)
		assert.JSONEq(t, `{"n":1}`, string(r.Data))
	}
	put(`{"n":2}`)
	r, err := getView(t, s, store.KindDatacenter, id)
	require.NoError(t, err)
	assert.JSONEq(t, `{"n":2}`, string(r.Data), "after an update")
	assert.Equal(t, int64(2), r.Version)

	err = s.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := tx.Get(ctx, store.KindDatacenter, id)
		if err != nil {
			return err
		}
		r.Data = []byte(`{"n":99}`)
		if err := tx.Update(ctx, &r, 0); err != nil {
			return err
		}
		return fmt.Errorf("roll back")
	})
	require.Error(t, err)
	r, err = getView(t, s, store.KindDatacenter, id)
	require.NoError(t, err)
	assert.JSONEq(t, `{"n":2}`, string(r.Data), "a rolled-back update is not seen")

	require.NoError(t, s.Tx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.Delete(ctx, store.KindDatacenter, id, 0) }))
	_, err = getView(t, s, store.KindDatacenter, id)
	require.ErrorIs(t, err, ovm.ErrNotFound, "after a delete")
	put(`{"n":3}`)
	r, err = getView(t, s, store.KindDatacenter, id)
	require.NoError(t, err)
	assert.JSONEq(t, `{"n":3}`, string(r.Data), "after a re-insert")
	assert.Equal(t, int64(1), r.Version)
}

// TestRecordCacheRace: readers racing with a writer never leave a stale
// record in the cache: once the writer is done, every read sees its last
// version.
func TestRecordCacheRace(t *testing.T) {
	s := openSQLite(t, "", WithExclusive())
	ctx := context.Background()
	ids := make([]ovm.ID, 4)
	for i := range ids {
		ids[i] = ovm.NewID()
		require.NoError(t, s.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
			return tx.Insert(ctx, &store.Record{Kind: store.KindDatacenter, ID: ids[i], Name: fmt.Sprintf("dc%d", i), Data: []byte(`{}`)})
		}))
	}
	const updates = 200
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, id := range ids {
					_, err := getView(t, s, store.KindDatacenter, id)
					assert.NoError(t, err)
				}
			}
		})
	}
	for n := range updates {
		id := ids[n%len(ids)]
		require.NoError(t, s.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
			r, err := tx.Get(ctx, store.KindDatacenter, id)
			if err != nil {
				return err
			}
			r.Data = []byte(fmt.Sprintf(`{"n":%d}`, n))
			return tx.Update(ctx, &r, 0)
		}))
	}
	close(stop)
	wg.Wait()
	for _, id := range ids {
		r, err := getView(t, s, store.KindDatacenter, id)
		require.NoError(t, err)
		assert.Equal(t, int64(1+updates/len(ids)), r.Version, "record %s after the writer", id)
	}
}

// TestRecordCacheFillAfterWrite: a read that began before a write ended
// (its generation is older) does not fill the cache with what it read.
func TestRecordCacheFillAfterWrite(t *testing.T) {
	c := newRecordCache()
	k := recKey{store.KindDatacenter, ovm.NewID()}
	_, gen, ok := c.get(k)
	require.False(t, ok)
	c.drop([]recKey{k}) // a write ends while the read runs
	c.fill(gen, store.Record{Kind: k.kind, ID: k.id, Version: 1})
	_, _, ok = c.get(k)
	assert.False(t, ok, "a read older than the last write does not fill the cache")

	_, gen, _ = c.get(k)
	c.fill(gen, store.Record{Kind: k.kind, ID: k.id, Version: 2})
	r, _, ok := c.get(k)
	require.True(t, ok, "a read with no write since fills the cache")
	assert.Equal(t, int64(2), r.Version)
	c.drop([]recKey{k})
	_, _, ok = c.get(k)
	assert.False(t, ok, "a write drops what it touched")
}
