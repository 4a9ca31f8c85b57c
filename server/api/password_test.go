package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
)

// TestNewPasswordRevokesOtherSessions: a user changing its own password
// keeps the session it changed it with and loses every other session and
// personal token; an administrator's reset revokes them all; a disabled
// user's tokens are all refused at once. Every token is used (and so
// remembered by the auth cache) before the change.
func TestNewPasswordRevokesOtherSessions(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	other := e.login("acme-admin", "tenant-password-1")
	var tok core.NewToken
	e.must(http.StatusCreated, "POST", "/v1/tokens", other, map[string]any{"name": "ci"}).decode(t, &tok)
	for _, token := range []string{tn.token, other, tok.Token} {
		e.must(http.StatusOK, "GET", "/v1/me", token, nil)
	}

	e.must(http.StatusOK, "PATCH", "/v1/users/"+string(tn.user), tn.token, map[string]any{"password": "tenant-password-2"})
	e.must(http.StatusOK, "GET", "/v1/me", tn.token, nil)
	for name, token := range map[string]string{"the other session": other, "the personal token": tok.Token} {
		assert.Equal(t, http.StatusUnauthorized, e.do("GET", "/v1/me", token, nil).status, "%s after a change of password", name)
	}
	var ts apitypes.Page[apitypes.TokenInfo]
	e.must(http.StatusOK, "GET", "/v1/tokens", tn.token, nil).decode(t, &ts)
	require.Len(t, ts.Items, 1, "tokens left after a change of password: %+v", ts.Items)
	assert.Equal(t, http.StatusUnauthorized, e.do("POST", "/v1/login", "", map[string]string{"name": "acme-admin", "password": "tenant-password-1"}).status,
		"login with the old password")

	// An administrator's reset ends every session, the one used so far too.
	s2 := e.login("acme-admin", "tenant-password-2")
	e.must(http.StatusOK, "PATCH", "/v1/users/"+string(tn.user), e.admin, map[string]any{"password": "tenant-password-3"})
	for name, token := range map[string]string{"the changing session": tn.token, "a new session": s2} {
		assert.Equal(t, http.StatusUnauthorized, e.do("GET", "/v1/me", token, nil).status, "%s after an administrator's reset", name)
	}
	e.must(http.StatusOK, "GET", "/v1/me", e.admin, nil)

	// Disabling refuses every token at once.
	s3 := e.login("acme-admin", "tenant-password-3")
	e.must(http.StatusOK, "GET", "/v1/me", s3, nil)
	e.must(http.StatusOK, "PATCH", "/v1/users/"+string(tn.user), e.admin, map[string]any{"disabled": true})
	assert.Equal(t, http.StatusUnauthorized, e.do("GET", "/v1/me", s3, nil).status, "a session of a disabled user")
}
