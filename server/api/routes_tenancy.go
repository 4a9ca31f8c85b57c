package api

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

func (s *server) tenancyRoutes() {
	vdcs := []string{"vdcs"}
	listRoute(s, op{id: "list-vdcs", method: http.MethodGet, path: "/v1/vdcs", summary: "List VDCs (tenants: their own)", tags: vdcs}, s.svc.ListVDCs)
	register(s, op{id: "create-vdc", method: http.MethodPost, path: "/v1/vdcs", summary: "Create a VDC with its quota", tags: vdcs, status: http.StatusCreated},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body apitypes.VDCCreate
		}) (*Out[ovm.VDC], error) {
			in.Body.IdempotencyKey = in.Key
			v, err := s.svc.CreateVDC(ctx, p, in.Body)
			return &Out[ovm.VDC]{Body: v}, err
		})
	getRoute(s, op{id: "get-vdc", method: http.MethodGet, path: "/v1/vdcs/{id}", summary: "Get a VDC with its quota and usage", tags: vdcs}, s.svc.GetVDC)
	register(s, op{id: "get-vdc-usage", method: http.MethodGet, path: "/v1/vdcs/{id}/usage", summary: "A VDC's quota and live usage", tags: vdcs},
		func(ctx context.Context, p auth.Principal, in *IDPath) (*Object[apitypes.Usage], error) {
			v, ver, err := s.svc.GetVDC(ctx, p, ovm.ID(in.ID))
			return obj(apitypes.Usage{Quota: v.Quota, Usage: v.Usage}, ver, err)
		})
	register(s, op{id: "set-vdc-quota", method: http.MethodPut, path: "/v1/vdcs/{id}/quota", summary: "Replace a VDC's quota", tags: vdcs, errors: []int{412}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body apitypes.QuotaChange
		}) (*Object[ovm.VDC], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			return obj(s.svc.SetQuota(ctx, p, ovm.ID(in.ID), in.Body.Quota, v))
		})
	deleteRoute(s, op{id: "delete-vdc", method: http.MethodDelete, path: "/v1/vdcs/{id}", summary: "Delete an empty VDC",
		tags: vdcs, status: http.StatusNoContent, errors: []int{409, 412}}, s.svc.DeleteVDC)

	users := []string{"users"}
	listRoute(s, op{id: "list-users", method: http.MethodGet, path: "/v1/users", summary: "List users (tenants: their VDC's)", tags: users}, s.svc.ListUsers)
	register(s, op{id: "create-user", method: http.MethodPost, path: "/v1/users", summary: "Create a user", tags: users, status: http.StatusCreated},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body apitypes.UserCreate
		}) (*Out[core.NewUser], error) {
			in.Body.IdempotencyKey = in.Key
			u, err := s.svc.CreateUser(ctx, p, in.Body)
			return &Out[core.NewUser]{Body: u}, err
		})
	getRoute(s, op{id: "get-user", method: http.MethodGet, path: "/v1/users/{id}", summary: "Get a user", tags: users}, s.svc.GetUser)
	register(s, op{id: "update-user", method: http.MethodPatch, path: "/v1/users/{id}", summary: "Change a user's role, password or disabled flag",
		tags: users, errors: []int{412}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body apitypes.UserPatch
		}) (*Object[core.User], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			return obj(s.svc.UpdateUser(ctx, p, ovm.ID(in.ID), in.Body, v))
		})
	deleteRoute(s, op{id: "delete-user", method: http.MethodDelete, path: "/v1/users/{id}", summary: "Delete a user and its tokens",
		tags: users, status: http.StatusNoContent, errors: []int{409, 412}}, s.svc.DeleteUser)
}
