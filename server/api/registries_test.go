package api

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// basicAuthRegistry is an in-process registry on loopback that asks for
// user:password.
func basicAuthRegistry(t *testing.T, user, password string) string {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="ovm-test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestRegistryCredentials: registration and a change of credentials are
// checked against the registry (refused credentials are 503 with its
// text); the password is sealed in the store and never returned; a push
// goes through with the stored credentials; tenants do not read the user.
func TestRegistryCredentials(t *testing.T) {
	const user, password = "ovm", "s3cret-registry-pw"
	address := basicAuthRegistry(t, user, password)
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)

	r := e.do("POST", "/v1/registries", e.admin, map[string]any{"name": "priv", "address": address, "username": user, "password": "wrong"})
	require.Equal(t, http.StatusServiceUnavailable, r.status, "got %s", r)
	assert.Contains(t, problemOf(t, r).Detail, "UNAUTHORIZED", "the registry's own text")

	var reg core.Registry
	r = e.must(http.StatusCreated, "POST", "/v1/registries", e.admin, map[string]any{"name": "priv", "address": address, "username": user, "password": password})
	assert.NotContains(t, string(r.body), password)
	r.decode(t, &reg)
	assert.Equal(t, user, reg.Username)
	require.NoError(t, e.st.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		rec, err := tx.Get(ctx, "registry", reg.ID)
		assert.NotContains(t, string(rec.Data), password, "the password is sealed at rest")
		return err
	}))
	var seen core.Registry
	e.must(http.StatusOK, "GET", "/v1/registries/"+string(reg.ID), tn.token, nil).decode(t, &seen)
	assert.Empty(t, seen.Username, "tenants do not read the user name")

	r = e.do("PATCH", "/v1/registries/"+string(reg.ID), e.admin, map[string]any{"password": "wrong"})
	require.Equal(t, http.StatusServiceUnavailable, r.status, "got %s", r)
	e.must(http.StatusOK, "PATCH", "/v1/registries/"+string(reg.ID), e.admin, map[string]any{"password": password})

	img, err := random.Image(1024, 1)
	require.NoError(t, err)
	tag, err := name.NewTag("ovm.test/x:1")
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, tarball.Write(tag, img, &b))
	var pushed apitypes.Image
	e.must(http.StatusCreated, "PUT", "/v1/registries/"+string(reg.ID)+"/images?repository=web&tag=1", tn.token, b.Bytes()).decode(t, &pushed)
	assert.Equal(t, address+"/vdc-"+tn.vdc.Short()+"/web:1", pushed.Name)
	var tags core.Page[apitypes.Image]
	e.must(http.StatusOK, "GET", "/v1/registries/"+string(reg.ID)+"/tags?repository=vdc-"+tn.vdc.Short()+"/web", tn.token, nil).decode(t, &tags)
	require.Len(t, tags.Items, 1)
	assert.Equal(t, pushed.Digest, tags.Items[0].Digest)
	assert.Equal(t, ovm.FormatOCI, tags.Items[0].Format)
}

// TestCommitFake: the commit task runs on a fake host through its
// ImageCommitter facet (the fake records the reference; it pushes
// nothing): an administrator's commit to a platform repository succeeds;
// a tenant's, whose size the task then reads from the registry to hold in
// the quota, fails since nothing was pushed there.
func TestCommitFake(t *testing.T) {
	address := basicAuthRegistry(t, "ovm", "pw")
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	e.must(http.StatusCreated, "POST", "/v1/registries", e.admin, map[string]any{"name": "priv", "address": address, "username": "ovm", "password": "pw"})
	inst := e.createRunning(tn, "web", container())

	var ct apitypes.InstanceCommitTask
	e.must(http.StatusAccepted, "POST", "/v1/instances/"+string(inst.ID)+"/commit", e.admin, map[string]any{"repository": "base/web", "tag": "1"}).decode(t, &ct)
	assert.Equal(t, address+"/base/web:1", ct.Reference)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(e.admin, ct.Task.ID).State)
	var h ovm.Host
	e.must(http.StatusOK, "GET", "/v1/hosts/"+string(pl.hosts[0]), e.admin, nil).decode(t, &h)
	fh, err := e.fakes.Host(h.Endpoint)
	require.NoError(t, err)
	_, ok := fh.Hypervisor.Committed(ct.Reference)
	assert.True(t, ok, "the fake host committed %s", ct.Reference)

	e.must(http.StatusAccepted, "POST", "/v1/instances/"+string(inst.ID)+"/commit", tn.token, map[string]any{"repository": "web", "tag": "1"}).decode(t, &ct)
	assert.Equal(t, address+"/vdc-"+tn.vdc.Short()+"/web:1", ct.Reference)
	task := e.waitTask(tn.token, ct.Task.ID)
	require.Equal(t, ovm.TaskRolledBack, task.State, "task %+v", task)
	assert.Contains(t, task.Error, "web:1")
}
