package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

// clientTexts are strings a client may send that look like what the server
// hides from clients (database names, driver prefixes, stacks): none may
// turn a request into a 500.
var clientTexts = []string{"sqlite", "SQLITE_BUSY", "SQLSTATE 40001", "sql: no rows in result set", "pq: duplicate key",
	"goroutine 1 [running]", "panic: boom", "database", "internal error", "../../../../etc/passwd", "a\x00b", "\x1b[31mred"}

// TestClientTextIsNeverInternal: a tenant's text that reads like an
// internal error answers what the request deserves (404, 422, ...), never
// 500.
func TestClientTextIsNeverInternal(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	for _, text := range clientTexts {
		tests := []struct {
			name   string
			method string
			path   string
			token  string
			body   any
			want   int
		}{
			{"list with a vdcId", "GET", "/v1/instances?vdcId=" + url.QueryEscape(text), tn.token, nil, http.StatusNotFound},
			{"admin list with a vdcId", "GET", "/v1/instances?vdcId=" + url.QueryEscape(text), e.admin, nil, http.StatusNotFound},
			{"instance of another type", "POST", "/v1/instances", tn.token, map[string]any{"name": "i1", "spec": map[string]any{"type": text,
				"cpuMilli": 100, "memoryBytes": 16 << 20, "image": map[string]string{"format": "oci", "name": "busybox:1"}}}, http.StatusUnprocessableEntity},
			{"instance in a vdc", "POST", "/v1/instances", e.admin, map[string]any{"vdcId": text, "name": "i1", "spec": container()}, http.StatusNotFound},
			{"network in a vdc", "POST", "/v1/networks", e.admin, map[string]any{"vdcId": text, "name": "n1", "subnet": "10.9.0.0/24"}, http.StatusNotFound},
		}
		for _, tc := range tests {
			t.Run(tc.name+"/"+text, func(t *testing.T) {
				r := e.doWith(t, tc.method, tc.path, tc.token, tc.body)
				assert.NotEqual(t, http.StatusInternalServerError, r.status, "%s %s: got %s", tc.method, tc.path, r)
				if tc.want == http.StatusNotFound {
					// A malformed id may be refused as invalid before it is looked up.
					assert.Contains(t, []int{http.StatusNotFound, http.StatusUnprocessableEntity}, r.status, "%s %s: got %s", tc.method, tc.path, r)
				} else {
					assert.Equal(t, tc.want, r.status, "%s %s: got %s", tc.method, tc.path, r)
				}
			})
		}
	}
}

// TestEveryRouteTakesClientText sends every operation of the document each
// client text in every string path parameter, query parameter, header and
// body field (other fields filled from the schema: enums with their first
// value, uuids with a fresh id), as a tenant and as an administrator: no
// answer is a 500.
func TestEveryRouteTakesClientText(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	doc := e.api.OpenAPI()
	sent := 0
	for path, item := range doc.Paths {
		for method, op := range map[string]*huma.Operation{"GET": item.Get, "POST": item.Post, "PUT": item.Put, "PATCH": item.Patch, "DELETE": item.Delete} {
			if op == nil || op.OperationID == "logout" || strings.Contains(path, "/console") {
				continue
			}
			for _, text := range clientTexts {
				for _, who := range []struct{ name, token string }{{"tenant", tn.token}, {"admin", e.admin}} {
					if op.OperationID == "login" {
						who.token = ""
					}
					p := path
					q := url.Values{}
					var headers []string
					for _, prm := range op.Parameters {
						switch prm.In {
						case "header":
							headers = append(headers, prm.Name, strings.Map(func(r rune) rune {
								if r < 0x20 || r == 0x7f {
									return -1 // not sendable in a header
								}
								return r
							}, text))
						case "path":
							p = strings.ReplaceAll(p, "{"+prm.Name+"}", url.PathEscape(text))
						case "query":
							if prm.Schema != nil && prm.Schema.Type == "string" {
								q.Set(prm.Name, text)
							}
						}
					}
					if len(q) > 0 {
						p += "?" + q.Encode()
					}
					var body any
					if op.RequestBody != nil {
						if mt := op.RequestBody.Content["application/json"]; mt != nil && mt.Schema != nil {
							body = fillSchema(doc.Components.Schemas, mt.Schema, text, 0)
						}
					}
					r := e.doWith(t, method, p, who.token, body, headers...)
					sent++
					require.NotEqual(t, http.StatusInternalServerError, r.status, "%s %s as %s with %q: got %s", method, p, who.name, text, r)
					if r.status >= 400 && !echoes([]byte(text)) {
						noLeak(t, r)
					}
				}
			}
		}
	}
	require.Greater(t, sent, 1000, "requests sent")
	t.Logf("%d requests over %d paths", sent, len(doc.Paths))
}

// fillSchema makes a value of schema s: every string text, except enums (their
// first value) and uuids (a fresh id), every number 1.
func fillSchema(reg huma.Registry, s *huma.Schema, text string, depth int) any {
	if s.Ref != "" {
		s = reg.SchemaFromRef(s.Ref)
	}
	if depth > 4 {
		return nil
	}
	switch {
	case len(s.Enum) > 0:
		return s.Enum[0]
	case s.Type == "string" && s.Format == "uuid":
		return string(ovm.NewID())
	case s.Type == "string":
		return text
	case s.Type == "integer" || s.Type == "number":
		return 1
	case s.Type == "boolean":
		return false
	case s.Type == "array" && s.Items != nil:
		return []any{fillSchema(reg, s.Items, text, depth+1)}
	case s.Type == "object":
		out := map[string]any{}
		for name, p := range s.Properties {
			out[name] = fillSchema(reg, p, text, depth+1)
		}
		if s.AdditionalProperties != nil {
			if ap, ok := s.AdditionalProperties.(*huma.Schema); ok && ap.Type == "string" {
				out[text] = text
			}
		}
		return out
	}
	return nil
}

