package core

import (
	"errors"
	"fmt"

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
