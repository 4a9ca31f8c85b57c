package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/image/library"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// withLibrary gives the service a template library in a directory of its
// own, returned in dir.
func withLibrary(t testing.TB, dir *string) func(*core.Options) {
	return func(o *core.Options) {
		d := t.TempDir()
		lib, err := library.New(d, library.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = lib.Close() })
		o.Library, o.LibraryDir = lib, d
		if dir != nil {
			*dir = d
		}
	}
}

// randomBytes returns n random bytes and their digest.
func randomBytes(t testing.TB, n int) ([]byte, string) {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b, sha256Digest(b)
}

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// createImage records an image and returns it.
func (e *env) createImage(token string, body map[string]any) core.Image {
	e.t.Helper()
	var img core.Image
	e.must(http.StatusCreated, "POST", "/v1/images", token, body).decode(e.t, &img)
	return img
}

// upload sends part of an image's bytes.
func (e *env) upload(token string, id ovm.ID, body []byte, headers ...string) resp {
	e.t.Helper()
	return e.do("PUT", "/v1/images/"+string(id)+"/content", token, body, append([]string{"Content-Type", "application/octet-stream"}, headers...)...)
}

// getImage reads an image.
func (e *env) getImage(token string, id ovm.ID) core.Image {
	e.t.Helper()
	var img core.Image
	e.must(http.StatusOK, "GET", "/v1/images/"+string(id), token, nil).decode(e.t, &img)
	return img
}

// listImages lists the catalog as token sees it, by name.
func (e *env) listImages(token, query string) map[string]core.Image {
	e.t.Helper()
	var pg core.Page[core.Image]
	e.must(http.StatusOK, "GET", "/v1/images"+query, token, nil).decode(e.t, &pg)
	out := map[string]core.Image{}
	for _, img := range pg.Items {
		out[string(img.VDCID)+"/"+img.Name] = img
	}
	return out
}

