package auth_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/auth"
)

// fuzzArgon is cheap enough to hash on every fuzz input.
var fuzzArgon = auth.Argon2idParams{Memory: 64, Time: 1, Threads: 1, KeyLen: 16, SaltLen: 8}

// bounded rewrites the cost parameters of a PHC hash that would take more
// than a few milliseconds to check, keeping the rest of the hash as the
// fuzzer wrote it: the bound is the fuzz budget, not a property.
func bounded(hash string) string {
	parts := strings.Split(hash, "$")
	if len(parts) < 4 {
		return hash
	}
	var m, tm uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &tm, &p); err == nil && (m > 1024 || tm > 2 || p > 4) {
		parts[3] = fmt.Sprintf("m=%d,t=%d,p=%d", min(m, 1024), min(tm, 2), min(p, 4))
	}
	return strings.Join(parts, "$")
}

// FuzzCheckPassword checks passwords against arbitrary PHC strings: it
// never panics, a malformed hash is an error and never a match, a hash
// never verifies two different passwords, and a hash HashPassword made
// verifies its own password and no other.
func FuzzCheckPassword(f *testing.F) {
	good, err := auth.HashPassword("correct-horse-battery", fuzzArgon)
	require.NoError(f, err)
	salt := base64.RawStdEncoding.EncodeToString([]byte("saltsalt"))
	for _, h := range []string{good, "", "$", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$AAAA",
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$AAAA", "$argon2id$v=19$m=0,t=1,p=1$" + salt + "$AAAA", "$argon2id$v=19$m=64,t=0,p=1$$AAAA",
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$AAAA", "$argon2id$v=19$m=64,t=1,p=300$" + salt + "$AAAA", "$argon2id$v=19$m=64,t=1$" + salt + "$AAAA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$AAAA", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$A", "$argon2id$v=19$m=-1,t=1,p=1$" + salt + "$AAAA",
		"x$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAA", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAA$extra"} {
		f.Add("correct-horse-battery", h)
	}
	f.Add("", good)
	f.Add("correct-horse-batterx", good)
	f.Fuzz(func(t *testing.T, pw, hash string) {
		hash = bounded(hash)
		ok, err := auth.CheckPassword(pw, hash)
		if err != nil {
			require.False(t, ok, "CheckPassword(%q, %q): a match with an error", pw, hash)
		}
		if ok {
			other := pw + "x"
			ok2, err := auth.CheckPassword(other, hash)
			require.NoError(t, err)
			require.False(t, ok2, "hash %q verifies both %q and %q", hash, pw, other)
		}
		// A hash of pw verifies pw and not another password.
		if len(pw) > 256 {
			return
		}
		h, err := auth.HashPassword(pw, fuzzArgon)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$"), "HashPassword = %q", h)
		ok, err = auth.CheckPassword(pw, h)
		require.NoError(t, err, "CheckPassword of HashPassword(%q) = %q", pw, h)
		require.True(t, ok, "HashPassword(%q) does not verify it", pw)
		if wrong := hash; wrong != pw {
			ok, err = auth.CheckPassword(wrong, h)
			require.NoError(t, err)
			require.False(t, ok, "HashPassword(%q) verifies %q", pw, wrong)
		}
	})
}

// FuzzValidatePassword: a password is refused exactly when it is shorter
// than MinPasswordLength or longer than 1024 bytes.
func FuzzValidatePassword(f *testing.F) {
	for _, s := range []string{"", "short", "exactly-12ch", strings.Repeat("a", 1024), strings.Repeat("a", 1025), "ééééééé"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		reason := auth.ValidatePassword(pw)
		if len(pw) < auth.MinPasswordLength || len(pw) > 1024 {
			require.NotEmpty(t, reason, "ValidatePassword(%q) accepted", pw)
		} else {
			require.Empty(t, reason, "ValidatePassword(%q): %s", pw, reason)
		}
	})
}

// FuzzToken: LooksLikeToken accepts exactly the shape NewToken makes
// (the prefix and 43 more bytes); HashToken is a 32-byte digest that tells
// different secrets apart.
func FuzzToken(f *testing.F) {
	secret, _, err := auth.NewToken()
	require.NoError(f, err)
	for _, s := range []string{secret, "", auth.TokenPrefix, auth.TokenPrefix + strings.Repeat("A", 42), auth.TokenPrefix + strings.Repeat("A", 44),
		"OVM_" + strings.Repeat("A", 43), "Bearer " + secret, secret + "\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := strings.HasPrefix(s, auth.TokenPrefix) && len(s) == len(auth.TokenPrefix)+43
		require.Equal(t, want, auth.LooksLikeToken(s), "LooksLikeToken(%q)", s)
		h := auth.HashToken(s)
		require.Len(t, h, 32)
		require.Equal(t, h, auth.HashToken(s))
		require.NotEqual(t, h, auth.HashToken(s+"x"))
		secret, hash, err := auth.NewToken()
		require.NoError(t, err)
		require.True(t, auth.LooksLikeToken(secret))
		require.Equal(t, hash, auth.HashToken(secret))
	})
}
