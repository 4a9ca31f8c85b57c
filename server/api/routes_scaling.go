package api

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// scalingRoutes are the scaling groups and their decisions.
func (s *server) scalingRoutes() {
	tags := []string{"scaling-groups"}
	listRoute(s, op{id: "list-scaling-groups", method: http.MethodGet, path: "/v1/scaling-groups", summary: "List scaling groups", tags: tags},
		s.svc.ListScalingGroups)
	register(s, op{id: "create-scaling-group", method: http.MethodPost, path: "/v1/scaling-groups",
		summary: "Create a scaling group of VMs or containers",
		desc: "A group starts at its policy's minimum; the scaler creates its members through the ordinary create path " +
			"(quota, placement, tasks), then grows or shrinks the group by its metric rules and schedules, between min and max.",
		tags: tags, status: http.StatusCreated, errors: []int{403, 409}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body apitypes.ScalingGroupCreate
		}) (*Out[core.ScalingGroup], error) {
			in.Body.IdempotencyKey = in.Key
			g, err := s.svc.CreateScalingGroup(ctx, p, in.Body)
			if err != nil {
				return nil, err
			}
			return &Out[core.ScalingGroup]{Body: g}, nil
		})
	getRoute(s, op{id: "get-scaling-group", method: http.MethodGet, path: "/v1/scaling-groups/{id}", summary: "Get a scaling group", tags: tags},
		s.svc.GetScalingGroup)
	register(s, op{id: "update-scaling-group", method: http.MethodPatch, path: "/v1/scaling-groups/{id}",
		summary: "Change a scaling group's bounds, desired count or rules",
		desc: "Fields left out stay. A desired count outside new bounds is brought within them; a changed desired count is a " +
			"decision naming who set it, carried out by the scaler's next round through the ordinary create and delete paths. " + ifMatchDoc,
		tags: tags, errors: []int{403, 412}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body apitypes.ScalingGroupPatch
		}) (*Object[core.ScalingGroup], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			return obj(s.svc.UpdateScalingGroup(ctx, p, ovm.ID(in.ID), in.Body, v))
		})
	deleteRoute(s, op{id: "delete-scaling-group", method: http.MethodDelete, path: "/v1/scaling-groups/{id}",
		summary: "Delete a scaling group and its members", desc: "Each member is deleted by a task of its own.",
		tags: tags, status: http.StatusNoContent, errors: []int{409, 412}},
		func(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) error {
			_, err := s.svc.DeleteScalingGroup(ctx, p, id, ifVersion)
			return err
		})
	register(s, op{id: "list-scaling-decisions", method: http.MethodGet, path: "/v1/scaling-groups/{id}/decisions",
		summary: "List a scaling group's decisions, newest first",
		desc: "Each scale-out, scale-in, refusal (quota, capacity) and bound that held the group, with the rule or schedule " +
			"that fired and the group's averages it saw. A group keeps its latest 100.",
		tags: tags},
		func(ctx context.Context, p auth.Principal, in *IDPath) (*Out[[]core.ScalingEvent], error) {
			ev, err := s.svc.ScalingEvents(ctx, p, ovm.ID(in.ID))
			if err != nil {
				return nil, err
			}
			return &Out[[]core.ScalingEvent]{Body: ev}, nil
		})
}
