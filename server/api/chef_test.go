package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
)

// TestChefRefusals: what the chef routes refuse before any Chef server is
// asked (TestChefDocker runs them on a real one).
func TestChefRefusals(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "web", "spec": container(), "start": true}).decode(t, &it)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, it.Task.ID).State)
	inst := "/v1/instances/" + string(it.Instance.ID)
	unknown := string(ovm.NewID())

	for _, tt := range []struct {
		name, method, path string
		admin              bool
		body               map[string]any
		status             int
		field, text        string
	}{
		{"register: bad url and key", "POST", "/v1/chef/servers", true, map[string]any{"name": "c1", "url": "chef.example", "clientName": "ovm", "key": "k"},
			http.StatusUnprocessableEntity, "body.url", "http or https"},
		{"register: bad key", "POST", "/v1/chef/servers", true, map[string]any{"name": "c1", "url": "https://chef.example/", "clientName": "ovm", "key": "k"},
			http.StatusUnprocessableEntity, "body.key", "RSA private key"},
		{"register: bad name", "POST", "/v1/chef/servers", true, map[string]any{"name": "C 1", "url": "https://chef.example/", "clientName": "ovm", "key": "k"},
			http.StatusUnprocessableEntity, "body.name", ""},
		{"register: tenant", "POST", "/v1/chef/servers", false, map[string]any{"name": "c1", "url": "https://chef.example/", "clientName": "ovm", "key": "k"},
			http.StatusForbidden, "", "administrator"},
		{"catalog: unknown server", "GET", "/v1/chef/servers/" + unknown + "/catalog", false, nil, http.StatusNotFound, "", "chef server"},
		{"enrol: unknown server", "POST", inst + "/chef", false, map[string]any{"serverId": unknown}, http.StatusUnprocessableEntity, "body.serverId", "not found"},
		{"node: not enrolled", "GET", inst + "/chef", false, nil, http.StatusNotFound, "", "not enrolled"},
		{"unenrol: not enrolled", "DELETE", inst + "/chef", false, nil, http.StatusNotFound, "", "not enrolled"},
		{"run: nothing enrolled", "POST", "/v1/chef/runs", false, map[string]any{"all": true}, http.StatusUnprocessableEntity, "body.all", "no enrolled instance"},
		{"run: not enrolled", "POST", "/v1/chef/runs", false, map[string]any{"instanceIds": []ovm.ID{it.Instance.ID}}, http.StatusUnprocessableEntity,
			"body.instanceIds[0]", "not enrolled"},
		{"run: named twice", "POST", "/v1/chef/runs", false, map[string]any{"instanceIds": []ovm.ID{it.Instance.ID, it.Instance.ID}},
			http.StatusUnprocessableEntity, "body.instanceIds[1]", "twice"},
		{"run: concurrency", "POST", "/v1/chef/runs", false, map[string]any{"all": true, "concurrency": 51}, http.StatusUnprocessableEntity, "body.concurrency", ""},
		{"run: admin without vdc", "POST", "/v1/chef/runs", true, map[string]any{"all": true}, http.StatusUnprocessableEntity, "body.vdcId", ""},
		{"run: unknown", "GET", "/v1/chef/runs/" + unknown, false, nil, http.StatusNotFound, "", "chef run"},
		{"cancel: unknown", "POST", "/v1/chef/runs/" + unknown + "/cancel", false, nil, http.StatusNotFound, "", "chef run"},
		{"retry: unknown", "POST", "/v1/chef/runs/" + unknown + "/retry", false, nil, http.StatusNotFound, "", "chef run"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			token := tn.token
			if tt.admin {
				token = e.admin
			}
			var body any
			if tt.body != nil {
				body = tt.body
			}
			r := e.do(tt.method, tt.path, token, body)
			require.Equal(t, tt.status, r.status, "got %s", r)
			p := problemOf(t, r)
			if tt.field != "" {
				assert.Contains(t, fieldLocations(p), tt.field, "problem %+v", p)
			}
			assert.Contains(t, p.Detail+fieldMessages(p), tt.text)
		})
	}
	var page core.Page[core.ChefServer]
	e.must(http.StatusOK, "GET", "/v1/chef/servers", tn.token, nil).decode(t, &page)
	assert.Empty(t, page.Items)
}
