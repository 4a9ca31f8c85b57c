package registry_test

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/image/imagetest"
	"github.com/openovm/ovm/image/registry"
	"github.com/openovm/ovm/ovm"
)

// inProcess starts go-containerregistry's in-memory registry behind wrap
// (when set) and returns its "127.0.0.1:port".
func inProcess(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

func newRegistry(t *testing.T, cfg registry.Config) *registry.Registry {
	t.Helper()
	r, err := registry.New(cfg)
	require.NoError(t, err, "registry.New(%+v)", cfg)
	return r
}

// TestConformanceInProcess runs the suite on go-containerregistry's own
// registry; TestConformance (integration) runs it on the real one.
func TestConformanceInProcess(t *testing.T) {
	imagetest.Run(t, harness(inProcess(t, nil)))
}

func TestNewInvalid(t *testing.T) {
	for _, host := range []string{"", "http://reg.example", "reg.example/path", "user@reg.example", "bad host"} {
		t.Run(host, func(t *testing.T) {
			_, err := registry.New(registry.Config{Host: host})
			require.ErrorIs(t, err, ovm.ErrInvalid, "New(%q): got %v", host, err)
			assert.Equal(t, "host", ovm.FieldsOf(err)[0].Field, "New(%q): field", host)
		})
	}
}

func TestBrowse(t *testing.T) {
	host := inProcess(t, nil)
	r := newRegistry(t, registry.Config{Host: host})
	ctx := t.Context()
	for _, ref := range []string{host + "/team/a:1", host + "/team/a:2", host + "/b:latest"} {
		data := archive(t, ref)
		_, err := r.Put(ctx, ovm.ContainerImage(ref), bytes.NewReader(data), imagetest.Digest(data))
		require.NoError(t, err, "Put(%s)", ref)
	}
	repos, err := r.Repositories(ctx)
	require.NoError(t, err, "Repositories")
	assert.ElementsMatch(t, []string{"team/a", "b"}, repos, "Repositories")

	tags, err := r.Tags(ctx, "team/a")
	require.NoError(t, err, "Tags")
	require.Len(t, tags, 2, "Tags(team/a)")
	for _, img := range tags {
		assert.Equal(t, "linux/amd64", img.Platform, "Tags: platform of %s", img.Ref)
		assert.Positive(t, img.Size, "Tags: size of %s", img.Ref)
	}
	_, err = r.Tags(ctx, "absent")
	require.ErrorIs(t, err, ovm.ErrNotFound, "Tags of a missing repository: got %v", err)
	_, err = r.Tags(ctx, "Bad Name")
	require.ErrorIs(t, err, ovm.ErrInvalid, "Tags of a malformed repository: got %v", err)
}

func TestSizeAndPlatform(t *testing.T) {
	host := inProcess(t, nil)
	r := newRegistry(t, registry.Config{Host: host})
	img, err := random.Image(1000, 3)
	require.NoError(t, err)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{OS: "linux", Architecture: "arm64", Variant: "v8",
		RootFS: must(img.ConfigFile()).RootFS})
	require.NoError(t, err)
	mf, err := img.Manifest()
	require.NoError(t, err)
	want := mf.Config.Size
	for _, l := range mf.Layers {
		want += l.Size
	}
	tag, err := name.NewTag(host + "/sized:1")
	require.NoError(t, err)
	require.NoError(t, remote.Write(tag, img), "remote.Write")
	d, err := img.Digest()
	require.NoError(t, err)

	got, err := r.Get(t.Context(), ovm.ContainerImage(tag.String()))
	require.NoError(t, err, "Get")
	assert.Equal(t, ovm.Bytes(want), got.Size, "Get: size is the config and layers")
	assert.Equal(t, "linux/arm64/v8", got.Platform, "Get: platform")
	assert.Equal(t, d.String(), got.Digest, "Get: digest is the manifest's")

	// An index lists its images' platforms and sums their sizes.
	amd, err := random.Image(500, 1)
	require.NoError(t, err)
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, "application/vnd.oci.image.index.v1+json"),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}})
	itag, err := name.NewTag(host + "/multi:1")
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(itag, idx), "remote.WriteIndex")
	amf, err := amd.Manifest()
	require.NoError(t, err)
	wantIdx := want + amf.Config.Size + amf.Layers[0].Size
	got, err = r.Get(t.Context(), ovm.ContainerImage(itag.String()))
	require.NoError(t, err, "Get of an index")
	assert.Equal(t, "linux/amd64,linux/arm64/v8", got.Platform, "Get of an index: platforms")
	assert.Equal(t, ovm.Bytes(wantIdx), got.Size, "Get of an index: size")

	// Open saves the index's linux/amd64 image.
	rc, _, err := r.Open(t.Context(), ovm.ContainerImage(itag.String()))
	require.NoError(t, err, "Open of an index")
	saved, err := io.ReadAll(rc)
	rc.Close()
	require.NoError(t, err, "reading Open of an index")
	again, err := r.Put(t.Context(), ovm.ContainerImage(host+"/amd:1"), bytes.NewReader(saved), "")
	require.NoError(t, err, "Put of Open's archive of an index")
	amdDigest, err := amd.Digest()
	require.NoError(t, err)
	assert.Equal(t, amdDigest.String(), again.Digest, "Open of an index: want the linux/amd64 image")

	// An index without linux/amd64 cannot be saved.
	armOnly := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, "application/vnd.oci.image.index.v1+json"),
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}})
	atag, err := name.NewTag(host + "/armonly:1")
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(atag, armOnly), "remote.WriteIndex")
	_, _, err = r.Open(t.Context(), ovm.ContainerImage(atag.String()))
	require.ErrorIs(t, err, ovm.ErrUnsupported, "Open of an index without linux/amd64: got %v", err)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestBadArchive(t *testing.T) {
	host := inProcess(t, nil)
	r := newRegistry(t, registry.Config{Host: host})
	ref := ovm.ContainerImage(host + "/bad:1")
	_, err := r.Put(t.Context(), ref, strings.NewReader("not a tar archive"), "")
	require.ErrorIs(t, err, ovm.ErrInvalid, "Put of bytes that are no archive: got %v", err)
	_, err = r.Put(t.Context(), ovm.ContainerImage(host+"/bad@sha256:"+strings.Repeat("0", 64)), strings.NewReader("x"), "")
	require.ErrorIs(t, err, ovm.ErrInvalid, "Put to a digest: got %v", err)
	_, err = r.Get(t.Context(), ref)
	require.ErrorIs(t, err, ovm.ErrNotFound, "Get after refused Puts: got %v", err)
}

