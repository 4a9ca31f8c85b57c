package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cockroachdb/cockroach-go/v2/crdb"

	"github.com/openovm/ovm/server/store"
)

// Store is a store.Store on PostgreSQL/CockroachDB or SQLite. It is safe
// for concurrent use.
type Store struct {
	db *sql.DB
	d  *dialect
	o  options
	// writer holds one token per transaction that may run at once: one on
	// SQLite (a single writer), nil (no limit) on PostgreSQL.
	writer chan struct{}
	// queries caches the expansion of each query text by the dialect.
	queries sync.Map
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
// a transaction's function returned nil and before COMMIT. A non-nil error
// fails that attempt as if the database had reported it: the transaction
// rolls back, and when the error is a serialization failure (a
// *pgconn.PgError with Code "40001", or SQLite's SQLITE_BUSY) Tx runs the
// function again. Tests use it to drive the retry path deterministically.
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
	s := &Store{db: db, d: d, o: o}
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
	if writers > 0 {
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

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping %s: %w", s.d.name, err)
	}
	return nil
}

// Close closes the database handle.
func (s *Store) Close() error { return s.db.Close() }

// sql expands the dialect's tokens in q, once per query text.
func (s *Store) sql(q string) string {
	if v, ok := s.queries.Load(q); ok {
		return v.(string)
	}
	x := s.d.replacer.Replace(q)
	s.queries.Store(q, x)
	return x
}

// inTxKey marks the context a transaction's function runs with.
type inTxKey struct{}

// Tx runs fn in a serializable transaction and commits it, running fn
// again from BEGIN after a serialization failure, with backoff, until ctx
// ends. Calling Tx from inside fn is an error: on SQLite it would wait for
// itself.
func (s *Store) Tx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	if ctx.Value(inTxKey{}) != nil {
		return errors.New("store: Tx called inside a transaction")
	}
	return s.run(ctx, true, func(ctx context.Context, t *tx) error {
		return fn(context.WithValue(ctx, inTxKey{}, true), t)
	})
}

// run is Tx for the store's own work too (migrations); faults says whether
// the fault injector applies.
func (s *Store) run(ctx context.Context, faults bool, fn func(context.Context, *tx) error) error {
	attempt := 0
	var lastRetry error // the last serialization failure
	// crdb.ExecuteCtx runs whole attempts (BEGIN ... COMMIT) for as long as
	// its classification calls the error retryable and ctx lasts.
	err := crdb.ExecuteCtx(crdb.WithMaxRetries(ctx, math.MaxInt), func(ctx context.Context, _ ...any) error {
		attempt++
		if attempt > 1 {
			if err := s.sleep(ctx, attempt-1); err != nil {
				return err
			}
		}
		err := s.attempt(ctx, attempt, faults, fn)
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

// attempt runs fn once in a transaction of its own.
func (s *Store) attempt(ctx context.Context, n int, faults bool, fn func(context.Context, *tx) error) error {
	if s.writer != nil {
		select {
		case s.writer <- struct{}{}:
			defer func() { <-s.writer }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	sqlTx, err := s.db.BeginTx(ctx, s.d.txOptions)
	if err != nil {
		return fmt.Errorf("store: begin: %w", s.classify(err))
	}
	done := false
	defer func() {
		if !done {
			_ = sqlTx.Rollback() // also when fn panics
		}
	}()
	t := &tx{s: s, tx: sqlTx}
	err = fn(ctx, t)
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
			return fmt.Errorf("store: injected failure: %w", s.classify(err))
		}
	}
	done = true
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", s.classify(err))
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
