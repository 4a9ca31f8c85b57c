package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sync"
	"time"

	"github.com/cockroachdb/cockroach-go/v2/crdb"

	"github.com/openovm/ovm/server/store"
)

// Store is a store.Store on PostgreSQL/CockroachDB or SQLite. It is safe
// for concurrent use.
type Store struct {
	db *sql.DB
	// rdb runs views (Store.View): on SQLite a pool of read-only
	// connections beside the writer, on PostgreSQL db itself.
	rdb *sql.DB
	d   *dialect
	o   options
	// writer holds one token per transaction that may run at once when
	// there is a limit above one; nil on PostgreSQL (no limit).
	writer chan struct{}
	// batch runs the write transactions of a store with one writer
	// (SQLite) in group commits; nil otherwise.
	batch *batcher
	// commit, when set, commits a write transaction in tests.
	commit func(*sql.Tx) error
	// queries caches the expansion of each query text by the dialect.
	queries sync.Map
	// multiRead holds the code pointers of view functions that read more
	// than once, which View runs in a transaction from the start.
	multiRead sync.Map
	// cache holds records for one-read views of an exclusive embedded
	// store (WithExclusive); nil otherwise. lock is the data directory's
	// lock file.
	cache *recordCache
	lock  interface{ Close() error }
	// n counts the store's work (Stats).
	n counters
}

var _ store.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*options)

type options struct {
	inject      func(attempt int) error
	backoffBase time.Duration
	backoffMax  time.Duration
	maxConns    int
	leaseTTL    time.Duration
	exclusive   bool
	schemaOf    int // the first migrations only (upgrade tests); 0: all
}

func defaultOptions() options {
	return options{
		backoffBase: 2 * time.Millisecond,
		backoffMax:  250 * time.Millisecond,
		maxConns:    16,
		leaseTTL:    time.Minute,
	}
}

// WithFaultInjector calls inject with the attempt number (1, 2, ...) after
// the function of a transaction or of a view (Tx, View) returned nil and
// before COMMIT. A non-nil error
// fails that attempt as if the database had reported it: the transaction
// rolls back, and when the error is a serialization failure (a
// *pgconn.PgError with Code "40001", or SQLite's SQLITE_BUSY) Tx or View
// runs the function again. Tests use it to drive the retry path deterministically.
func WithFaultInjector(inject func(attempt int) error) Option {
	return func(o *options) { o.inject = inject }
}

// WithRetryBackoff sets the backoff between attempts of a transaction: a
// random wait up to base·2^(retry-1), capped at max (defaults 2ms and
// 250ms).
func WithRetryBackoff(base, max time.Duration) Option {
	return func(o *options) {
		if base > 0 {
			o.backoffBase = base
		}
		if max >= base && max > 0 {
			o.backoffMax = max
		}
	}
}

// WithMaxConns bounds the connections to PostgreSQL (default 16). SQLite
// uses one.
func WithMaxConns(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxConns = n
		}
	}
}

// WithMigrationLease sets how long a server may hold the migration lease
// without renewing it before another one takes over (default one minute).
func WithMigrationLease(ttl time.Duration) Option {
	return func(o *options) {
		if ttl > 0 {
			o.leaseTTL = ttl
		}
	}
}

