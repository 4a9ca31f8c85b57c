package app_test

import (
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// get answers GET url with an optional bearer token: status and body.
func get(t *testing.T, url, token string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header
}

// TestMetricsAddress: without metrics-listen, /metrics is on the API's
// address for administrators only; with it, a scraper reads them there
// without a token while the API's /metrics still wants an administrator.
func TestMetricsAddress(t *testing.T) {
	t.Run("api address only", func(t *testing.T) {
		s := start(t, testConfig(t, filepath.Join(t.TempDir(), "data")), io.Discard)
		assert.Empty(t, s.MetricsURL())
		code, _, _ := get(t, s.URL()+"/metrics", "")
		assert.Equal(t, http.StatusUnauthorized, code, "GET /metrics without a token")
		_, token := login(t, s.URL(), "admin", s.AdminPassword())
		code, body, h := get(t, s.URL()+"/metrics", token)
		assert.Equal(t, http.StatusOK, code, "GET /metrics as the administrator")
		assert.Contains(t, body, "ovm_http_requests_total")
		assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	})
	t.Run("separate address", func(t *testing.T) {
		cfg := testConfig(t, filepath.Join(t.TempDir(), "data"))
		cfg.MetricsListen = "127.0.0.1:0"
		s := start(t, cfg, io.Discard)
		require.NotEmpty(t, s.MetricsURL())
		code, _, _ := get(t, s.URL()+"/healthz", "")
		require.Equal(t, http.StatusOK, code)
		code, body, h := get(t, s.MetricsURL(), "")
		assert.Equal(t, http.StatusOK, code, "GET %s without a token", s.MetricsURL())
		assert.Contains(t, body, "ovm_http_requests_total")
		assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
		code, _, _ = get(t, s.URL()+"/metrics", "")
		assert.Equal(t, http.StatusUnauthorized, code, "GET /metrics on the API's address without a token")
		code, _, _ = get(t, s.MetricsURL()[:len(s.MetricsURL())-len("/metrics")]+"/v1/instances", "")
		assert.Equal(t, http.StatusNotFound, code, "the metrics address serves nothing else")
	})
}
