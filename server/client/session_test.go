package client_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/client"
	"github.com/openovm/ovm/server/client/clienttest"
)

// TestLogout: a client's logout revokes its own token only.
func TestLogout(t *testing.T) {
	ctx := t.Context()
	srv := clienttest.Start(t)
	anon, err := client.New(srv.URL, "", nil)
	require.NoError(t, err)
	s1, err := anon.Login(ctx, srv.AdminName, srv.AdminPassword)
	require.NoError(t, err)
	s2, err := anon.Login(ctx, srv.AdminName, srv.AdminPassword)
	require.NoError(t, err)
	c1, c2 := anon.WithToken(s1.Token), anon.WithToken(s2.Token)

	require.NoError(t, c1.Logout(ctx))
	_, err = c1.Me(ctx)
	assert.Equal(t, http.StatusUnauthorized, client.StatusOf(err), "the logged-out token: got %v", err)
	assert.Equal(t, http.StatusUnauthorized, client.StatusOf(c1.Logout(ctx)), "a second logout")
	me, err := c2.Me(ctx)
	require.NoError(t, err, "the other session")
	assert.Equal(t, srv.AdminName, me.Name)
	assert.Equal(t, http.StatusUnauthorized, client.StatusOf(anon.Logout(ctx)), "a logout without a token")
}
