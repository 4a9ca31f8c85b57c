package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// ConsoleParams bound a console read.
type ConsoleParams struct {
	IDPath
	Follow     bool  `query:"follow" doc:"Keep reading until maxSeconds or maxBytes or the console ends; without it the read ends once the instance has printed nothing for one second."`
	MaxSeconds int   `query:"maxSeconds" minimum:"0" maximum:"600" doc:"How long the read lasts at most (default 10)."`
	MaxBytes   int64 `query:"maxBytes" minimum:"0" maximum:"16777216" doc:"How many bytes the read returns at most (default 262144)."`
}

// consoleRoutes registers exec and console. Both call the instance's
// driver directly rather than through a task: they change nothing OVM
// records, and they are interactive (the caller waits for the output).
// Tenants reach only their VDC's instances (404 otherwise).
func (s *server) consoleRoutes() {
	tags := []string{"instances"}
	register(s, op{id: "exec-instance", method: http.MethodPost, path: "/v1/instances/{id}/exec",
		summary: "Run a command inside a running instance and return its output",
		desc: "Runs the command directly on the instance's host, not as a task: docker exec for containers, the QEMU " +
			"guest agent (guest-exec; the guest runs qemu-ga) for KVM VMs, VMware Tools guest operations (as the host's " +
			"guest account) for ESXi VMs. Nothing the platform records changes. The answer has the exit code and at most 1 MiB of each of stdout and stderr " +
			"(`truncated` says when more was cut). A failing command is a 200 with its exit code. 409 when the instance " +
			"is not running, 501 when its host cannot exec (an ESXi host without a guest account, a VM without the agent's " +
			"channel or Tools), 503 when the host or the guest's agent does not answer " +
			"or the command outlives its timeout.",
		tags: tags, errors: []int{409, 501, 503}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			Body apitypes.ExecRequest
		}) (*Out[core.ExecResult], error) {
			b := in.Body
			ex := core.Exec{Command: b.Command, Env: b.Env, Timeout: time.Duration(b.TimeoutSeconds) * time.Second}
			if b.Stdin != "" {
				ex.Stdin = []byte(b.Stdin)
			}
			res, err := s.svc.Exec(ctx, p, ovm.ID(in.ID), ex)
			return &Out[core.ExecResult]{Body: res}, err
		})
	s.consoleStream(tags)
}

// consoleStream registers GET /v1/instances/{id}/console.
func (s *server) consoleStream(tags []string) {
	hop := huma.Operation{
		OperationID: "get-instance-console",
		Method:      http.MethodGet,
		Path:        "/v1/instances/{id}/console",
		Summary:     "Read an instance's console output",
		Description: "Streams what the instance prints: a VM's serial console (from the moment of the request), a " +
			"container's attached output (from its start). Read-only, and a direct call to the host rather than a task. " +
			"The stream ends after maxSeconds or maxBytes, when the console ends, or, without follow, once the " +
			"instance has been quiet for a second. As text/plain the bytes are sent as they come; with " +
			"`Accept: text/event-stream` each chunk is an `event: output` whose data is the chunk as a JSON string, " +
			"and a last `event: end` says why the stream ended. 409 when the instance is not running or not ready, " +
			"501 when its host kind has no console (ESXi).",
		Tags:     tags,
		Security: bearer,
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict,
			http.StatusUnprocessableEntity, http.StatusNotImplemented, http.StatusServiceUnavailable},
		Responses: map[string]*huma.Response{"200": {
			Description: "The console output.",
			Content: map[string]*huma.MediaType{
				"text/plain": {Schema: &huma.Schema{Type: huma.TypeString}},
				"text/event-stream": {Schema: eventStream("The console output as Server-Sent Events.",
					event{name: "output", description: "A chunk of output.",
						data: &huma.Schema{Type: huma.TypeString, Description: "The chunk as a JSON string."}},
					event{name: "end", description: "The last event: why the stream ended.",
						data: &huma.Schema{Type: huma.TypeString, Enum: []any{"end", "error"},
							Description: "end: the read ended normally (time, size, quiet or the console closed); error: reading failed."}})},
			},
		}},
	}
	huma.Register(s.api, hop, func(ctx context.Context, in *ConsoleParams) (*huma.StreamResponse, error) {
		p := principal(ctx)
		// The console is opened now, so that a refusal is a problem; the
		// stream is bound to the request's context, which ctx is.
		rc, err := s.svc.Console(ctx, p, ovm.ID(in.ID), core.ConsoleOptions{Follow: in.Follow,
			Duration: time.Duration(in.MaxSeconds) * time.Second, MaxBytes: in.MaxBytes})
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			defer rc.Close()
			// Content negotiation, as the media types of the 200 say.
			sse := strings.Contains(hctx.Header("Accept"), "text/event-stream")
			if sse {
				hctx.SetHeader("Content-Type", "text/event-stream")
			} else {
				hctx.SetHeader("Content-Type", "text/plain; charset=utf-8")
			}
			hctx.SetHeader("Cache-Control", "no-cache")
			hctx.SetHeader("X-Content-Type-Options", "nosniff")
			hctx.SetStatus(http.StatusOK)
			w := hctx.BodyWriter()
			flush := func() {
				if f, ok := w.(http.Flusher); ok {
					f.Flush()
				}
			}
			flush()
			buf := make([]byte, 8192)
			reason := "end"
			for {
				n, err := rc.Read(buf)
				if n > 0 {
					var werr error
					if sse {
						b, _ := json.Marshal(string(buf[:n]))
						_, werr = fmt.Fprintf(w, "event: output\ndata: %s\n\n", b)
					} else {
						_, werr = w.Write(buf[:n])
					}
					if werr != nil {
						return
					}
					flush()
				}
				if err != nil {
					if !errors.Is(err, io.EOF) {
						reason = "error"
					}
					break
				}
			}
			if sse {
				_, _ = fmt.Fprintf(w, "event: end\ndata: %q\n\n", reason)
				flush()
			}
		}}, nil
	})
}
