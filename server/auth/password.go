package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/openovm/ovm/ovm"
)

// Argon2idParams are the cost parameters of a password hash.
type Argon2idParams struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	KeyLen  uint32
	SaltLen uint32
}

// DefaultArgon2id follows RFC 9106's second recommended option (64 MiB,
// three passes), with the parallelism of these small servers.
var DefaultArgon2id = Argon2idParams{Memory: 64 * 1024, Time: 3, Threads: 2, KeyLen: 32, SaltLen: 16}

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

// ValidatePassword returns a reason the password is refused, or "".
func ValidatePassword(pw string) string {
	switch {
	case len(pw) < MinPasswordLength:
		return fmt.Sprintf("must be at least %d characters", MinPasswordLength)
	case len(pw) > 1024:
		return "must be at most 1024 characters"
	}
	return ""
}

// HashPassword returns the PHC string of an Argon2id hash of pw:
// $argon2id$v=19$m=65536,t=3,p=2$<salt>$<key>.
func HashPassword(pw string, p Argon2idParams) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches the PHC hash, in constant time
// with respect to the key. A malformed hash is an error, not a mismatch.
func CheckPassword(pw, hash string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, fmt.Errorf("auth: not an argon2id hash")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false, fmt.Errorf("auth: unsupported argon2 version %q", parts[2])
	}
	var p Argon2idParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, fmt.Errorf("auth: argon2id parameters: %w", err)
	}
	if p.Memory == 0 || p.Memory > 4*1024*1024 || p.Time == 0 || p.Time > 100 || p.Threads == 0 {
		return false, fmt.Errorf("auth: argon2id parameters out of range")
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("auth: salt: %w", err)
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 1024 {
		return false, fmt.Errorf("auth: key: malformed")
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// GeneratePassword returns a random password of n characters from an
// alphabet without look-alike characters.
func GeneratePassword(n int) (string, error) {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: %w", err)
	}
	for i := range b {
		// 256 is not a multiple of len(alphabet); the bias is < 1% per
		// character and the passwords are long.
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

// ErrBadCredentials is returned for a wrong login or password, without
// saying which.
var ErrBadCredentials = ovm.Errorf(ovm.KindInvalid, "wrong user name or password")
