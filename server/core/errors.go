package core

import (
	"errors"
	"fmt"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// ErrUnauthenticated is in the chain of the error of a login or token that
// is wrong, expired or revoked. The API answers 401.
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrForbidden is in the chain of the error of an operation the principal's
// role does not allow and that names no object (an admin-only collection,
// a VDC member managing users). The API answers 403. Operations on objects
// the principal may not see are ovm.ErrNotFound instead.
var ErrForbidden = errors.New("forbidden")

// ErrThrottled is in the chain of a login refused because too many failed
// ones came before it, from the user name or the client address. The API
// answers 429 with Retry-After.
var ErrThrottled = errors.New("too many failed logins")

// ThrottledError is a refused login and how long to wait before the next.
type ThrottledError struct {
	RetryAfter time.Duration
}

// Error says how long to wait, in whole seconds.
func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins: try again in %d seconds", retrySeconds(e.RetryAfter))
}

// Is makes errors.Is(err, ErrThrottled) hold.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// RetrySeconds is RetryAfter in whole seconds, rounded up (at least 1).
func (e *ThrottledError) RetrySeconds() int64 { return retrySeconds(e.RetryAfter) }

func retrySeconds(d time.Duration) int64 {
	return max(int64((d+time.Second-1)/time.Second), 1)
}

// forbidden returns an ErrForbidden error with a message.
func forbidden(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrForbidden}, args...)...)
}

// unauthenticated returns an ErrUnauthenticated error with a message.
func unauthenticated(msg string) error {
	return fmt.Errorf("%w: %s", ErrUnauthenticated, msg)
}

// versionMismatch is the error of a stale If-Match: kind conflict with
// store.ErrVersionMismatch in its chain.
func versionMismatch(what string, id ovm.ID, have, want int64) error {
	return ovm.Wrap(ovm.KindConflict, store.ErrVersionMismatch, "%s %s is at version %d, not %d", what, id, have, want)
}

// conflictf returns an error of kind conflict.
func conflictf(format string, args ...any) error {
	return ovm.Errorf(ovm.KindConflict, format, args...)
}

// invalid returns an invalid error naming one field.
func invalid(message, field, reason string) error {
	return ovm.Invalid(message, ovm.FieldError{Field: field, Reason: reason})
}