// TestTenantStringsAreValidated: image names that are paths or carry
// shell and terminal characters, and labels and environments that are
// empty, hold NUL, are huge or too many, are refused with 422 naming the
// field, on instance and vApp creates alike; nothing is made.
func TestTenantStringsAreValidated(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	many := map[string]string{}
	for i := range 50000 {
		many["k"+strconv.Itoa(i)] = "v"
	}
	with := func(change func(spec map[string]any)) map[string]any {
		spec := container()
		change(spec)
		return spec
	}
	tests := []struct {
		name  string
		spec  map[string]any
		field string
	}{
		{"container image path", with(func(s map[string]any) {
			s["image"] = map[string]string{"format": "oci", "name": "../../../../etc/passwd"}
		}), "spec.image.name"},
		{"container image with shell characters", with(func(s map[string]any) { s["image"] = map[string]string{"format": "oci", "name": "busybox;reboot"} }), "spec.image.name"},
		{"container image with a terminal escape", with(func(s map[string]any) { s["image"] = map[string]string{"format": "oci", "name": "busybox\x1b[2J"} }), "spec.image.name"},
		{"template path", map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20,
			"image": map[string]string{"format": "qcow2", "name": "../../../../etc/passwd"}}, "spec.image.name"},
		{"template with a terminal escape", map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20,
			"image": map[string]string{"format": "qcow2", "name": "x\x1b]0;t\x07.qcow2"}}, "spec.image.name"},
		{"empty label key", with(func(s map[string]any) { s["labels"] = map[string]string{"": "x"} }), "spec.labels"},
		{"NUL in a label key", with(func(s map[string]any) { s["labels"] = map[string]string{"a\x00b": "x"} }), "spec.labels"},
		{"70,000 character label key", with(func(s map[string]any) { s["labels"] = map[string]string{strings.Repeat("k", 70000): "x"} }), "spec.labels"},
		{"50,000 labels", with(func(s map[string]any) { s["labels"] = many }), "spec.labels"},
		{"empty env key", with(func(s map[string]any) { s["env"] = map[string]string{"": "x"} }), "spec.env"},
		{"NUL in an env key", with(func(s map[string]any) { s["env"] = map[string]string{"A\x00": "x"} }), "spec.env"},
		{"70,000 character env key", with(func(s map[string]any) { s["env"] = map[string]string{strings.Repeat("K", 70000): "x"} }), "spec.env"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/v1/instances", tn.token, map[string]any{"name": "i1", "spec": tc.spec})
			require.Equal(t, http.StatusUnprocessableEntity, r.status, "create: got %s", r)
			assert.Contains(t, locations(problemOf(t, r)), "body."+tc.field, "create: %s", r)
			assert.Less(t, len(r.body), 4096, "the problem does not repeat the input")
			r = e.do("POST", "/v1/vapps", tn.token, map[string]any{"name": "app1", "members": []map[string]any{{"name": "m1", "spec": tc.spec}}})
			require.Equal(t, http.StatusUnprocessableEntity, r.status, "vapp: got %s", r)
			assert.Contains(t, locations(problemOf(t, r)), "body.members[0]."+tc.field, "vapp: %s", r)
		})
	}
	var pg struct{ Items []any }
	e.must(http.StatusOK, "GET", "/v1/instances", tn.token, nil).decode(t, &pg)
	assert.Empty(t, pg.Items, "nothing was made")
}

// TestProblemHidesInternalCauses: the status comes from the kinds in the
// chain, never from the text; an internal error is "internal error"; a
// client error wrapping an internal one shows its own message only.
func TestProblemHidesInternalCauses(t *testing.T) {
	s := &server{log: slog.New(slog.DiscardHandler)}
	driver := errors.New("near \"SELEC\": syntax error (SQLSTATE 42601)")
	internal := ovm.Internal(driver, "database")
	tests := []struct {
		name   string
		err    error
		status int
		detail string
	}{
		{"client text that reads like sql", ovm.NotFound("vdc", "sqlite SQLSTATE goroutine"), http.StatusNotFound, "vdc sqlite SQLSTATE goroutine not found"},
		{"internal", fmt.Errorf("store: get: %w", internal), http.StatusInternalServerError, "internal error"},
		{"no kind", errors.New("boom"), http.StatusInternalServerError, "internal error"},
		{"conflict over an internal cause", fmt.Errorf("core: %w", ovm.Wrap(ovm.KindConflict, internal, "name taken")), http.StatusConflict, "name taken"},
		{"invalid with fields over an internal cause", &ovm.Error{Kind: ovm.KindInvalid, Message: "bad", Err: internal,
			Fields: []ovm.FieldError{{Field: "name", Reason: "taken"}}}, http.StatusUnprocessableEntity, "bad: name: taken"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			se := s.problem(t.Context(), tc.err)
			assert.Equal(t, tc.status, se.GetStatus())
			p, ok := se.(*huma.ErrorModel)
			require.True(t, ok, "a %T", se)
			assert.Equal(t, tc.detail, p.Detail)
		})
	}
}
