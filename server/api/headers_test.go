package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSecurityHeaders: every response says nosniff; the answers of the
// authentication routes (sessions, tokens, users) are never cached, the
// others may be.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	tests := []struct {
		name          string
		method, path  string
		token         string
		body          any
		status        int
		noStore       bool
		problemAnswer bool
	}{
		{"login", "POST", "/v1/login", "", map[string]string{"name": "acme-admin", "password": "tenant-password-1"}, http.StatusOK, true, false},
		{"failed login", "POST", "/v1/login", "", map[string]string{"name": "acme-admin", "password": "wrong-password"}, http.StatusUnauthorized, true, true},
		{"create a token", "POST", "/v1/tokens", tn.token, map[string]any{"name": "ci"}, http.StatusCreated, true, false},
		{"list tokens", "GET", "/v1/tokens", tn.token, nil, http.StatusOK, true, false},
		{"me", "GET", "/v1/me", tn.token, nil, http.StatusOK, true, false},
		{"a user", "GET", "/v1/users/" + string(tn.user), tn.token, nil, http.StatusOK, true, false},
		{"instances", "GET", "/v1/instances", tn.token, nil, http.StatusOK, false, false},
		{"an unknown instance", "GET", "/v1/instances/" + string(pl.pool), tn.token, nil, http.StatusNotFound, false, true},
		{"no token", "GET", "/v1/instances", "", nil, http.StatusUnauthorized, false, true},
		{"openapi", "GET", "/openapi.json", "", nil, http.StatusOK, false, false},
		{"healthz", "GET", "/healthz", "", nil, http.StatusOK, false, false},
		{"metrics", "GET", "/metrics", e.admin, nil, http.StatusOK, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(tc.status, tc.method, tc.path, tc.token, tc.body)
			assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"), "%s %s", tc.method, tc.path)
			if tc.noStore {
				assert.Equal(t, "no-store", r.header.Get("Cache-Control"), "%s %s", tc.method, tc.path)
			} else {
				assert.NotContains(t, r.header.Get("Cache-Control"), "no-store", "%s %s", tc.method, tc.path)
			}
			if tc.problemAnswer {
				assert.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json"), "%s %s: content type %q", tc.method, tc.path, r.header.Get("Content-Type"))
			}
		})
	}
}

// TestMetricsNeedAnAdministrator: /metrics on the API's address answers
// administrators only, with problems for the others.
func TestMetricsNeedAnAdministrator(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	tests := []struct {
		name   string
		header []string
		status int
	}{
		{"no token", nil, http.StatusUnauthorized},
		{"not a bearer token", []string{"Authorization", "Basic YWRtaW46eA=="}, http.StatusUnauthorized},
		{"an unknown token", []string{"Authorization", "Bearer ovm_" + strings.Repeat("a", 43)}, http.StatusUnauthorized},
		{"a tenant", []string{"Authorization", "Bearer " + tn.token}, http.StatusForbidden},
		{"an administrator", []string{"Authorization", "Bearer " + e.admin}, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("GET", "/metrics", "", nil, tc.header...)
			assert.Equal(t, tc.status, r.status, "GET /metrics: got %s", r)
			if tc.status != http.StatusOK {
				p := problemOf(t, r)
				assert.Equal(t, tc.status, p.Status)
				assert.NotContains(t, string(r.body), "ovm_http_requests_total")
			} else {
				assert.Contains(t, string(r.body), "ovm_http_requests_total")
			}
		})
	}
}
