package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/openovm/ovm/ovm"
)

// TestHostBMCBadInput: settings the server refuses before it asks any BMC,
// each a problem naming the field; tenants cannot set a BMC at all.
func TestHostBMCBadInput(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	p := e.setupPlatform(1)
	path := "/v1/hosts/" + string(p.hosts[0]) + "/bmc"
	tests := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"no address", map[string]any{"address": "", "username": "admin", "password": "pw"}, "address"},
		{"address with a path", map[string]any{"address": "127.0.0.1/x", "username": "admin", "password": "pw"}, "address"},
		{"no user", map[string]any{"address": "127.0.0.1", "username": "", "password": "pw"}, "username"},
		{"user too long", map[string]any{"address": "127.0.0.1", "username": "a-very-long-bmc-user", "password": "pw"}, "username"},
		{"password too long", map[string]any{"address": "127.0.0.1", "username": "admin", "password": "0123456789abcdefghijk"}, "password"},
		{"port out of range", map[string]any{"address": "127.0.0.1", "port": 70000, "username": "admin", "password": "pw"}, "port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("PUT", path, e.admin, tc.body)
			assert.Equal(t, http.StatusUnprocessableEntity, r.status, "got %s", r)
			assert.Contains(t, string(r.body), tc.field, "the problem names the field")
		})
	}
	ten := e.newTenant("t1", p.pool, ovm.Quota{Instances: 1})
	r := e.do("PUT", path, ten.token, map[string]any{"address": "127.0.0.1", "username": "admin", "password": "pw"})
	assert.Equal(t, http.StatusNotFound, r.status, "a tenant sets no BMC: got %s", r)
	assert.NotContains(t, string(r.body), string(p.hosts[0]), "a tenant learns no host id")
	r = e.do("DELETE", path, ten.token, nil)
	assert.Equal(t, http.StatusNotFound, r.status, "a tenant removes no BMC: got %s", r)
	e.must(http.StatusNotFound, "DELETE", path, e.admin, nil)
	r = e.must(http.StatusConflict, "POST", path+"/power-on", e.admin, nil)
	assert.Contains(t, string(r.body), "no BMC")
	e.must(http.StatusNotFound, "POST", path+"/power-on", ten.token, nil)
	e.must(http.StatusNotFound, "PUT", "/v1/hosts/"+"0190e0a4-0000-7000-8000-000000000000"+"/bmc", e.admin,
		map[string]any{"address": "127.0.0.1", "username": "admin", "password": "pw"})
}
