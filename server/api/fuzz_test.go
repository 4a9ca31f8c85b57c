package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/openovm/ovm/ovm"
)

// fuzzStatuses are the answers a create may give to any body.
var fuzzStatuses = []int{http.StatusCreated, http.StatusAccepted, http.StatusBadRequest, http.StatusForbidden,
	http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity,
	http.StatusServiceUnavailable}

// fuzzBody posts body to path and checks the answer: an expected status,
// a problem that decodes for errors, nothing leaked.
func fuzzBody(t *testing.T, e *env, token, path string, body []byte) {
	r := e.doWith(t, "POST", path, token, body)
	if !slices.Contains(fuzzStatuses, r.status) {
		t.Fatalf("POST %s with %q: got %s, want one of %v", path, body, r, fuzzStatuses)
	}
	if !echoes(body) {
		noLeak(t, r)
	}
	if r.status >= 400 {
		var p struct {
			Status int `json:"status"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil || p.Status != r.status {
			t.Fatalf("POST %s with %q: the problem %s does not decode or has status %d", path, body, r.body, p.Status)
		}
	}
}

// FuzzCreateInstanceBody sends arbitrary bodies to POST /v1/instances.
func FuzzCreateInstanceBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"web","spec":{"type":"container","cpuMilli":100,"memoryBytes":16777216,"image":{"format":"oci","name":"busybox"}}}`,
		`{"name":"vm","spec":{"type":"vm","cpuMilli":1000,"memoryBytes":536870912,"image":{"format":"qcow2","name":"d.qcow2"},"disks":[{"sizeBytes":1073741824}]},"start":true}`,
		`{"name":"x","spec":{"type":"vm","cpuMilli":-1,"nics":[{"networkId":"00000000-0000-4000-8000-000000000000","ip":"10.0.0.1","mac":"zz"}]}}`,
		`{"name":"Bad Name","spec":{}}`, `{"spec":null}`, `[]`, `null`, `{`, ``, `{"name":"a","spec":{"env":{"A":"B"},"ports":[{"containerPort":70000}]}}`,
		`{"name":"a","vdcId":"x","spec":{"type":"container","cpuMilli":1e300}}`,
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f, openSQLite(f))
	pl := e.setupPlatform(1)
	tn := e.newTenant("fuzz", pl.pool, ovm.Quota{CPU: ovm.CPUs(4), Memory: 4 * ovm.GiB, Disk: 100 * ovm.GiB, Instances: 20, Networks: 2})
	f.Fuzz(func(t *testing.T, body []byte) { fuzzBody(t, e, tn.token, "/v1/instances", body) })
}

// FuzzCreateNetworkBody sends arbitrary bodies to POST /v1/networks.
func FuzzCreateNetworkBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"net","subnet":"10.0.0.0/24","gateway":"10.0.0.1","vlan":10}`,
		`{"name":"v6","subnet":"fd00::/64","ranges":[{"start":"fd00::10","end":"fd00::20"}],"dns":["fd00::1"]}`,
		`{"name":"bad","subnet":"10.0.0.0/33"}`, `{"name":"bad","subnet":"10.0.0.5/24"}`,
		`{"name":"r","subnet":"10.0.0.0/24","ranges":[{"start":"10.0.0.20","end":"10.0.0.10"},{"start":"x","end":"y"}]}`,
		`{"name":"n","subnet":"::ffff:10.0.0.0/120"}`, `{}`, `{"name":1}`, `{"name":"n","subnet":"10.0.0.0/24","extra":true}`,
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f, openSQLite(f))
	pl := e.setupPlatform(1)
	tn := e.newTenant("fuzz", pl.pool, ovm.Quota{Networks: 3})
	f.Fuzz(func(t *testing.T, body []byte) { fuzzBody(t, e, tn.token, "/v1/networks", body) })
}

// echoes reports a body that contains a word noLeak looks for: a problem
// may repeat the client's own value back.
func echoes(body []byte) bool {
	low := strings.ToLower(string(body))
	for _, w := range []string{"sqlstate", "sql:", "goroutine", "panic"} {
		if strings.Contains(low, w) {
			return true
		}
	}
	return false
}
