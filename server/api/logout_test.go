package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/core"
)

func TestLogoutRevokesThePresentedToken(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	other := e.login("acme-admin", "tenant-password-1")   // another session of the same user
	e.must(http.StatusOK, "GET", "/v1/me", tn.token, nil) // remembered by the auth cache

	r := e.must(http.StatusNoContent, "POST", "/v1/logout", tn.token, nil)
	assert.Empty(t, r.body, "a logout answers no body")
	e.must(http.StatusUnauthorized, "GET", "/v1/me", tn.token, nil)
	e.must(http.StatusUnauthorized, "POST", "/v1/logout", tn.token, nil)

	var me core.User
	e.must(http.StatusOK, "GET", "/v1/me", other, nil).decode(t, &me)
	assert.Equal(t, tn.user, me.ID, "the other session's user")
	var ts core.Page[core.TokenInfo]
	e.must(http.StatusOK, "GET", "/v1/tokens", other, nil).decode(t, &ts)
	require.Len(t, ts.Items, 1, "the user's tokens after the logout: the other session")
	assert.True(t, ts.Items[0].Session)

	// A personal token logs out itself only.
	var pt core.NewToken
	e.must(http.StatusCreated, "POST", "/v1/tokens", other, map[string]any{"name": "ci"}).decode(t, &pt)
	e.must(http.StatusOK, "GET", "/v1/me", pt.Token, nil)
	e.must(http.StatusNoContent, "POST", "/v1/logout", pt.Token, nil)
	e.must(http.StatusUnauthorized, "GET", "/v1/me", pt.Token, nil)
	e.must(http.StatusOK, "GET", "/v1/me", other, nil)
	e.must(http.StatusOK, "GET", "/v1/me", e.admin, nil)

	e.must(http.StatusUnauthorized, "POST", "/v1/logout", "", nil)
}
