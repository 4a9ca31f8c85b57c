package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
)

// problemOf decodes an RFC 9457 problem and checks it leaks nothing.
func problemOf(t *testing.T, r resp) huma.ErrorModel {
	t.Helper()
	assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"), "problem content type of %s", r)
	var p huma.ErrorModel
	r.decode(t, &p)
	assert.Equal(t, r.status, p.Status, "status in the problem")
	noLeak(t, r)
	return p
}

// noLeak fails when a response shows SQL, SQLSTATE codes or stacks.
func noLeak(t *testing.T, r resp) {
	t.Helper()
	low := strings.ToLower(string(r.body))
	for _, bad := range []string{"sqlstate", "sql:", "goroutine", "panic"} {
		assert.NotContains(t, low, bad, "response %s", r)
	}
}

// locations lists the errors[] locations of a problem.
func locations(p huma.ErrorModel) []string {
	var out []string
	for _, d := range p.Errors {
		out = append(out, d.Location)
	}
	return out
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	var n ovm.Network
	e.must(http.StatusCreated, "POST", "/v1/networks", tn.token, map[string]any{"name": "net1", "subnet": "10.2.0.0/24"}).decode(t, &n)

	huge := `{"name":"x","subnet":"10.0.0.0/24","pad":"` + strings.Repeat("a", DefaultMaxBodyBytes) + `"}`
	tests := []struct {
		name      string
		method    string
		path      string
		token     string
		body      any
		status    int
		locations []string // errors[] locations that must be present
	}{
		{"unknown field", "POST", "/v1/networks", tn.token, `{"name":"n2","subnet":"10.3.0.0/24","colour":"red"}`, 422, []string{"body.colour"}},
		{"unknown nested field", "POST", "/v1/instances", tn.token, `{"name":"i","spec":{"type":"container","cpuMilli":100,"memoryBytes":16777216,"image":{"format":"oci","name":"b"},"gpu":1}}`, 422, []string{"body.spec.gpu"}},
		{"unknown query parameter", "GET", "/v1/instances?colour=red", tn.token, nil, 422, []string{"query.colour"}},
		{"undecodable json", "POST", "/v1/networks", tn.token, `{"name":`, 400, nil},
		{"oversized body", "POST", "/v1/networks", tn.token, huge, 413, nil},
		{"missing required fields", "POST", "/v1/networks", tn.token, `{}`, 422, []string{"body"}},
		{"invalid name", "POST", "/v1/networks", tn.token, map[string]any{"name": "Bad_Name", "subnet": "10.4.0.0/24"}, 422, []string{"body.name"}},
		{"invalid cidr", "POST", "/v1/networks", tn.token, map[string]any{"name": "n3", "subnet": "10.4.0.0/33"}, 422, []string{"body.subnet"}},
		{"host bits in cidr", "POST", "/v1/networks", tn.token, map[string]any{"name": "n3", "subnet": "10.4.0.7/24"}, 422, []string{"body.subnet"}},
		{"gateway outside", "POST", "/v1/networks", tn.token, map[string]any{"name": "n3", "subnet": "10.4.0.0/24", "gateway": "10.5.0.1", "vlan": 5000}, 422, []string{"body.gateway", "body.vlan"}},
		{"bad range address", "POST", "/v1/networks", tn.token, map[string]any{"name": "n3", "subnet": "10.4.0.0/24", "ranges": []map[string]string{{"start": "x", "end": "10.4.0.9"}}}, 422, []string{"body.ranges[0].start"}},
		{"invalid sizes", "POST", "/v1/instances", tn.token, map[string]any{"name": "i1", "spec": map[string]any{"type": "vm", "cpuMilli": 1500, "memoryBytes": 1024,
			"image": map[string]string{"format": "qcow2", "name": "d.qcow2"}, "disks": []map[string]any{{"sizeBytes": 0}}}}, 422,
			[]string{"body.spec.cpuMilli", "body.spec.memoryBytes", "body.spec.disks[0].sizeBytes"}},
		{"negative volume size", "POST", "/v1/volumes", tn.token, map[string]any{"name": "v1", "sizeBytes": -5}, 422, []string{"body.sizeBytes"}},
		{"unknown network of a nic", "POST", "/v1/instances", tn.token, map[string]any{"name": "i2", "spec": container(ovm.NewID())}, 422, []string{"body.spec.nics[0].networkId"}},
		{"static ip outside the subnet", "POST", "/v1/instances", tn.token, map[string]any{"name": "i3", "spec": map[string]any{"type": "container", "cpuMilli": 100,
			"memoryBytes": 16 << 20, "image": map[string]string{"format": "oci", "name": "b"}, "nics": []map[string]any{{"networkId": n.ID, "ip": "192.168.1.1"}}}}, 422,
			[]string{"body.spec.nics[0].ip"}},
		{"malformed id", "GET", "/v1/instances/not-an-id", tn.token, nil, 422, []string{"path.id"}},
		{"missing token", "GET", "/v1/instances", "", nil, 401, nil},
		{"garbage token", "GET", "/v1/instances", "ovm_garbage", nil, 401, nil},
		{"quota exceeded", "POST", "/v1/volumes", tn.token, map[string]any{"name": "big", "sizeBytes": 2 * ovm.TiB}, 403, []string{"quota.diskBytes"}},
		{"wrong password", "POST", "/v1/login", "", map[string]string{"name": "admin", "password": "wrong-password!"}, 401, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tt.path, tt.token, tt.body)
			require.Equal(t, tt.status, r.status, "got %s, want %d", r, tt.status)
			p := problemOf(t, r)
			for _, l := range tt.locations {
				assert.Contains(t, locations(p), l, "problem %s names %s", r, l)
			}
			if tt.name == "missing required fields" {
				// huma locates a missing property at its parent and names it.
				assert.Contains(t, string(r.body), "property name to be present")
				assert.Contains(t, string(r.body), "property subnet to be present")
			}
		})
	}
}

