package core

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// AdminPasswordLength is the length of the generated administrator password.
const AdminPasswordLength = 24

// EnsureAdmin creates the platform administrator name with a generated
// password when no administrator exists yet (the first start), and returns
// the password, which is shown once: only its Argon2id hash is stored.
// Later calls create nothing and return created false.
func (y *System) EnsureAdmin(ctx context.Context, name string) (password string, created bool, err error) {
	s := y.s
	if r := ovm.ValidateName(name); r != "" {
		return "", false, invalid("invalid administrator", "name", r)
	}
	exists := false
	if err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		exists, err = anyAdmin(ctx, tx)
		return err
	}); err != nil || exists {
		return "", false, err
	}
	password, err = auth.GeneratePassword(AdminPasswordLength)
	if err != nil {
		return "", false, err
	}
	hash, err := auth.HashPassword(password, s.o.Argon2)
	if err != nil {
		return "", false, err
	}
	err = s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		created = false
		if exists, err := anyAdmin(ctx, tx); err != nil || exists {
			return err
		}
		u := auth.User{ID: ovm.NewID(), Name: name, Role: auth.RoleAdmin, PasswordHash: hash}
		rec := store.Record{Kind: store.KindUser, ID: u.ID, Name: name}
		if err := setData(&rec, userRecord{User: u, CreatedAt: s.now()}); err != nil {
			return err
		}
		if err := tx.Insert(ctx, &rec); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil || !created {
		return "", false, err
	}
	s.log.InfoContext(ctx, "created the platform administrator", "name", name)
	return password, true, nil
}

// anyAdmin reports whether a platform administrator exists.
func anyAdmin(ctx context.Context, tx store.Tx) (bool, error) {
	rs, err := listAll(ctx, tx, store.Filter{Kind: store.KindUser})
	if err != nil {
		return false, err
	}
	for _, r := range rs {
		u, err := decode[userRecord](r)
		if err != nil {
			return false, err
		}
		if u.Role == auth.RoleAdmin && !u.Disabled {
			return true, nil
		}
	}
	return false, nil
}

// Session is the outcome of a login: a bearer token shown once.
type Session = apitypes.Session

// Login checks a user's password and returns a new session token. A wrong
// name or password is ErrUnauthenticated, without saying which.
func (s *Service) Login(ctx context.Context, name, password string) (Session, error) {
	return s.LoginFrom(ctx, name, password, "")
}

// LoginFrom is Login from a client address (empty: unknown). Failed logins
// are throttled per user name and per address: past Options.UserLimits or
// Options.AddressLimits, a login is a *ThrottledError (ErrThrottled) until
// the wait ends, without its password being checked, for unknown users
// exactly as for existing ones. Under an AuditContext (WithAudit) a failed
// or throttled login is an audit event, with the name given.
func (s *Service) LoginFrom(ctx context.Context, name, password, addr string) (Session, error) {
	sess, err := s.loginFrom(ctx, name, password, addr)
	s.auditLogin(ctx, name, err)
	return sess, err
}

func (s *Service) loginFrom(ctx context.Context, name, password, addr string) (Session, error) {
	now := s.now()
	user := strings.ToLower(name)
	if wait := s.byUser.Try(now, user); wait > 0 {
		return Session{}, &ThrottledError{RetryAfter: wait}
	}
	if addr != "" {
		if wait := s.byAddress.Try(now, addr); wait > 0 {
			s.byUser.Forgive(user) // not tried: this attempt does not count
			return Session{}, &ThrottledError{RetryAfter: wait}
		}
	}
	sess, err := s.login(ctx, name, password)
	if err == nil || !errors.Is(err, ErrUnauthenticated) {
		// A success, or a failure of the server's own: not a guess.
		if err == nil {
			s.byUser.Reset(user)
		} else {
			s.byUser.Forgive(user)
		}
		if addr != "" {
			s.byAddress.Forgive(addr)
		}
	}
	return sess, err
}