// TestImageCatalog: an administrator publishes a platform template and a
// tenant a private one; each is uploaded whole, checked against its digest
// and becomes ready; tenants see the platform's and their own only; the
// download gives the bytes back; the OS hint changes; delete removes the
// file and gives the quota back.
func TestImageCatalog(t *testing.T) {
	var dir string
	e := newEnv(t, openSQLite(t), withLibrary(t, &dir))
	pl := e.setupPlatform(1)
	a := e.newTenant("a", pl.pool, quota)
	b := e.newTenant("b", pl.pool, quota)

	platBytes, platDigest := randomBytes(t, 64<<10)
	plat := e.createImage(e.admin, map[string]any{"name": "base.raw", "format": "raw", "size": len(platBytes), "digest": platDigest, "osType": "linux"})
	assert.Equal(t, apitypes.ImageUploading, plat.Phase)
	assert.Equal(t, apitypes.ImageTemplate, plat.Kind)
	assert.Equal(t, []ovm.HostKind{ovm.HostKVM, ovm.HostFake}, plat.HostKinds)
	assert.Empty(t, plat.VDCID, "a platform image has no VDC")
	assert.Zero(t, e.usage(a.vdc).Disk, "a platform image counts against no quota")
	r := e.upload(e.admin, plat.ID, platBytes)
	require.Equal(t, http.StatusOK, r.status, "upload: %s", r)
	var ready core.Image
	r.decode(t, &ready)
	assert.Equal(t, apitypes.ImageReady, ready.Phase, "after the last byte")
	assert.Equal(t, platDigest, ready.Digest)
	assert.Equal(t, ovm.Bytes(len(platBytes)), ready.VirtualSize, "a raw file's virtual size is its size")
	got, err := os.ReadFile(filepath.Join(dir, "base.raw"))
	require.NoError(t, err, "the platform image's file keeps its name in the library")
	assert.Equal(t, platBytes, got)

	privBytes, _ := randomBytes(t, 32<<10)
	priv := e.createImage(a.token, map[string]any{"name": "base.raw", "format": "raw", "size": len(privBytes)})
	assert.Equal(t, a.vdc, priv.VDCID, "a tenant's image is its VDC's")
	assert.Equal(t, ovm.Bytes(len(privBytes)), e.usage(a.vdc).Disk, "a private image reserves its size")
	e.must(http.StatusOK, "PUT", "/v1/images/"+string(priv.ID)+"/content", a.token, privBytes, "Content-Type", "application/octet-stream")
	priv = e.getImage(a.token, priv.ID)
	assert.Equal(t, apitypes.ImageReady, priv.Phase)
	assert.Equal(t, sha256Digest(privBytes), priv.Digest, "the digest the library computed")
	_, err = os.Stat(filepath.Join(dir, "vdc-"+string(a.vdc)+"-base.raw"))
	assert.NoError(t, err, "a private image's file is named after its VDC")

	assert.Len(t, e.listImages(a.token, ""), 2, "a: the platform's and its own")
	bSees := e.listImages(b.token, "")
	assert.Len(t, bSees, 1, "b: the platform's only")
	assert.Contains(t, bSees, "/base.raw")
	assert.Len(t, e.listImages(e.admin, ""), 2, "the administrator sees every image")
	assert.Len(t, e.listImages(e.admin, "?vdcId="+string(b.vdc)), 1, "one VDC's and the platform's")
	assert.Len(t, e.listImages(e.admin, "?format=qcow2"), 0)
	assert.Len(t, e.listImages(e.admin, "?kind=container"), 0, "container images come from registries")
	var page core.Page[core.Image]
	e.must(http.StatusOK, "GET", "/v1/images?limit=1", e.admin, nil).decode(t, &page)
	assert.Len(t, page.Items, 1)
	assert.NotEmpty(t, page.Next, "a second page follows")

	r = e.must(http.StatusOK, "GET", "/v1/images/"+string(plat.ID)+"/content", b.token, nil)
	assert.Equal(t, platBytes, r.body, "the download gives the bytes back")
	assert.Equal(t, "application/octet-stream", r.header.Get("Content-Type"))

	var patched core.Image
	e.must(http.StatusOK, "PATCH", "/v1/images/"+string(priv.ID), a.token, map[string]any{"osType": "windows"}).decode(t, &patched)
	assert.Equal(t, "windows", patched.OSType)
	e.must(http.StatusForbidden, "PATCH", "/v1/images/"+string(plat.ID), a.token, map[string]any{"osType": "bsd"})
	e.must(http.StatusForbidden, "DELETE", "/v1/images/"+string(plat.ID), a.token, nil)

	e.must(http.StatusNoContent, "DELETE", "/v1/images/"+string(priv.ID), a.token, nil)
	assert.Zero(t, e.usage(a.vdc).Disk, "delete gives the quota back")
	_, err = os.Stat(filepath.Join(dir, "vdc-"+string(a.vdc)+"-base.raw"))
	assert.ErrorIs(t, err, os.ErrNotExist, "delete removes the file")
	e.must(http.StatusNotFound, "GET", "/v1/images/"+string(priv.ID), a.token, nil)
	e.must(http.StatusNoContent, "DELETE", "/v1/images/"+string(plat.ID), e.admin, nil)
}

// TestImageTenancy: another VDC's private image is 404 on every route, and
// a tenant cannot publish into another VDC.
func TestImageTenancy(t *testing.T) {
	e := newEnv(t, openSQLite(t), withLibrary(t, nil))
	pl := e.setupPlatform(1)
	a := e.newTenant("a", pl.pool, quota)
	b := e.newTenant("b", pl.pool, quota)
	img := e.createImage(a.token, map[string]any{"name": "mine.raw", "format": "raw", "size": 4})
	e.must(http.StatusOK, "PUT", "/v1/images/"+string(img.ID)+"/content", a.token, []byte("abcd"), "Content-Type", "application/octet-stream")
	p := "/v1/images/" + string(img.ID)
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", p, nil},
		{"GET", p + "/content", nil},
		{"PATCH", p, map[string]any{"osType": "linux"}},
		{"DELETE", p, nil},
	} {
		r := e.do(c.method, c.path, b.token, c.body)
		assert.Equal(t, http.StatusNotFound, r.status, "%s %s as another VDC: %s", c.method, c.path, r)
		assert.NotContains(t, string(r.body), "mine.raw", "the problem does not name another VDC's image")
	}
	r := e.upload(b.token, img.ID, []byte("x"))
	assert.Equal(t, http.StatusNotFound, r.status, "upload as another VDC: %s", r)
	r = e.do("POST", "/v1/images", b.token, map[string]any{"name": "x.raw", "format": "raw", "size": 1, "vdcId": a.vdc})
	assert.Equal(t, http.StatusNotFound, r.status, "publish into another VDC: %s", r)
	assert.Equal(t, "abcd", string(e.must(http.StatusOK, "GET", p+"/content", e.admin, nil).body), "administrators read every image")
}

