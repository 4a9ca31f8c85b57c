package portal

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// apiStub stands for the API: it answers every request it gets with 404
// and names itself, so a test sees which side answered.
var apiStub = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, `{"api":true}`)
})

var testFS = fstest.MapFS{
	"dist/index.html":            {Data: []byte(`<html><link href="/assets/main-AB.css"><script src="/assets/main-CD.js"></script></html>`)},
	"dist/assets/main-AB.css":    {Data: []byte("body{color:red}")},
	"dist/assets/main-CD.js":     {Data: []byte(strings.Repeat("console.log(1);", 100))},
	"dist/assets/unused-EF.js":   {Data: []byte("x")},
	"dist/assets/image-GH.woff2": {Data: []byte("font")},
}

func TestHandlerRoutes(t *testing.T) {
	h, err := newHandler(apiStub, testFS)
	require.NoError(t, err)
	html := "text/html,application/xhtml+xml,*/*;q=0.8"
	for _, tt := range []struct {
		name, method, path, accept string
		status                     int
		from                       string // "index", "asset" or "api"
		ctype, cache               string
	}{
		{"root", "GET", "/", "", 200, "index", "text/html; charset=utf-8", "no-cache"},
		{"client route", "GET", "/instances/0190", html, 200, "index", "text/html; charset=utf-8", "no-cache"},
		{"admin route", "GET", "/admin/hosts", html, 200, "index", "text/html; charset=utf-8", "no-cache"},
		{"head of a route", "HEAD", "/tasks", html, 200, "index", "text/html; charset=utf-8", "no-cache"},
		{"script", "GET", "/assets/main-CD.js", "*/*", 200, "asset", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
		{"stylesheet", "GET", "/assets/main-AB.css", "text/css", 200, "asset", "text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		{"missing asset", "GET", "/assets/main-XX.js", html, 404, "api", "", ""},
		{"api path asking for html", "GET", "/v1/instances", html, 404, "api", "", ""},
		{"docs", "GET", "/docs", html, 404, "api", "", ""},
		{"openapi", "GET", "/openapi.json", html, 404, "api", "", ""},
		{"unknown path without html", "GET", "/nothing", "application/json", 404, "api", "", ""},
		{"post to a client route", "POST", "/instances", html, 404, "api", "", ""},
		{"index by name", "GET", "/index.html", "", 404, "api", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, tt.status, rec.Code)
			body := rec.Body.String()
			switch tt.from {
			case "api":
				assert.Equal(t, `{"api":true}`, body)
				return
			case "index":
				if tt.method == "GET" {
					assert.Contains(t, body, "/assets/main-CD.js")
				} else {
					assert.Empty(t, body)
				}
			}
			assert.Equal(t, tt.ctype, rec.Header().Get("Content-Type"))
			assert.Equal(t, tt.cache, rec.Header().Get("Cache-Control"))
			assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
			assert.Equal(t, "DENY", rec.Header().Get("X-Frame-Options"))
			assert.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"))
			assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "script-src 'self'")
			assert.NotEmpty(t, rec.Header().Get("ETag"))
		})
	}
}

func TestHandlerGzipAndETag(t *testing.T) {
	h, err := newHandler(apiStub, testFS)
	require.NoError(t, err)
	req := httptest.NewRequest("GET", "/assets/main-CD.js", nil)
	req.Header.Set("Accept-Encoding", "br, gzip;q=0.9")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, "gzip", rec.Header().Get("Content-Encoding"))
	assert.Equal(t, "Accept-Encoding", rec.Header().Get("Vary"))
	zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes()))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("console.log(1);", 100), string(plain))
	assert.Less(t, rec.Body.Len(), len(plain))

	req = httptest.NewRequest("GET", "/assets/main-CD.js", nil)
	req.Header.Set("Accept-Encoding", "gzip;q=0")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Empty(t, rec.Header().Get("Content-Encoding"), "gzip refused with q=0")
	assert.Equal(t, strings.Repeat("console.log(1);", 100), rec.Body.String())

	etag := rec.Header().Get("ETag")
	req = httptest.NewRequest("GET", "/assets/main-CD.js", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusNotModified, rec.Code)
	assert.Empty(t, rec.Body.String())
}

func TestHandlerSize(t *testing.T) {
	h, err := newHandler(apiStub, testFS)
	require.NoError(t, err)
	raw, gz := h.Size()
	assert.Equal(t, len("body{color:red}")+len(strings.Repeat("console.log(1);", 100)), raw, "only what index.html loads")
	assert.Positive(t, gz)
	assert.Less(t, gz, raw)
}

func TestNewWithoutIndex(t *testing.T) {
	_, err := newHandler(apiStub, fstest.MapFS{"dist/assets/a.js": {Data: []byte("x")}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "index.html")
}

// TestEmbeddedAssets: the committed build is embedded and complete: its
// index.html names one script and one stylesheet, both present.
func TestEmbeddedAssets(t *testing.T) {
	h, err := New(apiStub)
	require.NoError(t, err)
	raw, gz := h.Size()
	assert.Positive(t, raw)
	assert.Positive(t, gz)
	for _, p := range []string{"/", "/dashboard"} {
		req := httptest.NewRequest("GET", p, nil)
		req.Header.Set("Accept", "text/html")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, 200, rec.Code)
		assert.Contains(t, rec.Body.String(), `<div id="app">`)
	}
}
