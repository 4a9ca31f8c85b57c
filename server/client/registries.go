package client

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// ListRegistries returns the registered container image registries.
func (c *Client) ListRegistries(ctx context.Context, o ListOptions) ([]apitypes.Registry, error) {
	return All[apitypes.Registry](ctx, c, "/v1/registries", o)
}

// GetRegistry returns a registry.
func (c *Client) GetRegistry(ctx context.Context, id ovm.ID) (apitypes.Registry, error) {
	return get[apitypes.Registry](ctx, c, idPath("registries", id))
}

// RegisterRegistry registers a registry (administrators); the server lists
// its catalog with the credentials first.
func (c *Client) RegisterRegistry(ctx context.Context, in apitypes.RegistryCreate) (apitypes.Registry, error) {
	return post[apitypes.Registry](ctx, c, "/v1/registries", in, in.IdempotencyKey)
}

// UpdateRegistry changes a registry's credentials or insecure setting, or
// makes it the default.
func (c *Client) UpdateRegistry(ctx context.Context, id ovm.ID, patch apitypes.RegistryPatch) (apitypes.Registry, error) {
	return Call[apitypes.Registry](ctx, c, Request{Method: http.MethodPatch, Path: idPath("registries", id), Body: patch})
}

// DeleteRegistry removes a registry record.
func (c *Client) DeleteRegistry(ctx context.Context, id ovm.ID) error {
	_, err := c.Do(ctx, Request{Method: http.MethodDelete, Path: idPath("registries", id)}, nil)
	return err
}

// RegistryRepositories lists the repositories of a registry the caller
// may browse.
func (c *Client) RegistryRepositories(ctx context.Context, id ovm.ID) ([]apitypes.RegistryRepository, error) {
	p, err := get[apitypes.Page[apitypes.RegistryRepository]](ctx, c, idPath("registries", id)+"/repositories")
	return p.Items, err
}

// RegistryTags lists a repository's tags as container images.
func (c *Client) RegistryTags(ctx context.Context, id ovm.ID, repository string) ([]apitypes.Image, error) {
	p, err := Call[apitypes.Page[apitypes.Image]](ctx, c, Request{Method: http.MethodGet, Path: idPath("registries", id) + "/tags",
		Query: url.Values{"repository": {repository}}})
	return p.Items, err
}

// RegistryImages lists a registry's container images the caller may use.
func (c *Client) RegistryImages(ctx context.Context, id ovm.ID) ([]apitypes.Image, error) {
	p, err := get[apitypes.Page[apitypes.Image]](ctx, c, idPath("registries", id)+"/images")
	return p.Items, err
}

// DeleteRegistryTag deletes the image a tag names.
func (c *Client) DeleteRegistryTag(ctx context.Context, id ovm.ID, repository, tag string) error {
	_, err := c.Do(ctx, Request{Method: http.MethodDelete, Path: idPath("registries", id) + "/tags",
		Query: url.Values{"repository": {repository}, "tag": {tag}}}, nil)
	return err
}

// PushArchive streams a docker save archive to a registry as
// repository:tag.
func (c *Client) PushArchive(ctx context.Context, id ovm.ID, repository, tag string, archive io.Reader) (apitypes.Image, error) {
	return Call[apitypes.Image](ctx, c, Request{Method: http.MethodPut, Path: idPath("registries", id) + "/images",
		Query: url.Values{"repository": {repository}, "tag": {tag}}, Body: archive, ContentType: "application/x-tar"})
}

// CommitInstance commits a container instance as an image and pushes it;
// the answer carries the task that does it.
func (c *Client) CommitInstance(ctx context.Context, id ovm.ID, in apitypes.InstanceCommit) (apitypes.InstanceCommitTask, error) {
	return post[apitypes.InstanceCommitTask](ctx, c, idPath("instances", id)+"/commit", in, "")
}