// TestImageBadInput: every refused create names its field.
func TestImageBadInput(t *testing.T) {
	e := newEnv(t, openSQLite(t), withLibrary(t, nil))
	pl := e.setupPlatform(1)
	small := e.newTenant("small", pl.pool, ovm.Quota{CPU: ovm.CPUs(4), Memory: ovm.GiB, Disk: 1000, Instances: 5, Networks: 1})
	e.createImage(e.admin, map[string]any{"name": "taken.raw", "format": "raw", "size": 1})
	tests := []struct {
		name   string
		token  string
		body   map[string]any
		status int
		where  string
	}{
		{"bad format", e.admin, map[string]any{"name": "a.iso", "format": "iso", "size": 1}, 422, "body.format"},
		{"container format", e.admin, map[string]any{"name": "a", "format": "oci", "size": 1}, 422, "body.format"},
		{"missing size", e.admin, map[string]any{"name": "a.raw", "format": "raw"}, 422, "body"},
		{"negative size", e.admin, map[string]any{"name": "a.raw", "format": "raw", "size": -5}, 422, "body.size"},
		{"zero size", e.admin, map[string]any{"name": "a.raw", "format": "raw", "size": 0}, 422, "body.size"},
		{"bad digest", e.admin, map[string]any{"name": "a.raw", "format": "raw", "size": 1, "digest": "md5:abc"}, 422, "body.digest"},
		{"name with a path", e.admin, map[string]any{"name": "d/a.raw", "format": "raw", "size": 1}, 422, "body.name"},
		{"name out of the library", e.admin, map[string]any{"name": "../a.raw", "format": "raw", "size": 1}, 422, "body.name"},
		{"extension of another format", e.admin, map[string]any{"name": "a.vmdk", "format": "raw", "size": 1}, 422, "body.name"},
		{"private prefix", e.admin, map[string]any{"name": "vdc-x.raw", "format": "raw", "size": 1}, 422, "body.name"},
		{"bad os type", e.admin, map[string]any{"name": "a.raw", "format": "raw", "size": 1, "osType": "Win 10!"}, 422, "body.osType"},
		{"unknown field", e.admin, map[string]any{"name": "a.raw", "format": "raw", "size": 1, "color": "red"}, 422, "body.color"},
		{"name taken", e.admin, map[string]any{"name": "taken.raw", "format": "raw", "size": 1}, 409, "body.name"},
		{"bad vdc", e.admin, map[string]any{"name": "a.raw", "format": "raw", "size": 1, "vdcId": "nope"}, 422, "body.vdcId"},
		{"unknown vdc", e.admin, map[string]any{"name": "a.raw", "format": "raw", "size": 1, "vdcId": ovm.NewID()}, 422, "body.vdcId"},
		{"over quota", small.token, map[string]any{"name": "big.raw", "format": "raw", "size": 1001}, 403, "quota.diskBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/v1/images", tt.token, tt.body)
			require.Equal(t, tt.status, r.status, "got %s", r)
			assert.Contains(t, string(r.body), `"location":"`+tt.where+`"`, "the problem names %s: %s", tt.where, r)
			if tt.where == "body" {
				assert.Contains(t, string(r.body), "property size", "the problem names the missing field")
			}
		})
	}
	assert.Zero(t, e.usage(small.vdc).Disk, "a refused create reserves nothing")
	assert.Len(t, e.listImages(small.token, ""), 1, "a refused create records nothing")
	e.must(http.StatusUnprocessableEntity, "GET", "/v1/images?format=iso", e.admin, nil)
	e.must(http.StatusNotFound, "GET", "/v1/images/"+string(ovm.NewID()), e.admin, nil)
	e.must(http.StatusUnprocessableEntity, "GET", "/v1/images/not-an-id", e.admin, nil)
}

