package ovm

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/distribution/reference"
)

// Bounds of an instance's labels and environment: enough for any real use,
// small enough that a list page of instances stays small.
const (
	MaxLabels          = 64
	MaxLabelKeyLen     = 128
	MaxLabelValueLen   = 1024
	MaxLabelsBytes     = 16 * 1024
	MaxEnv             = 128
	MaxEnvKeyLen       = 256
	MaxEnvValueLen     = 16 * 1024
	MaxEnvBytes        = 64 * 1024
	MaxTemplateNameLen = 255
)

// ReservedLabelPrefix starts the labels OVM puts on engine objects itself
// (identity, VDC, role); a spec may not set them.
const ReservedLabelPrefix = "org.openovm."

// templatePattern is a VM template's name in the image library: one or
// more path segments of letters, digits, dots, hyphens and underscores,
// each starting with a letter or digit (so no "..", no absolute path).
var templatePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$`)

// validateImageName returns why name cannot name an image of format f, or
// "": a container image is a Docker reference ("busybox:1",
// "127.0.0.1:5000/team/app@sha256:..."), a VM template a name inside the
// image library ("debian-12.qcow2", "linux/alpine.raw").
func validateImageName(f ImageFormat, name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case len(name) > MaxTemplateNameLen:
		return fmt.Sprintf("must be at most %d characters", MaxTemplateNameLen)
	case f == FormatOCI:
		if _, err := reference.ParseNormalizedNamed(name); err != nil {
			return "must be a container image reference such as registry.example:5000/team/app:1.2 (" + printable(err.Error()) + ")"
		}
	case !templatePattern.MatchString(name):
		return "must be a template name inside the image library: letters, digits, '.', '-', '_' and '/' between names, " +
			"each part starting with a letter or digit"
	}
	return ""
}

// printable replaces the control characters of s with '?', for echoing
// a library's message that may quote the input.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// checkKey returns why k cannot be a label or environment key of at most
// maxLen bytes, or "".
func checkKey(k string, maxLen int) string {
	switch {
	case k == "":
		return "keys must not be empty"
	case len(k) > maxLen:
		return fmt.Sprintf("keys must be at most %d bytes", maxLen)
	case !utf8.ValidString(k):
		return "keys must be UTF-8"
	case strings.IndexFunc(k, unicode.IsControl) >= 0:
		return "keys must not contain control characters"
	}
	return ""
}

// checkValue returns why v cannot be a value of at most maxLen bytes, or "".
func checkValue(v string, maxLen int) string {
	switch {
	case len(v) > maxLen:
		return fmt.Sprintf("values must be at most %d bytes", maxLen)
	case !utf8.ValidString(v):
		return "values must be UTF-8"
	case strings.IndexByte(v, 0) >= 0:
		return "values must not contain NUL"
	}
	return ""
}

// mapLimits bound a map of strings (labels, an environment).
type mapLimits struct {
	what                 string // "labels", "variables"
	count, keyLen, total int
	valueLen             int
	// key, when set, refuses more keys: it returns a reason or "".
	key func(k string) string
}

var (
	labelLimits = mapLimits{what: "labels", count: MaxLabels, keyLen: MaxLabelKeyLen, valueLen: MaxLabelValueLen, total: MaxLabelsBytes,
		key: func(k string) string {
			if strings.HasPrefix(k, ReservedLabelPrefix) {
				return fmt.Sprintf("keys starting with %q are OVM's own", ReservedLabelPrefix)
			}
			return ""
		}}
	envLimits = mapLimits{what: "variables", count: MaxEnv, keyLen: MaxEnvKeyLen, valueLen: MaxEnvValueLen, total: MaxEnvBytes,
		key: func(k string) string {
			if strings.ContainsRune(k, '=') {
				return "keys must not contain '='"
			}
			return ""
		}}
)

// validateMap adds the first fault of m under lim to f as field.
func validateMap(f *Fields, field string, m map[string]string, lim mapLimits) {
	if len(m) > lim.count {
		f.Addf(field, "at most %d %s, not %d", lim.count, lim.what, len(m))
		return
	}
	total := 0
	for k, v := range m {
		total += len(k) + len(v)
		r := checkKey(k, lim.keyLen)
		if r == "" && lim.key != nil {
			r = lim.key(k)
		}
		if r == "" {
			r = checkValue(v, lim.valueLen)
		}
		if r != "" {
			f.Add(field, r)
			return
		}
	}
	if total > lim.total {
		f.Addf(field, "must be at most %d bytes in all", lim.total)
	}
}
