//go:build integration

package api

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// archive returns a docker save archive of a random image of about size
// bytes (one layer) and its manifest digest.
func archive(t *testing.T, size int64) []byte {
	t.Helper()
	img, err := random.Image(size, 1)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	tag, err := name.NewTag("ovm.test/archive:1")
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, tarball.Write(tag, img, &b))
	return b.Bytes()
}

// deleteFromRegistry removes repo:tag from the registry outside OVM (a
// test's cleanup; gone already is fine).
func deleteFromRegistry(t *testing.T, registry, repo, tag string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ref, err := name.NewTag(registry + "/" + repo + ":" + tag)
	require.NoError(t, err)
	d, err := remote.Head(ref, remote.WithContext(ctx))
	if err != nil {
		return
	}
	if err := remote.Delete(ref.Context().Digest(d.Digest.String()), remote.WithContext(ctx)); err != nil {
		t.Errorf("delete %s: %v", ref, err)
	}
}

// registerTestRegistry registers the test environment's registry.
func registerTestRegistry(t *testing.T, e *env, address string) core.Registry {
	t.Helper()
	var reg core.Registry
	e.must(http.StatusCreated, "POST", "/v1/registries", e.admin, map[string]any{"name": "local", "address": address}).decode(t, &reg)
	return reg
}