func TestConflictsAndPreconditions(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)

	var it core.InstanceTask
	key := "create-web-1"
	body := map[string]any{"name": "web", "spec": container(), "start": true}
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, body, "Idempotency-Key", key).decode(t, &it)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, it.Task.ID).State)

	t.Run("idempotent retry returns the same task", func(t *testing.T) {
		var again core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, body, "Idempotency-Key", key).decode(t, &again)
		assert.Equal(t, it.Task.ID, again.Task.ID, "task of the retry")
		assert.Equal(t, it.Instance.ID, again.Instance.ID, "instance of the retry")
		var l List[ovm.Instance]
		e.must(http.StatusOK, "GET", "/v1/instances", tn.token, nil).decode(t, &l.Body)
		assert.Len(t, l.Body.Items, 1, "instances after the retry")
	})
	t.Run("idempotency key reused with another body", func(t *testing.T) {
		r := e.must(http.StatusConflict, "POST", "/v1/instances", tn.token, map[string]any{"name": "other", "spec": container()}, "Idempotency-Key", key)
		problemOf(t, r)
	})
	t.Run("duplicate name", func(t *testing.T) {
		p := problemOf(t, e.must(http.StatusConflict, "POST", "/v1/instances", tn.token, body))
		assert.Contains(t, locations(p), "body.name")
	})
	t.Run("start a running instance", func(t *testing.T) {
		problemOf(t, e.must(http.StatusConflict, "POST", "/v1/instances/"+string(it.Instance.ID)+"/start", tn.token, nil))
	})
	t.Run("delete a host with instances", func(t *testing.T) {
		problemOf(t, e.must(http.StatusConflict, "DELETE", "/v1/hosts/"+string(pl.hosts[0]), e.admin, nil))
	})
	t.Run("resize below the minimum memory", func(t *testing.T) {
		p := problemOf(t, e.must(http.StatusUnprocessableEntity, "PATCH", "/v1/instances/"+string(it.Instance.ID), tn.token, map[string]any{"memoryBytes": 1 << 20}))
		assert.Equal(t, []string{"body.memoryBytes"}, locations(p), "the field as the request named it: %+v", p)
	})
	t.Run("stale if-match", func(t *testing.T) {
		r := e.must(http.StatusOK, "GET", "/v1/instances/"+string(it.Instance.ID), tn.token, nil)
		etag := r.header.Get("ETag")
		require.NotEmpty(t, etag)
		e.must(http.StatusOK, "PATCH", "/v1/instances/"+string(it.Instance.ID), tn.token, map[string]any{"labels": map[string]string{"a": "1"}}, "If-Match", etag)
		// The same ETag is stale now.
		problemOf(t, e.must(http.StatusPreconditionFailed, "PATCH", "/v1/instances/"+string(it.Instance.ID), tn.token,
			map[string]any{"labels": map[string]string{"a": "2"}}, "If-Match", etag))
		problemOf(t, e.must(http.StatusPreconditionFailed, "DELETE", "/v1/instances/"+string(it.Instance.ID), tn.token, nil, "If-Match", etag))
		problemOf(t, e.must(http.StatusPreconditionFailed, "DELETE", "/v1/instances/"+string(it.Instance.ID), tn.token, nil, "If-Match", `"garbage"`))
		var pool ovm.ResourcePool
		pr := e.must(http.StatusOK, "GET", "/v1/pools/"+string(pl.pool), e.admin, nil)
		pr.decode(t, &pool)
		e.must(http.StatusOK, "PATCH", "/v1/pools/"+string(pl.pool), e.admin, map[string]any{"haEnabled": true}, "If-Match", pr.header.Get("ETag"))
		problemOf(t, e.must(http.StatusPreconditionFailed, "PATCH", "/v1/pools/"+string(pl.pool), e.admin, map[string]any{"haEnabled": false}, "If-Match", pr.header.Get("ETag")))
	})
	t.Run("unreachable host", func(t *testing.T) {
		fh, err := e.fakes.Host("fake://down")
		require.NoError(t, err)
		fh.Hypervisor.SetUnreachable(true)
		p := problemOf(t, e.must(http.StatusServiceUnavailable, "POST", "/v1/hosts", e.admin, map[string]any{"name": "down", "kind": "fake", "endpoint": "fake://down", "poolId": pl.pool}))
		assert.Contains(t, p.Detail, "fake://down", "the problem says which endpoint")
		var l List[ovm.Host]
		e.must(http.StatusOK, "GET", "/v1/hosts", e.admin, nil).decode(t, &l.Body)
		assert.Len(t, l.Body.Items, 1, "no half-registered host")
	})
	t.Run("credentials never returned", func(t *testing.T) {
		r := e.must(http.StatusOK, "GET", "/v1/hosts/"+string(pl.hosts[0]), e.admin, nil)
		assert.NotContains(t, string(r.body), "secret-pw")
		assert.NotContains(t, string(r.body), "sealed")
	})
	t.Run("tenant forbidden from admin routes", func(t *testing.T) {
		problemOf(t, e.must(http.StatusForbidden, "GET", "/v1/hosts", tn.token, nil))
	})
}

