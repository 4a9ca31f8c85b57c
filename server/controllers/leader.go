package controllers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// ErrLeaseLost is in the chain of the error of a write whose guard found
// that the loop's lease is no longer held at its epoch.
var ErrLeaseLost = errors.New("controllers: lease lost")

// Lease is a lease a loop holds: its name, holder and epoch.
type Lease struct {
	Name   string
	Holder string
	Epoch  int64
}

// Guard returns the guard of the loop's writes: it checks, inside the
// write's transaction, that the lease is still held at its epoch.
func (l Lease) Guard() core.Guard {
	return func(ctx context.Context, tx store.Tx) error {
		if err := tx.CheckLease(ctx, l.Name, l.Holder, l.Epoch); err != nil {
			return fmt.Errorf("%w: %w", ErrLeaseLost, err)
		}
		return nil
	}
}

// Body is a singleton loop. It runs until ctx ends, which happens when the
// lease is lost or the Leader stops; an error it returns is logged, and the
// body runs again at the next renewal while the lease is held.
type Body func(ctx context.Context, lease Lease) error

// Leader runs a named singleton loop only while this replica holds the
// store lease of that name. It takes or renews the lease every TTL/3; the
// body starts when the lease is taken, with its epoch, and its context is
// cancelled when the lease is lost (another holder has it, or it could not
// be renewed for a TTL) or when the epoch changes (the lease expired and
// was taken again).
type Leader struct {
	// Store holds the lease. Required.
	Store store.Store
	// Name is the lease's name; Holder this replica's name. Required.
	Name, Holder string
	// TTL is how long the lease lasts without renewal. Required.
	TTL time.Duration
	// Logger receives lease changes (default: discard).
	Logger *slog.Logger

	mu    sync.Mutex
	epoch int64 // 0 while the body does not run
}

// Held returns the epoch of the lease while the body runs.
func (l *Leader) Held() (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch, l.epoch != 0
}

func (l *Leader) setHeld(epoch int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.epoch = epoch
}

// validate checks the leader's fields.
func (l *Leader) validate() error {
	var f ovm.Fields
	if l.Store == nil {
		f.Add("store", "is required")
	}
	if l.Name == "" {
		f.Add("name", "is required")
	}
	if l.Holder == "" {
		f.Add("holder", "is required")
	}
	if l.TTL <= 0 {
		f.Add("ttl", "must be positive")
	}
	return f.Err("invalid leader")
}

// running is a body in flight.
type running struct {
	epoch  int64
	cancel context.CancelFunc
	done   chan struct{}
}

// Run takes part in the election until ctx ends, running body while it
// holds the lease. On return the body has stopped and the lease is
// released, so that another replica takes over at once. It returns nil
// when ctx ends, or an error for invalid fields.
func (l *Leader) Run(ctx context.Context, body Body) error {
	if err := l.validate(); err != nil {
		return err
	}
	log := l.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("lease", l.Name, "replica", l.Holder)
	every := max(l.TTL/3, time.Millisecond)
	tick := time.NewTicker(every)
	defer tick.Stop()

	var cur *running
	stop := func(why string) {
		if cur == nil {
			return
		}
		cur.cancel()
		<-cur.done
		l.setHeld(0)
		log.Info("singleton loop stopped", "epoch", cur.epoch, "reason", why)
		cur = nil
	}
	start := func(epoch int64) {
		bctx, cancel := context.WithCancel(ctx)
		r := &running{epoch: epoch, cancel: cancel, done: make(chan struct{})}
		cur = r
		l.setHeld(epoch)
		log.Info("lease taken: singleton loop started", "epoch", epoch)
		go func() {
			defer close(r.done)
			lease := Lease{Name: l.Name, Holder: l.Holder, Epoch: epoch}
			if err := body(bctx, lease); err != nil && bctx.Err() == nil {
				log.Error("singleton loop ended", "epoch", epoch, "err", err)
			}
		}()
	}
	var lastRenew time.Time
	for {
		if cur != nil {
			select {
			case <-cur.done: // the body ended by itself: run it again
				cur.cancel()
				l.setHeld(0)
				cur = nil
			default:
			}
		}
		epoch, held, err := l.acquire(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			log.Warn("lease renewal failed", "err", err)
			if cur != nil && time.Since(lastRenew) >= l.TTL {
				stop("the lease could not be renewed")
			}
		case !held:
			stop(fmt.Sprintf("the lease is held by another replica at epoch %d", epoch))
		default:
			lastRenew = time.Now()
			if cur != nil && cur.epoch != epoch {
				stop(fmt.Sprintf("the lease was taken again at epoch %d", epoch))
			}
			if cur == nil {
				start(epoch)
			}
		}
		select {
		case <-ctx.Done():
			stop("shutting down")
			l.release(ctx, log)
			return nil
		case <-tick.C:
		}
	}
}

// acquire takes or renews the lease in a transaction of its own.
func (l *Leader) acquire(ctx context.Context) (int64, bool, error) {
	var epoch int64
	var held bool
	err := l.Store.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		epoch, held, err = tx.AcquireLease(ctx, l.Name, l.Holder, l.TTL)
		return err
	})
	return epoch, held, err
}

// release gives the lease up, so that another replica need not wait for
// it to expire.
func (l *Leader) release(ctx context.Context, log *slog.Logger) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := l.Store.Tx(rctx, func(ctx context.Context, tx store.Tx) error {
		return tx.ReleaseLease(ctx, l.Name, l.Holder)
	})
	if err != nil {
		log.Warn("lease release failed; it expires by itself", "err", err)
	}
}
