package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Problem is an RFC 9457 problem the server answered with.
type Problem struct {
	Type     string `json:"type,omitempty"`
	Title    string `json:"title,omitempty"`
	Status   int    `json:"status,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Errors name each invalid field: Location such as "body.subnet",
	// "query.limit" or "quota.cpuMilli".
	Errors []ProblemField `json:"errors,omitempty"`
	// RequestID is the server's X-Request-Id, to quote in a bug report.
	RequestID string `json:"-"`
}

// ProblemField is one invalid field of a problem.
type ProblemField struct {
	Location string `json:"location,omitempty"`
	Message  string `json:"message,omitempty"`
	Value    any    `json:"value,omitempty"`
}

// Field returns the location without its "body." prefix: "subnet",
// "spec.memoryBytes", "query.limit".
func (f ProblemField) Field() string {
	return strings.TrimPrefix(f.Location, "body.")
}

// String renders "subnet: must be a CIDR (got "10.0.0.0/33")".
func (f ProblemField) String() string {
	var b strings.Builder
	if name := f.Field(); name != "" {
		b.WriteString(name)
		b.WriteString(": ")
	}
	msg := f.Message
	if msg == "" {
		msg = "is invalid"
	}
	b.WriteString(msg)
	if v := valueText(f.Value); v != "" {
		fmt.Fprintf(&b, " (got %s)", v)
	}
	return b.String()
}

// valueText renders a rejected value briefly, "" for none.
func valueText(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil || string(b) == `""` || string(b) == "{}" || string(b) == "[]" {
		return ""
	}
	const maxLen = 60
	if len(b) > maxLen {
		return string(b[:maxLen]) + "…"
	}
	return string(b)
}

// Error renders one paragraph: the detail (or title), each invalid field
// with its reason that the detail does not already name, then the status,
// such as "invalid network: subnet: must be a CIDR such as 10.0.0.0/24
// (422 Unprocessable Entity)".
func (p *Problem) Error() string {
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	if msg == "" {
		msg = http.StatusText(p.Status)
	}
	if msg == "" {
		msg = "request failed"
	}
	var b strings.Builder
	b.WriteString(msg)
	sep := ": "
	for _, f := range p.Errors {
		short := strings.TrimPrefix(f.Field(), "quota.")
		if f.Message != "" && strings.Contains(msg, short+": "+f.Message) && valueText(f.Value) == "" {
			continue // the server's detail already says it
		}
		b.WriteString(sep)
		b.WriteString(f.String())
		sep = "; "
	}
	if p.Status != 0 {
		fmt.Fprintf(&b, " (%d %s)", p.Status, http.StatusText(p.Status))
	}
	return b.String()
}

// FieldMessage returns the message of the field at loc (with or without its
// "body." prefix) and whether the problem names it.
func (p *Problem) FieldMessage(loc string) (string, bool) {
	for _, f := range p.Errors {
		if f.Location == loc || f.Field() == loc {
			return f.Message, true
		}
	}
	return "", false
}

// problemOf turns an error answer into a Problem: the server's problem
// document when it sent one, otherwise the status with the start of the
// body as detail (a proxy's error page, say).
func problemOf(status int, h http.Header, body []byte) *Problem {
	p := &Problem{}
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if (mt == "application/problem+json" || mt == "application/json") && json.Unmarshal(body, p) == nil && (p.Title != "" || p.Detail != "" || p.Status != 0) {
		if p.Status == 0 {
			p.Status = status
		}
	} else {
		p = &Problem{Status: status, Title: http.StatusText(status), Detail: bodyText(body)}
	}
	p.RequestID = h.Get("X-Request-Id")
	return p
}

// bodyText returns the first line of a non-problem body, trimmed.
func bodyText(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	const maxLen = 200
	if len(s) > maxLen {
		s = s[:maxLen]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

// StatusOf returns the HTTP status of a *Problem in err's chain, 0 when
// there is none.
func StatusOf(err error) int {
	var p *Problem
	if errors.As(err, &p) {
		return p.Status
	}
	return 0
}

// IsNotFound reports whether err is a 404 problem.
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }
