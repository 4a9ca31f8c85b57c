package auth_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
)

// cheap keeps the tests fast; the parameters are part of each hash.
var cheap = auth.Argon2idParams{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

func TestPasswordHashRoundTrip(t *testing.T) {
	h, err := auth.HashPassword("correct horse battery", cheap)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$"), "hash %q", h)
	h2, err := auth.HashPassword("correct horse battery", cheap)
	require.NoError(t, err)
	assert.NotEqual(t, h, h2, "salted hashes of one password must differ")

	ok, err := auth.CheckPassword("correct horse battery", h)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = auth.CheckPassword("correct horse battery!", h)
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestCheckPasswordRejectsMalformedHashes(t *testing.T) {
	for _, h := range []string{
		"", "plain", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=18$m=1024,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=999999999,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=1024,t=1,p=1$!!$a2V5",
		"$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$",
	} {
		_, err := auth.CheckPassword("x", h)
		assert.Error(t, err, "hash %q", h)
	}
}

func TestTokens(t *testing.T) {
	s, h, err := auth.NewToken()
	require.NoError(t, err)
	assert.True(t, auth.LooksLikeToken(s), "token %q", s)
	assert.Equal(t, h, auth.HashToken(s))
	s2, _, err := auth.NewToken()
	require.NoError(t, err)
	assert.NotEqual(t, s, s2)
	assert.False(t, auth.LooksLikeToken("ovm_short"))
	assert.False(t, auth.LooksLikeToken("Bearer "+s))
}

func TestGeneratePassword(t *testing.T) {
	p, err := auth.GeneratePassword(20)
	require.NoError(t, err)
	assert.Len(t, p, 20)
	assert.Empty(t, auth.ValidatePassword(p))
	assert.NotEmpty(t, auth.ValidatePassword("short"))
}

func TestPrincipalScopes(t *testing.T) {
	a, b := ovm.NewID(), ovm.NewID()
	tests := []struct {
		name           string
		p              auth.Principal
		vdc            ovm.ID
		see, canManage bool
	}{
		{"admin sees all", auth.Principal{Role: auth.RoleAdmin}, a, true, true},
		{"member own vdc", auth.Principal{Role: auth.RoleVDCMember, VDCID: a}, a, true, false},
		{"member other vdc", auth.Principal{Role: auth.RoleVDCMember, VDCID: a}, b, false, false},
		{"vdc admin own", auth.Principal{Role: auth.RoleVDCAdmin, VDCID: a}, a, true, true},
		{"vdc admin other", auth.Principal{Role: auth.RoleVDCAdmin, VDCID: a}, b, false, false},
		{"member platform scope", auth.Principal{Role: auth.RoleVDCMember, VDCID: a}, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.see, tt.p.CanSeeVDC(tt.vdc))
			assert.Equal(t, tt.canManage, tt.p.CanManageVDC(tt.vdc))
		})
	}
}