// newOptions applies opts to the defaults.
func newOptions(opts []Option) options {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// open wraps a database handle, applies the migrations and returns the
// store; it closes db when it fails. writers > 0 bounds the transactions
// that run at once.
func open(ctx context.Context, db *sql.DB, d *dialect, writers int, o options) (*Store, error) {
	s := &Store{db: db, rdb: db, d: d, o: o}
	// The first connection sets SQLite's pragmas; switching to WAL may
	// find the database busy while another process does the same.
	for tries := 1; ; tries++ {
		err := s.Ping(ctx)
		if err == nil {
			break
		}
		if !d.busy(err) || tries == 100 {
			_ = db.Close()
			return nil, err
		}
		if err := pause(ctx, 10*time.Millisecond+rand.N(40*time.Millisecond)); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	switch {
	case writers == 1:
		s.batch = &batcher{}
	case writers > 1:
		s.writer = make(chan struct{}, writers)
	}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// Engine returns "postgres" or "sqlite".
func (s *Store) Engine() string { return s.d.name }

// OneWriter reports whether the store runs one write transaction at a
// time (SQLite's batcher).
func (s *Store) OneWriter() bool { return s.batch != nil }

// Ping checks the database answers, to writes and to views.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping %s: %w", s.d.name, err)
	}
	if s.rdb != s.db {
		if err := s.rdb.PingContext(ctx); err != nil {
			return fmt.Errorf("store: ping %s's readers: %w", s.d.name, err)
		}
	}
	return nil
}

// Close closes the database handles.
func (s *Store) Close() error {
	var err error
	if s.rdb != s.db {
		err = errors.Join(s.rdb.Close(), s.db.Close())
	} else {
		err = s.db.Close()
	}
	if s.lock != nil {
		err = errors.Join(err, s.lock.Close())
	}
	return err
}

// sql expands the dialect's tokens in q, once per query text.
func (s *Store) sql(q string) string {
	if v, ok := s.queries.Load(q); ok {
		return v.(string)
	}
	x := s.d.replacer.Replace(q)
	s.queries.Store(q, x)
	return x
}

// inTxKey marks the context a transaction's or a view's function runs
// with.
type inTxKey struct{}

// Tx runs fn in a serializable transaction and commits it, running fn
// again from BEGIN after a serialization failure, with backoff, until ctx
// ends. Calling Tx or View from inside fn is an error: on SQLite a Tx
// would wait for itself. On SQLite, fn may run on the goroutine of
// another Tx that commits with it (see batcher); a panic in fn is raised
// again in the caller.
func (s *Store) Tx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	if ctx.Value(inTxKey{}) != nil {
		return errors.New("store: Tx called inside a transaction")
	}
	return s.run(ctx, true, func(ctx context.Context, t *tx) error {
		return fn(context.WithValue(ctx, inTxKey{}, true), t)
	})
}

// View runs fn in a read-only transaction, retried like Tx's. A function
// that reads once (one statement: a Get, a List, a lookup) runs without a
// transaction around it: its statement is a transaction of its own, as
// consistent as one, at a fraction of the cost (no BEGIN and COMMIT, one
// round trip on PostgreSQL). A function that reads a second time gets an
// error for that read and runs again in a read-only transaction (on
// PostgreSQL SERIALIZABLE READ ONLY, on SQLite a deferred transaction on a
// read-only connection): one snapshot for every read. View remembers such
// a function, by its code, and runs it in a transaction from the start
// after that. Views run on SQLite's reader connections, beside the writer:
// they never wait for a write transaction, nor make one wait.
func (s *Store) View(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	if ctx.Value(inTxKey{}) != nil {
		return errors.New("store: View called inside a transaction")
	}
	key := reflect.ValueOf(fn).Pointer()
	inner := func(ctx context.Context, t *tx) error { return fn(context.WithValue(ctx, inTxKey{}, true), t) }
	return s.retry(ctx, func(ctx context.Context, n int) error { return s.view(ctx, n, key, inner) })
}

// run is Tx for the store's own work too (migrations); faults says whether
// the fault injector applies.
func (s *Store) run(ctx context.Context, faults bool, fn func(context.Context, *tx) error) error {
	return s.retry(ctx, func(ctx context.Context, n int) error { return s.attempt(ctx, n, faults, fn) })
}

// retry runs attempts (numbered from 1) until one ends without a
// serialization failure or ctx ends.
func (s *Store) retry(ctx context.Context, attemptFn func(ctx context.Context, n int) error) error {
	attempt := 0
	var lastRetry error // the last serialization failure
	// crdb.ExecuteCtx runs whole attempts (BEGIN ... COMMIT) for as long as
	// its classification calls the error retryable and ctx lasts.
	err := crdb.ExecuteCtx(crdb.WithMaxRetries(ctx, math.MaxInt), func(ctx context.Context, _ ...any) error {
		attempt++
		if attempt > 1 {
			s.n.retries.Add(1)
			if err := s.sleep(ctx, attempt-1); err != nil {
				return err
			}
		}
		err := attemptFn(ctx, attempt)
		if retryable(err) {
			lastRetry = err
		}
		return err
	})
	if err != nil && !retryable(err) && ctx.Err() != nil && lastRetry != nil {
		// ctx ended while serialization failures kept the transaction
		// from committing: say so.
		return fmt.Errorf("store: transaction abandoned after %d attempts: %w; last serialization failure: %w",
			attempt, err, lastRetry)
	}
	return err
}

