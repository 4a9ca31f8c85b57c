package core

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/openovm/ovm/ovm"
)

// tagPattern is a tag the distribution specification accepts.
var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// registryConfig is how OVM reaches a registry.
type registryConfig struct {
	Address            string
	Username, Password string
	Insecure           bool
}

// registryTag is one tag of a repository as the registry describes it.
type registryTag struct {
	Digest   string
	Size     ovm.Bytes
	Platform string
}

// registryConn is what the service asks of a registry.
type registryConn struct {
	cfg registryConfig
	reg name.Registry
	opt []name.Option
	tr  http.RoundTripper
}

// dialRegistry checks an address and returns its connection (no I/O).
func dialRegistry(cfg registryConfig) (*registryConn, error) {
	opt := []name.Option{name.StrictValidation}
	if cfg.Insecure {
		opt = append(opt, name.Insecure)
	}
	reg, err := name.NewRegistry(cfg.Address, opt...)
	if err != nil || strings.ContainsAny(cfg.Address, "/ ") {
		return nil, ovm.Invalid("invalid registry", ovm.FieldError{Field: "address", Reason: "must be host[:port], such as registry.example.com or 127.0.0.1:5000", Value: cfg.Address})
	}
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	if cfg.Insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the administrator asked for it
	}
	return &registryConn{cfg: cfg, reg: reg, opt: opt, tr: tr}, nil
}

func (c *registryConn) options(ctx context.Context) []remote.Option {
	o := []remote.Option{remote.WithContext(ctx), remote.WithTransport(c.tr)}
	if c.cfg.Username != "" {
		o = append(o, remote.WithAuth(&authn.Basic{Username: c.cfg.Username, Password: c.cfg.Password}))
	} else {
		o = append(o, remote.WithAuth(authn.Anonymous))
	}
	return o
}

// repository names a repository of the registry.
func (c *registryConn) repository(repo string) (name.Repository, error) {
	r, err := name.NewRepository(c.reg.RegistryStr()+"/"+repo, c.opt...)
	if err != nil {
		return name.Repository{}, ovm.Invalid("invalid repository", ovm.FieldError{Field: "repository",
			Reason: "must be lower-case path components of letters, digits and . _ - separated by /", Value: repo})
	}
	return r, nil
}

// tag names repo:tag of the registry.
func (c *registryConn) tag(repo, tag string) (name.Tag, error) {
	r, err := c.repository(repo)
	if err != nil {
		return name.Tag{}, err
	}
	t, err := name.NewTag(r.Name()+":"+tag, c.opt...)
	if err != nil || !tagPattern.MatchString(tag) {
		return name.Tag{}, ovm.Invalid("invalid tag", ovm.FieldError{Field: "tag", Reason: "must be 1 to 128 letters, digits and . _ - (not starting with . or -)", Value: tag})
	}
	return t, nil
}

// Reference is the full reference of repo:tag.
func (c *registryConn) Reference(repo, tag string) string {
	return c.reg.RegistryStr() + "/" + repo + ":" + tag
}

// Repositories lists the registry's repositories.
func (c *registryConn) Repositories(ctx context.Context) ([]string, error) {
	repos, err := remote.Catalog(ctx, c.reg, c.options(ctx)...)
	if err != nil {
		return nil, c.wrap(err, "list the repositories")
	}
	return repos, nil
}

// Tags lists a repository's tags; a repository the registry does not know
// has none.
func (c *registryConn) Tags(ctx context.Context, repo string) ([]string, error) {
	r, err := c.repository(repo)
	if err != nil {
		return nil, err
	}
	tags, err := remote.ListWithContext(ctx, r, c.options(ctx)...)
	if err != nil {
		if ovm.KindOf(c.wrap(err, "")) == ovm.KindNotFound {
			return nil, nil
		}
		return nil, c.wrap(err, "list the tags of "+repo)
	}
	return tags, nil
}

// Describe reads a tag's manifest digest, size and platform.
func (c *registryConn) Describe(ctx context.Context, repo, tag string) (registryTag, error) {
	t, err := c.tag(repo, tag)
	if err != nil {
		return registryTag{}, err
	}
	d, err := remote.Get(t, c.options(ctx)...)
	if err != nil {
		return registryTag{}, c.wrap(err, "read "+repo+":"+tag)
	}
	out := registryTag{Digest: d.Digest.String(), Size: ovm.Bytes(d.Size)}
	img, err := d.Image()
	if err != nil {
		// An index (several platforms): its manifest's size only.
		return out, nil //nolint:nilerr // an index is described without platform
	}
	if m, err := img.Manifest(); err == nil {
		out.Size += ovm.Bytes(m.Config.Size)
		for _, l := range m.Layers {
			out.Size += ovm.Bytes(l.Size)
		}
	}
	if cf, err := img.ConfigFile(); err == nil && cf.OS != "" {
		out.Platform = cf.OS + "/" + cf.Architecture
		if cf.Variant != "" {
			out.Platform += "/" + cf.Variant
		}
	}
	return out, nil
}

// PushArchive pushes the image of a `docker save` archive as repo:tag.
func (c *registryConn) PushArchive(ctx context.Context, path, repo, tag string) (registryTag, error) {
	t, err := c.tag(repo, tag)
	if err != nil {
		return registryTag{}, err
	}
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		return registryTag{}, ovm.Wrap(ovm.KindInvalid, err, "the body is not a docker save archive of one image")
	}
	if _, err := img.Manifest(); err != nil {
		return registryTag{}, ovm.Wrap(ovm.KindInvalid, err, "the body is not a docker save archive of one image")
	}
	if err := remote.Write(t, img, c.options(ctx)...); err != nil {
		return registryTag{}, c.wrap(err, "push "+repo+":"+tag)
	}
	return c.Describe(ctx, repo, tag)
}

// DeleteTag deletes the manifest repo:tag points at (and so every tag of
// that manifest).
func (c *registryConn) DeleteTag(ctx context.Context, repo, tag string) error {
	d, err := c.Describe(ctx, repo, tag)
	if err != nil {
		return err
	}
	r, _ := c.repository(repo)
	ref, err := name.NewDigest(r.Name()+"@"+d.Digest, c.opt...)
	if err != nil {
		return fmt.Errorf("core: digest of %s:%s: %w", repo, tag, err)
	}
	if err := remote.Delete(ref, c.options(ctx)...); err != nil {
		return c.wrap(err, "delete "+repo+":"+tag)
	}
	return nil
}

// wrap classifies a registry's error, keeping its text.
func (c *registryConn) wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusNotFound:
			return ovm.Wrap(ovm.KindNotFound, err, "registry %s: %s", c.cfg.Address, what)
		case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden:
			return ovm.Wrap(ovm.KindUnavailable, err, "registry %s refused OVM's credentials: %s", c.cfg.Address, what)
		case te.StatusCode == http.StatusMethodNotAllowed:
			return ovm.Wrap(ovm.KindUnsupported, err, "registry %s does not allow it: %s", c.cfg.Address, what)
		case te.StatusCode == http.StatusBadRequest:
			return ovm.Wrap(ovm.KindInvalid, err, "registry %s refused it: %s", c.cfg.Address, what)
		}
		for _, d := range te.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
				return ovm.Wrap(ovm.KindNotFound, err, "registry %s: %s", c.cfg.Address, what)
			}
		}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return ovm.Wrap(ovm.KindUnavailable, err, "registry %s did not answer: %s", c.cfg.Address, what)
}
