package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

const tokenColumns = `id, user_id, name, hash, is_session, expires_at, created_at, last_used`

func scanToken(row rowScanner) (store.Token, error) {
	var tk store.Token
	var id, user string
	err := row.Scan(&id, &user, &tk.Name, &tk.Hash, &tk.Session,
		timeValue{&tk.ExpiresAt}, timeValue{&tk.CreatedAt}, timeValue{&tk.LastUsed})
	tk.ID, tk.UserID = ovm.ID(id), ovm.ID(user)
	return tk, err
}

// CreateToken stores a token. A zero CreatedAt is the database's time; a
// zero ExpiresAt never expires. The hash is unique: a second token with
// the same hash is ovm.ErrConflict.
func (t *tx) CreateToken(ctx context.Context, tk store.Token) error {
	var f ovm.Fields
	if !tk.ID.Valid() {
		f.Add("id", "must be a lower-case UUID")
	}
	if !tk.UserID.Valid() {
		f.Add("userId", "must be a lower-case UUID")
	}
	if len(tk.Hash) == 0 {
		f.Add("hash", "must not be empty")
	}
	if err := f.Err("invalid token"); err != nil {
		return err
	}
	n, err := t.exec(ctx, `INSERT INTO tokens (`+tokenColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, {now}), $8) ON CONFLICT DO NOTHING`,
		string(tk.ID), string(tk.UserID), tk.Name, tk.Hash, tk.Session,
		t.ts(tk.ExpiresAt), t.ts(tk.CreatedAt), t.ts(tk.LastUsed))
	if err != nil {
		return fmt.Errorf("store: create token %s: %w", tk.ID, err)
	}
	if n == 0 {
		return conflict(nil, "token %s or its secret already exists", tk.ID)
	}
	return nil
}

// TokenByHash returns the token whose secret hashes to hash, expired or
// not: the caller compares ExpiresAt with Now.
func (t *tx) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	tk, err := scanToken(t.queryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, hash))
	if err = t.note(err); err != nil {
		if isNoRows(err) {
			return store.Token{}, withKind(ovm.KindNotFound, nil, "token not found")
		}
		return store.Token{}, fmt.Errorf("store: find a token: %w", err)
	}
	return tk, nil
}

// ListTokens returns the user's tokens, oldest first.
func (t *tx) ListTokens(ctx context.Context, userID ovm.ID) ([]store.Token, error) {
	out, err := collect(ctx, t, scanToken, `SELECT `+tokenColumns+` FROM tokens
		WHERE user_id = $1 ORDER BY created_at, id`, string(userID))
	if err != nil {
		return nil, fmt.Errorf("store: list the tokens of user %s: %w", userID, err)
	}
	return out, nil
}

// PageTokens returns one page of the user's tokens in ID order.
func (t *tx) PageTokens(ctx context.Context, userID ovm.ID, p store.Page) ([]store.Token, ovm.ID, error) {
	limit, err := pageLimit(p)
	if err != nil {
		return nil, "", err
	}
	out, err := collect(ctx, t, scanToken, `SELECT `+tokenColumns+` FROM tokens
		WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3`, string(userID), string(p.After), limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("store: list the tokens of user %s: %w", userID, err)
	}
	return page(out, limit, func(tk store.Token) ovm.ID { return tk.ID })
}

// DeleteToken removes a token; a missing one is ovm.ErrNotFound.
func (t *tx) DeleteToken(ctx context.Context, id ovm.ID) error {
	n, err := t.exec(ctx, `DELETE FROM tokens WHERE id = $1`, string(id))
	if err != nil {
		return fmt.Errorf("store: delete token %s: %w", id, err)
	}
	if n == 0 {
		return notFound("token", id)
	}
	return nil
}

// TouchToken records when the token was last used.
func (t *tx) TouchToken(ctx context.Context, id ovm.ID, at time.Time) error {
	n, err := t.exec(ctx, `UPDATE tokens SET last_used = $2 WHERE id = $1`, string(id), t.ts(at))
	if err != nil {
		return fmt.Errorf("store: touch token %s: %w", id, err)
	}
	if n == 0 {
		return notFound("token", id)
	}
	return nil
}
