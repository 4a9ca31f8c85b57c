package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// AcquireLease takes the named lease for holder for ttl, by the database's
// clock, in one upsert: a free, expired or released lease goes to holder
// with the next epoch (1 for a new lease); holder's own unexpired lease is
// renewed at its epoch; another holder's unexpired lease is left alone and
// held is false, with that holder's epoch. Epochs never go down: a lease
// row is never deleted.
func (t *tx) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (int64, bool, error) {
	if err := checkLease(holder, ttl); err != nil {
		return 0, false, err
	}
	if name == "" {
		return 0, false, ovm.Invalid("invalid lease", ovm.FieldError{Field: "name", Reason: "must not be empty"})
	}
	_, err := t.exec(ctx, `INSERT INTO leases (name, holder, epoch, expires_at) VALUES ($1, $2, 1, `+t.s.d.nowPlus("$3")+`)
		ON CONFLICT (name) DO UPDATE SET
			epoch = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > {now}
				THEN leases.epoch ELSE leases.epoch + 1 END,
			holder = excluded.holder,
			expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= {now}`, name, holder, micros(ttl))
	if err != nil {
		return 0, false, fmt.Errorf("store: acquire lease %q: %w", name, err)
	}
	var current string
	var epoch int64
	if err := t.scan(ctx, `SELECT holder, epoch FROM leases WHERE name = $1`, []any{name}, &current, &epoch); err != nil {
		return 0, false, fmt.Errorf("store: read lease %q: %w", name, err)
	}
	return epoch, current == holder, nil
}

// CheckLease returns ovm.ErrConflict unless holder holds the named lease at
// epoch and it has not expired by the database's clock.
func (t *tx) CheckLease(ctx context.Context, name, holder string, epoch int64) error {
	var one int64
	err := t.scan(ctx, `SELECT 1 FROM leases WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > {now}`,
		[]any{name, holder, epoch}, &one)
	switch {
	case isNoRows(err):
		return conflict(nil, "lease %q is not held by %s at epoch %d", name, holder, epoch)
	case err != nil:
		return fmt.Errorf("store: check lease %q: %w", name, err)
	}
	return nil
}

// ReleaseLease ends holder's lease now, keeping its epoch so that the next
// holder gets a higher one; releasing a lease holder does not hold does
// nothing.
func (t *tx) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := t.exec(ctx, `UPDATE leases SET expires_at = {now} WHERE name = $1 AND holder = $2 AND expires_at > {now}`,
		name, holder); err != nil {
		return fmt.Errorf("store: release lease %q: %w", name, err)
	}
	return nil
}

// GetIdempotency returns the stored outcome of the key in scope.
func (t *tx) GetIdempotency(ctx context.Context, scope, key string) (store.Idempotency, error) {
	i := store.Idempotency{Scope: scope, Key: key}
	var response []byte
	var status int64
	err := t.scan(ctx, `SELECT request_hash, status, response, created_at FROM idempotency WHERE scope = $1 AND idem_key = $2`,
		[]any{scope, key}, &i.RequestHash, &status, &response, timeValue{&i.CreatedAt})
	switch {
	case isNoRows(err):
		return store.Idempotency{}, withKind(ovm.KindNotFound, nil, "idempotency key %q not found", key)
	case err != nil:
		return store.Idempotency{}, fmt.Errorf("store: read idempotency key %q: %w", key, err)
	}
	i.Status = int(status)
	if response != nil {
		i.Response = response
	}
	return i, nil
}

// PutIdempotency stores the outcome of a create; a key already stored in
// the scope is ovm.ErrConflict. A zero CreatedAt is the database's time.
func (t *tx) PutIdempotency(ctx context.Context, i store.Idempotency) error {
	var f ovm.Fields
	if i.Scope == "" {
		f.Add("scope", "must not be empty")
	}
	if i.Key == "" {
		f.Add("key", "must not be empty")
	}
	if err := f.Err("invalid idempotency key"); err != nil {
		return err
	}
	hash := i.RequestHash
	if hash == nil {
		hash = []byte{}
	}
	n, err := t.exec(ctx, `INSERT INTO idempotency (scope, idem_key, request_hash, status, response, created_at)
		VALUES ($1, $2, $3, $4, $5, COALESCE($6, {now})) ON CONFLICT DO NOTHING`,
		i.Scope, i.Key, hash, int64(i.Status), jsonOrNull(i.Response), t.ts(i.CreatedAt))
	if err != nil {
		return fmt.Errorf("store: store idempotency key %q: %w", i.Key, err)
	}
	if n == 0 {
		return conflict(nil, "idempotency key %q is already used", i.Key)
	}
	return nil
}