// TestRegistries registers the real registry of the test environment,
// browses, pushes and deletes through every route, as an administrator
// and as tenants of two VDCs (the disk quota of a private image held and
// given back), and refuses bad input with problems naming the field.
func TestRegistries(t *testing.T) {
	address := testEnvVar(t, "OVM_TEST_REGISTRY")
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	acme := e.newTenant("acme", pl.pool, quota)
	small := quota
	small.Disk = 64 * ovm.KiB
	other := e.newTenant("other", pl.pool, small)

	// Registration: the connection is checked; the first is the default.
	reg := registerTestRegistry(t, e, address)
	assert.True(t, reg.Default, "the first registry is the default")
	assert.Equal(t, address, reg.Address)
	base := "/v1/registries/" + string(reg.ID)
	var page core.Page[core.Registry]
	e.must(http.StatusOK, "GET", "/v1/registries", acme.token, nil).decode(t, &page)
	require.Len(t, page.Items, 1)
	assert.Empty(t, page.Items[0].Username)

	suffix := strings.ToLower(ovm.NewID().Short())
	acmeNS, otherNS := "vdc-"+acme.vdc.Short(), "vdc-"+other.vdc.Short()
	platformRepo := "ovm-reg-" + suffix
	t.Cleanup(func() {
		deleteFromRegistry(t, address, platformRepo, "1")
		deleteFromRegistry(t, address, acmeNS+"/app-"+suffix, "1")
		deleteFromRegistry(t, address, acmeNS+"/app-"+suffix, "2")
		deleteFromRegistry(t, address, otherNS+"/big-"+suffix, "1")
		deleteFromRegistry(t, address, acmeNS+"/adm-"+suffix, "1")
	})

	// Pushes: an administrator's platform image, a tenant's under its
	// namespace (the name given without it).
	ar := archive(t, 4096)
	var img apitypes.Image
	e.must(http.StatusCreated, "PUT", base+"/images?repository="+platformRepo+"&tag=1", e.admin, ar).decode(t, &img)
	assert.Equal(t, address+"/"+platformRepo+":1", img.Name)
	assert.Equal(t, apitypes.ImageContainer, img.Kind)
	assert.True(t, strings.HasPrefix(img.Digest, "sha256:"), "digest %q", img.Digest)
	assert.Equal(t, "linux/amd64", img.Platform)
	assert.Empty(t, img.VDCID)

	before := usageOf(t, e, acme)
	e.must(http.StatusCreated, "PUT", base+"/images?repository=app-"+suffix+"&tag=1", acme.token, ar).decode(t, &img)
	assert.Equal(t, address+"/"+acmeNS+"/app-"+suffix+":1", img.Name)
	assert.Equal(t, acme.vdc, img.VDCID)
	assert.Equal(t, reg.ID, img.RegistryID)
	held := usageOf(t, e, acme)
	assert.Equal(t, before.Disk+img.Size, held.Disk, "the pushed image's size is held in the vdc's disk quota")
	e.must(http.StatusCreated, "PUT", base+"/images?repository="+acmeNS+"/app-"+suffix+"&tag=2", acme.token, archive(t, 2048))

	// Browsing: a tenant sees its namespace and the platform's, not
	// another VDC's; the administrator sees all.
	var repos core.Page[apitypes.RegistryRepository]
	e.must(http.StatusOK, "GET", base+"/repositories", acme.token, nil).decode(t, &repos)
	names := map[string]ovm.ID{}
	for _, r := range repos.Items {
		names[r.Name] = r.VDCID
		assert.False(t, strings.HasPrefix(r.Name, "vdc-") && !strings.HasPrefix(r.Name, acmeNS+"/"), "tenant sees %s", r.Name)
	}
	assert.Contains(t, names, platformRepo)
	assert.Equal(t, acme.vdc, names[acmeNS+"/app-"+suffix])
	var tags core.Page[apitypes.Image]
	e.must(http.StatusOK, "GET", base+"/tags?repository="+acmeNS+"/app-"+suffix, acme.token, nil).decode(t, &tags)
	require.Len(t, tags.Items, 2)
	assert.Equal(t, address+"/"+acmeNS+"/app-"+suffix+":1", tags.Items[0].Name)
	e.must(http.StatusNotFound, "GET", base+"/tags?repository="+acmeNS+"/app-"+suffix, other.token, nil)
	e.must(http.StatusOK, "GET", base+"/tags?repository="+acmeNS+"/app-"+suffix, e.admin, nil)
	e.must(http.StatusOK, "GET", base+"/tags?repository="+platformRepo, other.token, nil).decode(t, &tags)
	require.Len(t, tags.Items, 1)
	var imgs core.Page[apitypes.Image]
	e.must(http.StatusOK, "GET", base+"/images", other.token, nil).decode(t, &imgs)
	for _, i := range imgs.Items {
		assert.NotContains(t, i.Name, acmeNS+"/", "another vdc's image listed")
	}
	e.must(http.StatusOK, "GET", base+"/images", e.admin, nil).decode(t, &imgs)
	assert.True(t, hasImage(imgs.Items, address+"/"+acmeNS+"/app-"+suffix+":2"), "an administrator lists every namespace")

	// Quota: a push over the VDC's disk quota is refused and holds nothing.
	r := e.do("PUT", base+"/images?repository=big-"+suffix+"&tag=1", other.token, archive(t, 256<<10))
	require.Equal(t, http.StatusForbidden, r.status, "got %s", r)
	assert.Contains(t, problemOf(t, r).Detail, "quota")
	used := usageOf(t, e, other)
	assert.Zero(t, used.Disk, "a refused push holds no disk quota")

	// An administrator's push into a VDC's namespace is that VDC's image.
	mid := usageOf(t, e, acme)
	var adm apitypes.Image
	e.must(http.StatusCreated, "PUT", base+"/images?repository="+acmeNS+"/adm-"+suffix+"&tag=1", e.admin, ar).decode(t, &adm)
	assert.Equal(t, acme.vdc, adm.VDCID)
	assert.Equal(t, mid.Disk+adm.Size, usageOf(t, e, acme).Disk, "held in the vdc's disk quota")
	e.must(http.StatusNoContent, "DELETE", base+"/tags?repository="+acmeNS+"/adm-"+suffix+"&tag=1", e.admin, nil)
	assert.Equal(t, mid.Disk, usageOf(t, e, acme).Disk, "given back when the administrator deletes it")

	// The registry record stays while a VDC's pushed images are in it.
	r = e.do("DELETE", base, e.admin, nil)
	require.Equal(t, http.StatusConflict, r.status, "got %s", r)
	assert.Contains(t, problemOf(t, r).Detail, "private images")

	// Deletion (the registry of the test environment has deletion
	// enabled): the tenant cannot delete another VDC's tag, deletes its
	// own and gets its quota back.
	e.must(http.StatusNotFound, "DELETE", base+"/tags?repository="+acmeNS+"/app-"+suffix+"&tag=1", other.token, nil)
	e.must(http.StatusNoContent, "DELETE", base+"/tags?repository=app-"+suffix+"&tag=1", acme.token, nil)
	e.must(http.StatusOK, "GET", base+"/tags?repository="+acmeNS+"/app-"+suffix, acme.token, nil).decode(t, &tags)
	require.Len(t, tags.Items, 1)
	assert.Equal(t, address+"/"+acmeNS+"/app-"+suffix+":2", tags.Items[0].Name)
	e.must(http.StatusNoContent, "DELETE", base+"/tags?repository=app-"+suffix+"&tag=2", acme.token, nil)
	after := usageOf(t, e, acme)
	assert.Equal(t, before.Disk, after.Disk, "deleting the tags gives the quota back")
	e.must(http.StatusNoContent, "DELETE", base+"/tags?repository="+platformRepo+"&tag=1", e.admin, nil)
	e.must(http.StatusNotFound, "DELETE", base+"/tags?repository="+platformRepo+"&tag=1", e.admin, nil)

	// Bad input, each refused with a problem.
	unreachable := "127.0.0.1:1"
	for _, tt := range []struct {
		name, method, path string
		admin              bool
		body               any
		status             int
		field, text        string
	}{
		{"register: bad address", "POST", "/v1/registries", true, map[string]any{"name": "r2", "address": "http://x/y"}, http.StatusUnprocessableEntity, "body.address", "host[:port]"},
		{"register: unreachable", "POST", "/v1/registries", true, map[string]any{"name": "r2", "address": unreachable}, http.StatusServiceUnavailable, "", "connection refused"},
		{"register: password without user", "POST", "/v1/registries", true, map[string]any{"name": "r2", "address": address, "password": "x"}, http.StatusUnprocessableEntity, "body.username", ""},
		{"register: name taken", "POST", "/v1/registries", true, map[string]any{"name": "local", "address": address}, http.StatusConflict, "body.name", ""},
		{"register: tenant", "POST", "/v1/registries", false, map[string]any{"name": "r2", "address": address}, http.StatusForbidden, "", "administrator"},
		{"tags: bad repository", "GET", base + "/tags?repository=Bad%20Name", false, nil, http.StatusUnprocessableEntity, "query.repository", ""},
		{"tags: no repository", "GET", base + "/tags", false, nil, http.StatusUnprocessableEntity, "query.repository", "required"},
		{"delete: no tag", "DELETE", base + "/tags?repository=app", false, nil, http.StatusUnprocessableEntity, "query.tag", ""},
		{"push: bad tag", "PUT", base + "/images?repository=app&tag=-x", false, ar, http.StatusUnprocessableEntity, "query.tag", ""},
		{"push: not an archive", "PUT", base + "/images?repository=app-" + suffix + "&tag=1", false, "not a tar", http.StatusUnprocessableEntity, "", "docker save archive"},
		{"push: empty body", "PUT", base + "/images?repository=app-" + suffix + "&tag=1", false, "", http.StatusUnprocessableEntity, "", "empty"},
		{"push: another vdc's namespace", "PUT", base + "/images?repository=" + otherNS + "/x&tag=1", false, ar, http.StatusNotFound, "", "repository"},
		{"delete: unknown tag", "DELETE", base + "/tags?repository=app-" + suffix + "&tag=9", false, nil, http.StatusNotFound, "", ""},
		{"unknown registry", "GET", "/v1/registries/" + string(ovm.NewID()) + "/repositories", false, nil, http.StatusNotFound, "", "registry"},
		{"delete default while others: none other", "PATCH", base, true, map[string]any{"default": false}, http.StatusUnprocessableEntity, "body.default", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			token := acme.token
			if tt.admin {
				token = e.admin
			}
			r := e.do(tt.method, tt.path, token, tt.body)
			require.Equal(t, tt.status, r.status, "got %s", r)
			p := problemOf(t, r)
			if tt.field != "" {
				assert.Contains(t, fieldLocations(p), tt.field, "problem %+v", p)
			}
			assert.Contains(t, p.Detail+fieldMessages(p), tt.text)
		})
	}

	// A VM is not committed: its disk becomes an image by a conversion.
	vm := e.createRunning(acme, "vm1", map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20,
		"image": map[string]string{"format": "qcow2", "name": "tiny.qcow2"}})
	r = e.do("POST", "/v1/instances/"+string(vm.ID)+"/commit", acme.token, map[string]any{"repository": "vm", "tag": "1"})
	require.Equal(t, http.StatusConflict, r.status, "got %s", r)
	assert.Contains(t, problemOf(t, r).Detail, "conversion")

	// A second registry made the default takes the mark from the first;
	// the default cannot be removed while another exists.
	var second core.Registry
	e.must(http.StatusCreated, "POST", "/v1/registries", e.admin, map[string]any{"name": "second", "address": address, "insecure": true}).decode(t, &second)
	assert.False(t, second.Default)
	var got core.Registry
	e.must(http.StatusOK, "PATCH", "/v1/registries/"+string(second.ID), e.admin, map[string]any{"default": true}).decode(t, &got)
	assert.True(t, got.Default)
	e.must(http.StatusOK, "GET", base, e.admin, nil).decode(t, &got)
	assert.False(t, got.Default, "the former default is no longer the default")
	all, err := e.svc.ContainerImages(t.Context(), auth.Principal{Role: auth.RoleAdmin}, core.ContainerImageOptions{AllRegistries: true})
	require.NoError(t, err)
	from := map[ovm.ID]bool{}
	for _, i := range all {
		from[i.RegistryID] = true
	}
	assert.Equal(t, map[ovm.ID]bool{reg.ID: true, second.ID: true}, from, "every registry's images listed")
	e.must(http.StatusConflict, "DELETE", "/v1/registries/"+string(second.ID), e.admin, nil)
	e.must(http.StatusNoContent, "DELETE", base, e.admin, nil)
	e.must(http.StatusNoContent, "DELETE", "/v1/registries/"+string(second.ID), e.admin, nil)
}

// usageOf reads a tenant's usage.
func usageOf(t *testing.T, e *env, tn tenant) ovm.Usage {
	t.Helper()
	var u apitypes.Usage
	e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc)+"/usage", tn.token, nil).decode(t, &u)
	return u.Usage
}

// hasImage reports whether a list holds an image of that name.
func hasImage(imgs []apitypes.Image, name string) bool {
	for _, i := range imgs {
		if i.Name == name {
			return true
		}
	}
	return false
}