// statusOn answers requests of method with status and a registry error
// body, passing the others to next.
func statusOn(method string, status int, code string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method != method || req.URL.Path == "/v2/" {
				next.ServeHTTP(w, req)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"errors":[{"code":"` + code + `","message":"the engine says no"}]}`))
		})
	}
}

func TestErrorKinds(t *testing.T) {
	tests := []struct {
		name   string
		method string
		status int
		code   string
		want   error
	}{
		{name: "deletion disabled", method: http.MethodDelete, status: http.StatusMethodNotAllowed, code: "UNSUPPORTED", want: ovm.ErrUnsupported},
		{name: "denied", method: http.MethodGet, status: http.StatusForbidden, code: "DENIED", want: ovm.ErrUnavailable},
		{name: "server error", method: http.MethodGet, status: http.StatusServiceUnavailable, code: "UNAVAILABLE", want: ovm.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := inProcess(t, statusOn(tt.method, tt.status, tt.code))
			r := newRegistry(t, registry.Config{Host: host})
			ref := host + "/kinds:1"
			img, err := random.Image(100, 1)
			require.NoError(t, err)
			tag, err := name.NewTag(ref)
			require.NoError(t, err)
			if tt.method != http.MethodGet {
				require.NoError(t, remote.Write(tag, img), "remote.Write")
			}
			var call error
			if tt.method == http.MethodDelete {
				call = r.Delete(t.Context(), ovm.ContainerImage(ref))
			} else {
				_, call = r.Get(t.Context(), ovm.ContainerImage(ref))
			}
			require.ErrorIs(t, call, tt.want, "got %v", call)
			assert.Contains(t, call.Error(), tt.code, "the engine's error text is kept")
		})
	}
}

func TestBasicAuth(t *testing.T) {
	auth := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if u, p, ok := req.BasicAuth(); !ok || u != "ovm" || p != "s3cret" {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
				return
			}
			next.ServeHTTP(w, req)
		})
	}
	host := inProcess(t, auth)
	ref := ovm.ContainerImage(host + "/private:1")
	data := archive(t, ref.Name)

	anon := newRegistry(t, registry.Config{Host: host})
	_, err := anon.Put(t.Context(), ref, bytes.NewReader(data), "")
	require.ErrorIs(t, err, ovm.ErrUnavailable, "Put without credentials: got %v", err)
	wrong := newRegistry(t, registry.Config{Host: host, Username: "ovm", Password: "nope"})
	_, err = wrong.Repositories(t.Context())
	require.ErrorIs(t, err, ovm.ErrUnavailable, "Repositories with a wrong password: got %v", err)

	r := newRegistry(t, registry.Config{Host: host, Username: "ovm", Password: "s3cret"})
	put, err := r.Put(t.Context(), ref, bytes.NewReader(data), imagetest.Digest(data))
	require.NoError(t, err, "Put with credentials")
	got, err := r.Get(t.Context(), ref)
	require.NoError(t, err, "Get with credentials")
	assert.Equal(t, put.Digest, got.Digest, "Get with credentials: digest")
	require.NoError(t, r.Delete(t.Context(), ref), "Delete with credentials")
}

func TestUnreachable(t *testing.T) {
	s := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(s.URL, "http://")
	s.Close()
	r := newRegistry(t, registry.Config{Host: host})
	_, err := r.Repositories(t.Context())
	require.ErrorIs(t, err, ovm.ErrUnavailable, "Repositories of a registry that is down: got %v", err)
}

func TestPlainHTTPOnlyOnLoopback(t *testing.T) {
	// A private address that is not loopback: go-containerregistry would
	// fall back to plain HTTP for it. The transport never sends a request
	// out: it answers "TLS refused" to HTTPS, as a plain-HTTP registry does.
	var sent []string
	rt := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		sent = append(sent, req.URL.Scheme+"://"+req.URL.Host)
		return nil, &tlsRefused{}
	})
	r := newRegistry(t, registry.Config{Host: "10.1.2.3:5000", Transport: rt})
	_, err := r.Repositories(t.Context())
	require.ErrorIs(t, err, ovm.ErrUnavailable, "Repositories: got %v", err)
	for _, u := range sent {
		assert.True(t, strings.HasPrefix(u, "https://"), "got a request to %s, want HTTPS only", u)
	}
	assert.Contains(t, err.Error(), "plain HTTP", "the error says why")

	sent = nil
	insecure := newRegistry(t, registry.Config{Host: "10.1.2.3:5000", Insecure: true, Transport: rt})
	_, err = insecure.Repositories(t.Context())
	require.Error(t, err)
	assert.Contains(t, sent, "http://10.1.2.3:5000", "Insecure: want plain HTTP tried")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// tlsRefused is a network error, as a failed TLS handshake is.
type tlsRefused struct{}

func (*tlsRefused) Error() string   { return "tls: first record does not look like a TLS handshake" }
func (*tlsRefused) Timeout() bool   { return false }
func (*tlsRefused) Temporary() bool { return false }
