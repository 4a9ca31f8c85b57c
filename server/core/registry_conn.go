package core

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/openovm/ovm/image"
	"github.com/openovm/ovm/image/registry"
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

// registryConn is a registered registry's image source, with the checks of
// repository and tag names the API reports by field.
type registryConn struct {
	cfg registryConfig
	src *registry.Registry
}

// dialRegistry checks an address and returns its connection (no I/O).
// Insecure allows plain HTTP and skips the verification of the registry's
// certificate.
func dialRegistry(cfg registryConfig) (*registryConn, error) {
	var tr http.RoundTripper
	if cfg.Insecure {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the administrator asked for it
		tr = t
	}
	if !hostPort(cfg.Address) {
		return nil, ovm.Invalid("invalid registry", ovm.FieldError{Field: "address", Reason: "must be host[:port], such as registry.example.com or 127.0.0.1:5000", Value: cfg.Address})
	}
	src, err := registry.New(registry.Config{Host: cfg.Address, Username: cfg.Username, Password: cfg.Password,
		Insecure: cfg.Insecure, Transport: tr, TempDir: os.TempDir()})
	if err != nil {
		return nil, ovm.Invalid("invalid registry", ovm.FieldError{Field: "address", Reason: "must be host[:port], such as registry.example.com or 127.0.0.1:5000", Value: cfg.Address})
	}
	return &registryConn{cfg: cfg, src: src}, nil
}

// hostPort reports whether a is a host name or address with an optional
// port of 1 to 65535.
func hostPort(a string) bool {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return a != "" && !strings.ContainsAny(a, ":[]")
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536 && h != ""
}

// repository checks a repository's name.
func (c *registryConn) repository(repo string) error {
	if _, err := name.NewRepository(c.src.Host()+"/"+repo, name.StrictValidation); err != nil || repo == "" {
		return ovm.Invalid("invalid repository", ovm.FieldError{Field: "repository",
			Reason: "must be lower-case path components of letters, digits and . _ - separated by /", Value: repo})
	}
	return nil
}

// tag checks repo:tag.
func (c *registryConn) tag(repo, tag string) error {
	if err := c.repository(repo); err != nil {
		return err
	}
	if !tagPattern.MatchString(tag) {
		return ovm.Invalid("invalid tag", ovm.FieldError{Field: "tag", Reason: "must be 1 to 128 letters, digits and . _ - (not starting with . or -)", Value: tag})
	}
	return nil
}

// Reference is the full reference of repo:tag.
func (c *registryConn) Reference(repo, tag string) string {
	return c.src.Host() + "/" + repo + ":" + tag
}

// Repositories lists the registry's repositories.
func (c *registryConn) Repositories(ctx context.Context) ([]string, error) {
	return c.src.Repositories(ctx)
}

// Tags describes a repository's tags; a repository the registry does not
// know has none.
func (c *registryConn) Tags(ctx context.Context, repo string) ([]image.Image, error) {
	if err := c.repository(repo); err != nil {
		return nil, err
	}
	imgs, err := c.src.Tags(ctx, repo)
	if ovm.KindOf(err) == ovm.KindNotFound {
		return nil, nil
	}
	return imgs, err
}

// Describe reads repo:tag's manifest digest, size and platform.
func (c *registryConn) Describe(ctx context.Context, repo, tag string) (image.Image, error) {
	if err := c.tag(repo, tag); err != nil {
		return image.Image{}, err
	}
	return c.src.Get(ctx, ovm.ContainerImage(c.Reference(repo, tag)))
}

// PushArchive pushes the image of the `docker save` archive at path as
// repo:tag.
func (c *registryConn) PushArchive(ctx context.Context, path, repo, tag string) (image.Image, error) {
	if err := c.tag(repo, tag); err != nil {
		return image.Image{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return image.Image{}, ovm.Internal(err, "core: open the archive of %s:%s", repo, tag)
	}
	defer f.Close()
	return c.src.Put(ctx, ovm.ContainerImage(c.Reference(repo, tag)), f, "")
}

// DeleteTag deletes the manifest repo:tag points at (and so every tag of
// that manifest).
func (c *registryConn) DeleteTag(ctx context.Context, repo, tag string) error {
	if err := c.tag(repo, tag); err != nil {
		return err
	}
	return c.src.Delete(ctx, ovm.ContainerImage(c.Reference(repo, tag)))
}