// TestInternalErrorsLeakNothing: with the store closed under it, the API
// answers 500 "internal error" without the database's text.
func TestInternalErrorsLeakNothing(t *testing.T) {
	st := openSQLite(t)
	e := newEnv(t, st)
	require.NoError(t, st.Close())
	r := e.do("GET", "/v1/instances", e.admin, nil) // the token is remembered
	require.Equal(t, http.StatusInternalServerError, r.status, "got %s", r)
	p := problemOf(t, r)
	assert.Equal(t, "internal error", p.Detail)
	assert.Empty(t, p.Errors)
	assert.NotEmpty(t, r.header.Get("X-Request-Id"), "a request id to find the log line")
	r = e.do("GET", "/readyz", "", nil)
	assert.Equal(t, http.StatusServiceUnavailable, r.status, "readyz with the store closed")
	var raw map[string]any
	_ = json.Unmarshal(r.body, &raw)
}

// TestDuplicateNameFirst: a create whose name is taken is told so (409
// naming the name) also when it would be refused for another reason too
// (a full quota, a pool with no room), on every store.
func TestDuplicateNameFirst(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be.open(t))
			pl := e.setupPlatform(1)
			q := quota
			q.Instances = 1
			tn := e.newTenant("acme", pl.pool, q)
			body := map[string]any{"name": "web", "spec": container()}
			e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, body)
			p := problemOf(t, e.must(http.StatusConflict, "POST", "/v1/instances", tn.token, body))
			assert.Contains(t, locations(p), "body.name", "a taken name with a full quota")
			// Another name is refused for the quota.
			other := map[string]any{"name": "db", "spec": container()}
			assert.NotEqual(t, http.StatusAccepted, e.do("POST", "/v1/instances", tn.token, other).status, "a second instance past the quota")
		})
	}
}