// login checks a password and makes a session.
func (s *Service) login(ctx context.Context, name, password string) (Session, error) {
	var u userRecord
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := tx.GetByName(ctx, store.KindUser, "", name)
		if err != nil {
			return err
		}
		u, err = decode[userRecord](r)
		return err
	})
	found := err == nil
	if err != nil && !errors.Is(err, ovm.ErrNotFound) {
		return Session{}, err
	}
	hash := u.PasswordHash
	if !found || hash == "" {
		hash = s.dummyHash()
	}
	ok, herr := auth.CheckPassword(password, hash)
	if !found || !ok || herr != nil || u.Disabled {
		return Session{}, unauthenticated("wrong user name or password")
	}
	secret, th, err := auth.NewToken()
	if err != nil {
		return Session{}, err
	}
	now := s.now()
	tok := store.Token{ID: ovm.NewID(), UserID: u.ID, Name: "login", Hash: th, Session: true, ExpiresAt: now.Add(s.o.SessionTTL), CreatedAt: now}
	if ac := auditFrom(ctx); ac != nil {
		ac.actAs(auth.Principal{UserID: u.ID, Name: u.Name, Role: u.Role, VDCID: u.VDCID, TokenID: tok.ID})
	}
	if err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.CreateToken(ctx, tok) }); err != nil {
		return Session{}, err
	}
	return Session{Token: secret, ExpiresAt: tok.ExpiresAt, User: u.view()}, nil
}

// dummyHash is checked against when a user does not exist, so that a
// login takes as long for a wrong name as for a wrong password.
func (s *Service) dummyHash() string {
	s.authMu.Lock()
	defer s.authMu.Unlock()
	if s.dummy == "" {
		s.dummy, _ = auth.HashPassword("no such user, no such password", s.o.Argon2)
	}
	return s.dummy
}

// authEntry is a remembered authentication.
type authEntry struct {
	p       auth.Principal
	until   time.Time // remembered until
	expires time.Time // the token's own expiry (zero: never)
	touched time.Time
}

// Authenticate returns the principal of a bearer token. A malformed,
// unknown, expired or revoked token, or a disabled user, is
// ErrUnauthenticated.
func (s *Service) Authenticate(ctx context.Context, secret string) (auth.Principal, error) {
	if !auth.LooksLikeToken(secret) {
		return auth.Principal{}, unauthenticated("not an OVM token")
	}
	key := sha256.Sum256([]byte(secret))
	now := s.now()
	if s.o.AuthCacheTTL > 0 {
		s.authMu.Lock()
		e, ok := s.authCache[key]
		s.authMu.Unlock()
		if ok && now.Before(e.until) && (e.expires.IsZero() || now.Before(e.expires)) {
			return e.p, nil
		}
	}
	var p auth.Principal
	var tok store.Token
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		tok, err = tx.TokenByHash(ctx, key[:])
		if err != nil {
			return err
		}
		if !tok.ExpiresAt.IsZero() && !now.Before(tok.ExpiresAt) {
			return unauthenticated("the token expired")
		}
		u, _, err := getAs[userRecord](ctx, tx, store.KindUser, tok.UserID)
		if err != nil {
			return err
		}
		if u.Disabled {
			return unauthenticated("the user is disabled")
		}
		p = auth.Principal{UserID: u.ID, Name: u.Name, Role: u.Role, VDCID: u.VDCID, TokenID: tok.ID}
		return nil
	})
	switch {
	case errors.Is(err, ovm.ErrNotFound):
		return auth.Principal{}, unauthenticated("unknown or revoked token")
	case err != nil:
		return auth.Principal{}, err
	}
	// The last use is recorded to the minute: a write at most once a
	// minute per token, not one per request.
	if now.Sub(tok.LastUsed) > time.Minute {
		err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.TouchToken(ctx, tok.ID, now) })
		switch {
		case errors.Is(err, ovm.ErrNotFound):
			return auth.Principal{}, unauthenticated("unknown or revoked token")
		case err != nil:
			// The token is valid; only its last use went unrecorded.
			s.log.WarnContext(ctx, "core: record the last use of a token", "token", tok.ID, "err", err)
		}
	}
	if s.o.AuthCacheTTL > 0 {
		s.authMu.Lock()
		if len(s.authCache) > 10000 {
			clear(s.authCache)
		}
		s.authCache[key] = authEntry{p: p, until: now.Add(s.o.AuthCacheTTL), expires: tok.ExpiresAt}
		s.authMu.Unlock()
	}
	return p, nil
}

