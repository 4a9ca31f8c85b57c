package api

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// parseNetwork parses a network's body into an ovm.Network, naming every
// field that does not parse, and validates it.
func parseNetwork(b apitypes.NetworkCreate) (ovm.Network, error) {
	var f ovm.Fields
	n := ovm.Network{Name: b.Name, VLAN: b.VLAN}
	if p, err := netip.ParsePrefix(b.Subnet); err != nil {
		f.Add("subnet", "must be a CIDR such as 10.0.0.0/24 or fd00::/64")
	} else {
		n.Subnet = p
	}
	addr := func(field, s string) netip.Addr {
		a, err := netip.ParseAddr(s)
		if err != nil {
			f.Add(field, "must be an IP address")
		}
		return a
	}
	if b.Gateway != "" {
		n.Gateway = addr("gateway", b.Gateway)
	}
	for i, r := range b.Ranges {
		n.Ranges = append(n.Ranges, ovm.AddrRange{Start: addr(fmt.Sprintf("ranges[%d].start", i), r.Start), End: addr(fmt.Sprintf("ranges[%d].end", i), r.End)})
	}
	for i, d := range b.DNS {
		n.DNS = append(n.DNS, addr(fmt.Sprintf("dns[%d]", i), d))
	}
	if err := f.Err("invalid network"); err != nil {
		return n, err
	}
	return n, n.Validate()
}

func (s *server) resourceRoutes() {
	nets := []string{"networks"}
	listRoute(s, op{id: "list-networks", method: http.MethodGet, path: "/v1/networks", summary: "List networks", tags: nets}, s.svc.ListNetworks)
	register(s, op{id: "create-network", method: http.MethodPost, path: "/v1/networks", summary: "Create a network (counted against the networks quota)",
		tags: nets, status: http.StatusCreated, errors: []int{403, 409}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body apitypes.NetworkCreate
		}) (*Out[ovm.Network], error) {
			n, err := parseNetwork(in.Body)
			if err != nil {
				return nil, err
			}
			out, err := s.svc.CreateNetwork(ctx, p, core.CreateNetwork{VDCID: in.Body.VDCID, Network: n, IdempotencyKey: in.Key})
			return &Out[ovm.Network]{Body: out}, err
		})
	getRoute(s, op{id: "get-network", method: http.MethodGet, path: "/v1/networks/{id}", summary: "Get a network", tags: nets}, s.svc.GetNetwork)
	deleteRoute(s, op{id: "delete-network", method: http.MethodDelete, path: "/v1/networks/{id}", summary: "Delete a network no instance uses",
		tags: nets, status: http.StatusNoContent, errors: []int{409, 412}}, s.svc.DeleteNetwork)

	vols := []string{"volumes"}
	listRoute(s, op{id: "list-volumes", method: http.MethodGet, path: "/v1/volumes", summary: "List volumes", tags: vols}, s.svc.ListVolumes)
	register(s, op{id: "create-volume", method: http.MethodPost, path: "/v1/volumes", summary: "Create a volume (disk quota now, the volume in a task)",
		tags: vols, status: http.StatusAccepted, errors: []int{403, 409, 503}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body apitypes.VolumeCreate
		}) (*Accepted[core.VolumeTask], error) {
			in.Body.IdempotencyKey = in.Key
			return accepted(s.svc.CreateVolume(ctx, p, in.Body))
		})
	getRoute(s, op{id: "get-volume", method: http.MethodGet, path: "/v1/volumes/{id}", summary: "Get a volume", tags: vols}, s.svc.GetVolume)
	register(s, op{id: "resize-volume", method: http.MethodPatch, path: "/v1/volumes/{id}", summary: "Grow a volume",
		tags: vols, status: http.StatusAccepted, errors: []int{403, 409, 412}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body apitypes.VolumePatch
		}) (*Accepted[core.VolumeTask], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			return accepted(s.svc.ResizeVolume(ctx, p, ovm.ID(in.ID), in.Body.Size, v))
		})
	taskRoute(s, op{id: "delete-volume", method: http.MethodDelete, path: "/v1/volumes/{id}", summary: "Delete a detached volume",
		tags: vols, status: http.StatusAccepted, errors: []int{409, 412}}, s.svc.DeleteVolume)
}