// sleep waits a random time up to base·2^(retry-1), capped, or until ctx
// ends.
func (s *Store) sleep(ctx context.Context, retry int) error {
	ceiling := s.o.backoffMax
	if retry < 30 {
		ceiling = min(s.o.backoffMax, s.o.backoffBase<<(retry-1))
	}
	return pause(ctx, time.Duration(rand.Int64N(int64(ceiling)+1)))
}

// attempt runs fn once in a transaction of its own, or on a store with
// one writer in a batch of transactions that commit together.
func (s *Store) attempt(ctx context.Context, n int, faults bool, fn func(context.Context, *tx) error) error {
	if s.batch != nil {
		return s.batched(ctx, n, faults, fn)
	}
	if s.writer != nil {
		select {
		case s.writer <- struct{}{}:
			defer func() { <-s.writer }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.inTx(ctx, n, s.db, s.d.txOptions, false, faults, fn)
}

// view runs one attempt of a view: first without a transaction, unless
// the function is known to read more than once.
func (s *Store) view(ctx context.Context, n int, key uintptr, fn func(context.Context, *tx) error) error {
	if _, multi := s.multiRead.Load(key); !multi {
		t := &tx{s: s, view: true, single: true}
		err := fn(ctx, t)
		if !t.again {
			return s.check(n, true, t, err)
		}
		s.multiRead.Store(key, true)
	}
	return s.inTx(ctx, n, s.rdb, s.d.viewOptions, true, true, fn)
}

// inTx runs fn once in a transaction of its own on db.
func (s *Store) inTx(ctx context.Context, n int, db *sql.DB, opts *sql.TxOptions, view, faults bool, fn func(context.Context, *tx) error) error {
	s.n.transactions.Add(1)
	sqlTx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store: begin: %w", internal(s.classify(err)))
	}
	done := false
	defer func() {
		if !done {
			_ = sqlTx.Rollback() // also when fn panics
		}
	}()
	t := &tx{s: s, tx: sqlTx, view: view}
	defer func() {
		// Whether it committed or not, the records a write touched leave
		// the cache (a failed COMMIT may still have applied).
		if len(t.touched) > 0 {
			s.cache.drop(t.touched)
		}
	}()
	if err := s.check(n, faults, t, fn(ctx, t)); err != nil {
		return err
	}
	done = true
	if err := s.commitTx(sqlTx); err != nil {
		return fmt.Errorf("store: commit: %w", internal(s.classify(err)))
	}
	return nil
}

// check decides how an attempt whose function returned err ends before
// COMMIT: a serialization failure that a statement reported voids it even
// when fn swallowed it, and the fault injector may fail it.
func (s *Store) check(n int, faults bool, t *tx, err error) error {
	if t.retry != nil && !retryable(err) {
		// A statement failed with a serialization failure and fn did not
		// pass it on: the attempt is void all the same.
		return errors.Join(fmt.Errorf("store: transaction must run again: %w", t.retry), err)
	}
	if err != nil {
		return err
	}
	if faults && s.o.inject != nil {
		if err := s.o.inject(n); err != nil {
			return fmt.Errorf("store: injected failure: %w", internal(s.classify(err)))
		}
	}
	return nil
}

// classify marks an engine's "run again" failure (SQLITE_BUSY) as a
// serialization failure; other errors are returned as they are.
func (s *Store) classify(err error) error {
	if err != nil && !retryable(err) && s.d.busy(err) {
		return &retryError{err: err}
	}
	return err
}
