package api

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// DatacenterBody is a new datacenter.
type DatacenterBody struct {
	Name        string `json:"name" required:"true"`
	Description string `json:"description,omitempty"`
}

// DatacenterPatch changes a datacenter.
type DatacenterPatch struct {
	Description *string `json:"description,omitempty"`
}

// PoolBody is a new resource pool.
type PoolBody struct {
	Name         string              `json:"name" required:"true"`
	DatacenterID ovm.ID              `json:"datacenterId" required:"true"`
	Policy       ovm.PlacementPolicy `json:"policy,omitempty" enum:"PERFORMANCE,PROGRESSIVE"`
	Scope        ovm.Scope           `json:"scope,omitzero"`
	HAEnabled    bool                `json:"haEnabled,omitempty"`
	Overcommit   ovm.Overcommit      `json:"overcommit,omitzero"`
}

// PoolPatch changes a resource pool.
type PoolPatch struct {
	Policy     *ovm.PlacementPolicy `json:"policy,omitempty" enum:"PERFORMANCE,PROGRESSIVE"`
	Scope      *ovm.Scope           `json:"scope,omitempty"`
	HAEnabled  *bool                `json:"haEnabled,omitempty"`
	Overcommit *ovm.Overcommit      `json:"overcommit,omitempty"`
}

// HostBody registers a host.
type HostBody struct {
	Name        string              `json:"name" required:"true"`
	Kind        ovm.HostKind        `json:"kind" required:"true" enum:"kvm,esxi,docker,fake"`
	Endpoint    string              `json:"endpoint" required:"true" doc:"kvm: qemu:///system, qemu+tls://HOST/system, qemu+ssh://USER@HOST/system; esxi: https://HOST[:PORT]/sdk; docker: unix:///var/run/docker.sock, tcp://HOST:2376, ssh://USER@HOST; fake: fake://NAME"`
	PoolID      ovm.ID              `json:"poolId" required:"true"`
	Credentials drivers.Credentials `json:"credentials,omitzero" doc:"Encrypted at rest; never returned."`
	Options     map[string]string   `json:"options,omitempty" doc:"The driver's non-secret settings of the host; unknown keys are refused. docker: uplink. kvm: templates and disks (required; /dir or NAME:/dir), kernel, initrd, cmdline (direct kernel boot), sharedStorage (comma-separated dirs), virtType (kvm or qemu), machine. esxi: datastore, vswitch, imageLibrary (such as \"[datastore1] templates\"). fake: none."`
}

// HostPatch changes a host.
type HostPatch struct {
	Credentials *drivers.Credentials `json:"credentials,omitempty"`
}

// MaintenanceBody turns maintenance on or off.
type MaintenanceBody struct {
	Enabled bool `json:"enabled" required:"true"`
}

// ImportBody imports a discovered object.
type ImportBody struct {
	VDCID ovm.ID `json:"vdcId" required:"true"`
	Name  string `json:"name" required:"true"`
	// CPU and memory are required for an object without limits of its own
	// (a container run without limits); they are applied on the host.
	CPU    ovm.MilliCPU `json:"cpuMilli,omitempty" required:"false" minimum:"0" doc:"The instance's CPU in milli-vCPU; required when the object has no CPU limit on its host, which is then set to it"`
	Memory ovm.Bytes    `json:"memoryBytes,omitempty" required:"false" minimum:"0" doc:"The instance's memory in bytes; required when the object has no memory limit on its host, which is then set to it"`
}