// TestImageUploadRanges: the upload resumes where the server is and
// refuses what does not fit: a wrong start is 409 with uploadedBytes, a
// total other than the size 422 naming the header, a body past the size
// 422 (starting the upload over), a wrong digest fails the image and
// removes its partial file.
func TestImageUploadRanges(t *testing.T) {
	var dir string
	e := newEnv(t, openSQLite(t), withLibrary(t, &dir))
	data, digest := randomBytes(t, 10000)
	img := e.createImage(e.admin, map[string]any{"name": "r.raw", "format": "raw", "size": len(data), "digest": digest})
	id := img.ID

	r := e.upload(e.admin, id, data[:4000], "Content-Range", "bytes 0-3999/10000")
	require.Equal(t, http.StatusOK, r.status, "first part: %s", r)
	var part core.Image
	r.decode(t, &part)
	assert.Equal(t, apitypes.ImageUploading, part.Phase)
	assert.Equal(t, ovm.Bytes(4000), part.UploadedBytes)

	r = e.upload(e.admin, id, data[3000:5000], "Content-Range", "bytes 3000-4999/10000")
	require.Equal(t, http.StatusConflict, r.status, "a start before the bytes the server has: %s", r)
	var prob struct {
		UploadedBytes int64 `json:"uploadedBytes"`
		Errors        []struct {
			Location string `json:"location"`
		} `json:"errors"`
	}
	r.decode(t, &prob)
	assert.Equal(t, int64(4000), prob.UploadedBytes, "the problem says where to resume")
	require.Len(t, prob.Errors, 1)
	assert.Equal(t, "header.Content-Range", prob.Errors[0].Location)
	r = e.upload(e.admin, id, data[5000:6000], "Content-Range", "bytes 5000-5999/10000")
	assert.Equal(t, http.StatusConflict, r.status, "a start after: %s", r)
	r = e.upload(e.admin, id, data[5000:6000], "Content-Range", "bytes 5000-5999/10000")
	assert.Contains(t, string(r.body), `"uploadedBytes":4000`)

	for _, c := range []struct{ name, rng string }{
		{"total other than the size", "bytes 4000-4999/20000"},
		{"not a range", "items 1-2/3"},
		{"end before start", "bytes 4000-3999/10000"},
		{"length other than the body's", "bytes 4000-4009/10000"},
	} {
		r = e.upload(e.admin, id, data[4000:5000], "Content-Range", c.rng)
		assert.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", c.name, r)
		assert.Contains(t, string(r.body), `"location":"header.Content-Range"`, c.name)
	}
	assert.Equal(t, ovm.Bytes(4000), e.getImage(e.admin, id).UploadedBytes, "refused parts change nothing")

	long := append(bytes.Clone(data[4000:]), 'x')
	r = e.upload(e.admin, id, long, "Content-Range", fmt.Sprintf("bytes 4000-%d/*", 4000+len(long)-1))
	assert.Equal(t, http.StatusUnprocessableEntity, r.status, "a body past the size: %s", r)
	assert.Contains(t, string(r.body), `"location":"body"`)
	assert.Equal(t, ovm.Bytes(4000), e.getImage(e.admin, id).UploadedBytes, "a body refused by its length writes nothing")

	// With no length given, the extra byte is found after the image's
	// bytes: the upload starts over.
	r = e.chunked(e.admin, id, bytes.NewReader(long), "?offset=4000")
	assert.Equal(t, http.StatusUnprocessableEntity, r.status, "a streamed body past the size: %s", r)
	assert.Zero(t, e.getImage(e.admin, id).UploadedBytes, "nothing half-made stays")

	r = e.upload(e.admin, id, data[:6000], "Content-Range", "bytes 0-5999/10000")
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	r = e.upload(e.admin, id, data[6000:], "Content-Range", "bytes 6000-9999/10000")
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	r.decode(t, &part)
	assert.Equal(t, apitypes.ImageReady, part.Phase)
	r = e.upload(e.admin, id, data[:1])
	assert.Equal(t, http.StatusConflict, r.status, "a ready image takes no bytes: %s", r)

	// Bytes of another digest: the image fails, with the reason.
	other, _ := randomBytes(t, 100)
	bad := e.createImage(e.admin, map[string]any{"name": "bad.raw", "format": "raw", "size": 100, "digest": digest})
	r = e.upload(e.admin, bad.ID, other)
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "wrong digest: %s", r)
	assert.Contains(t, string(r.body), `"location":"body.digest"`)
	failed := e.getImage(e.admin, bad.ID)
	assert.Equal(t, apitypes.ImageFailed, failed.Phase)
	assert.NotEmpty(t, failed.Message, "a failed image says why")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, de := range entries {
		assert.NotContains(t, de.Name(), "bad.raw", "the failed upload's file is removed")
	}
	e.must(http.StatusConflict, "GET", "/v1/images/"+string(bad.ID)+"/content", e.admin, nil)
	e.must(http.StatusNoContent, "DELETE", "/v1/images/"+string(bad.ID), e.admin, nil)
}

