package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEscape(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "web-1 running", "web-1 running"},
		{"other scripts", "网站 ünïcode", "网站 ünïcode"},
		{"terminal escape", "a\x1b[2Jb", `a\x1b[2Jb`},
		{"title change", "\x1b]0;pwned\x07", `\x1b]0;pwned\a`},
		{"forged row", "x\ny\tz\r", `x\ny\tz\r`},
		{"C1 control", "a\u009bb", `a\u009bb`},
		{"bidi override", "evil\u202etxt.exe", `evil\u202etxt.exe`},
		{"invalid utf-8", "a\xffb", `a\xffb`},
		{"NUL", "a\x00b", `a\x00b`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, escape(tc.in))
			var b bytes.Buffer
			row(&b, "id", tc.in)
			assert.Equal(t, "id\t"+tc.want+"\n", b.String(), "row")
			b.Reset()
			field(&b, "Message", tc.in)
			assert.Equal(t, "Message:\t"+tc.want+"\n", b.String(), "field")
		})
	}
	assert.Equal(t, "line 1\nline \\x1b[2J2", escapeLines("line 1\nline \x1b[2J2"), "escapeLines keeps line breaks")
}

// TestOutputHasNoControlCharacters: what the server sends back, in tables,
// JSON, YAML and errors, reaches the terminal without a raw control
// character.
func TestOutputHasNoControlCharacters(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")
	evil := "\x1b]0;pwned\x07\x1b[2J"
	h.ok("instance", "create", "--name", "web", "--type", "container", "--image", "busybox:1", "--cpu", "100m", "--memory", "16Mi",
		"--label", "note="+evil, "--env", "GREETING="+evil)
	for _, args := range [][]string{
		{"instance", "show", "web"},
		{"instance", "show", "web", "-o", "json"},
		{"instance", "show", "web", "-o", "yaml"},
		{"instance", "list"},
	} {
		out := h.ok(args...).stdout
		assert.NotContains(t, out, "\x1b", "ovm %s", strings.Join(args, " "))
		assert.NotContains(t, out, "\x07", "ovm %s", strings.Join(args, " "))
	}
	r := h.run("instance", "show", "x"+evil)
	assert.NotEqual(t, 0, r.code)
	assert.NotContains(t, r.stderr, "\x1b", "an error naming the input")
	r = h.run("instance", "create", "--name", "w2", "--type", "container", "--image", "busybox"+evil, "--cpu", "100m", "--memory", "16Mi")
	assert.NotEqual(t, 0, r.code, "an image name with escapes: %s", r)
	assert.Contains(t, r.stderr, "image.name", "the error names the field")
	assert.NotContains(t, r.stderr, "\x1b", "the refusal of an image name with escapes")
}
