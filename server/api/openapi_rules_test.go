package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

// oaDoc is the served OpenAPI document, as generic JSON.
type oaDoc struct {
	Paths      map[string]map[string]oaOp `json:"paths"`
	Components struct {
		Schemas map[string]map[string]any `json:"schemas"`
	} `json:"components"`
}

type oaOp struct {
	OperationID string `json:"operationId"`
	Parameters  []struct {
		Name   string         `json:"name"`
		In     string         `json:"in"`
		Schema map[string]any `json:"schema"`
	} `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

func (o oaOp) param(in, name string) map[string]any {
	for _, p := range o.Parameters {
		if p.In == in && p.Name == name {
			return p.Schema
		}
	}
	return nil
}

// servedDoc reads /openapi.json from e.
func servedDoc(t *testing.T, e *env) oaDoc {
	t.Helper()
	var d oaDoc
	e.must(http.StatusOK, "GET", "/openapi.json", "", nil).decode(t, &d)
	return d
}

// refName returns the schema name a {"$ref": ...} schema names.
func refName(s map[string]any) string {
	r, _ := s["$ref"].(string)
	return strings.TrimPrefix(r, "#/components/schemas/")
}

// reach returns the names of the named schemas reachable from roots.
func (d oaDoc) reach(roots []map[string]any) map[string]bool {
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if n := refName(x); n != "" && !seen[n] {
				seen[n] = true
				walk(d.Components.Schemas[n])
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return seen
}

// sides returns the named schemas requests use and those responses use.
func (d oaDoc) sides() (req, resp map[string]bool) {
	var rq, rs []map[string]any
	for _, ops := range d.Paths {
		for _, o := range ops {
			if o.RequestBody != nil {
				for _, mt := range o.RequestBody.Content {
					rq = append(rq, mt.Schema)
				}
			}
			for _, r := range o.Responses {
				for _, mt := range r.Content {
					rs = append(rs, mt.Schema)
				}
			}
		}
	}
	return d.reach(rq), d.reach(rs)
}

func isObjectSchema(s map[string]any) bool {
	_, ok := s["properties"]
	return ok && s["type"] == "object"
}

// TestOpenAPIStatuses: every operation declares the statuses the server
// answers it with: 413 and 415 where a body is taken, 412 where If-Match
// is, 409 on every create (they all take an Idempotency-Key), and both 200
// and 202 on update-instance.
func TestOpenAPIStatuses(t *testing.T) {
	d := servedDoc(t, newEnv(t, openSQLite(t)))
	bodies, creates := 0, 0
	for path, ops := range d.Paths {
		for method, o := range ops {
			name := fmt.Sprintf("%s (%s %s)", o.OperationID, method, path)
			if o.RequestBody != nil {
				bodies++
				assert.Contains(t, o.Responses, "413", "%s takes a body", name)
				assert.Contains(t, o.Responses, "415", "%s takes a body", name)
			}
			if o.param("header", "If-Match") != nil {
				assert.Contains(t, o.Responses, "412", "%s takes If-Match", name)
			}
			if o.param("header", "Idempotency-Key") != nil {
				creates++
				assert.Contains(t, o.Responses, "409", "%s is a create: duplicate names and reused keys", name)
			}
		}
	}
	assert.GreaterOrEqual(t, bodies, 20, "operations with a body")
	assert.GreaterOrEqual(t, creates, 10, "creates")
	for _, id := range []string{"create-instance", "deploy-vapp", "create-network", "create-volume", "create-datacenter", "create-pool",
		"register-host", "import-discovered", "create-vdc", "create-user"} {
		for _, ops := range d.Paths {
			for _, o := range ops {
				if o.OperationID == id {
					assert.NotNil(t, o.param("header", "Idempotency-Key"), "%s takes an Idempotency-Key", id)
				}
			}
		}
	}
	for _, c := range []struct{ path, method, why string }{
		{"/v1/instances/{id}", "patch", "update-instance: labels at once, a size in a resize task"},
		{"/v1/storage-pools/{id}", "patch", "update-storage-pool: capacity at once, added hosts in a task"},
		{"/v1/storage-pools/{id}", "delete", "delete-storage-pool: a discovered pool at once, a registered one in a task"},
	} {
		o := d.Paths[c.path][c.method]
		assert.Contains(t, o.Responses, "200", c.why)
		assert.Contains(t, o.Responses, "202", c.why)
		assert.Equal(t, o.Responses["200"].Content["application/json"].Schema, o.Responses["202"].Content["application/json"].Schema, c.why)
	}
}

// TestOpenAPISchemasApart: response schemas require what the server always
// sends and allow fields added later; request schemas refuse unknown
// fields; no named schema serves both, so the two can differ.
func TestOpenAPISchemasApart(t *testing.T) {
	d := servedDoc(t, newEnv(t, openSQLite(t)))
	req, resp := d.sides()
	require.NotEmpty(t, req)
	require.NotEmpty(t, resp)
	// Response objects whose every field may be left out.
	allOptional := map[string]bool{"Overcommit": true, "DiskSpec": true}
	for name := range resp {
		s := d.Components.Schemas[name]
		if !isObjectSchema(s) {
			continue
		}
		assert.False(t, req[name], "%s is used by requests and responses", name)
		assert.NotEqual(t, false, s["additionalProperties"], "response schema %s refuses fields added later", name)
		required, _ := s["required"].([]any)
		if !allOptional[name] {
			assert.NotEmpty(t, required, "response schema %s has no required field", name)
		}
		props := s["properties"].(map[string]any)
		for _, r := range required {
			assert.Contains(t, props, r, "%s requires a field it does not have", name)
		}
	}
	for name := range req {
		s := d.Components.Schemas[name]
		if isObjectSchema(s) {
			assert.Equal(t, false, s["additionalProperties"], "request schema %s takes unknown fields", name)
		}
	}
	for _, n := range []string{"Instance", "Task", "Host", "PageInstance", "InstanceTask", "VDC", "Alert", "ErrorModel"} {
		assert.True(t, resp[n], "%s is a response schema", n)
	}
	assert.ElementsMatch(t, []any{"id", "name", "vdcId", "spec", "status", "createdAt"}, d.Components.Schemas["Instance"]["required"])
}

// TestOpenAPIResponsesHaveRequired: real answers have every field their
// schema requires, at every level.
func TestOpenAPIResponsesHaveRequired(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	d := servedDoc(t, e)
	p := e.setupPlatform(1)
	tn := e.newTenant("acme", p.pool, quota)
	var it struct {
		Task ovm.Task `json:"task"`
	}
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "web", "spec": container(), "start": true}).decode(t, &it)
	e.waitTask(tn.token, it.Task.ID)
	for _, c := range []struct{ path, token, op string }{
		{"/v1/instances", tn.token, "list-instances"},
		{"/v1/tasks/" + string(it.Task.ID), tn.token, "get-task"},
		{"/v1/hosts", e.admin, "list-hosts"},
		{"/v1/pools/" + string(p.pool), e.admin, "get-pool"},
		{"/v1/vdcs/" + string(tn.vdc), tn.token, "get-vdc"},
		{"/v1/me", tn.token, "get-me"},
		{"/v1/tokens", tn.token, "list-tokens"},
		{"/v1/instances/" + string(ovm.NewID()), tn.token, ""},
	} {
		t.Run(c.path, func(t *testing.T) {
			r := e.do("GET", c.path, c.token, nil)
			var schema map[string]any
			for _, ops := range d.Paths {
				for _, o := range ops {
					if (c.op != "" && o.OperationID == c.op) || (c.op == "" && o.OperationID == "get-instance") {
						resp := o.Responses[fmt.Sprint(r.status)]
						for _, mt := range resp.Content {
							schema = mt.Schema
						}
					}
				}
			}
			require.NotNil(t, schema, "no schema for %d of %s", r.status, c.path)
			var v any
			require.NoError(t, json.Unmarshal(r.body, &v))
			n := d.checkRequired(t, c.path, schema, v)
			assert.Positive(t, n, "required fields checked")
		})
	}
}

// checkRequired checks that v has every field schema s requires, at every
// level; it returns how many it checked.
func (d oaDoc) checkRequired(t *testing.T, at string, s map[string]any, v any) int {
	if n := refName(s); n != "" {
		s = d.Components.Schemas[n]
	}
	n := 0
	switch x := v.(type) {
	case map[string]any:
		req, _ := s["required"].([]any)
		for _, r := range req {
			_, ok := x[r.(string)]
			assert.True(t, ok, "%s: required field %s is missing", at, r)
			n++
		}
		props, _ := s["properties"].(map[string]any)
		for k, c := range x {
			if ps, ok := props[k].(map[string]any); ok {
				n += d.checkRequired(t, at+"."+k, ps, c)
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, c := range x {
				n += d.checkRequired(t, fmt.Sprintf("%s[%d]", at, i), items, c)
			}
		}
	}
	return n
}

// namedEnums are the closed sets of the API: each one named schema.
var namedEnums = []string{"InstanceType", "ImageFormat", "TaskState", "StepState", "Phase", "PowerState", "HostKind",
	"HostState", "PlacementPolicy", "ScopeKind", "RestartPolicy", "TaskKind", "Protocol", "AlertKind", "Role"}

// TestOpenAPIEnums: every closed set is a named string enum that fields
// refer to; no field spells an enum out inline.
func TestOpenAPIEnums(t *testing.T) {
	d := servedDoc(t, newEnv(t, openSQLite(t)))
	refs := map[string]int{}
	var inline []string
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if n := refName(x); n != "" {
				refs[n]++
			}
			if _, ok := x["enum"]; ok && !strings.HasPrefix(at, "#") {
				inline = append(inline, at)
			}
			for k, c := range x {
				walk(at+"/"+k, c)
			}
		case []any:
			for i, c := range x {
				walk(fmt.Sprintf("%s/%d", at, i), c)
			}
		}
	}
	for name, s := range d.Components.Schemas {
		if _, ok := s["enum"]; ok {
			walk("#"+name, s)
			continue
		}
		walk(name, s)
	}
	for path, ops := range d.Paths {
		for m, o := range ops {
			for _, p := range o.Parameters {
				walk(path+" "+m+" "+p.Name, p.Schema)
			}
		}
	}
	assert.Empty(t, inline, "enums spelled out inline instead of named")
	for _, n := range namedEnums {
		s, ok := d.Components.Schemas[n]
		if !assert.True(t, ok, "enum %s is a named schema", n) {
			continue
		}
		assert.Equal(t, "string", s["type"], n)
		assert.NotEmpty(t, s["enum"], n)
		assert.Positive(t, refs[n], "enum %s is referred to", n)
	}
	assert.ElementsMatch(t, []any{"admin", "vdc-admin", "vdc-member"}, d.Components.Schemas["Role"]["enum"])
	assert.ElementsMatch(t, []any{"kvm", "esxi", "docker", "fake"}, d.Components.Schemas["HostKind"]["enum"])
	assert.Contains(t, d.Components.Schemas["TaskKind"]["enum"], "instance.create")
	assert.Equal(t, "#/components/schemas/TaskKind", d.Components.Schemas["Task"]["properties"].(map[string]any)["kind"].(map[string]any)["$ref"])
}

// TestOpenAPIIDs: every id (a field named id or *Id, a list named *Ids, a
// path or query parameter) is a UUID; platform lists take no vdcId.
func TestOpenAPIIDs(t *testing.T) {
	d := servedDoc(t, newEnv(t, openSQLite(t)))
	// nativeId is the engine's own id of an object, not one of OVM's.
	isID := func(k string) bool { return k == "id" || strings.HasSuffix(k, "Id") && k != "nativeId" }
	n := 0
	for name, s := range d.Components.Schemas {
		props, _ := s["properties"].(map[string]any)
		for k, v := range props {
			p := v.(map[string]any)
			switch {
			case isID(k):
				n++
				assert.Equal(t, "uuid", p["format"], "%s.%s", name, k)
			case strings.HasSuffix(k, "Ids"):
				n++
				items, _ := p["items"].(map[string]any)
				assert.Equal(t, "uuid", items["format"], "%s.%s[]", name, k)
			}
		}
	}
	assert.Greater(t, n, 30, "id fields checked")
	platform := []string{"/v1/hosts", "/v1/pools", "/v1/datacenters", "/v1/discovered", "/v1/alerts"}
	for path, ops := range d.Paths {
		for m, o := range ops {
			for _, p := range o.Parameters {
				if (p.In == "path" || p.In == "query") && isID(p.Name) {
					assert.Equal(t, "uuid", p.Schema["format"], "%s %s: %s", m, path, p.Name)
				}
			}
			if slices.Contains(platform, path) {
				assert.Nil(t, o.param("query", "vdcId"), "%s %s takes vdcId", m, path)
			}
		}
	}
	assert.NotNil(t, d.Paths["/v1/instances"]["get"].param("query", "vdcId"), "list-instances takes vdcId")
}

// TestOpenAPIBounds: the bounds core enforces are in the document: names,
// an instance's CPU and memory, the page size and its default.
func TestOpenAPIBounds(t *testing.T) {
	d := servedDoc(t, newEnv(t, openSQLite(t)))
	req, _ := d.sides()
	prop := func(schema, field string) map[string]any {
		p, _ := d.Components.Schemas[schema]["properties"].(map[string]any)[field].(map[string]any)
		require.NotNil(t, p, "%s.%s", schema, field)
		return p
	}
	for _, s := range []string{"InstanceCreate", "NetworkCreate", "VolumeCreate", "VDCCreate", "UserCreate", "HostRegister", "VAppCreate", "VAppMemberInput"} {
		require.True(t, req[s], "%s is a request schema", s)
		assert.Equal(t, ovm.NamePattern, prop(s, "name")["pattern"], "%s.name", s)
		assert.EqualValues(t, 63, prop(s, "name")["maxLength"], "%s.name", s)
	}
	assert.EqualValues(t, 0, prop("InstanceSpecInput", "cpuMilli")["exclusiveMinimum"])
	assert.EqualValues(t, ovm.MaxCPU, prop("InstanceSpecInput", "cpuMilli")["maximum"])
	assert.EqualValues(t, ovm.MinMemory, prop("InstanceSpecInput", "memoryBytes")["minimum"])
	assert.EqualValues(t, 0, prop("InstancePatch", "cpuMilli")["exclusiveMinimum"])
	assert.EqualValues(t, 1, prop("VolumeCreate", "sizeBytes")["minimum"])
	assert.EqualValues(t, 4094, prop("NetworkCreate", "vlan")["maximum"])
	assert.EqualValues(t, 30, prop("ExecRequest", "timeoutSeconds")["default"])
	limit := d.Paths["/v1/instances"]["get"].param("query", "limit")
	assert.EqualValues(t, 100, limit["default"])
	assert.EqualValues(t, 1000, limit["maximum"])

	// The bounds are the server's own: core still names every field that
	// breaks one, all in one answer.
	e := newEnv(t, openSQLite(t))
	p := e.setupPlatform(1)
	tn := e.newTenant("acme", p.pool, quota)
	spec := container()
	spec["cpuMilli"], spec["memoryBytes"] = 0, 1024
	r := e.must(http.StatusUnprocessableEntity, "POST", "/v1/instances", tn.token, map[string]any{"name": "Bad_Name", "spec": spec})
	for _, w := range []string{"body.name", "body.spec.cpuMilli", "body.spec.memoryBytes"} {
		assert.Contains(t, string(r.body), w)
	}
}

// TestDeclaredStatusesAnswered: the statuses declareStatuses adds are ones
// the server answers: 415 for a body that is not JSON, 413 for one over
// the limit, 409 for a duplicate name and for a reused idempotency key,
// 412 for a stale If-Match, and 202 from update-instance with a resize.
func TestDeclaredStatusesAnswered(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	p := e.setupPlatform(1)
	tn := e.newTenant("acme", p.pool, quota)
	net := map[string]any{"name": "n1", "subnet": "10.9.0.0/24"}
	e.must(http.StatusUnsupportedMediaType, "POST", "/v1/networks", tn.token, `name: n1`, "Content-Type", "application/yaml")
	e.must(http.StatusRequestEntityTooLarge, "POST", "/v1/networks", tn.token, `{"name":"n1","subnet":"`+strings.Repeat("x", DefaultMaxBodyBytes)+`"}`)
	e.must(http.StatusCreated, "POST", "/v1/networks", tn.token, net, "Idempotency-Key", "k1")
	e.must(http.StatusConflict, "POST", "/v1/networks", tn.token, net)
	e.must(http.StatusConflict, "POST", "/v1/networks", tn.token, map[string]any{"name": "n2", "subnet": "10.9.1.0/24"}, "Idempotency-Key", "k1")

	var it struct {
		Instance ovm.Instance `json:"instance"`
		Task     ovm.Task     `json:"task"`
	}
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "web", "spec": container()}).decode(t, &it)
	e.waitTask(tn.token, it.Task.ID)
	r := e.must(http.StatusOK, "GET", "/v1/instances/"+string(it.Instance.ID), tn.token, nil)
	tag := r.header.Get("ETag")
	e.must(http.StatusAccepted, "PATCH", "/v1/instances/"+string(it.Instance.ID), tn.token, map[string]any{"cpuMilli": 200}, "If-Match", tag)
	e.must(http.StatusPreconditionFailed, "PATCH", "/v1/instances/"+string(it.Instance.ID), tn.token, map[string]any{"labels": map[string]string{"a": "b"}}, "If-Match", tag)
}

// TestSchemaRefusesBadIDsAndEnums: an id that is not a UUID and a value
// outside a closed set are refused by the schema as 422 naming the field,
// in bodies and queries alike, whatever the text.
func TestSchemaRefusesBadIDsAndEnums(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	p := e.setupPlatform(1)
	tn := e.newTenant("acme", p.pool, quota)
	bad := func(name string, spec map[string]any) map[string]any {
		return map[string]any{"name": name, "spec": spec}
	}
	typ := container()
	typ["type"] = "sqlite"
	restart := container()
	restart["restartPolicy"] = "sometimes"
	for _, c := range []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"vdcId in a body", "POST", "/v1/instances", map[string]any{"vdcId": "sqlite", "name": "a", "spec": container()}, "body.vdcId"},
		{"instance type", "POST", "/v1/instances", bad("a", typ), "body.spec.type"},
		{"restart policy", "POST", "/v1/instances", bad("a", restart), "body.spec.restartPolicy"},
		{"vdcId in a query", "GET", "/v1/instances?vdcId=sqlite", nil, "query.vdcId"},
		{"id in a path", "GET", "/v1/instances/sqlite", nil, "path.id"},
		{"role", "POST", "/v1/users", map[string]any{"name": "x", "role": "root"}, "body.role"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.must(http.StatusUnprocessableEntity, c.method, c.path, tn.token, c.body)
			assert.Contains(t, string(r.body), `"location":"`+c.field+`"`)
		})
	}
}
