package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
)

func (s *server) taskRoutes() {
	tags := []string{"tasks"}
	listRoute(s, op{id: "list-tasks", method: http.MethodGet, path: "/v1/tasks", summary: "List tasks", tags: tags}, s.svc.ListTasks)
	register(s, op{id: "get-task", method: http.MethodGet, path: "/v1/tasks/{id}", summary: "Get a task: steps, progress, log", tags: tags},
		func(ctx context.Context, p auth.Principal, in *IDPath) (*Out[ovm.Task], error) {
			t, err := s.svc.GetTask(ctx, p, ovm.ID(in.ID))
			return &Out[ovm.Task]{Body: t}, err
		})
	s.taskEvents(tags)
}

// taskEvents registers GET /v1/tasks/{id}/events: Server-Sent Events, one
// "task" event with the whole task per change, until the task is final.
func (s *server) taskEvents(tags []string) {
	schema := eventStream("The task after each change, until it is final.", event{name: "task",
		description: "The whole task, with its state, progress, steps and log.",
		data:        s.api.OpenAPI().Components.Schemas.Schema(reflectTaskType, true, "Task")})
	hop := huma.Operation{
		OperationID: "watch-task",
		Method:      http.MethodGet,
		Path:        "/v1/tasks/{id}/events",
		Summary:     "Follow a task as Server-Sent Events until it is final",
		Description: "Each event is `event: task` with the task as JSON data; the stream ends after the final state.",
		Tags:        tags,
		Security:    bearer,
		Errors:      []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity},
		Responses: map[string]*huma.Response{"200": {
			Description: "A stream of task events.",
			Content:     map[string]*huma.MediaType{"text/event-stream": {Schema: schema}},
		}},
	}
	huma.Register(s.api, hop, func(ctx context.Context, in *IDPath) (*huma.StreamResponse, error) {
		p := principal(ctx)
		// The watch outlives this call: it is bound to the request's context
		// when the stream starts.
		if _, err := s.svc.GetTask(ctx, p, ovm.ID(in.ID)); err != nil {
			return nil, s.problem(ctx, err)
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			rctx := hctx.Context()
			ch, err := s.svc.WatchTask(rctx, p, ovm.ID(in.ID))
			if err != nil {
				writeProblem(s.api, hctx, s.problem(rctx, err))
				return
			}
			hctx.SetHeader("Content-Type", "text/event-stream")
			hctx.SetHeader("Cache-Control", "no-cache")
			hctx.SetStatus(http.StatusOK)
			w := hctx.BodyWriter()
			flush := func() {
				if f, ok := w.(http.Flusher); ok {
					f.Flush()
				}
			}
			flush()
			n := 0
			for t := range ch {
				b, err := json.Marshal(t)
				if err != nil {
					return
				}
				n++
				if _, err := fmt.Fprintf(w, "id: %d\nevent: task\ndata: %s\n\n", n, b); err != nil {
					return
				}
				flush()
			}
		}}, nil
	})
}
