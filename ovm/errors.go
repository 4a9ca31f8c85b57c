package ovm

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error so that callers branch on what went wrong, not on
// which engine said it. The server maps each kind to one HTTP status.
type Kind int

// The error kinds. KindInternal is what an error without a kind is.
const (
	KindInternal Kind = iota
	KindNotFound
	KindConflict
	KindInvalid
	KindQuotaExceeded
	KindUnsupported
	KindUnavailable
)

var kindNames = [...]string{
	KindInternal:      "internal",
	KindNotFound:      "not found",
	KindConflict:      "conflict",
	KindInvalid:       "invalid",
	KindQuotaExceeded: "quota exceeded",
	KindUnsupported:   "unsupported",
	KindUnavailable:   "unavailable",
}

// String returns the kind's name, such as "not found".
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// Error implements error so that a Kind can itself be a target of errors.Is:
// errors.Is(err, ovm.ErrNotFound) holds for every error of kind not found.
func (k Kind) Error() string { return k.String() }

// Sentinels for errors.Is. Each is the Kind itself.
var (
	ErrNotFound      error = KindNotFound
	ErrConflict      error = KindConflict
	ErrInvalid       error = KindInvalid
	ErrQuotaExceeded error = KindQuotaExceeded
	ErrUnsupported   error = KindUnsupported
	ErrUnavailable   error = KindUnavailable
	// ErrInternal is in the chain of an error that a store or a driver
	// classified as its own failure (a database or engine error that no
	// client input explains): its text is for logs, never for clients.
	// An error without any kind is internal too, but errors.Is does not
	// find this sentinel in it.
	ErrInternal error = KindInternal
)

// FieldError names one invalid field of a request and the reason it was
// refused. Field is a dotted path such as "spec.nics[0].ip".
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
	Value  any    `json:"value,omitempty"`
}

func (f FieldError) String() string { return f.Field + ": " + f.Reason }

// Error is an error with a kind, a message, optional field details and an
// optional cause (typically the engine's own error, kept for the task log).
type Error struct {
	Kind    Kind
	Message string
	Fields  []FieldError
	Err     error

	// causeInMessage is set when Message already ends with Err's text.
	causeInMessage bool
}

// Error renders "message: field: reason; field: reason: cause".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	if b.Len() == 0 {
		b.WriteString(e.Kind.String())
	}
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.String())
	}
	if e.Err != nil && !e.causeInMessage {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is this error's kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// Errorf returns an error of the given kind. A %w verb in format keeps the
// wrapped error reachable through errors.Is and errors.As.
func Errorf(kind Kind, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Message: err.Error(), Err: err, causeInMessage: true}
}

// Wrap gives err a kind and a message while keeping it as the cause.
// Wrap returns nil when err is nil.
func Wrap(kind Kind, err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Err: err}
}

// NotFound returns a not-found error: "<what> <id> not found".
func NotFound(what string, id any) error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf("%s %v not found", what, id)}
}

// Invalid returns an invalid-input error listing each refused field.
func Invalid(message string, fields ...FieldError) error {
	return &Error{Kind: KindInvalid, Message: message, Fields: fields}
}

// Internal marks err as a failure of the component that returns it (a
// database or engine error): errors.Is(err, ErrInternal) holds and its text
// stays in the chain for logs. Internal returns nil when err is nil.
func Internal(err error, format string, args ...any) error {
	return Wrap(KindInternal, err, format, args...)
}

// PublicMessage is the text of err that a client may read: the message
// and field details of the outermost error with a kind other than
// internal, without the causes it wraps when any of them is internal.
// It returns "" when err has no such kind.
func PublicMessage(err error) string {
	k := KindOf(err)
	if k == KindInternal {
		return ""
	}
	if !errors.Is(err, ErrInternal) {
		return err.Error()
	}
	for e := err; e != nil; {
		var oe *Error
		if !errors.As(e, &oe) {
			break
		}
		if oe.Kind != KindInternal {
			out := *oe
			out.Err, out.causeInMessage = nil, false
			if oe.causeInMessage {
				// Errorf's message embeds its causes' text.
				out.Message = oe.Kind.String()
			}
			return out.Error()
		}
		e = oe.Err
	}
	return k.String()
}

// KindOf returns the kind of the first error in err's chain that has one,
// or KindInternal. KindOf(nil) is KindInternal too; check err != nil first.
func KindOf(err error) Kind {
	for _, k := range []Kind{KindNotFound, KindConflict, KindInvalid, KindQuotaExceeded, KindUnsupported, KindUnavailable} {
		if errors.Is(err, k) {
			return k
		}
	}
	return KindInternal
}

// FieldsOf returns the field details of the first *Error in err's chain.
func FieldsOf(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// Fields collects field errors while a request is validated.
// The zero value is ready to use.
type Fields []FieldError

// Add records that field is invalid for reason.
func (f *Fields) Add(field, reason string) { *f = append(*f, FieldError{Field: field, Reason: reason}) }

// Addf records that field is invalid, with a formatted reason.
func (f *Fields) Addf(field, format string, args ...any) {
	f.Add(field, fmt.Sprintf(format, args...))
}

// Merge adds the field errors of err, each prefixed with prefix and a dot.
// An error without fields becomes one field error for prefix itself.
func (f *Fields) Merge(prefix string, err error) {
	if err == nil {
		return
	}
	fs := FieldsOf(err)
	if len(fs) == 0 {
		f.Add(prefix, err.Error())
		return
	}
	for _, fe := range fs {
		if prefix != "" {
			fe.Field = prefix + "." + fe.Field
		}
		*f = append(*f, fe)
	}
}

// Err returns an invalid error naming every collected field, or nil.
func (f Fields) Err(message string) error {
	if len(f) == 0 {
		return nil
	}
	return Invalid(message, f...)
}
