package auth

import (
	"sync"
	"time"
)

// ThrottleLimits bound the failed attempts of one key (a user name, a
// client address).
type ThrottleLimits struct {
	// Free is how many failures in a row pass without a wait.
	Free int
	// Base is the wait after the first failure past Free; it doubles with
	// each further failure, up to Max.
	Base, Max time.Duration
	// Forget drops a key's failures this long after its last one.
	Forget time.Duration
}

// The default limits of login attempts: five wrong passwords for one user
// name, thirty from one address (several users behind one NAT), then a
// wait from one second doubling up to a quarter of an hour.
var (
	DefaultUserLimits    = ThrottleLimits{Free: 5, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour}
	DefaultAddressLimits = ThrottleLimits{Free: 30, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour}
)

// maxThrottled is how many keys a Throttle remembers; past it, the keys
// whose failures are oldest are dropped first.
const maxThrottled = 100_000

// Throttle slows down guessing: after Free failures of a key, the key must
// wait before its next attempt, longer after each further failure. It
// keeps no clock: every method takes the time. Safe for concurrent use.
type Throttle struct {
	lim ThrottleLimits
	max int

	mu   sync.Mutex
	keys map[string]*throttled
}

type throttled struct {
	fails int
	last  time.Time // the last failure
	until time.Time // no attempt before
}

// NewThrottle returns a Throttle with the given limits.
func NewThrottle(lim ThrottleLimits) *Throttle {
	return &Throttle{lim: lim, max: maxThrottled, keys: map[string]*throttled{}}
}

// Try asks for an attempt of key at now. It returns how long key must
// still wait, without counting anything; or 0, and the attempt counts as
// a failure until Forgive or Reset says otherwise (so that attempts made
// at once cannot all pass before the first one fails).
func (t *Throttle) Try(now time.Time, key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.keys[key]
	if ok && now.Sub(e.last) >= t.lim.Forget {
		delete(t.keys, key)
		ok = false
	}
	if ok {
		if wait := e.until.Sub(now); wait > 0 {
			return wait
		}
	} else {
		t.makeRoom(now)
		e = &throttled{}
		t.keys[key] = e
	}
	e.fails++
	e.last = now
	e.until = now.Add(t.wait(e.fails))
	return 0
}

// Forgive takes back one attempt of key that Try counted (it succeeded).
func (t *Throttle) Forgive(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.keys[key]
	if !ok {
		return
	}
	if e.fails--; e.fails <= 0 {
		delete(t.keys, key)
		return
	}
	e.until = e.last.Add(t.wait(e.fails))
}

// wait is the wait after n failures in a row.
func (t *Throttle) wait(n int) time.Duration {
	over := n - t.lim.Free
	switch {
	case over <= 0:
		return 0
	case over > 40 || t.lim.Base<<(over-1) <= 0:
		return t.lim.Max
	}
	return min(t.lim.Base<<(over-1), t.lim.Max)
}

// Reset forgets key's failures (after a success).
func (t *Throttle) Reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, key)
}

// makeRoom drops forgotten keys when the Throttle is full, and then the
// key with the oldest last failure if it still is; t.mu is held.
func (t *Throttle) makeRoom(now time.Time) {
	if len(t.keys) < t.max {
		return
	}
	oldest := ""
	for k, e := range t.keys {
		if now.Sub(e.last) >= t.lim.Forget {
			delete(t.keys, k)
		} else if oldest == "" || e.last.Before(t.keys[oldest].last) {
			oldest = k
		}
	}
	if len(t.keys) >= t.max && oldest != "" {
		delete(t.keys, oldest)
	}
}
