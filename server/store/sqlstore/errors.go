package sqlstore

import (
	"fmt"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// kindError is an ovm error whose text is its message alone, with the
// driver's error still in the chain: errors.Is finds the ovm kind,
// errors.As finds the *pgconn.PgError or *sqlite.Error, and err.Error()
// never shows SQL text or SQLSTATE codes.
type kindError struct {
	err   *ovm.Error
	cause error
}

func (e *kindError) Error() string { return e.err.Error() }

// Unwrap returns the ovm error and the driver's error.
func (e *kindError) Unwrap() []error { return []error{e.err, e.cause} }

// withKind returns an error of kind with a formatted message, keeping cause
// (which may be nil) in the chain but out of the text.
func withKind(kind ovm.Kind, cause error, format string, args ...any) error {
	e := &ovm.Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
	if cause == nil {
		return e
	}
	return &kindError{err: e, cause: cause}
}

// internal marks a database driver's error as the store's own failure
// (ovm.ErrInternal): no client input explains it, so its text (SQL,
// SQLSTATE codes, file names) is only ever logged. The driver's error stays
// in the chain for errors.As and the retry loop.
func internal(err error) error {
	if err == nil {
		return nil
	}
	return ovm.Internal(err, "database")
}

// conflict names the object a unique violation (or a guarded insert that
// inserted nothing) was about.
func conflict(cause error, format string, args ...any) error {
	return withKind(ovm.KindConflict, cause, format, args...)
}

// notFound is "<what> <id> not found".
func notFound(what string, id any) error {
	return withKind(ovm.KindNotFound, nil, "%s %v not found", what, id)
}

// versionMismatch is the stale-version error: kind conflict, with
// store.ErrVersionMismatch in the chain.
func versionMismatch(what string, id ovm.ID, have, want int64) error {
	return &ovm.Error{
		Kind:    ovm.KindConflict,
		Message: fmt.Sprintf("%s %s is at version %d, not %d", what, id, have, want),
		Err:     store.ErrVersionMismatch,
	}
}
