package sqlstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// maxCachedRecords bounds the record cache; past it the cache starts over.
const maxCachedRecords = 20000

// WithExclusive makes an embedded store the only user of its data
// directory: OpenSQLite takes an exclusive lock on DIR/ovm.lock (a second
// server on the same directory is refused with a clear error) and, since
// every write then goes through this Store, keeps the records that
// one-read views (Store.View with one Get) read in memory. The cache is
// exact: a write transaction drops the records it touched when it ends,
// and a read that raced with a write does not fill the cache. PostgreSQL
// ignores the option (several servers share it).
func WithExclusive() Option {
	return func(o *options) { o.exclusive = true }
}

type recKey struct {
	kind store.Kind
	id   ovm.ID
}

// recordCache holds records by kind and id. gen grows with every write
// transaction that ends; a read fills the cache only when no write ended
// since it began.
type recordCache struct {
	mu  sync.RWMutex
	gen uint64
	m   map[recKey]store.Record
}

func newRecordCache() *recordCache { return &recordCache{m: map[recKey]store.Record{}} }

// get returns a cached record, or the generation to fill it at.
func (c *recordCache) get(k recKey) (store.Record, uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.m[k]
	return r, c.gen, ok
}

// fill caches r when no write transaction ended since gen.
func (c *recordCache) fill(gen uint64, r store.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.m) >= maxCachedRecords {
		clear(c.m)
	}
	c.m[recKey{r.Kind, r.ID}] = r
}

// drop forgets the records a write transaction touched, whether it
// committed or not.
func (c *recordCache) drop(keys []recKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, k := range keys {
		delete(c.m, k)
	}
}

// lockDir takes the exclusive lock of a data directory; the lock lasts as
// long as the returned file is open.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "ovm.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: lock the data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ovm.Errorf(ovm.KindConflict, "the data directory %s is in use by another ovm server (%s is locked)", dir, path)
		}
		return nil, fmt.Errorf("store: lock %s: %w", path, err)
	}
	return f, nil
}
