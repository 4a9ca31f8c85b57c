package esxi

import (
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

// FuzzConfigValidate: a config that passes Validate names a host (with an
// optional port, no path or space) and a user; its thumbprint, when
// pinned, is SHA-1 or SHA-256 hex once colons, spaces and hyphens are
// dropped, and normalises to lower case. Refusals are ovm.ErrInvalid.
func FuzzConfigValidate(f *testing.F) {
	f.Add("esx1.example:443", "root", "AB:"+strings.Repeat("cd:", 30)+"ef", int64(0))
	f.Add("10.0.0.1", "root", strings.Repeat("ab", 20), int64(time.Minute))
	f.Add("[::1]:443", "root", strings.Repeat("AB-", 31)+"AB", int64(0))
	f.Add("", "", "", int64(0))
	f.Add("esx/sdk", "root", "AB:CD", int64(-1))
	f.Add("esx", "root", strings.Repeat("zz", 20), int64(0))
	f.Add("esx", "root", strings.Repeat("g", 64), int64(0))
	f.Add("esx 1", "root", "", int64(0))
	f.Add("%zz", "root", "", int64(0))
	f.Add("root@esx", "root", "", int64(0))
	f.Add("esx?x=1", "root", "", int64(0))
	f.Add("esx#frag", "root", "", int64(0))
	f.Fuzz(func(t *testing.T, host, user, thumb string, keep int64) {
		c := Config{Host: host, User: user, Thumbprint: thumb, KeepAlive: time.Duration(keep)}
		err := c.Validate()
		if err != nil {
			require.True(t, errors.Is(err, ovm.ErrInvalid), "Validate: %v is not ovm.ErrInvalid", err)
			require.NotEmpty(t, ovm.FieldsOf(err))
			return
		}
		require.NotEmpty(t, host)
		require.NotEmpty(t, user)
		require.False(t, strings.ContainsAny(host, "/ "))
		u, perr := url.Parse("https://" + host)
		require.NoError(t, perr)
		require.Equal(t, host, u.Host, "Validate accepted %q, which is not HOST[:PORT]", host)
		require.Nil(t, u.User, "Validate accepted %q, which names a user", host)
		require.GreaterOrEqual(t, keep, int64(0))
		if thumb != "" {
			norm := normThumbprint(thumb)
			b, herr := hex.DecodeString(norm)
			require.NoError(t, herr, "thumbprint %q passed Validate", thumb)
			require.Contains(t, []int{20, 32}, len(b), "thumbprint %q passed Validate", thumb)
			require.Equal(t, strings.ToLower(norm), norm)
			require.Equal(t, norm, normThumbprint(norm), "normThumbprint is not idempotent")
		}
	})
}

// FuzzParseImage: parseImage reads back what ImageRef.String writes for
// every valid reference, and never panics on other text.
func FuzzParseImage(f *testing.F) {
	for _, c := range [][2]string{{"vmdk", "w.vmdk"}, {"oci", "127.0.0.1:5000/busybox:1"}, {"qcow2", "a:b:c"}, {"", ""}, {"x", ""}} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, format, name string) {
		r := ovm.ImageRef{Format: ovm.ImageFormat(format), Name: name}
		got := parseImage(r.String())
		if r.Validate() == nil {
			require.Equal(t, r, got, "parseImage(%q)", r.String())
		}
		// Any text: what parses renders back to the same text.
		s := format + name
		p := parseImage(s)
		if !p.IsZero() || strings.Contains(s, ":") {
			require.Equal(t, s, p.String(), "parseImage(%q).String()", s)
		}
	})
}
