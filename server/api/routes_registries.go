package api

import (
	"context"
	"io"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// RepositoryQuery names a repository of a registry.
type RepositoryQuery struct {
	Repository string `query:"repository" maxLength:"255" doc:"Required. The repository, such as vdc-1a2b3c4d/web; a tenant's writes go under its VDC's namespace."`
}

// TagQuery names a repository's tag.
type TagQuery struct {
	RepositoryQuery
	Tag string `query:"tag" maxLength:"128" doc:"Required."`
}

// archiveBody is a request body the handler reads as a stream.
type archiveBody struct{ r io.Reader }

// Resolve keeps the request's body reader for the handler.
func (b *archiveBody) Resolve(ctx huma.Context) []error {
	b.r = ctx.BodyReader()
	return nil
}

// registryRoutes are container image registries (administrators register
// them), their repositories and tags (tenants browse and push in their
// VDC's namespace and read the platform repositories).
func (s *server) registryRoutes() {
	tags := []string{"registries"}
	pageRoute(s, op{id: "list-registries", method: http.MethodGet, path: "/v1/registries", summary: "List container image registries",
		desc: "The registered registries; the credentials are never returned (tenants do not read the user name either).",
		tags: tags}, s.svc.ListRegistries)
	register(s, op{id: "register-registry", method: http.MethodPost, path: "/v1/registries",
		summary: "Register a container image registry (checks the connection: lists its catalog)",
		desc: "Lists the registry's catalog with the credentials and records the registry; the password is encrypted at rest " +
			"and never returned. 503 with the registry's own text when it does not answer or refuses the credentials.",
		tags: tags, status: http.StatusCreated, errors: []int{403, 409, 503}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body apitypes.RegistryCreate
		}) (*Out[core.Registry], error) {
			in.Body.IdempotencyKey = in.Key
			r, err := s.svc.RegisterRegistry(ctx, p, in.Body)
			return &Out[core.Registry]{Body: r}, err
		})
	getRoute(s, op{id: "get-registry", method: http.MethodGet, path: "/v1/registries/{id}", summary: "Get a registry",
		tags: tags}, s.svc.GetRegistry)
	register(s, op{id: "update-registry", method: http.MethodPatch, path: "/v1/registries/{id}",
		summary: "Change a registry's credentials or insecure setting, or make it the default",
		desc:    "New credentials or settings are checked against the registry first (503 with its text when refused).",
		tags:    tags, errors: []int{403, 412, 503}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body apitypes.RegistryPatch
		}) (*Object[core.Registry], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			return obj(s.svc.UpdateRegistry(ctx, p, ovm.ID(in.ID), in.Body, v))
		})
	deleteRoute(s, op{id: "delete-registry", method: http.MethodDelete, path: "/v1/registries/{id}",
		summary: "Remove a registry record (its images stay in the registry)",
		desc:    "409 for the default registry while others exist, and while VDCs' private images pushed through OVM are in it.",
		tags:    tags, status: http.StatusNoContent, errors: []int{409, 412}}, s.svc.DeleteRegistry)

	register(s, op{id: "list-registry-repositories", method: http.MethodGet, path: "/v1/registries/{id}/repositories",
		summary: "List a registry's repositories",
		desc:    "Read from the registry at each request: a tenant's VDC namespace and the platform repositories (administrators: all). 503 with the registry's text when it does not answer.",
		tags:    tags, errors: []int{503}},
		func(ctx context.Context, p auth.Principal, in *IDPath) (*Out[core.Page[apitypes.RegistryRepository]], error) {
			rs, err := s.svc.RegistryRepositories(ctx, p, ovm.ID(in.ID))
			return &Out[core.Page[apitypes.RegistryRepository]]{Body: core.Page[apitypes.RegistryRepository]{Items: rs}}, err
		})
	register(s, op{id: "list-registry-tags", method: http.MethodGet, path: "/v1/registries/{id}/tags",
		summary: "List a repository's tags as container images",
		desc:    "Each tag with its full reference, manifest digest, size and platform. Another VDC's namespace is 404; 503 when the registry does not answer.",
		tags:    tags, errors: []int{503}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			RepositoryQuery
		}) (*Out[core.Page[apitypes.Image]], error) {
			imgs, err := s.svc.RegistryTags(ctx, p, ovm.ID(in.ID), in.Repository)
			return &Out[core.Page[apitypes.Image]]{Body: core.Page[apitypes.Image]{Items: imgs}}, err
		})
	register(s, op{id: "delete-registry-tag", method: http.MethodDelete, path: "/v1/registries/{id}/tags",
		summary: "Delete the image a tag names",
		desc: "Deletes the manifest the tag points at (so every tag of that manifest). A tenant deletes in its VDC's namespace; " +
			"the disk quota its image held is given back. 501 when the registry does not allow deletion; 503 when it does not answer.",
		tags: tags, status: http.StatusNoContent, errors: []int{501, 503}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			TagQuery
		}) (*Empty, error) {
			return &Empty{}, s.svc.DeleteRegistryTag(ctx, p, ovm.ID(in.ID), in.Repository, in.Tag)
		})
	register(s, op{id: "list-registry-images", method: http.MethodGet, path: "/v1/registries/{id}/images",
		summary: "List a registry's container images the caller may use",
		desc:    "Every tag of the repositories the caller may browse, as catalog entries. 503 when the registry does not answer.",
		tags:    tags, errors: []int{503}},
		func(ctx context.Context, p auth.Principal, in *IDPath) (*Out[core.Page[apitypes.Image]], error) {
			imgs, err := s.svc.ContainerImages(ctx, p, core.ContainerImageOptions{RegistryID: ovm.ID(in.ID)})
			return &Out[core.Page[apitypes.Image]]{Body: core.Page[apitypes.Image]{Items: imgs}}, err
		})
	register(s, op{id: "push-registry-image", method: http.MethodPut, path: "/v1/registries/{id}/images",
		summary: "Push a docker save archive as repository:tag",
		desc: "The request body is a `docker save` archive of one image, streamed to the server. A tenant's image goes under its " +
			"VDC's namespace and its size counts against the VDC's disk quota (403 with the quota problem when over). " +
			"400 when the body is not such an archive; 503 when the registry does not answer.",
		tags: tags, status: http.StatusCreated, errors: []int{403, 503},
		requestBody: &huma.RequestBody{Required: true, Description: "A docker save archive (tar) of one image.",
			Content: map[string]*huma.MediaType{"application/x-tar": {Schema: &huma.Schema{Type: "string", Format: "binary"}}}}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			TagQuery
			archiveBody
		}) (*Out[apitypes.Image], error) {
			img, err := s.svc.PushArchive(ctx, p, ovm.ID(in.ID), in.Repository, in.Tag, in.r)
			return &Out[apitypes.Image]{Body: img}, err
		})
	s.commitRoute()
}

// commitRoute commits a container instance as an image.
func (s *server) commitRoute() {
	register(s, op{id: "commit-instance", method: http.MethodPost, path: "/v1/instances/{id}/commit",
		summary: "Commit a container instance as an image and push it to a registry",
		desc: "Commits the container's filesystem (docker commit) and pushes it as repository:tag to the registry (the default one " +
			"unless registryId names another). A tenant's image goes under its VDC's namespace and counts against its disk quota " +
			"(the task fails and the image is deleted when over). 409 for a VM (make a container image of its disk with a conversion) " +
			"or an instance that is not ready. " + taskDoc,
		tags: []string{"instances", "registries"}, status: http.StatusAccepted, errors: []int{409}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			Body apitypes.InstanceCommit
		}) (*Accepted[apitypes.InstanceCommitTask], error) {
			return accepted(s.svc.CommitInstance(ctx, p, ovm.ID(in.ID), in.Body))
		})
}
