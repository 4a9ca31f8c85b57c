package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"

	"github.com/openovm/ovm/ovm"
)

// engineError translates an error of the Docker client into an error with
// an ovm kind. The message is "docker host HOST: WHAT: ENGINE TEXT"; the
// engine's error stays in the chain (errors.Is on context errors works).
// field, when not empty, is the request field an invalid-input error names.
func (c *conn) engineError(ctx context.Context, err error, field, format string, args ...any) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf(format, args...)
	msg := fmt.Sprintf("docker host %s: %s", c.name, what)
	kind := classify(ctx, err)
	e := &ovm.Error{Kind: kind, Message: msg, Err: err}
	switch {
	case kind == ovm.KindUnavailable && ctx.Err() != nil:
		e.Message = msg + ": no answer within the deadline"
	case kind == ovm.KindInvalid && field != "":
		e.Fields = []ovm.FieldError{{Field: field, Reason: "refused by the engine"}}
	case kind == ovm.KindInternal && errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", msg, err)
	}
	return e
}

// classify returns the ovm kind of a Docker client error.
func classify(ctx context.Context, err error) ovm.Kind {
	if err == nil {
		return ovm.KindInternal
	}
	if k := ovm.KindOf(err); k != ovm.KindInternal {
		return k
	}
	text := strings.ToLower(err.Error())
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return ovm.KindUnavailable
	case errors.Is(err, context.Canceled):
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return ovm.KindUnavailable
		}
		return ovm.KindInternal
	case client.IsErrConnectionFailed(err), cerrdefs.IsUnavailable(err):
		return ovm.KindUnavailable
	case strings.Contains(text, "port is already allocated"), strings.Contains(text, "address already in use"):
		return ovm.KindConflict
	case cerrdefs.IsNotFound(err), strings.Contains(text, "manifest unknown"),
		strings.Contains(text, "no such image"), strings.Contains(text, "not found: manifest"):
		return ovm.KindNotFound
	case cerrdefs.IsConflict(err), strings.Contains(text, "already in use"), strings.Contains(text, "overlaps with"):
		return ovm.KindConflict
	case cerrdefs.IsInvalidArgument(err), strings.Contains(text, "invalid reference format"),
		strings.Contains(text, "minimum memory limit"), strings.Contains(text, "invalid container name"):
		return ovm.KindInvalid
	case cerrdefs.IsNotImplemented(err):
		return ovm.KindUnsupported
	}
	return ovm.KindInternal
}

// ctxErr returns an error when ctx is already done, before any call.
func (c *conn) ctxErr(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return c.engineError(ctx, err, "", "%s", what)
	}
	return nil
}
