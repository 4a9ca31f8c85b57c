package api

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// chefRoutes are Chef automation: servers (administrators), their catalog,
// instances' enrolment and converge runs (tenants, in their VDC).
func (s *server) chefRoutes() {
	servers := []string{"chef"}
	pageRoute(s, op{id: "list-chef-servers", method: http.MethodGet, path: "/v1/chef/servers", summary: "List Chef servers",
		desc: "The registered Chef servers. Tenants read each one's id, name and organisation; administrators everything but the key.",
		tags: servers}, s.svc.ListChefServers)
	register(s, op{id: "register-chef-server", method: http.MethodPost, path: "/v1/chef/servers",
		summary: "Register a Chef server (checks the connection with the client's key)",
		desc: "Connects to the Chef server as the API client with its key and records the server; the key is encrypted at rest " +
			"and never returned. 503 with the server's own text when it does not answer or refuses the client.",
		tags: servers, status: http.StatusCreated, errors: []int{403, 409, 503}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body apitypes.ChefServerCreate
		}) (*Out[core.ChefServer], error) {
			in.Body.IdempotencyKey = in.Key
			srv, err := s.svc.RegisterChefServer(ctx, p, in.Body)
			return &Out[core.ChefServer]{Body: srv}, err
		})
	getRoute(s, op{id: "get-chef-server", method: http.MethodGet, path: "/v1/chef/servers/{id}", summary: "Get a Chef server",
		desc: "One Chef server; tenants read its id, name and organisation.", tags: servers}, s.svc.GetChefServer)
	register(s, op{id: "update-chef-server", method: http.MethodPatch, path: "/v1/chef/servers/{id}",
		summary: "Change a Chef server's key, guest URL, TLS settings or converge command",
		desc:    "A new key or TLS setting is checked against the server first (503 with its text when refused).",
		tags:    servers, errors: []int{403, 412, 503}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body apitypes.ChefServerPatch
		}) (*Object[core.ChefServer], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			return obj(s.svc.UpdateChefServer(ctx, p, ovm.ID(in.ID), in.Body, v))
		})
	deleteRoute(s, op{id: "delete-chef-server", method: http.MethodDelete, path: "/v1/chef/servers/{id}",
		summary: "Remove a Chef server no instance is enrolled in", desc: "409 while instances are enrolled in it.",
		tags: servers, status: http.StatusNoContent, errors: []int{409, 412}}, s.svc.DeleteChefServer)
	register(s, op{id: "get-chef-catalog", method: http.MethodGet, path: "/v1/chef/servers/{id}/catalog",
		summary: "Read a Chef server's cookbooks (versions and recipes), roles and environments",
		desc:    "Read from the Chef server at each request. 503 with the server's text when it does not answer.",
		tags:    servers, errors: []int{503}},
		func(ctx context.Context, p auth.Principal, in *IDPath) (*Out[apitypes.ChefCatalog], error) {
			cat, err := s.svc.ChefCatalog(ctx, p, ovm.ID(in.ID))
			return &Out[apitypes.ChefCatalog]{Body: cat}, err
		})

	nodes := []string{"chef", "instances"}
	register(s, op{id: "enrol-instance", method: http.MethodPost, path: "/v1/instances/{id}/chef",
		summary: "Enrol an instance in a Chef server",
		desc: "OVM makes the node's key pair, creates its API client and node on the Chef server (node name: the instance's id) " +
			"with the initial run list, and delivers the private key and client.rb into the guest through its host's exec " +
			"(docker exec, the QEMU guest agent, VMware Tools guest operations); " +
			"the key is kept nowhere else. An unknown cookbook, recipe, role or environment is 422 before anything runs; " +
			"503 when the Chef server does not answer; 409 when the instance is not ready or is being enrolled; 501 when its host " +
			"kind runs no commands inside instances (enrol a VM as it is created instead). " + taskDoc,
		tags: nodes, status: http.StatusAccepted, errors: []int{409, 501, 503}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			Body apitypes.ChefEnrol
		}) (*Accepted[core.ChefNodeTask], error) {
			return accepted(s.svc.EnrolInstance(ctx, p, ovm.ID(in.ID), in.Body))
		})
	getRoute(s, op{id: "get-instance-chef", method: http.MethodGet, path: "/v1/instances/{id}/chef",
		summary: "Get an instance's Chef enrolment", desc: "Its node, run list, environment and last converge; 404 when not enrolled.",
		tags: nodes}, s.svc.GetInstanceChef)
	register(s, op{id: "unenrol-instance", method: http.MethodDelete, path: "/v1/instances/{id}/chef",
		summary: "Unenrol an instance: remove its node and client from the Chef server",
		desc:    "Deleting an instance unenrols it too. " + taskDoc, tags: nodes, status: http.StatusAccepted, errors: []int{409}},
		func(ctx context.Context, p auth.Principal, in *IDPath) (*Accepted[core.ChefNodeTask], error) {
			return accepted(s.svc.UnenrolInstance(ctx, p, ovm.ID(in.ID)))
		})

	runs := []string{"chef"}
	listRoute(s, op{id: "list-chef-runs", method: http.MethodGet, path: "/v1/chef/runs", summary: "List converge runs",
		desc: "The converge runs of the caller's VDC with their per-instance results.", tags: runs}, s.svc.ListChefRuns)
	register(s, op{id: "create-chef-run", method: http.MethodPost, path: "/v1/chef/runs",
		summary: "Converge instances: install a run list on some, or update every enrolled instance",
		desc: "Selects the instances (instanceIds, all, or labels), adds runList to their nodes' run lists, then runs the Chef " +
			"server's converge command in each (concurrency at a time) and reads the node back. Each instance gets a result: " +
			"succeeded, failed with the command's output, unreachable, or cancelled. An unknown cookbook, recipe, role or " +
			"environment, or an instance that is not enrolled, is 422 before anything runs; 503 when a Chef server does not " +
			"answer. " + taskDoc,
		tags: runs, status: http.StatusAccepted, errors: []int{409, 503}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body apitypes.ChefRunCreate
		}) (*Accepted[core.ChefRunTask], error) {
			in.Body.IdempotencyKey = in.Key
			return accepted(s.svc.CreateChefRun(ctx, p, in.Body))
		})
	getRoute(s, op{id: "get-chef-run", method: http.MethodGet, path: "/v1/chef/runs/{id}", summary: "Get a converge run and its per-instance results",
		tags: runs}, s.svc.GetChefRun)
	register(s, op{id: "cancel-chef-run", method: http.MethodPost, path: "/v1/chef/runs/{id}/cancel", summary: "Cancel a running converge run",
		desc: "Instances not started are not converged; running converges are interrupted. 409 when the run is not running.",
		tags: runs, errors: []int{409}},
		func(ctx context.Context, p auth.Principal, in *IDPath) (*Object[core.ChefRun], error) {
			return obj(s.svc.CancelChefRun(ctx, p, ovm.ID(in.ID)))
		})
	register(s, op{id: "retry-chef-run", method: http.MethodPost, path: "/v1/chef/runs/{id}/retry",
		summary: "Converge again the instances of a finished run that failed, were unreachable or were cancelled",
		desc:    "A new run with the same run list, environment and concurrency. 409 while the run is running or when none failed. " + taskDoc,
		tags:    runs, status: http.StatusAccepted, errors: []int{409, 503}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IdempotencyKey
		}) (*Accepted[core.ChefRunTask], error) {
			return accepted(s.svc.RetryChefRun(ctx, p, ovm.ID(in.ID), in.Key))
		})
}
