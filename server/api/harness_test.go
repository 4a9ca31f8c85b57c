package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
	"github.com/openovm/ovm/server/secrets"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/store/sqlstore"
	"github.com/openovm/ovm/server/tasks"
)

// cheap keeps password hashing fast in tests.
var cheap = auth.Argon2idParams{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

// backend opens a fresh store of one engine.
type backend struct {
	name string
	open func(t testing.TB) store.Store
}

// backends are SQLite always, PostgreSQL too under the integration tag.
func backends() []backend {
	return append([]backend{{name: "sqlite", open: openSQLite}}, integrationBackends()...)
}

func openSQLite(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "db"), sqlstore.WithExclusive())
	require.NoError(t, err, "open sqlite: got an error, want none")
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// env is a running API over a store, a task engine and fake hosts.
type env struct {
	t       testing.TB
	h       http.Handler
	api     huma.API
	svc     *core.Service
	st      store.Store
	fakes   *drivers.FakeHosts
	reg     *drivers.Registry // tests register more host kinds on it
	metrics *Metrics
	admin   string // the administrator's token
}

// newEnv starts an API on st with its task engine running until t ends;
// opts change the service's options.
func newEnv(t testing.TB, st store.Store, opts ...func(*core.Options)) *env {
	t.Helper()
	return newEnvEngine(t, st, tasks.Options{PollInterval: 20 * time.Millisecond, LeaseTTL: 10 * time.Second, Workers: 16, PerHost: 8}, opts...)
}

// newEnvEngine is newEnv with the task engine's options: tests poll every
// 20 ms so that they need not wait; benchmarks run the engine as a server
// does (zero options: its defaults).
func newEnvEngine(t testing.TB, st store.Store, to tasks.Options, opts ...func(*core.Options)) *env {
	t.Helper()
	m := NewMetrics()
	to.Observe = m.ObserveTask
	eng := tasks.New(st, to)
	reg := drivers.NewRegistry()
	fakes := drivers.NewFakeHosts(fake.Options{})
	reg.Register(ovm.HostFake, fakes.Factory())
	key := make([]byte, secrets.KeySize)
	_, _ = rand.Read(key)
	box, err := secrets.New(key)
	require.NoError(t, err)
	o := core.Options{Store: st, Tasks: eng, Drivers: reg, Secrets: box, Argon2: cheap, ObserveDriverCall: m.ObserveDriverCall}
	for _, f := range opts {
		f(&o)
	}
	svc, err := core.New(o)
	require.NoError(t, err)
	h, api := build(svc, Options{Metrics: m})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = eng.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	e := &env{t: t, h: h, api: api, svc: svc, st: st, fakes: fakes, reg: reg, metrics: m}
	pw, created, err := core.NewSystem(svc).EnsureAdmin(context.Background(), "admin")
	require.NoError(t, err)
	require.True(t, created, "EnsureAdmin on an empty store: created false, want true")
	e.admin = e.login("admin", pw)
	return e
}

// resp is a response read whole.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "decode %s", r.body)
}

func (r resp) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// do sends a request; body is JSON-encoded unless it is a string or []byte.
func (e *env) do(method, path, token string, body any, headers ...string) resp {
	e.t.Helper()
	return e.doWith(e.t, method, path, token, body, headers...)
}

// doWith is do failing t (inside a fuzz function, where the F must not be
// used).
func (e *env) doWith(t testing.TB, method, path, token string, body any, headers ...string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// must sends a request and requires the status.
func (e *env) must(want int, method, path, token string, body any, headers ...string) resp {
	e.t.Helper()
	r := e.do(method, path, token, body, headers...)
	require.Equal(e.t, want, r.status, "%s %s: got %s, want status %d", method, path, r, want)
	return r
}

// login returns a session token.
func (e *env) login(name, password string) string {
	e.t.Helper()
	var s core.Session
	e.must(http.StatusOK, "POST", "/v1/login", "", map[string]string{"name": name, "password": password}).decode(e.t, &s)
	return s.Token
}

// waitTask waits until a task is final and returns it.
func (e *env) waitTask(token string, id ovm.ID) ovm.Task {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var t ovm.Task
		e.must(http.StatusOK, "GET", "/v1/tasks/"+string(id), token, nil).decode(e.t, &t)
		if t.State.Final() {
			return t
		}
		require.True(e.t, time.Now().Before(deadline), "task %s still %s after 30s", id, t.State)
		time.Sleep(10 * time.Millisecond)
	}
}

// platform is what the administrator sets up for tenants.
type platform struct {
	dc, pool ovm.ID
	hosts    []ovm.ID
}

// setupPlatform makes a datacenter, a pool and n fake hosts.
func (e *env) setupPlatform(n int) platform {
	e.t.Helper()
	var p platform
	var dc ovm.Datacenter
	e.must(http.StatusCreated, "POST", "/v1/datacenters", e.admin, map[string]any{"name": "dc1"}).decode(e.t, &dc)
	var pool ovm.ResourcePool
	e.must(http.StatusCreated, "POST", "/v1/pools", e.admin, map[string]any{"name": "pool1", "datacenterId": dc.ID, "policy": "PERFORMANCE"}).decode(e.t, &pool)
	p.dc, p.pool = dc.ID, pool.ID
	for i := range n {
		var h ovm.Host
		e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{
			"name": fmt.Sprintf("host%d", i+1), "kind": "fake", "endpoint": fmt.Sprintf("fake://%s-host%d", strings.ToLower(string(ovm.NewID().Short())), i+1),
			"poolId": pool.ID, "credentials": map[string]string{"username": "root", "password": "secret-pw"},
		}).decode(e.t, &h)
		p.hosts = append(p.hosts, h.ID)
	}
	return p
}

// tenant is a VDC with a VDC admin logged in.
type tenant struct {
	vdc   ovm.ID
	user  ovm.ID
	token string
}

// newTenant makes a VDC with quota q and a vdc-admin user, logged in.
func (e *env) newTenant(name string, pool ovm.ID, q ovm.Quota) tenant {
	e.t.Helper()
	var v ovm.VDC
	e.must(http.StatusCreated, "POST", "/v1/vdcs", e.admin, map[string]any{"name": name, "poolId": pool, "quota": q}).decode(e.t, &v)
	var u core.NewUser
	e.must(http.StatusCreated, "POST", "/v1/users", e.admin, map[string]any{"name": name + "-admin", "role": "vdc-admin", "vdcId": v.ID,
		"password": "tenant-password-1"}).decode(e.t, &u)
	return tenant{vdc: v.ID, user: u.ID, token: e.login(name+"-admin", "tenant-password-1")}
}

// container is a small container spec.
func container(nets ...ovm.ID) map[string]any {
	spec := map[string]any{"type": "container", "cpuMilli": 100, "memoryBytes": 16 << 20,
		"image": map[string]string{"format": "oci", "name": "busybox:1"}}
	var nics []map[string]any
	for _, n := range nets {
		nics = append(nics, map[string]any{"networkId": n})
	}
	if nics != nil {
		spec["nics"] = nics
	}
	return spec
}

var quota = ovm.Quota{CPU: ovm.CPUs(16), Memory: 32 * ovm.GiB, Disk: ovm.TiB, Instances: 50, Networks: 5}
