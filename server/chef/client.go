package chef

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	gochef "github.com/go-chef/chef"

	"github.com/openovm/ovm/ovm"
)

// Config says how to reach a Chef server as one of its API clients.
type Config struct {
	// URL is the server's base URL, such as https://chef.example.com/.
	URL string
	// Organization, when set, is appended as organizations/NAME/ (Chef
	// Infra Server 12 and later); empty talks to the URL itself (Chef 11
	// API servers such as goiardi).
	Organization string
	// ClientName and Key are the API client and its private key (PEM).
	ClientName string
	Key        []byte
	// InsecureSkipVerify skips the verification of the server's TLS
	// certificate; CACert (PEM) is the authority to verify it with instead
	// of the system's.
	InsecureSkipVerify bool
	CACert             string
	// Timeout bounds each request (default 30s).
	Timeout time.Duration
}

// BaseURL is the URL requests are made under: URL, with the organization.
func (c Config) BaseURL() string {
	u := strings.TrimRight(c.URL, "/") + "/"
	if c.Organization != "" {
		u += "organizations/" + url.PathEscape(c.Organization) + "/"
	}
	return u
}

// Validate names each field of c that cannot work. prefix is prepended to
// the field names (such as "body.").
func (c Config) Validate(prefix string) error {
	var f ovm.Fields
	if r := URLProblem(c.URL); r != "" {
		f.Add(prefix+"url", r)
	}
	if c.Organization != "" && !validChefName(c.Organization) {
		f.Add(prefix+"organization", "must be letters, digits, '_', '-' or '.', at most 255")
	}
	if !validChefName(c.ClientName) {
		f.Add(prefix+"clientName", "must be the name of an API client of the Chef server: letters, digits, '_', '-' or '.', at most 255")
	}
	if _, err := gochef.PrivateKeyFromString(c.Key); err != nil || len(c.Key) == 0 {
		f.Add(prefix+"key", "must be the client's RSA private key in PEM")
	}
	if c.CACert != "" {
		if !x509.NewCertPool().AppendCertsFromPEM([]byte(c.CACert)) {
			f.Add(prefix+"tls.caCert", "must hold at least one certificate in PEM")
		}
	}
	return f.Err("invalid chef server")
}

// URLProblem says what makes u unfit as a Chef server's URL, or "".
func URLProblem(u string) string {
	p, err := url.Parse(u)
	switch {
	case u == "":
		return "must not be empty"
	case err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || len(u) > 1024:
		return "must be an http or https URL of at most 1024 characters, such as https://chef.example.com/"
	case p.RawQuery != "" || p.Fragment != "":
		return "must have no query or fragment"
	}
	return ""
}

// validChefName reports whether s is a Chef object name (clients, nodes,
// roles, environments, cookbooks, organizations).
func validChefName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' || r == ':') {
			return false
		}
	}
	return true
}

// Client talks to one Chef server as one API client. It is safe for
// concurrent use.
type Client struct {
	c    *gochef.Client
	base string
}

// Dial returns a client for cfg; it does not talk to the server (Check
// does). A config that does not validate is ovm.ErrInvalid.
func Dial(cfg Config) (*Client, error) {
	if err := cfg.Validate(""); err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	tlsCfg := &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // an administrator's explicit choice
	if cfg.CACert != "" {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(cfg.CACert))
		tlsCfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.TLSClientConfig = tlsCfg
	c, err := gochef.NewClient(&gochef.Config{
		Name: cfg.ClientName, Key: string(cfg.Key), BaseURL: cfg.BaseURL(),
		Client: &http.Client{Transport: tr, Timeout: timeout},
	})
	if err != nil {
		return nil, ovm.Invalid("invalid chef server", ovm.FieldError{Field: "key", Reason: err.Error()})
	}
	return &Client{c: c, base: cfg.BaseURL()}, nil
}

// do sends a signed request for path (relative to the base URL) with body
// encoded as JSON (nil: none) and decodes the answer into out (nil: none).
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("chef: encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := c.c.NewRequest(method, path, rd)
	if err != nil {
		return ovm.Wrap(ovm.KindInternal, err, "chef: sign %s %s", method, path)
	}
	res, err := c.c.Do(req.WithContext(ctx), out)
	if res != nil && res.Body != nil {
		_ = res.Body.Close()
	}
	if err != nil {
		return c.classify(ctx, method, path, err)
	}
	return nil
}

// classify gives err, from a request to the server, its ovm kind and the
// server's own words.
func (c *Client) classify(ctx context.Context, method, path string, err error) error {
	var er *gochef.ErrorResponse
	if !errors.As(err, &er) {
		if ctx.Err() != nil {
			return ovm.Wrap(ovm.KindUnavailable, err, "chef server %s did not answer %s %s in time", c.base, method, path)
		}
		return ovm.Wrap(ovm.KindUnavailable, err, "chef server %s did not answer", c.base)
	}
	text := er.ErrorMsg
	if text == "" {
		text = strings.TrimSpace(string(er.ErrorText))
	}
	if len(text) > 1024 {
		text = text[:1024]
	}
	code := er.StatusCode()
	kind := ovm.KindInternal
	switch {
	case code == http.StatusNotFound:
		kind = ovm.KindNotFound
	case code == http.StatusConflict:
		kind = ovm.KindConflict
	case code == http.StatusBadRequest:
		kind = ovm.KindInvalid
	case code == http.StatusUnauthorized || code == http.StatusForbidden || code >= 500:
		kind = ovm.KindUnavailable
	}
	return ovm.Wrap(kind, &ServerError{Status: code, Text: text}, "chef server %s: %s %s", c.base, method, path)
}

// ServerError is an answer of the Chef server that is not a success: its
// status and its own text.
type ServerError struct {
	Status int
	Text   string
}

func (e *ServerError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("answered %d: %s", e.Status, e.Text)
}

// StatusOf returns the HTTP status of the Chef server's answer in err's
// chain, or 0.
func StatusOf(err error) int {
	var se *ServerError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// Check makes sure the server answers and accepts the client's signed
// requests: it reads the environment every server has, _default.
func (c *Client) Check(ctx context.Context) error {
	var out map[string]any
	err := c.do(ctx, http.MethodGet, "environments/_default", nil, &out)
	if err != nil {
		return fmt.Errorf("chef: check the connection: %w", err)
	}
	return nil
}
