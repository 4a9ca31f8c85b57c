package api

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
)

// bmcRoutes: a host's out-of-band controller (IPMI), which fences it.
func (s *server) bmcRoutes() {
	hosts := []string{"hosts"}
	register(s, op{id: "set-host-bmc", method: http.MethodPut, path: "/v1/hosts/{id}/bmc",
		summary: "Set a host's BMC (IPMI 2.0 lanplus), checked by reading its chassis power",
		desc: "The server reads the chassis power with these settings before it keeps them: a BMC that does not answer is 503, " +
			"a refused user or password is 422 naming the field, both with the BMC's own words. The password is stored encrypted " +
			"and never returned. A failed host of an HA pool with a BMC is powered off through it, and its HA instances restart " +
			"elsewhere once the BMC reads the power back off.",
		tags: hosts, errors: []int{412, 503}, more: ifMatchDoc},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body apitypes.HostBMCSet
		}) (*Object[ovm.Host], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			return obj(s.svc.SetHostBMC(ctx, p, ovm.ID(in.ID), in.Body, v))
		})
	register(s, op{id: "power-on-host", method: http.MethodPost, path: "/v1/hosts/{id}/bmc/power-on",
		summary: "Power a host's machine on through its BMC and wait until the BMC reads it on",
		desc: "Brings a fenced host's machine back: chassis power up, then the power is read until it is on. " +
			"A host without a BMC is 409; a BMC that does not answer or does not read the power on is 503.",
		tags: hosts, errors: []int{409, 503}},
		func(ctx context.Context, p auth.Principal, in *struct{ IDPath }) (*Object[ovm.Host], error) {
			return obj(s.svc.PowerOnHost(ctx, p, ovm.ID(in.ID)))
		})
	deleteRoute(s, op{id: "delete-host-bmc", method: http.MethodDelete, path: "/v1/hosts/{id}/bmc",
		summary: "Remove a host's BMC (the host can no longer be fenced by power)",
		tags:    hosts, status: http.StatusNoContent, errors: []int{412}}, s.svc.DeleteHostBMC)
}
