package api

import (
	"context"
	"net"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// auditTrail puts the audit context of a request that may change something
// (every method but GET, HEAD and OPTIONS) in its context: core writes the
// event of each change in the change's transaction. A request that fails
// before or in its handler is recorded here, in a transaction of its own.
func (s *server) auditTrail(ctx huma.Context, next func(huma.Context)) {
	switch ctx.Method() {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		next(ctx)
		return
	}
	addr := ctx.RemoteAddr()
	if h, _, err := net.SplitHostPort(addr); err == nil {
		addr = h
	}
	ac := &core.AuditContext{Principal: principal(ctx.Context()), Address: addr, RequestID: requestID(ctx.Context())}
	if op := ctx.Operation(); op != nil {
		ac.Operation = op.OperationID
	}
	actx := core.WithAudit(ctx.Context(), ac)
	next(huma.WithContext(ctx, actx))
	st := ctx.Status()
	if st == 0 {
		st = http.StatusOK
	}
	if st >= http.StatusBadRequest {
		// A failure the handler did not see (a body huma refused): recorded
		// once, AuditFailure skips what was recorded already.
		s.auditFailure(actx, st, http.StatusText(st))
		return
	}
	// A success that wrote no event (a change on an engine only, an
	// idempotent retry's stored answer) is recorded on its own.
	var obj store.AuditObject
	if id := ovm.ID(ctx.Param("id")); id.Valid() {
		obj = store.AuditObject{Kind: store.Kind(pathKind(ctx.Operation())), ID: id}
	}
	if err := core.NewSystem(s.svc).AuditDone(context.WithoutCancel(actx), st, obj); err != nil {
		s.log.ErrorContext(actx, "api: record a request in the audit trail", "err", err, "requestId", requestID(actx))
	}
}

// pathKind is the kind of object an operation's path names: "instance" for
// /v1/instances/{id}/exec.
func pathKind(op *huma.Operation) string {
	if op == nil {
		return ""
	}
	seg, _, _ := strings.Cut(strings.TrimPrefix(op.Path, "/v1/"), "/")
	return strings.TrimSuffix(seg, "s")
}

// auditFailure records that the request of ctx failed, as the client was
// told; a failure to record it is logged, the answer stays the same.
func (s *server) auditFailure(ctx context.Context, status int, message string) {
	if err := core.NewSystem(s.svc).AuditFailure(context.WithoutCancel(ctx), status, message); err != nil {
		s.log.ErrorContext(ctx, "api: record a failed request in the audit trail", "err", err, "requestId", requestID(ctx))
	}
}

// problemDetail is what a problem told the client.
func problemDetail(se huma.StatusError) string {
	if p, ok := se.(*huma.ErrorModel); ok {
		var b strings.Builder
		b.WriteString(p.Detail)
		for _, d := range p.Errors {
			b.WriteString("; " + d.Location + ": " + d.Message)
		}
		return b.String()
	}
	return se.Error()
}