// chunked sends an upload whose length is not known in advance.
func (e *env) chunked(token string, id ovm.ID, body io.Reader, query string) resp {
	e.t.Helper()
	req := httptest.NewRequest("PUT", "/v1/images/"+string(id)+"/content"+query, body)
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// cutReader yields its bytes, then fails like a connection that broke.
type cutReader struct{ r io.Reader }

func (c *cutReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// TestImageUploadResumed: a first request cut mid-body keeps what arrived;
// the upload resumes from uploadedBytes and the image becomes ready with
// the right digest. A second request while one is uploading is refused.
func TestImageUploadResumed(t *testing.T) {
	e := newEnv(t, openSQLite(t), withLibrary(t, nil))
	data, digest := randomBytes(t, 1<<20)
	img := e.createImage(e.admin, map[string]any{"name": "cut.raw", "format": "raw", "size": len(data), "digest": digest})

	r := e.chunked(e.admin, img.ID, &cutReader{bytes.NewReader(data[:300000])}, "")
	assert.Equal(t, http.StatusUnprocessableEntity, r.status, "a cut body: %s", r)
	got := e.getImage(e.admin, img.ID)
	assert.Equal(t, apitypes.ImageUploading, got.Phase)
	assert.Equal(t, ovm.Bytes(300000), got.UploadedBytes, "what arrived before the cut is kept")

	// A request while another uploads is refused.
	pr, pw := io.Pipe()
	done := make(chan resp, 1)
	go func() { done <- e.chunked(e.admin, img.ID, pr, "?offset=300000") }()
	_, err := pw.Write(data[300000:300100])
	require.NoError(t, err)
	require.Eventually(t, func() bool { return e.getImage(e.admin, img.ID).UploadedBytes == 300100 }, 10*time.Second, 5*time.Millisecond)
	r = e.upload(e.admin, img.ID, data[300100:300200], "Content-Range", "bytes 300100-300199/1048576")
	assert.Equal(t, http.StatusConflict, r.status, "a second upload at once: %s", r)
	e.must(http.StatusConflict, "DELETE", "/v1/images/"+string(img.ID), e.admin, nil)
	_, err = pw.Write(data[300100:])
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	r = <-done
	require.Equal(t, http.StatusOK, r.status, "the resumed upload: %s", r)
	r.decode(t, &got)
	assert.Equal(t, apitypes.ImageReady, got.Phase)
	assert.Equal(t, digest, got.Digest)
	assert.Equal(t, data, e.must(http.StatusOK, "GET", "/v1/images/"+string(img.ID)+"/content", e.admin, nil).body)
}

// TestImageRecordKind: templates are records of kind image, platform ones
// in the platform scope.
func TestImageRecordKind(t *testing.T) {
	e := newEnv(t, openSQLite(t), withLibrary(t, nil))
	img := e.createImage(e.admin, map[string]any{"name": "k.qcow2", "format": "qcow2", "size": 10})
	var n int64
	require.NoError(t, e.st.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.Count(ctx, store.Filter{Kind: "image"})
		return err
	}))
	assert.Equal(t, int64(1), n)
	assert.Equal(t, []ovm.HostKind{ovm.HostKVM, ovm.HostFake}, img.HostKinds)
}