func (s *server) platformRoutes() {
	dc := []string{"datacenters"}
	listRoute(s, op{id: "list-datacenters", method: http.MethodGet, path: "/v1/datacenters", summary: "List datacenters", tags: dc}, s.svc.ListDatacenters)
	register(s, op{id: "create-datacenter", method: http.MethodPost, path: "/v1/datacenters", summary: "Create a datacenter", tags: dc, status: http.StatusCreated},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body DatacenterBody
		}) (*Out[ovm.Datacenter], error) {
			d, err := s.svc.CreateDatacenter(ctx, p, core.CreateDatacenter{Name: in.Body.Name, Description: in.Body.Description, IdempotencyKey: in.Key})
			return &Out[ovm.Datacenter]{Body: d}, err
		})
	getRoute(s, op{id: "get-datacenter", method: http.MethodGet, path: "/v1/datacenters/{id}", summary: "Get a datacenter", tags: dc}, s.svc.GetDatacenter)
	register(s, op{id: "update-datacenter", method: http.MethodPatch, path: "/v1/datacenters/{id}", summary: "Change a datacenter", tags: dc, errors: []int{412}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body DatacenterPatch
		}) (*Object[ovm.Datacenter], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			return obj(s.svc.UpdateDatacenter(ctx, p, ovm.ID(in.ID), core.UpdateDatacenter{Description: in.Body.Description}, v))
		})
	deleteRoute(s, op{id: "delete-datacenter", method: http.MethodDelete, path: "/v1/datacenters/{id}", summary: "Delete a datacenter without pools",
		tags: dc, status: http.StatusNoContent, errors: []int{409, 412}}, s.svc.DeleteDatacenter)

	pools := []string{"pools"}
	listRoute(s, op{id: "list-pools", method: http.MethodGet, path: "/v1/pools", summary: "List resource pools", tags: pools}, s.svc.ListPools)
	register(s, op{id: "create-pool", method: http.MethodPost, path: "/v1/pools", summary: "Create a resource pool", tags: pools, status: http.StatusCreated},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body PoolBody
		}) (*Out[ovm.ResourcePool], error) {
			b := in.Body
			pool, err := s.svc.CreatePool(ctx, p, core.CreatePool{Name: b.Name, DatacenterID: b.DatacenterID, Policy: b.Policy,
				Scope: b.Scope, HAEnabled: b.HAEnabled, Overcommit: b.Overcommit, IdempotencyKey: in.Key})
			return &Out[ovm.ResourcePool]{Body: pool}, err
		})
	getRoute(s, op{id: "get-pool", method: http.MethodGet, path: "/v1/pools/{id}", summary: "Get a resource pool", tags: pools}, s.svc.GetPool)
	register(s, op{id: "update-pool", method: http.MethodPatch, path: "/v1/pools/{id}", summary: "Change a pool's policy, scope, HA or overcommit", tags: pools, errors: []int{412}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body PoolPatch
		}) (*Object[ovm.ResourcePool], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			b := in.Body
			return obj(s.svc.UpdatePool(ctx, p, ovm.ID(in.ID), core.UpdatePool{Policy: b.Policy, Scope: b.Scope, HAEnabled: b.HAEnabled, Overcommit: b.Overcommit}, v))
		})
	deleteRoute(s, op{id: "delete-pool", method: http.MethodDelete, path: "/v1/pools/{id}", summary: "Delete a pool without hosts or VDCs",
		tags: pools, status: http.StatusNoContent, errors: []int{409, 412}}, s.svc.DeletePool)

	hosts := []string{"hosts"}
	listRoute(s, op{id: "list-hosts", method: http.MethodGet, path: "/v1/hosts", summary: "List hosts", tags: hosts}, s.svc.ListHosts)
	register(s, op{id: "register-host", method: http.MethodPost, path: "/v1/hosts", summary: "Register a host (connects and reads its capacity)",
		tags: hosts, status: http.StatusCreated, errors: []int{409, 501, 503}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body HostBody
		}) (*Out[ovm.Host], error) {
			b := in.Body
			h, err := s.svc.RegisterHost(ctx, p, core.RegisterHost{Name: b.Name, Kind: b.Kind, Endpoint: b.Endpoint, PoolID: b.PoolID,
				Credentials: b.Credentials, Options: b.Options, IdempotencyKey: in.Key})
			return &Out[ovm.Host]{Body: h}, err
		})
	getRoute(s, op{id: "get-host", method: http.MethodGet, path: "/v1/hosts/{id}", summary: "Get a host", tags: hosts}, s.svc.GetHost)
	register(s, op{id: "update-host", method: http.MethodPatch, path: "/v1/hosts/{id}", summary: "Replace a host's credentials", tags: hosts, errors: []int{412}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body HostPatch
		}) (*Object[ovm.Host], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			return obj(s.svc.UpdateHost(ctx, p, ovm.ID(in.ID), core.UpdateHost{Credentials: in.Body.Credentials}, v))
		})
	register(s, op{id: "set-host-maintenance", method: http.MethodPut, path: "/v1/hosts/{id}/maintenance", summary: "Turn a host's maintenance mode on or off",
		tags: hosts, errors: []int{412}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body MaintenanceBody
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
	listRoute(s, op{id: "list-discovered", method: http.MethodGet, path: "/v1/discovered", summary: "List objects found on hosts without an OVM id", tags: disc}, s.svc.ListDiscovered)
	getRoute(s, op{id: "get-discovered", method: http.MethodGet, path: "/v1/discovered/{id}", summary: "Get a discovered object", tags: disc}, s.svc.GetDiscovered)
	register(s, op{id: "import-discovered", method: http.MethodPost, path: "/v1/discovered/{id}/import", summary: "Import a discovered object into a VDC as a managed instance",
		tags: disc, status: http.StatusCreated, errors: []int{403, 409}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IdempotencyKey
			Body ImportBody
		}) (*Out[ovm.Instance], error) {
			inst, err := s.svc.Import(ctx, p, ovm.ID(in.ID), core.ImportDiscovered{VDCID: in.Body.VDCID, Name: in.Body.Name,
				CPU: in.Body.CPU, Memory: in.Body.Memory, IdempotencyKey: in.Key})
			return &Out[ovm.Instance]{Body: inst}, err
		})
}
