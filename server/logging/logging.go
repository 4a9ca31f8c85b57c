// Package logging builds the server's slog logger: colourful, compact lines
// (tint) when writing to a terminal, JSON lines otherwise.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/lmittmann/tint"
)

// Format selects the log format.
type Format string

// The formats. FormatAuto picks text on a terminal, JSON otherwise.
const (
	FormatAuto Format = "auto"
	FormatText Format = "text"
	FormatJSON Format = "json"
)

// ParseLevel parses debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// New returns a logger writing to w in the given format and level.
func New(w io.Writer, format Format, level slog.Level) (*slog.Logger, error) {
	switch format {
	case FormatAuto, "":
		if IsTerminal(w) {
			format = FormatText
		} else {
			format = FormatJSON
		}
	case FormatText, FormatJSON:
	default:
		return nil, fmt.Errorf("log format %q: want auto, text or json", format)
	}
	if format == FormatText {
		return slog.New(tint.NewHandler(w, &tint.Options{Level: level, TimeFormat: time.TimeOnly, NoColor: !IsTerminal(w)})), nil
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})), nil
}

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
