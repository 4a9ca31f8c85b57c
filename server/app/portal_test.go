package app_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServesPortal: the server answers the portal at / and its client
// routes, and the API, its documents and its problems beside it.
func TestServesPortal(t *testing.T) {
	s := start(t, testConfig(t, t.TempDir()), nil)
	for _, tt := range []struct {
		name, path, accept string
		status             int
		ctype, contains    string
	}{
		{"portal", "/", "text/html", 200, "text/html; charset=utf-8", `<div id="app">`},
		{"client route", "/instances", "text/html,*/*", 200, "text/html; charset=utf-8", `<div id="app">`},
		{"api", "/v1/me", "text/html", 401, "application/problem+json", "Unauthorized"},
		{"openapi", "/openapi.json", "", 200, "application/openapi+json", `"openapi"`},
		{"docs", "/docs", "text/html", 200, "text/html", "<html"},
		{"unknown path", "/nothing", "application/json", 404, "application/problem+json", "no route /nothing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", s.URL()+tt.path, nil)
			require.NoError(t, err)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Contains(t, resp.Header.Get("Content-Type"), tt.ctype)
			assert.Contains(t, string(b), tt.contains)
		})
	}
}
