package apitypes

import (
	"time"

	"github.com/openovm/ovm/ovm"
)

// RegistryCreate registers a container image registry.
type RegistryCreate struct {
	Name     string `json:"name" required:"true"`
	Address  string `json:"address" required:"true" maxLength:"255" doc:"The registry's host[:port], such as registry.example.com or 127.0.0.1:5000."`
	Username string `json:"username,omitempty" maxLength:"255" doc:"The user OVM signs in as (basic auth); empty for an open registry."`
	Password string `json:"password,omitempty" maxLength:"4096" doc:"The user's password or token. Encrypted at rest; never returned."`
	Insecure bool   `json:"insecure,omitempty" doc:"Speak plain HTTP, or HTTPS without verifying the certificate (a loopback address speaks plain HTTP anyway)."`
	Default  bool   `json:"default,omitempty" doc:"Make it the platform's default registry (the first registry is the default)."`
	// IdempotencyKey makes the create safe to retry.
	IdempotencyKey string `json:"-"`
}

// RegistryPatch changes a registry; nil fields are unchanged.
type RegistryPatch struct {
	Username *string `json:"username,omitempty" maxLength:"255"`
	Password *string `json:"password,omitempty" maxLength:"4096" doc:"A new password or token."`
	Insecure *bool   `json:"insecure,omitempty"`
	Default  *bool   `json:"default,omitempty" doc:"true makes it the default registry (the former default stops being it)."`
}

// Registry is a registered container image registry. Tenants read its id,
// name, address (to reference images) and whether it is the default; the
// credentials are never returned.
type Registry struct {
	ID        ovm.ID    `json:"id"`
	Name      string    `json:"name"`
	Address   string    `json:"address" doc:"host[:port]; an image of repository R and tag T is ADDRESS/R:T."`
	Username  string    `json:"username,omitempty" doc:"Administrators only."`
	Insecure  bool      `json:"insecure"`
	Default   bool      `json:"default"`
	CreatedAt time.Time `json:"createdAt"`
}

// RegistryRepository is a repository of a registry.
type RegistryRepository struct {
	Name string `json:"name" doc:"The repository's path in the registry, such as vdc-1a2b3c4d/web."`
	// VDCID is the VDC whose namespace holds the repository.
	VDCID ovm.ID `json:"vdcId,omitempty" doc:"The VDC whose private namespace (vdc-<first 8 characters of its id>/) holds it; empty for a platform repository."`
}

// InstanceCommit pushes a container instance's filesystem as an image.
type InstanceCommit struct {
	RegistryID ovm.ID `json:"registryId,omitempty" doc:"The registry (default: the platform's default registry)."`
	Repository string `json:"repository" required:"true" maxLength:"255" doc:"The repository; a tenant's goes under its VDC's namespace (vdc-<short id>/) when it does not start with it."`
	Tag        string `json:"tag" required:"true" maxLength:"128"`
}

// InstanceCommitTask is the image an instance is committed to and the task
// that commits and pushes it.
type InstanceCommitTask struct {
	Reference string   `json:"reference" doc:"The image's full reference, registry/repository:tag."`
	Task      ovm.Task `json:"task"`
}
