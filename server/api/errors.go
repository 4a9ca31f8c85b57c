package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// statusTable is the one place that maps error kinds to HTTP status. Rows
// are tried in order; the first whose target is in the error's chain wins.
// An error matching no row is a 500.
var statusTable = []struct {
	target error
	status int
}{
	{core.ErrUnauthenticated, http.StatusUnauthorized},
	{core.ErrForbidden, http.StatusForbidden},
	{core.ErrThrottled, http.StatusTooManyRequests},
	{store.ErrVersionMismatch, http.StatusPreconditionFailed},
	{ovm.ErrInvalid, http.StatusUnprocessableEntity},
	{ovm.ErrNotFound, http.StatusNotFound},
	{ovm.ErrConflict, http.StatusConflict},
	{ovm.ErrQuotaExceeded, http.StatusForbidden},
	{ovm.ErrUnsupported, http.StatusNotImplemented},
	{ovm.ErrUnavailable, http.StatusServiceUnavailable},
}

// statusOf returns the HTTP status of err by statusTable.
func statusOf(err error) int {
	for _, row := range statusTable {
		if errors.Is(err, row.target) {
			return row.status
		}
	}
	return http.StatusInternalServerError
}

// problem turns an error into the RFC 9457 problem the client gets. Field
// details become errors[] entries located in the body (or, for a quota, in
// the quota). Internal errors (no kind from the status table, or only
// ovm.ErrInternal: a store's or a driver's own failure) are logged with the
// request id and answered with "internal error" only; a client error that
// wraps an internal one shows its own message, not the cause's text.
func (s *server) problem(ctx context.Context, err error) huma.StatusError {
	var se huma.StatusError
	if errors.As(err, &se) {
		return se
	}
	if op := offsetProblem(err); op != nil {
		return op
	}
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(ctx, "api: internal error", "request_id", requestID(ctx), "err", err)
		return &huma.ErrorModel{Status: status, Title: http.StatusText(status), Detail: "internal error"}
	}
	detail := err.Error()
	if errors.Is(err, ovm.ErrInternal) {
		detail = ovm.PublicMessage(err)
	}
	p := &huma.ErrorModel{Status: status, Title: http.StatusText(status), Detail: detail}
	if te := (*core.ThrottledError)(nil); errors.As(err, &te) {
		return &headedProblem{ErrorModel: p, headers: http.Header{"Retry-After": {strconv.FormatInt(te.RetrySeconds(), 10)}}}
	}
	where := "body."
	if status == http.StatusForbidden && errors.Is(err, ovm.ErrQuotaExceeded) {
		where = "quota."
	}
	for _, f := range ovm.FieldsOf(err) {
		loc := f.Field
		if loc != "body" && !strings.HasPrefix(loc, "path.") && !strings.HasPrefix(loc, "query.") && !strings.HasPrefix(loc, "header.") {
			loc = where + loc
		}
		p.Errors = append(p.Errors, &huma.ErrorDetail{Location: loc, Message: f.Reason, Value: f.Value})
	}
	if who := principal(ctx); who.UserID != "" && !who.Admin() {
		// Tenants never read a host's name, id or endpoint, not even in
		// an engine's error.
		texts := []*string{&p.Detail}
		for _, d := range p.Errors {
			texts = append(texts, &d.Message)
		}
		s.svc.RedactTexts(ctx, who, texts...)
	}
	if status >= 500 {
		s.log.WarnContext(ctx, "api: request failed", "request_id", requestID(ctx), "status", status, "err", err)
	}
	return p
}

// headedProblem is a problem with response headers (huma.HeadersError),
// such as Retry-After.
type headedProblem struct {
	*huma.ErrorModel
	headers http.Header
}

// GetHeaders returns the headers to send with the problem.
func (p *headedProblem) GetHeaders() http.Header { return p.headers }

// parseIfMatch reads an If-Match header: "" and "*" are no condition (0),
// otherwise the ETag of a version ("3", W/"3"). Anything else can match no
// version: 412.
func parseIfMatch(h string) (int64, error) {
	h = strings.TrimSpace(h)
	if h == "" || h == "*" {
		return 0, nil
	}
	v := strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, ovm.Wrap(ovm.KindConflict, store.ErrVersionMismatch, "If-Match %q names no version of this object", h)
	}
	return n, nil
}

// etag renders a record version as an ETag.
func etag(v int64) string { return `"` + strconv.FormatInt(v, 10) + `"` }
