// Package portal serves the self-service portal: a single-page app built
// from web/ into dist/ (make portal) and embedded in the binary, so the
// server needs no Node at run time. The app is only a client of the public
// API; New puts it in front of the API's handler.
package portal

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// apiPrefixes are the paths of the API (and of its documents) that the
// portal never answers, HTML or not.
// No client route starts with one of them.
var apiPrefixes = []string{"/v1", "/openapi", "/docs", "/schemas", "/healthz", "/readyz", "/metrics"}

// Security headers of the portal's answers: the app loads only its own
// scripts and styles and talks only to its own origin.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// file is one built asset, kept raw and gzipped.
type file struct {
	body, gz []byte
	ctype    string
	etag     string
	cache    string
}

// Handler serves the portal's assets and hands everything else to api.
type Handler struct {
	api   http.Handler
	files map[string]*file // by URL path
	index *file
}

// New returns the portal in front of api: "/" and the client's routes
// (GET or HEAD of a non-API path by a browser asking for HTML) get
// index.html, "/assets/..." the hashed assets; every other request goes to
// api, which answers unknown paths with its 404 problem.
func New(api http.Handler) (*Handler, error) {
	return newHandler(api, dist)
}

func newHandler(api http.Handler, fsys fs.FS) (*Handler, error) {
	sub, err := fs.Sub(fsys, "dist")
	if err != nil {
		return nil, fmt.Errorf("portal assets: %w", err)
	}
	h := &Handler{api: api, files: map[string]*file{}}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(sub, p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		f, err := newFile(p, body)
		if err != nil {
			return err
		}
		h.files["/"+p] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("portal assets: %w", err)
	}
	if h.index = h.files["/index.html"]; h.index == nil {
		return nil, fmt.Errorf("portal assets: no index.html (run make portal)")
	}
	return h, nil
}

func newFile(p string, body []byte) (*file, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("gzip %s: %w", p, err)
	}
	if _, err := zw.Write(body); err != nil {
		return nil, fmt.Errorf("gzip %s: %w", p, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip %s: %w", p, err)
	}
	sum := sha256.Sum256(body)
	ctype := mime.TypeByExtension(path.Ext(p))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	cache := "no-cache" // index.html: revalidate, it names the current assets
	if strings.HasPrefix(p, "assets/") {
		cache = "public, max-age=31536000, immutable" // names carry their content's hash
	}
	return &file{body: body, gz: buf.Bytes(), ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, cache: cache}, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.api.ServeHTTP(w, r)
		return
	}
	p := r.URL.Path
	if f, ok := h.files[p]; ok && p != "/index.html" {
		h.serve(w, r, f)
		return
	}
	if p == "/" || (!isAPI(p) && !strings.HasPrefix(p, "/assets/") && acceptsHTML(r)) {
		h.serve(w, r, h.index)
		return
	}
	h.api.ServeHTTP(w, r)
}

// Size returns the bytes of the assets index.html loads (scripts and
// styles), raw and gzipped.
func (h *Handler) Size() (raw, gz int) {
	for p, f := range h.files {
		if strings.HasPrefix(p, "/assets/") && (strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".css")) &&
			bytes.Contains(h.index.body, []byte(p)) {
			raw += len(f.body)
			gz += len(f.gz)
		}
	}
	return raw, gz
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, f *file) {
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("Cache-Control", f.cache)
	hd.Set("ETag", f.etag)
	hd.Set("Vary", "Accept-Encoding")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if acceptsGzip(r) {
		hd.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	hd.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

func isAPI(p string) bool {
	for _, pre := range apiPrefixes {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}

func acceptsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}
