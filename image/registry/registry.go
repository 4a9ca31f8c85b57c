package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/openovm/ovm/image"
	"github.com/openovm/ovm/ovm"
)

var _ image.Source = (*Registry)(nil)

// Config says how to reach a registry.
type Config struct {
	// Host is the registry's "host[:port]", such as "127.0.0.1:5000".
	Host string
	// Username and Password, when Username is set, are sent as HTTP basic
	// credentials (or exchanged for a token where the registry asks).
	Username string
	Password string
	// Insecure allows plain HTTP to a registry that is not on loopback.
	// A loopback registry may always be reached over plain HTTP.
	Insecure bool
	// Transport carries the requests; nil is http.DefaultTransport.
	Transport http.RoundTripper
	// TempDir is where Put keeps an archive while it pushes it; "" is the
	// system's temporary directory.
	TempDir string
}

// Registry is a container registry as an image source. Its methods are
// safe for concurrent use.
type Registry struct {
	reg       name.Registry
	nameOpts  []name.Option
	auth      authn.Authenticator
	transport http.RoundTripper
	tempDir   string
}

// New returns the registry cfg names; it does not contact it.
func New(cfg Config) (*Registry, error) {
	var opts []name.Option
	if cfg.Insecure {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(cfg.Host, append([]name.Option{name.StrictValidation}, opts...)...)
	if err != nil || cfg.Host == "" || strings.ContainsAny(cfg.Host, "/@") {
		reason := "must be a registry host[:port], such as registry.example:5000"
		if err != nil {
			reason += " (" + err.Error() + ")"
		}
		return nil, ovm.Invalid("invalid registry", ovm.FieldError{Field: "host", Reason: reason, Value: cfg.Host})
	}
	base := cfg.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	r := &Registry{reg: reg, nameOpts: opts, auth: authn.Anonymous,
		transport: plainHTTPGuard{base: base, allow: cfg.Insecure}, tempDir: cfg.TempDir}
	if cfg.Username != "" {
		r.auth = &authn.Basic{Username: cfg.Username, Password: cfg.Password}
	}
	return r, nil
}

// Host returns the registry's "host[:port]".
func (r *Registry) Host() string { return r.reg.RegistryStr() }

// options are the remote options of one call.
func (r *Registry) options(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuth(r.auth), remote.WithTransport(r.transport)}
}

// parse returns the reference ref names in this registry, or
// ovm.ErrInvalid: a VM template, a malformed reference, or an image of
// another registry.
func (r *Registry) parse(ref ovm.ImageRef) (name.Reference, error) {
	if ref.Format != ovm.FormatOCI && ref.Format != "" {
		return nil, ovm.Invalid("invalid image reference", ovm.FieldError{Field: "format",
			Reason: "a registry holds container images (oci), not VM templates", Value: ref.Format})
	}
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	n, err := name.ParseReference(ref.Name, r.nameOpts...)
	if err != nil {
		return nil, ovm.Invalid("invalid image reference", ovm.FieldError{Field: "name", Reason: err.Error(), Value: ref.Name})
	}
	if got := n.Context().RegistryStr(); got != r.reg.RegistryStr() {
		return nil, ovm.Invalid("invalid image reference", ovm.FieldError{Field: "name",
			Reason: fmt.Sprintf("must be an image of registry %s, not of %s", r.reg.RegistryStr(), got), Value: ref.Name})
	}
	return n, nil
}

// classify gives a registry or transport error its kind, keeping its
// text: a missing repository, tag or manifest is ovm.ErrNotFound, refused
// credentials, throttling and server errors ovm.ErrUnavailable (the
// registry cannot serve OVM as configured), a refused request
// ovm.ErrInvalid, a disabled operation (such as deletion)
// ovm.ErrUnsupported. Errors that already have a kind, and context
// errors, keep theirs.
func classify(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf(format, args...)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || ovm.KindOf(err) != ovm.KindInternal {
		return fmt.Errorf("%s: %w", msg, err)
	}
	var te *transport.Error
	if errors.As(err, &te) {
		kind := ovm.KindInternal
		switch code := te.StatusCode; {
		case code == http.StatusNotFound:
			kind = ovm.KindNotFound
		case code == http.StatusUnauthorized, code == http.StatusForbidden, code == http.StatusTooManyRequests, code >= 500:
			kind = ovm.KindUnavailable
		case code == http.StatusMethodNotAllowed:
			kind = ovm.KindUnsupported
		case code == http.StatusBadRequest:
			kind = ovm.KindInvalid
		}
		return ovm.Wrap(kind, err, "%s", msg)
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return ovm.Wrap(ovm.KindUnavailable, err, "%s", msg)
	}
	return ovm.Internal(err, "%s", msg)
}

// plainHTTPGuard refuses plain HTTP to a host that is not on loopback
// unless allowed: go-containerregistry falls back to HTTP on its own for
// private addresses.
type plainHTTPGuard struct {
	base  http.RoundTripper
	allow bool
}

func (g plainHTTPGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.allow && !isLoopback(req.URL.Hostname()) {
		return nil, ovm.Errorf(ovm.KindUnavailable,
			"registry %s: refusing plain HTTP to a host that is not on loopback (set the registry insecure to allow it)", req.URL.Host)
	}
	return g.base.RoundTrip(req)
}

// isLoopback reports whether host is "localhost" or a loopback address.
func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
