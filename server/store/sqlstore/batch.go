package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// maxBatch bounds the transactions one commit carries.
const maxBatch = 64

// batcher runs the write transactions of a store with one writer
// (SQLite) in group commits. A transaction that finds the writer idle
// runs at once, on its own, as it always did. Transactions that arrive
// while the writer is busy queue; when it is free, the first of them
// leads: it opens one database transaction, runs each queued function in
// a SAVEPOINT of its own (a function that fails is rolled back to it, and
// its error goes to its caller alone), COMMITs once, and wakes every
// caller with the outcome. A failed COMMIT reaches every caller whose
// function had succeeded. One fsync then carries the whole batch, and no
// transaction waits for a batch to fill: a batch holds only what queued
// while the one before it ran. The leader runs the batch's functions on
// its own goroutine (handing each turn to its caller's goroutine instead
// costs a scheduling delay per function while the writer waits, which
// measured slower than no batching on two busy cores); a function's panic
// is raised again, with its value, in its caller.
type batcher struct {
	mu sync.Mutex
	// busy is set while a leader runs a batch (or is about to).
	busy  bool
	queue []*txReq
}

// txReq is one attempt of a transaction waiting for the writer.
type txReq struct {
	ctx    context.Context
	n      int
	faults bool
	fn     func(context.Context, *tx) error
	// err and panicked are the attempt's outcome, set by the leader that
	// ran it; panicked is what fn panicked with, re-raised in the caller.
	err      error
	panicked any
	// taken: a leader took it into a batch; lead: it was chosen to run
	// the next batch. Both are guarded by batcher.mu.
	taken, lead bool
	// wake receives once: the outcome is ready, or it leads.
	wake chan struct{}
}

// errLeaderExited is the outcome of the attempts of a batch whose
// leader's goroutine exited (runtime.Goexit in a function) before it
// ended.
var errLeaderExited = errors.New("store: a transaction batched with this one ended its goroutine")

// batched runs one attempt of a write transaction through the batcher.
func (s *Store) batched(ctx context.Context, n int, faults bool, fn func(context.Context, *tx) error) error {
	b := s.batch
	r := &txReq{ctx: ctx, n: n, faults: faults, fn: fn, wake: make(chan struct{}, 1)}
	b.mu.Lock()
	if !b.busy {
		b.busy = true
		b.mu.Unlock()
		s.lead(r)
	} else {
		b.queue = append(b.queue, r)
		b.mu.Unlock()
		if !b.await(r) {
			return ctx.Err()
		}
		if r.lead {
			s.lead(nil) // r is first in the queue
		}
	}
	if r.panicked != nil {
		panic(r.panicked)
	}
	return r.err
}

// await waits until r's outcome is ready or r leads; it returns false
// when ctx ended while r still waited in the queue (r then left it).
func (b *batcher) await(r *txReq) bool {
	select {
	case <-r.wake:
		return true
	case <-r.ctx.Done():
	}
	b.mu.Lock()
	if !r.taken && !r.lead {
		for i, q := range b.queue {
			if q == r {
				b.queue = append(b.queue[:i], b.queue[i+1:]...)
				break
			}
		}
		b.mu.Unlock()
		return false
	}
	b.mu.Unlock()
	<-r.wake
	return true
}

// lead runs a batch: first (when not nil) and what queued, up to
// maxBatch; then it wakes the batch's other callers and hands the writer
// to the first transaction still queued.
func (s *Store) lead(first *txReq) {
	b := s.batch
	b.mu.Lock()
	var batch []*txReq
	if first != nil {
		batch = append(batch, first)
	}
	k := min(len(b.queue), maxBatch-len(batch))
	batch = append(batch, b.queue[:k]...)
	rest := copy(b.queue, b.queue[k:])
	clear(b.queue[rest:])
	b.queue = b.queue[:rest]
	for _, r := range batch {
		r.taken = true
	}
	b.mu.Unlock()
	ran := false
	defer func() {
		if !ran {
			for _, r := range batch {
				if r.err == nil && r.panicked == nil {
					r.err = errLeaderExited
				}
			}
		}
		for _, r := range batch[1:] {
			r.wake <- struct{}{}
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.queue) == 0 {
			b.busy = false
			return
		}
		next := b.queue[0]
		next.lead = true
		next.wake <- struct{}{}
	}()
	s.runBatch(batch)
	ran = true
}

