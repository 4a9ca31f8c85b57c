package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	"golang.org/x/term"
)

// structured reports whether the output is JSON or YAML.
func (a *app) structured() bool { return a.g.output == "json" || a.g.output == "yaml" }

// show prints v as JSON or YAML, or as a table by calling table.
func (a *app) show(v any, table func(w io.Writer)) error {
	switch a.g.output {
	case "json":
		return writeJSON(a.env.Stdout, v)
	case "yaml":
		return writeYAML(a.env.Stdout, v)
	}
	tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// writeJSON prints v as indented JSON, the API's field names and values.
func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// writeYAML prints v as YAML with the JSON field names.
func writeYAML(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	var node yaml.Node
	if err := yaml.Unmarshal(b, &node); err != nil { // JSON is YAML; the node keeps key order
		return fmt.Errorf("encode output: %w", err)
	}
	styleBlock(&node)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&node); err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	return enc.Close()
}

// styleBlock turns the flow style and quotes of parsed JSON into plain
// block style; the encoder still quotes a string that would read as
// another type.
func styleBlock(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		styleBlock(c)
	}
}

// row writes one tab-separated row, each cell's control characters
// escaped.
func row(w io.Writer, cells ...any) {
	parts := make([]string, len(cells))
	for i, c := range cells {
		s := escape(fmt.Sprint(c))
		if s == "" {
			s = "-"
		}
		parts[i] = s
	}
	fmt.Fprintln(w, strings.Join(parts, "\t"))
}

// field writes "Label:\tvalue" for a detail view, the value's control
// characters escaped.
func field(w io.Writer, label string, v any) {
	s := escape(fmt.Sprint(v))
	if s == "" {
		s = "-"
	}
	fmt.Fprintf(w, "%s:\t%s\n", label, s)
}

// escape makes text from the server safe to print on a terminal: control
// characters (escape sequences, carriage returns, newlines and tabs that
// would forge rows, C1 controls), bidirectional overrides and invalid
// UTF-8 are shown as Go escapes (\x1b, \n, \u202e); everything else,
// other scripts included, is printed as it is.
func escape(s string) string {
	i := strings.IndexFunc(s, unsafeRune)
	if i < 0 && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case unsafeRune(r):
			q := strconv.QuoteRune(r) // such as '\x1b' or '\u202e'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

// escapeLines is escape keeping the line breaks of multi-line text (error
// messages).
func escapeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = escape(l)
	}
	return strings.Join(lines, "\n")
}

// unsafeRune reports a rune that changes what a terminal shows besides
// itself: a control character or a bidirectional override.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// ago renders a time as an age such as "5m" or "3d".
func ago(t time.Time, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// isTerminal reports whether w (or r) is a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// terminalWidth returns w's width, 80 when unknown.
func terminalWidth(v any) int {
	if f, ok := v.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 20 {
			return w
		}
	}
	return 80
}
