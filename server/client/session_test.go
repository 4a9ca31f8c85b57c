package client_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/client"
	"github.com/openovm/ovm/server/client/clienttest"
	"github.com/openovm/ovm/server/core"
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

// TestListTokensFollowsPages: the token list is paged like every list, and
// ListTokens follows its pages to the end.
func TestListTokensFollowsPages(t *testing.T) {
	ctx := t.Context()
	srv := clienttest.Start(t)
	anon, err := client.New(srv.URL, "", nil)
	require.NoError(t, err)
	s, err := anon.Login(ctx, srv.AdminName, srv.AdminPassword)
	require.NoError(t, err)
	c := anon.WithToken(s.Token)
	want := map[ovm.ID]bool{}
	for i := range 104 {
		tok, err := c.CreateToken(ctx, fmt.Sprintf("t%d", i), 0)
		require.NoError(t, err)
		want[tok.ID] = true
	}
	first, err := client.List[core.TokenInfo](ctx, c, "/v1/tokens", client.ListOptions{Limit: 100})
	require.NoError(t, err)
	assert.Len(t, first.Items, 100, "the first page")
	assert.NotEmpty(t, first.Next, "a next page after 100 of %d tokens", len(want))
	all, err := c.ListTokens(ctx)
	require.NoError(t, err)
	got := map[ovm.ID]bool{}
	sessions := 0
	for _, tk := range all {
		assert.False(t, got[tk.ID], "token %s twice", tk.ID)
		got[tk.ID] = true
		if tk.Session {
			sessions++
		} else {
			assert.True(t, want[tk.ID], "token %s was not made here", tk.ID)
		}
	}
	assert.Equal(t, 1, sessions, "the one login session")
	assert.Len(t, all, len(want)+1, "every token and the session once")
}
