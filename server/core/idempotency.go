package core

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// MaxIdempotencyKey is the longest idempotency key accepted.
const MaxIdempotencyKey = 255

// idempotent runs create inside tx unless the principal already made the
// operation with key: then it decodes the first result into out and makes
// nothing. The result is stored in the same transaction as the objects, so
// a retry after an ambiguous commit sees either both or neither. A key
// reused with another request is a conflict. An empty key runs create.
func idempotent(ctx context.Context, tx store.Tx, p auth.Principal, op, key string, req, out any, create func() error) error {
	if key == "" {
		return create()
	}
	found, sum, err := replay(ctx, tx, p, op, key, req, out)
	if err != nil || found {
		return err
	}
	if err := create(); err != nil {
		return err
	}
	resp, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("core: encode the result: %w", err)
	}
	return tx.PutIdempotency(ctx, store.Idempotency{Scope: idemScope(p, op), Key: key, RequestHash: sum, Response: resp})
}

func idemScope(p auth.Principal, op string) string { return string(p.UserID) + "/" + op }

// replay decodes into out the stored result of the principal's operation
// with key, when there is one (found), and returns the request's hash.
func replay(ctx context.Context, tx store.Tx, p auth.Principal, op, key string, req, out any) (found bool, sum []byte, err error) {
	if len(key) > MaxIdempotencyKey {
		return false, nil, invalid("invalid idempotency key", "idempotencyKey", fmt.Sprintf("must be at most %d characters", MaxIdempotencyKey))
	}
	b, err := json.Marshal(req)
	if err != nil {
		return false, nil, fmt.Errorf("core: hash the request: %w", err)
	}
	h := sha256.Sum256(b)
	prev, err := tx.GetIdempotency(ctx, idemScope(p, op), key)
	switch {
	case errors.Is(err, ovm.ErrNotFound):
		return false, h[:], nil
	case err != nil:
		return false, nil, err
	}
	if string(prev.RequestHash) != string(h[:]) {
		return false, nil, conflictf("idempotency key %q was used with another request", key)
	}
	if err := json.Unmarshal(prev.Response, out); err != nil {
		return false, nil, fmt.Errorf("core: decode the stored result of key %q: %w", key, err)
	}
	return true, h[:], nil
}
