package api

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// accepted answers 202 with what a task will change.
func accepted[T any](v T, err error) (*Accepted[T], error) {
	if err != nil {
		return nil, err
	}
	return &Accepted[T]{Status: http.StatusAccepted, Body: v}, nil
}

func (s *server) instanceRoutes() {
	tags := []string{"instances"}
	listRoute(s, op{id: "list-instances", method: http.MethodGet, path: "/v1/instances", summary: "List instances", tags: tags}, s.svc.ListInstances)
	register(s, op{id: "create-instance", method: http.MethodPost, path: "/v1/instances",
		summary: "Create an instance: quota, addresses and placement now, the hypervisor work in a task",
		tags:    tags, status: http.StatusAccepted, errors: []int{403, 409, 503}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body apitypes.InstanceCreate
		}) (*Accepted[core.InstanceTask], error) {
			in.Body.IdempotencyKey = in.Key
			return accepted(s.svc.CreateInstance(ctx, p, in.Body))
		})
	getRoute(s, op{id: "get-instance", method: http.MethodGet, path: "/v1/instances/{id}", summary: "Get an instance", tags: tags}, s.svc.GetInstance)
	register(s, op{id: "update-instance", method: http.MethodPatch, path: "/v1/instances/{id}",
		summary: "Change an instance's labels (200) or size (202 with a resize task)", tags: tags, errors: []int{403, 409, 412}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body apitypes.InstancePatch
		}) (*Accepted[core.InstanceTask], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			it, err := s.svc.UpdateInstance(ctx, p, ovm.ID(in.ID), in.Body, v)
			if err != nil {
				return nil, err
			}
			status := http.StatusOK
			if it.Task != nil {
				status = http.StatusAccepted
			}
			return &Accepted[core.InstanceTask]{Status: status, Body: it}, nil
		})
	taskRoute(s, op{id: "delete-instance", method: http.MethodDelete, path: "/v1/instances/{id}",
		summary: "Delete an instance (stop, delete on its host, release quota and addresses)", tags: tags, status: http.StatusAccepted, errors: []int{409, 412}}, s.svc.DeleteInstance)
	for _, action := range []string{core.OpStart, core.OpStop, core.OpReboot} {
		taskRoute(s, op{id: action + "-instance", method: http.MethodPost, path: "/v1/instances/{id}/" + action,
			summary: action + " an instance", tags: tags, status: http.StatusAccepted, errors: []int{409, 412}},
			func(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) (core.InstanceTask, error) {
				return s.svc.InstanceAction(ctx, p, id, action, ifVersion)
			})
	}

	vapps := []string{"vapps"}
	listRoute(s, op{id: "list-vapps", method: http.MethodGet, path: "/v1/vapps", summary: "List vApps with each member's outcome", tags: vapps}, s.svc.ListVApps)
	register(s, op{id: "deploy-vapp", method: http.MethodPost, path: "/v1/vapps",
		summary: "Deploy a vApp: batch placement, one create task per member", tags: vapps, status: http.StatusAccepted, errors: []int{403, 409, 503}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body apitypes.VAppCreate
		}) (*Accepted[core.VAppTasks], error) {
			in.Body.IdempotencyKey = in.Key
			return accepted(s.svc.DeployVApp(ctx, p, in.Body))
		})
	getRoute(s, op{id: "get-vapp", method: http.MethodGet, path: "/v1/vapps/{id}", summary: "Get a vApp with each member's outcome", tags: vapps}, s.svc.GetVApp)
	taskRoute(s, op{id: "delete-vapp", method: http.MethodDelete, path: "/v1/vapps/{id}", summary: "Delete a vApp and its members",
		tags: vapps, status: http.StatusAccepted, errors: []int{409, 412}}, s.svc.DeleteVApp)
	for _, action := range []string{core.OpStart, core.OpStop} {
		taskRoute(s, op{id: action + "-vapp", method: http.MethodPost, path: "/v1/vapps/{id}/" + action,
			summary: action + " every member of a vApp, in start group order (stop in reverse)", tags: vapps, status: http.StatusAccepted, errors: []int{409, 412}},
			func(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) (core.VAppTask, error) {
				return s.svc.VAppAction(ctx, p, id, action, ifVersion)
			})
	}
}
