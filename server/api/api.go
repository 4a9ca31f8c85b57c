package api

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// DefaultMaxBodyBytes bounds a request body (413 beyond).
const DefaultMaxBodyBytes = 1 << 20

// Options configure the API.
type Options struct {
	// Logger receives request failures and internal errors (default:
	// discard).
	Logger *slog.Logger
	// Metrics are served at /metrics and fed by every request (default: a
	// new set). Pass the same Metrics to the task engine (ObserveTask) and
	// the service (ObserveDriverCall).
	Metrics *Metrics
	// MaxBodyBytes bounds request bodies (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Version is the API version in the OpenAPI document.
	Version string
}

// server holds what the handlers need.
type server struct {
	svc *core.Service
	log *slog.Logger
	m   *Metrics
	o   Options
	api huma.API
}

type ctxKey int

const (
	principalKey ctxKey = iota
	requestIDKey
)

// bearer is the security requirement of authenticated operations.
var bearer = []map[string][]string{{"bearer": {}}}

// Config returns the huma configuration of the API: OpenAPI 3.1 at
// /openapi.json, docs at /docs, bearer authentication, unknown fields and
// query parameters rejected.
func Config(version string) huma.Config {
	if version == "" {
		version = "1.0.0"
	}
	cfg := huma.DefaultConfig("OVM", version)
	cfg.Info.Description = "OVM: one control plane for KVM, standalone ESXi and Docker hosts. " +
		"Errors are RFC 9457 problem details; changes on hypervisors answer 202 with a task."
	cfg.CreateHooks = nil // no $schema links in bodies
	cfg.SchemasPath = ""
	cfg.FieldsOptionalByDefault = true
	cfg.RejectUnknownQueryParameters = true
	cfg.Transformers = append(cfg.Transformers, trimProblem, typedProblem)
	registerTypes(cfg.Components.Schemas)
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "A login session token or a personal API token."},
	}
	document(&cfg)
	return cfg
}

// trimProblem keeps problems small: huma echoes a whole undecodable body
// as the value of its error; values longer than maxEcho are dropped.
func trimProblem(_ huma.Context, _ string, v any) (any, error) {
	p, ok := v.(*huma.ErrorModel)
	if !ok {
		return v, nil
	}
	for _, d := range p.Errors {
		if s, ok := d.Value.(string); ok && (len(s) > maxEcho || d.Location == "body") {
			d.Value = nil
		}
	}
	return p, nil
}

// problemType is the type of every problem this API answers: RFC 9457's
// default, written out because the schema of a problem gives it as the
// default and generated clients take a default as always present.
const problemType = "about:blank"

// typedProblem gives a problem its type.
func typedProblem(_ huma.Context, _ string, v any) (any, error) {
	if p, ok := v.(*huma.ErrorModel); ok && p.Type == "" {
		p.Type = problemType
	}
	return v, nil
}

// maxEcho is the longest input value a problem repeats back.
const maxEcho = 256

// New returns the API's handler: the huma routes under /v1, the OpenAPI
// document and docs, /healthz, /readyz and /metrics (administrators only;
// Metrics.Handler serves them on an address of their own without a token).
func New(svc *core.Service, o Options) http.Handler {
	h, _ := build(svc, o)
	return h
}

// build returns the handler and the huma API (for tests that inspect the
// operations).
func build(svc *core.Service, o Options) (http.Handler, huma.API) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	mux := http.NewServeMux()
	api := humago.New(mux, Config(o.Version))
	s := &server{svc: svc, log: o.Logger, m: o.Metrics, o: o, api: api}
	api.UseMiddleware(s.observe, s.authenticate, s.auditTrail)

	s.authRoutes()
	s.platformRoutes()
	s.bmcRoutes()
	s.tenancyRoutes()
	s.instanceRoutes()
	s.migrateRoutes()
	s.consoleRoutes()
	s.wsRoutes(mux)
	s.resourceRoutes()
	s.snapshotRoutes()
	s.storageRoutes()
	s.taskRoutes()
	s.alertRoutes()
	s.chefRoutes()
	s.registryRoutes()
	s.auditRoutes()
	s.backupRoutes()
	s.metricsRoutes()
	s.scalingRoutes()
	s.metricAlertRoutes()
	s.imageRoutes()
	s.imageConversionRoutes()
	finishDocument(api, core.NewSystem(svc).Tasks().Kinds())

	mux.Handle("GET /healthz", s.plain("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	}))
	mux.Handle("GET /readyz", s.plain("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain")
		if err := core.NewSystem(svc).Store().Ping(ctx); err != nil {
			s.log.WarnContext(ctx, "api: not ready", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("store unavailable\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}))
	mux.Handle("GET /metrics", s.plain("/metrics", s.adminOnly(s.m.Handler().ServeHTTP)))
	mux.Handle("/", s.plain("unknown", noRoute(mux)))
	return secureHeaders(mux), api
}

// noStore are the paths whose answers carry secrets or credentials (login
// sessions, tokens, users' passwords): never cached.
var noStore = []string{"/v1/login", "/v1/logout", "/v1/tokens", "/v1/users", "/v1/me"}

// secureHeaders sets the security headers of every response:
// X-Content-Type-Options: nosniff, and Cache-Control: no-store on the
// authentication routes.
func secureHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		for _, p := range noStore {
			if r.URL.Path == p || strings.HasPrefix(r.URL.Path, p+"/") {
				w.Header().Set("Cache-Control", "no-store")
				break
			}
		}
		h.ServeHTTP(w, r)
	})
}

// adminOnly serves h to requests with an administrator's bearer token;
// others get 401 (no or a bad token) or 403 problems. Serve the metrics
// without a token on a separate address instead (Metrics.Handler).
func (s *server) adminOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		var err error
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			err = fmt.Errorf("%w: a bearer token is required", core.ErrUnauthenticated)
		} else if p, aerr := s.svc.Authenticate(r.Context(), strings.TrimSpace(token)); aerr != nil {
			err = aerr
		} else if !p.Admin() {
			err = fmt.Errorf("%w: only administrators read the metrics", core.ErrForbidden)
		}
		if err == nil {
			h(w, r)
			return
		}
		se := s.problem(r.Context(), err)
		if se.GetStatus() == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ovm"`)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(se.GetStatus())
		_ = json.NewEncoder(w).Encode(se)
	}
}

