package core_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

func TestLogoutRevokesOnlyThePresentedToken(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	pw, _, err := core.NewSystem(f.svc).EnsureAdmin(ctx, "admin")
	require.NoError(t, err)
	s1, err := f.svc.Login(ctx, "admin", pw)
	require.NoError(t, err)
	s2, err := f.svc.Login(ctx, "admin", pw)
	require.NoError(t, err)
	p1, err := f.svc.Authenticate(ctx, s1.Token) // remembered for a minute
	require.NoError(t, err)
	p2, err := f.svc.Authenticate(ctx, s2.Token)
	require.NoError(t, err)
	tok, err := f.svc.CreateToken(ctx, p2, "ci", 0)
	require.NoError(t, err)
	pt, err := f.svc.Authenticate(ctx, tok.Token)
	require.NoError(t, err)

	require.NoError(t, f.svc.Logout(ctx, p1), "log out of session 1")
	_, err = f.svc.Authenticate(ctx, s1.Token)
	assert.ErrorIs(t, err, core.ErrUnauthenticated, "session 1 after its logout, even remembered")
	_, err = f.svc.Authenticate(ctx, s2.Token)
	assert.NoError(t, err, "session 2 after session 1's logout")
	_, err = f.svc.Authenticate(ctx, tok.Token)
	assert.NoError(t, err, "the personal token after session 1's logout")

	// A personal token logs out the same way: exactly that token goes.
	require.NoError(t, f.svc.Logout(ctx, pt), "log out with the personal token")
	_, err = f.svc.Authenticate(ctx, tok.Token)
	assert.ErrorIs(t, err, core.ErrUnauthenticated, "the personal token after its logout")
	ts, err := f.svc.ListTokens(ctx, p2, core.ListOptions{})
	require.NoError(t, err)
	require.Len(t, ts.Items, 1, "tokens left: session 2 only")
	assert.Equal(t, p2.TokenID, ts.Items[0].ID)

	// A token already gone, or no token at all, is unauthenticated.
	assert.ErrorIs(t, f.svc.Logout(ctx, p1), core.ErrUnauthenticated, "a second logout of session 1")
	assert.ErrorIs(t, f.svc.Logout(ctx, auth.Principal{UserID: p2.UserID}), core.ErrUnauthenticated, "a principal without a token")
	// Another user's token id is not this user's to revoke.
	other := p2
	other.UserID = ovm.NewID()
	assert.ErrorIs(t, f.svc.Logout(ctx, other), core.ErrUnauthenticated, "a token id of another user")
	_, err = f.svc.Authenticate(ctx, s2.Token)
	assert.NoError(t, err, "session 2 after a stranger named it")
}