// TestImageImport: an administrator imports a file of a template library
// pool the server sees: copied into the library from another path, taken as
// it is from the library's own directory; bad pools and paths name their
// field; tenants cannot import.
func TestImageImport(t *testing.T) {
	var dir string
	e := newEnv(t, openSQLite(t), withLibrary(t, &dir))
	pl := e.setupPlatform(1)
	a := e.newTenant("a", pl.pool, quota)
	shared := t.TempDir()
	data, digest := randomBytes(t, 20000)
	require.NoError(t, os.MkdirAll(filepath.Join(shared, "os"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(shared, "os", "alpine.raw"), data, 0o644))
	libPool := e.registerPool(map[string]any{"name": "templates", "kind": "shared", "path": shared, "hostIds": pl.hosts, "templateLibrary": true})
	plain := e.registerPool(map[string]any{"name": "disks", "kind": "shared", "path": shared, "hostIds": pl.hosts})
	unseen := e.registerPool(map[string]any{"name": "remote", "kind": "shared", "path": "/nonexistent/ovm-templates", "hostIds": pl.hosts, "templateLibrary": true})

	var img core.Image
	e.must(http.StatusCreated, "POST", "/v1/images/import", e.admin, map[string]any{"storagePoolId": libPool.ID, "path": "os/alpine.raw", "osType": "linux"}).decode(t, &img)
	assert.Equal(t, "alpine.raw", img.Name, "the name defaults to the file's")
	assert.Equal(t, apitypes.ImageReady, img.Phase)
	assert.Equal(t, digest, img.Digest, "the file is hashed")
	assert.Equal(t, ovm.Bytes(len(data)), img.Size)
	got, err := os.ReadFile(filepath.Join(dir, "alpine.raw"))
	require.NoError(t, err, "copied into the library")
	assert.Equal(t, data, got)

	var priv core.Image
	e.must(http.StatusCreated, "POST", "/v1/images/import", e.admin, map[string]any{"storagePoolId": libPool.ID, "path": "os/alpine.raw",
		"name": "mine.raw", "vdcId": a.vdc}).decode(t, &priv)
	assert.Equal(t, a.vdc, priv.VDCID)
	assert.Equal(t, ovm.Bytes(len(data)), e.usage(a.vdc).Disk, "a VDC's import counts against its quota")

	// The library's own directory as a pool: the file is taken as it is.
	own := e.registerPool(map[string]any{"name": "library", "kind": "shared", "path": dir, "hostIds": pl.hosts, "templateLibrary": true})
	inPlace, _ := randomBytes(t, 3000)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "placed.raw"), inPlace, 0o644))
	var placed core.Image
	e.must(http.StatusCreated, "POST", "/v1/images/import", e.admin, map[string]any{"storagePoolId": own.ID, "path": "placed.raw"}).decode(t, &placed)
	assert.Equal(t, sha256Digest(inPlace), placed.Digest)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, de := range entries {
		assert.False(t, strings.Contains(de.Name(), "placed.raw") && de.Name() != "placed.raw" && !strings.HasPrefix(de.Name(), "."), "no copy of the file: %s", de.Name())
	}

	tests := []struct {
		name   string
		token  string
		body   map[string]any
		status int
		where  string
	}{
		{"not a template library", e.admin, map[string]any{"storagePoolId": plain.ID, "path": "os/alpine.raw", "name": "x.raw"}, 422, "body.storagePoolId"},
		{"pool the server does not see", e.admin, map[string]any{"storagePoolId": unseen.ID, "path": "a.raw"}, 422, "body.storagePoolId"},
		{"unknown pool", e.admin, map[string]any{"storagePoolId": ovm.NewID(), "path": "a.raw"}, 422, "body.storagePoolId"},
		{"missing file", e.admin, map[string]any{"storagePoolId": libPool.ID, "path": "os/none.raw"}, 404, "body.path"},
		{"path out of the pool", e.admin, map[string]any{"storagePoolId": libPool.ID, "path": "../etc/passwd", "name": "p.raw"}, 422, "body.path"},
		{"absolute path", e.admin, map[string]any{"storagePoolId": libPool.ID, "path": "/etc/passwd", "name": "p.raw"}, 422, "body.path"},
		{"a directory", e.admin, map[string]any{"storagePoolId": libPool.ID, "path": "os", "name": "os.raw"}, 422, "body.path"},
		{"name taken", e.admin, map[string]any{"storagePoolId": libPool.ID, "path": "os/alpine.raw"}, 409, "body.name"},
		{"tenant", a.token, map[string]any{"storagePoolId": libPool.ID, "path": "os/alpine.raw", "name": "t.raw"}, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/v1/images/import", tt.token, tt.body)
			require.Equal(t, tt.status, r.status, "got %s", r)
			if tt.where != "" {
				assert.Contains(t, string(r.body), `"location":"`+tt.where+`"`, "the problem names %s: %s", tt.where, r)
			}
		})
	}
	e.must(http.StatusOK, "GET", "/v1/images/"+string(img.ID)+"/content", a.token, nil)
}
