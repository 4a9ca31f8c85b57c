package api

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

func (s *server) platformRoutes() {
	dc := []string{"datacenters"}
	pageRoute(s, op{id: "list-datacenters", method: http.MethodGet, path: "/v1/datacenters", summary: "List datacenters", tags: dc}, s.svc.ListDatacenters)
	register(s, op{id: "create-datacenter", method: http.MethodPost, path: "/v1/datacenters", summary: "Create a datacenter", tags: dc, status: http.StatusCreated},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body apitypes.DatacenterCreate
		}) (*Out[ovm.Datacenter], error) {
			in.Body.IdempotencyKey = in.Key
			d, err := s.svc.CreateDatacenter(ctx, p, in.Body)
			return &Out[ovm.Datacenter]{Body: d}, err
		})
	getRoute(s, op{id: "get-datacenter", method: http.MethodGet, path: "/v1/datacenters/{id}", summary: "Get a datacenter", tags: dc}, s.svc.GetDatacenter)
	register(s, op{id: "update-datacenter", method: http.MethodPatch, path: "/v1/datacenters/{id}", summary: "Change a datacenter", tags: dc, errors: []int{412}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body apitypes.DatacenterPatch
		}) (*Object[ovm.Datacenter], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			return obj(s.svc.UpdateDatacenter(ctx, p, ovm.ID(in.ID), in.Body, v))
		})
	deleteRoute(s, op{id: "delete-datacenter", method: http.MethodDelete, path: "/v1/datacenters/{id}", summary: "Delete a datacenter without pools",
		tags: dc, status: http.StatusNoContent, errors: []int{409, 412}}, s.svc.DeleteDatacenter)

	pools := []string{"pools"}
	pageRoute(s, op{id: "list-pools", method: http.MethodGet, path: "/v1/pools", summary: "List resource pools", tags: pools}, s.svc.ListPools)
	register(s, op{id: "create-pool", method: http.MethodPost, path: "/v1/pools", summary: "Create a resource pool", tags: pools, status: http.StatusCreated},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body apitypes.PoolCreate
		}) (*Out[ovm.ResourcePool], error) {
			in.Body.IdempotencyKey = in.Key
			pool, err := s.svc.CreatePool(ctx, p, in.Body)
			return &Out[ovm.ResourcePool]{Body: pool}, err
		})
	getRoute(s, op{id: "get-pool", method: http.MethodGet, path: "/v1/pools/{id}", summary: "Get a resource pool", tags: pools}, s.svc.GetPool)
	register(s, op{id: "update-pool", method: http.MethodPatch, path: "/v1/pools/{id}", summary: "Change a pool's policy, scope, HA or overcommit", tags: pools, errors: []int{412}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body apitypes.PoolPatch
		}) (*Object[ovm.ResourcePool], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			return obj(s.svc.UpdatePool(ctx, p, ovm.ID(in.ID), in.Body, v))
		})
	deleteRoute(s, op{id: "delete-pool", method: http.MethodDelete, path: "/v1/pools/{id}", summary: "Delete a pool without hosts or VDCs",
		tags: pools, status: http.StatusNoContent, errors: []int{409, 412}}, s.svc.DeletePool)

	hosts := []string{"hosts"}
	pageRoute(s, op{id: "list-hosts", method: http.MethodGet, path: "/v1/hosts", summary: "List hosts", tags: hosts}, s.svc.ListHosts)
	register(s, op{id: "register-host", method: http.MethodPost, path: "/v1/hosts", summary: "Register a host (connects and reads its capacity)",
		tags: hosts, status: http.StatusCreated, errors: []int{409, 501, 503}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body apitypes.HostRegister
		}) (*Out[ovm.Host], error) {
			in.Body.IdempotencyKey = in.Key
			h, err := s.svc.RegisterHost(ctx, p, in.Body)
			return &Out[ovm.Host]{Body: h}, err
		})
	getRoute(s, op{id: "get-host", method: http.MethodGet, path: "/v1/hosts/{id}", summary: "Get a host", tags: hosts}, s.svc.GetHost)
	register(s, op{id: "update-host", method: http.MethodPatch, path: "/v1/hosts/{id}", summary: "Replace a host's credentials", tags: hosts, errors: []int{412}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body apitypes.HostPatch
		}) (*Object[ovm.Host], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			return obj(s.svc.UpdateHost(ctx, p, ovm.ID(in.ID), in.Body, v))
		})
	register(s, op{id: "set-host-maintenance", method: http.MethodPut, path: "/v1/hosts/{id}/maintenance", summary: "Turn a host's maintenance mode on or off",
		tags: hosts, errors: []int{412}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body apitypes.Maintenance
		}) (*Object[ovm.Host], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			return obj(s.svc.SetMaintenance(ctx, p, ovm.ID(in.ID), in.Body.Enabled, v))
		})
	deleteRoute(s, op{id: "delete-host", method: http.MethodDelete, path: "/v1/hosts/{id}", summary: "Remove a host without instances",
		tags: hosts, status: http.StatusNoContent, errors: []int{409, 412}}, s.svc.DeleteHost)
	register(s, op{id: "sync-host", method: http.MethodPost, path: "/v1/hosts/{id}/sync", summary: "List a host's instances and record the unmanaged ones as discovered",
		tags: hosts, errors: []int{503}},
		func(ctx context.Context, p auth.Principal, in *IDPath) (*Out[[]core.Discovered], error) {
			ds, err := s.svc.SyncHost(ctx, p, ovm.ID(in.ID))
			if ds == nil {
				ds = []core.Discovered{}
			}
			return &Out[[]core.Discovered]{Body: ds}, err
		})

	disc := []string{"discovered"}
	pageRoute(s, op{id: "list-discovered", method: http.MethodGet, path: "/v1/discovered", summary: "List objects found on hosts without an OVM id", tags: disc}, s.svc.ListDiscovered)
	getRoute(s, op{id: "get-discovered", method: http.MethodGet, path: "/v1/discovered/{id}", summary: "Get a discovered object", tags: disc}, s.svc.GetDiscovered)
	register(s, op{id: "import-discovered", method: http.MethodPost, path: "/v1/discovered/{id}/import", summary: "Import a discovered object into a VDC as a managed instance",
		tags: disc, status: http.StatusCreated, errors: []int{403, 409}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IdempotencyKey
			Body apitypes.DiscoveredImport
		}) (*Out[ovm.Instance], error) {
			in.Body.IdempotencyKey = in.Key
			inst, err := s.svc.Import(ctx, p, ovm.ID(in.ID), in.Body)
			return &Out[ovm.Instance]{Body: inst}, err
		})
}