// forget drops remembered authentications: of one token, or all (tokenID
// empty) after a change of users.
func (s *Service) forget(tokenID ovm.ID) {
	s.authMu.Lock()
	defer s.authMu.Unlock()
	if tokenID == "" {
		clear(s.authCache)
		return
	}
	for k, e := range s.authCache {
		if e.p.TokenID == tokenID {
			delete(s.authCache, k)
		}
	}
}

// TokenInfo describes an API token; the secret is never stored.
type TokenInfo = apitypes.TokenInfo

// NewToken is a created personal token with its secret, shown once.
type NewToken = apitypes.NewToken

func tokenInfo(t store.Token) TokenInfo {
	out := TokenInfo{ID: t.ID, Name: t.Name, Session: t.Session, CreatedAt: t.CreatedAt}
	if !t.ExpiresAt.IsZero() {
		e := t.ExpiresAt
		out.ExpiresAt = &e
	}
	if !t.LastUsed.IsZero() {
		l := t.LastUsed
		out.LastUsed = &l
	}
	return out
}

// CreateToken makes a personal API token of the principal's user; ttl 0
// means it does not expire.
func (s *Service) CreateToken(ctx context.Context, p auth.Principal, name string, ttl time.Duration) (NewToken, error) {
	var f ovm.Fields
	if r := ovm.ValidateName(name); r != "" {
		f.Add("name", r)
	}
	if ttl < 0 {
		f.Add("expiresInSeconds", "must not be negative")
	}
	if err := f.Err("invalid token"); err != nil {
		return NewToken{}, err
	}
	secret, h, err := auth.NewToken()
	if err != nil {
		return NewToken{}, err
	}
	now := s.now()
	tok := store.Token{ID: ovm.NewID(), UserID: p.UserID, Name: name, Hash: h, CreatedAt: now}
	if ttl > 0 {
		tok.ExpiresAt = now.Add(ttl)
	}
	if err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.CreateToken(ctx, tok) }); err != nil {
		return NewToken{}, err
	}
	return NewToken{TokenInfo: tokenInfo(tok), Token: secret}, nil
}

// ListTokens lists one page of the principal's own tokens; o.VDCID does
// not apply.
func (s *Service) ListTokens(ctx context.Context, p auth.Principal, o ListOptions) (Page[TokenInfo], error) {
	pg, err := o.page()
	if err != nil {
		return Page[TokenInfo]{}, err
	}
	var out Page[TokenInfo]
	err = s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		ts, next, err := tx.PageTokens(ctx, p.UserID, pg)
		out = Page[TokenInfo]{Items: make([]TokenInfo, 0, len(ts)), Next: string(next)}
		for _, t := range ts {
			out.Items = append(out.Items, tokenInfo(t))
		}
		return err
	})
	return out, err
}

// RevokeToken deletes one of the principal's own tokens; anybody else's is
// not found.
func (s *Service) RevokeToken(ctx context.Context, p auth.Principal, id ovm.ID) error {
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		ts, err := tx.ListTokens(ctx, p.UserID)
		if err != nil {
			return err
		}
		for _, t := range ts {
			if t.ID == id {
				return tx.DeleteToken(ctx, id)
			}
		}
		return ovm.NotFound("token", id)
	})
	if err == nil {
		s.forget(id)
	}
	return err
}

// Logout revokes the token the principal authenticated with (a login
// session or a personal token alike: exactly the one presented), so that it
// is refused at once on this replica; other replicas may still accept it
// for up to Options.AuthCacheTTL, as after RevokeToken. A principal that
// carries no token, or whose token is already gone (revoked meanwhile), is
// ErrUnauthenticated.
func (s *Service) Logout(ctx context.Context, p auth.Principal) error {
	if p.TokenID == "" || p.UserID == "" {
		return unauthenticated("no token to log out")
	}
	err := s.RevokeToken(ctx, p, p.TokenID)
	// Drop what this replica remembers of the token even when it was gone
	// already, so that the next request with it is refused.
	s.forget(p.TokenID)
	if errors.Is(err, ovm.ErrNotFound) {
		return unauthenticated("unknown or revoked token")
	}
	return err
}
