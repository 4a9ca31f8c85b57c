package api

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// VDCBody is a new VDC.
type VDCBody struct {
	Name   string    `json:"name" required:"true"`
	PoolID ovm.ID    `json:"poolId" required:"true" doc:"The resource pool its instances are placed in."`
	Quota  ovm.Quota `json:"quota" required:"true"`
}

// QuotaBody replaces a VDC's quota.
type QuotaBody struct {
	Quota ovm.Quota `json:"quota" required:"true"`
}

// Usage is a VDC's quota and live usage.
type Usage struct {
	Quota ovm.Quota `json:"quota"`
	Usage ovm.Usage `json:"usage"`
}

// UserBody is a new user.
type UserBody struct {
	Name     string    `json:"name" required:"true"`
	Role     auth.Role `json:"role" required:"true" enum:"admin,vdc-admin,vdc-member"`
	VDCID    ovm.ID    `json:"vdcId,omitempty" doc:"The user's VDC (not for administrators)."`
	Password string    `json:"password,omitempty" doc:"At least 12 characters; empty generates one, returned once."`
}

// UserPatch changes a user.
type UserPatch struct {
	Role     *auth.Role `json:"role,omitempty" enum:"admin,vdc-admin,vdc-member"`
	Password *string    `json:"password,omitempty"`
	Disabled *bool      `json:"disabled,omitempty"`
}

func (s *server) tenancyRoutes() {
	vdcs := []string{"vdcs"}
	listRoute(s, op{id: "list-vdcs", method: http.MethodGet, path: "/v1/vdcs", summary: "List VDCs (tenants: their own)", tags: vdcs}, s.svc.ListVDCs)
	register(s, op{id: "create-vdc", method: http.MethodPost, path: "/v1/vdcs", summary: "Create a VDC with its quota", tags: vdcs, status: http.StatusCreated},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body VDCBody
		}) (*Out[ovm.VDC], error) {
			v, err := s.svc.CreateVDC(ctx, p, core.CreateVDC{Name: in.Body.Name, PoolID: in.Body.PoolID, Quota: in.Body.Quota, IdempotencyKey: in.Key})
			return &Out[ovm.VDC]{Body: v}, err
		})
	getRoute(s, op{id: "get-vdc", method: http.MethodGet, path: "/v1/vdcs/{id}", summary: "Get a VDC with its quota and usage", tags: vdcs}, s.svc.GetVDC)
	register(s, op{id: "get-vdc-usage", method: http.MethodGet, path: "/v1/vdcs/{id}/usage", summary: "A VDC's quota and live usage", tags: vdcs},
		func(ctx context.Context, p auth.Principal, in *IDPath) (*Object[Usage], error) {
			v, ver, err := s.svc.GetVDC(ctx, p, ovm.ID(in.ID))
			return obj(Usage{Quota: v.Quota, Usage: v.Usage}, ver, err)
		})
	register(s, op{id: "set-vdc-quota", method: http.MethodPut, path: "/v1/vdcs/{id}/quota", summary: "Replace a VDC's quota", tags: vdcs, errors: []int{412}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body QuotaBody
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
			Body UserBody
		}) (*Out[core.NewUser], error) {
			b := in.Body
			u, err := s.svc.CreateUser(ctx, p, core.CreateUser{Name: b.Name, Role: b.Role, VDCID: b.VDCID, Password: b.Password, IdempotencyKey: in.Key})
			return &Out[core.NewUser]{Body: u}, err
		})
	getRoute(s, op{id: "get-user", method: http.MethodGet, path: "/v1/users/{id}", summary: "Get a user", tags: users}, s.svc.GetUser)
	register(s, op{id: "update-user", method: http.MethodPatch, path: "/v1/users/{id}", summary: "Change a user's role, password or disabled flag",
		tags: users, errors: []int{412}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body UserPatch
		}) (*Object[core.User], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			b := in.Body
			return obj(s.svc.UpdateUser(ctx, p, ovm.ID(in.ID), core.UpdateUser{Role: b.Role, Password: b.Password, Disabled: b.Disabled}, v))
		})
	deleteRoute(s, op{id: "delete-user", method: http.MethodDelete, path: "/v1/users/{id}", summary: "Delete a user and its tokens",
		tags: users, status: http.StatusNoContent, errors: []int{409, 412}}, s.svc.DeleteUser)
}