// runBatch runs the attempts of a batch and sets their outcomes: alone
// as a transaction of its own, several in one transaction.
func (s *Store) runBatch(batch []*txReq) {
	live := make([]*txReq, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		live = append(live, r)
	}
	switch len(live) {
	case 0:
		return
	case 1:
		r := live[0]
		r.err, r.panicked = catch(func() error {
			return s.inTx(r.ctx, r.n, s.db, s.d.txOptions, false, r.faults, r.fn)
		})
		return
	}
	// The batch's own statements outlive any one caller's context.
	ctx := context.WithoutCancel(live[0].ctx)
	sqlTx, err := s.db.BeginTx(ctx, s.d.txOptions)
	if err != nil {
		err = fmt.Errorf("store: begin: %w", internal(s.classify(err)))
		for _, r := range live {
			r.err = err
		}
		return
	}
	var touched []recKey
	ended := false
	defer func() {
		if !ended {
			_ = sqlTx.Rollback()
		}
		// Whether it committed or not, the records any function touched
		// leave the cache, those of the functions rolled back too.
		if len(touched) > 0 {
			s.cache.drop(touched)
		}
	}()
	var ok []*txReq // the functions whose writes the COMMIT carries
	var broken error
	for _, r := range live {
		if broken != nil {
			r.err = broken
			continue
		}
		if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT batch"); err != nil {
			broken = batchFailure(s.classify(err))
			r.err = broken
			continue
		}
		t := &tx{s: s, tx: sqlTx}
		r.err, r.panicked = catch(func() error { return s.check(r.n, r.faults, t, r.fn(r.ctx, t)) })
		touched = append(touched, t.touched...)
		if r.err == nil && r.panicked == nil {
			if _, err := sqlTx.ExecContext(ctx, "RELEASE batch"); err != nil {
				// The transaction is gone (SQLite rolls it back on some
				// failures): nothing of the batch stays.
				broken = batchFailure(s.classify(err))
				r.err = broken
				continue
			}
			ok = append(ok, r)
			continue
		}
		if _, err := sqlTx.ExecContext(ctx, "ROLLBACK TO batch"); err != nil {
			broken = batchFailure(s.classify(err))
		} else if _, err := sqlTx.ExecContext(ctx, "RELEASE batch"); err != nil {
			broken = batchFailure(s.classify(err))
		}
	}
	ended = true
	if broken != nil || len(ok) == 0 {
		_ = sqlTx.Rollback()
		for _, r := range ok {
			r.err = broken
		}
		return
	}
	if err := s.commitTx(sqlTx); err != nil {
		err = fmt.Errorf("store: commit: %w", internal(s.classify(err)))
		for _, r := range ok {
			r.err = err
		}
	}
}

// batchFailure is the error of the functions of a batch whose
// transaction failed before COMMIT through no fault of theirs: nothing
// they wrote stays, and they run again.
func batchFailure(err error) error {
	return &retryError{err: fmt.Errorf("store: a transaction batched with this one failed: %w", internal(err))}
}

// catch runs fn and returns its error, or what it panicked with.
func catch(fn func() error) (err error, panicked any) {
	done := false
	defer func() {
		if !done {
			panicked = recover() // nil for runtime.Goexit, which goes on
		}
	}()
	err = fn()
	done = true
	return err, nil
}

// commitTx commits a write transaction; tests replace it with commit.
func (s *Store) commitTx(sqlTx *sql.Tx) error {
	if s.commit != nil {
		return s.commit(sqlTx)
	}
	return sqlTx.Commit()
}
