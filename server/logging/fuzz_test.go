package logging_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/logging"
)

// FuzzParseLevel: the four level names parse in any case; whatever parses
// is a level whose name parses back to it; a refusal quotes the input.
func FuzzParseLevel(f *testing.F) {
	for _, s := range []string{"debug", "info", "warn", "error", "INFO", "Warn", "", "trace", "info+2", "error-8", "debug+", "warning", " info"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := logging.ParseLevel(s)
		switch strings.ToLower(s) {
		case "debug", "info", "warn", "error":
			require.NoError(t, err, "ParseLevel(%q)", s)
			require.Equal(t, strings.ToUpper(s), l.String())
		}
		if err != nil {
			require.Contains(t, err.Error(), "log level")
			require.Zero(t, l)
			return
		}
		back, err := logging.ParseLevel(l.String())
		require.NoError(t, err, "ParseLevel(%q), the name of ParseLevel(%q)", l.String(), s)
		require.Equal(t, l, back)
	})
}
