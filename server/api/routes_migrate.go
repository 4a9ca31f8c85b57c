package api

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// migrateRoutes are the routes that move instances.
func (s *server) migrateRoutes() {
	tags := []string{"instances"}
	register(s, op{id: "migrate-instance", method: http.MethodPost, path: "/v1/instances/{id}/migrate",
		summary: "Move an instance to another host (live, shared-nothing or cold) or its disks to another storage pool, in a task",
		tags:    tags, status: http.StatusAccepted, errors: []int{409, 412, 501, 503}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body *apitypes.InstanceMigrate // optional: all its fields are
		}) (*Accepted[core.InstanceTask], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			var body apitypes.InstanceMigrate
			if in.Body != nil {
				body = *in.Body
			}
			return accepted(s.svc.MigrateInstance(ctx, p, ovm.ID(in.ID), body, v))
		})
	register(s, op{id: "cancel-instance-migration", method: http.MethodPost, path: "/v1/instances/{id}/migrate/cancel",
		summary: "Cancel an instance's migration: it stops and the instance keeps running where it was",
		tags:    tags, status: http.StatusAccepted, errors: []int{409}},
		func(ctx context.Context, p auth.Principal, in *IDPath) (*Accepted[core.InstanceTask], error) {
			return accepted(s.svc.CancelMigration(ctx, p, ovm.ID(in.ID)))
		})
}
