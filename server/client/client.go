package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/openovm/ovm/server/apitypes"
)

// DefaultPollInterval is how often WatchTask polls a task when the event
// stream is unavailable.
const DefaultPollInterval = 500 * time.Millisecond

// maxResponseBytes bounds a response body the client reads whole.
const maxResponseBytes = 32 << 20

// Client calls the OVM REST API. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
	// PollInterval is how often WatchTask polls when it cannot stream
	// (default DefaultPollInterval).
	PollInterval time.Duration
	// UserAgent is sent with every request when not empty.
	UserAgent string
}

// New returns a client of the server at baseURL (such as
// "https://ovm.example.com") that authenticates with token (empty: no
// Authorization header, as for Login). A nil hc uses http.DefaultClient.
func New(baseURL, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(baseURL), "/"))
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("server URL %q: must start with http:// or https://", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("server URL %q: names no host", baseURL)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: u, token: token, hc: hc, PollInterval: DefaultPollInterval}, nil
}

// BaseURL returns the server's base URL.
func (c *Client) BaseURL() string { return c.base.String() }

// WithToken returns a copy of c that authenticates with token.
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.token = token
	return &cp
}

// Request is one call of the API.
type Request struct {
	Method string
	// Path is the route with its ids filled in, such as
	// "/v1/instances/0b6c…"; it may carry a query string.
	Path  string
	Query url.Values
	// Body is sent as JSON when not nil; a []byte or json.RawMessage is
	// sent as it is, an io.Reader streamed.
	Body any
	// ContentType is the body's type (default application/json).
	ContentType string
	// IfMatch is the ETag a change applies to (empty: no condition).
	IfMatch string
	// IdempotencyKey makes a create safe to retry.
	IdempotencyKey string
	// Accept overrides the Accept header (default application/json).
	Accept string
}

// Response is an answer read whole.
type Response struct {
	Status int
	Header http.Header
	// Body is the response body as the server sent it.
	Body []byte
}

// ETag returns the response's ETag header.
func (r *Response) ETag() string { return r.Header.Get("ETag") }

// newRequest builds the HTTP request of r.
func (c *Client) newRequest(ctx context.Context, r Request) (*http.Request, error) {
	ref, err := url.Parse(r.Path)
	if err != nil {
		return nil, fmt.Errorf("request path %q: %w", r.Path, err)
	}
	u := c.base.JoinPath(ref.Path)
	q := ref.Query()
	for k, vs := range r.Query {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	u.RawQuery = q.Encode()
	var body io.Reader
	if rd, ok := r.Body.(io.Reader); ok {
		body = rd
	} else if r.Body != nil {
		var b []byte
		switch v := r.Body.(type) {
		case []byte:
			b = v
		case json.RawMessage:
			b = v
		default:
			if b, err = json.Marshal(v); err != nil {
				return nil, fmt.Errorf("encode request body: %w", err)
			}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		ct := r.ContentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	accept := r.Accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if r.IfMatch != "" {
		req.Header.Set("If-Match", r.IfMatch)
	}
	if r.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", r.IdempotencyKey)
	}
	return req, nil
}

// Do sends r and reads the answer. A status of 400 or more is returned as
// a *Problem (with the Response); otherwise, when out is not nil and the
// answer has a body, the body is decoded into out.
func (c *Client) Do(ctx context.Context, r Request, out any) (*Response, error) {
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.Method, r.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read response: %w", r.Method, r.Path, err)
	}
	resp := &Response{Status: res.StatusCode, Header: res.Header, Body: b}
	if res.StatusCode >= 400 {
		return resp, problemOf(res.StatusCode, res.Header, b)
	}
	if out != nil && len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp, fmt.Errorf("%s %s: decode response: %w", r.Method, r.Path, err)
		}
	}
	return resp, nil
}

// Call sends r and decodes the answer into a T.
func Call[T any](ctx context.Context, c *Client, r Request) (T, error) {
	var v T
	_, err := c.Do(ctx, r, &v)
	return v, err
}

// ListOptions select a page of a list.
type ListOptions struct {
	// VDCID lists one VDC's objects (administrators; tenants may name only
	// their own).
	VDCID string
	// Cursor is the next cursor of the previous page.
	Cursor string
	// Limit is the page size (0: the server's default).
	Limit int
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	if o.VDCID != "" {
		q.Set("vdcId", o.VDCID)
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	return q
}

// List returns one page of the collection at path (such as "/v1/networks").
func List[T any](ctx context.Context, c *Client, path string, o ListOptions) (apitypes.Page[T], error) {
	return Call[apitypes.Page[T]](ctx, c, Request{Method: http.MethodGet, Path: path, Query: o.query()})
}

// maxPages stops All on a server that never ends a list.
const maxPages = 10000

// All returns every item of the collection at path, following each page's
// next cursor from o.Cursor to the end.
func All[T any](ctx context.Context, c *Client, path string, o ListOptions) ([]T, error) {
	var out []T
	for range maxPages {
		pg, err := List[T](ctx, c, path, o)
		if err != nil {
			return out, err
		}
		out = append(out, pg.Items...)
		if pg.Next == "" {
			return out, nil
		}
		if pg.Next == o.Cursor {
			return out, errors.New("list " + path + ": the server repeated a cursor")
		}
		o.Cursor = pg.Next
	}
	return out, fmt.Errorf("list %s: more than %d pages", path, maxPages)
}