// plain wraps a non-huma route with the request metrics.
func (s *server) plain(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h(sw, r)
		s.m.observeHTTP(route, r.Method, sw.status, time.Since(start))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the status.
func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// newRequestID returns a random request id.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestID returns the request id of ctx.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// principal returns the principal the request acts as.
func principal(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(principalKey).(auth.Principal)
	return p
}

// observe gives the request an id (X-Request-Id) and counts it by route
// and status.
func (s *server) observe(ctx huma.Context, next func(huma.Context)) {
	start := time.Now()
	id := newRequestID()
	ctx.SetHeader("X-Request-Id", id)
	next(huma.WithValue(ctx, requestIDKey, id))
	route := "unknown"
	if op := ctx.Operation(); op != nil {
		route = op.Path
	}
	status := ctx.Status()
	if status == 0 {
		status = http.StatusOK
	}
	s.m.observeHTTP(route, ctx.Method(), status, time.Since(start))
}

// authenticate requires a bearer token on every operation with a security
// requirement.
func (s *server) authenticate(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if op == nil || len(op.Security) == 0 {
		next(ctx)
		return
	}
	h := ctx.Header("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="ovm"`)
		_ = huma.WriteErr(s.api, ctx, http.StatusUnauthorized, "a bearer token is required")
		return
	}
	p, err := s.svc.Authenticate(ctx.Context(), strings.TrimSpace(token))
	if err != nil {
		se := s.problem(ctx.Context(), err)
		if se.GetStatus() == http.StatusUnauthorized {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="ovm", error="invalid_token"`)
		}
		writeProblem(s.api, ctx, se)
		return
	}
	next(huma.WithValue(ctx, principalKey, p))
}

// writeProblem writes a problem as the response.
func writeProblem(api huma.API, ctx huma.Context, se huma.StatusError) {
	ct := "application/problem+json"
	if p, ok := se.(*huma.ErrorModel); ok && p.Type == "" {
		p.Type = problemType
	}
	ctx.SetHeader("Content-Type", ct)
	ctx.SetStatus(se.GetStatus())
	_ = api.Marshal(ctx.BodyWriter(), "application/json", se)
}

// op describes an operation for register.
type op struct {
	id, method, path, summary string
	desc                      string // the operation's description (default: operationDocs[id])
	more                      string // what the route helper adds to the description
	tags                      []string
	status                    int  // default status
	public                    bool // no bearer token
	errors                    []int
	// body declares a request body the handler reads itself (an input
	// without a Body field).
	body *huma.RequestBody
	// requestBody declares a body the handler reads as a stream itself.
	requestBody *huma.RequestBody
}

// description is the operation's description: its own text, then what its
// route helper adds.
func (o op) description() string {
	d := o.desc
	if d == "" {
		d = operationDocs[o.id]
	}
	if d == "" {
		return o.more
	}
	if o.more == "" {
		return d
	}
	return d + " " + o.more
}

// register adds an operation whose handler gets the principal and whose
// errors are mapped by statusTable.
func register[I, O any](s *server, o op, h func(ctx context.Context, p auth.Principal, in *I) (*O, error)) {
	hop := huma.Operation{
		OperationID:   o.id,
		Method:        o.method,
		Path:          o.path,
		Summary:       o.summary,
		Description:   o.description(),
		Tags:          o.tags,
		DefaultStatus: o.status,
		MaxBodyBytes:  s.o.MaxBodyBytes,
		Errors:        append([]int{http.StatusBadRequest, http.StatusUnprocessableEntity}, o.errors...),
		RequestBody:   cmp.Or(o.body, o.requestBody),
	}
	if !o.public {
		hop.Security = bearer
		hop.Errors = append(hop.Errors, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound)
	}
	huma.Register(s.api, hop, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, principal(ctx), in)
		if err != nil {
			se := s.problem(ctx, err)
			s.auditFailure(ctx, se.GetStatus(), problemDetail(se))
			return nil, se
		}
		return out, nil
	})
}
