package placement_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
)

// FuzzCursorText: UnmarshalText accepts "" and "<host id>/<host name>"
// with a canonical id, refuses the rest with ovm.ErrInvalid, and what it
// accepts MarshalText renders back byte for byte.
func FuzzCursorText(f *testing.F) {
	for _, s := range []string{"", "00000000-0000-4000-8000-000000000000/host1", "00000000-0000-4000-8000-000000000000/", "00000000-0000-4000-8000-000000000000/a/b",
		"00000000-0000-4000-8000-000000000000", "/host1", "x/host1", "00000000-0000-4000-8000-00000000000A/h"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		var c placement.Cursor
		err := c.UnmarshalText(text)
		id, _, cut := strings.Cut(string(text), "/")
		if err != nil {
			require.True(t, errors.Is(err, ovm.ErrInvalid), "UnmarshalText(%q): %v", text, err)
			require.False(t, cut && ovm.ID(id).Valid(), "UnmarshalText(%q) refused a cursor", text)
			return
		}
		require.True(t, len(text) == 0 || (cut && ovm.ID(id).Valid()), "UnmarshalText(%q) accepted", text)
		out, err := c.MarshalText()
		require.NoError(t, err)
		require.Equal(t, string(text), string(out), "MarshalText of UnmarshalText(%q)", text)
		var again placement.Cursor
		require.NoError(t, again.UnmarshalText(out))
		require.Equal(t, c, again)
	})
}
