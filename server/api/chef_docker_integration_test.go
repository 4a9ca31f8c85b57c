//go:build integration

package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/chef"
	"github.com/openovm/ovm/server/chef/cheftest"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
	"github.com/openovm/ovm/server/store"
)

// chefEnv is a platform with the test Docker engine, a tenant, and the
// test Chef server (goiardi) registered with a test cookbook and role.
//
// The guests run the converge stand-in (package cheftest/convergeagent) as
// the server's converge command: chef-client cannot be installed here. The
// stand-in speaks the Chef server protocol with the key OVM delivered; what
// OVM does (enrol, set run lists, exec the command, read nodes back) talks
// to the real goiardi and the real dockerd. The containers reach goiardi,
// which listens on loopback, through a relay on the docker0 address (the
// server's guestUrl).
type chefEnv struct {
	*env
	dc       *client.Client
	chef     cheftest.Server
	tn       tenant
	server   apitypes.ChefServer
	image    string
	book     string
	role     string
	envName  string
	relayURL string
	pool     ovm.ID
}

// chefScripts are the test cookbook's recipes, run by the stand-in as sh.
var chefScripts = map[string]string{
	// default: "install X", a file X's recipe makes.
	"default": "echo installed-by-chef > /tmp/ovm-chef-x\necho X installed\n",
	// update: fails while /tmp/ovm-fail exists, with its text.
	"update": "if [ -e /tmp/ovm-fail ]; then echo \"update broken: $(cat /tmp/ovm-fail)\" >&2; exit 3; fi\n" +
		"date +%s > /tmp/ovm-chef-updated\necho updated\n",
	// slow: a converge that takes a while (cancel).
	"slow": "sleep 2\necho slow done\n",
	// web: in a role.
	"web": "echo web > /tmp/ovm-chef-web\n",
}

func newChefEnv(t *testing.T) *chefEnv {
	host := testEnvVar(t, "DOCKER_HOST")
	base := testEnvVar(t, "OVM_TEST_DOCKER_IMAGE")
	ce := &chefEnv{env: newEnv(t, openSQLite(t)), dc: dockerClient(t, host), chef: cheftest.FromEnv(t)}
	drivers.RegisterEngines(ce.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := ce.setupPlatform(0)
	ce.pool = pl.pool
	suffix := strings.ToLower(string(ovm.NewID().Short()))
	ce.image = cheftest.AgentImage(t, ce.dc, base, "ovm-chef-agent:"+suffix)
	ce.must(http.StatusCreated, "POST", "/v1/hosts", ce.admin, map[string]any{"name": "docker1", "kind": "docker", "endpoint": host, "poolId": pl.pool})
	ce.tn = ce.newTenant("acme", pl.pool, quota)

	ce.book, ce.role, ce.envName = "ovmtest"+suffix, "ovmweb"+suffix, "ovmenv"+suffix
	ce.chef.UploadCookbook(t, ce.book, "1.0.0", chefScripts)
	ce.chef.CreateRole(t, ce.role, "recipe["+ce.book+"::web]")
	ce.chef.CreateEnvironment(t, ce.envName)

	relay := cheftest.Forward(t, cheftest.BridgeGateway(t, ce.dc), strings.TrimSuffix(strings.TrimPrefix(ce.chef.URL, "http://"), "/"))
	ce.relayURL = "http://" + relay.Addr() + "/"
	ce.must(http.StatusCreated, "POST", "/v1/chef/servers", ce.admin, map[string]any{
		"name": "chef1", "url": ce.chef.URL, "clientName": ce.chef.ClientName, "key": string(ce.chef.Key),
		"guestUrl": ce.relayURL, "convergeCommand": []string{cheftest.AgentPath}, "convergeTimeoutSeconds": 60,
	}).decode(t, &ce.server)
	return ce
}

// container makes a running container of the agent image for tn and
// removes it when the test ends.
func (ce *chefEnv) container(t *testing.T, tn tenant, name string) ovm.ID {
	var it core.InstanceTask
	ce.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": name, "start": true,
		"spec": map[string]any{"type": "container", "cpuMilli": 100, "memoryBytes": 32 << 20, "labels": map[string]string{"app": "chef"},
			"image": map[string]string{"format": "oci", "name": ce.image}, "command": bootCommand}}).decode(t, &it)
	id := it.Instance.ID
	t.Cleanup(func() { removeLabelled(t, ce.dc, id) })
	done := ce.waitLong(tn.token, it.Task.ID)
	require.Equal(t, ovm.TaskSucceeded, done.State, "create %s: %+v", name, done)
	return id
}

// waitLong waits up to five minutes for a task to end.
func (ce *chefEnv) waitLong(token string, id ovm.ID) ovm.Task {
	ce.t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var t ovm.Task
		ce.must(http.StatusOK, "GET", "/v1/tasks/"+string(id), token, nil).decode(ce.t, &t)
		if t.State.Final() {
			return t
		}
		require.True(ce.t, time.Now().Before(deadline), "task %s still %s after 5 minutes", id, t.State)
		time.Sleep(50 * time.Millisecond)
	}
}

// enrol enrols an instance and waits for its task.
func (ce *chefEnv) enrol(t *testing.T, tn tenant, id ovm.ID, runList ...string) {
	var nt core.ChefNodeTask
	ce.must(http.StatusAccepted, "POST", "/v1/instances/"+string(id)+"/chef", tn.token,
		map[string]any{"serverId": ce.server.ID, "runList": runList}).decode(t, &nt)
	done := ce.waitLong(tn.token, nt.Task.ID)
	require.Equal(t, ovm.TaskSucceeded, done.State, "enrol task: %+v", done)
	noSecret(t, ce, "enrol task", done)
	t.Cleanup(func() { _ = ce.chef.Admin.Nodes.Delete(string(id)); _ = ce.chef.Admin.Clients.Delete(string(id)) })
}

// run starts a converge run and waits for it to end.
func (ce *chefEnv) run(t *testing.T, tn tenant, body map[string]any) apitypes.ChefRun {
	var rt core.ChefRunTask
	ce.must(http.StatusAccepted, "POST", "/v1/chef/runs", tn.token, body).decode(t, &rt)
	return ce.waitRun(t, tn, rt)
}

func (ce *chefEnv) waitRun(t *testing.T, tn tenant, rt core.ChefRunTask) apitypes.ChefRun {
	done := ce.waitLong(tn.token, rt.Task.ID)
	require.Equal(t, ovm.TaskSucceeded, done.State, "run task: %+v", done)
	noSecret(t, ce, "run task", done)
	var run apitypes.ChefRun
	ce.must(http.StatusOK, "GET", "/v1/chef/runs/"+string(rt.Run.ID), tn.token, nil).decode(t, &run)
	noSecret(t, ce, "run", run)
	return run
}

// sh runs a shell command in an instance through the API.
func (ce *chefEnv) sh(t *testing.T, tn tenant, id ovm.ID, script string) core.ExecResult {
	var res core.ExecResult
	ce.must(http.StatusOK, "POST", "/v1/instances/"+string(id)+"/exec", tn.token,
		map[string]any{"command": []string{"/bin/sh", "-c", script}}).decode(t, &res)
	return res
}

// noSecret fails when v, as JSON, holds a private key.
func noSecret(t *testing.T, ce *chefEnv, what string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "PRIVATE KEY", "%s shows a private key", what)
	lines := strings.Split(strings.TrimSpace(string(ce.chef.Key)), "\n")
	assert.NotContains(t, string(b), lines[1], "%s shows the server's key", what)
}

// resultOf returns the result of an instance in a run.
func resultOf(t *testing.T, run apitypes.ChefRun, id ovm.ID) apitypes.ChefRunResult {
	t.Helper()
	for _, r := range run.Results {
		if r.InstanceID == id {
			return r
		}
	}
	t.Fatalf("no result for %s in run %+v", id, run)
	return apitypes.ChefRunResult{}
}

// TestChefDocker enrols three containers in the real Chef server, installs
// a recipe on two of them, and checks what the recipe made, what goiardi
// keeps of the nodes, bad input, tenancy, a node deleted behind OVM's back,
// an unreachable server, secrets and unenrolment on delete.
func TestChefDocker(t *testing.T) {
	ce := newChefEnv(t)
	tn := ce.tn
	other := ce.newTenant("other", ce.pool, quota)

	t.Run("registration", func(t *testing.T) {
		keys, err := chef.NewKeyPair()
		require.NoError(t, err)
		wrong := string(keys.Private)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		closed := "http://" + l.Addr().String() + "/"
		require.NoError(t, l.Close())
		for _, tt := range []struct {
			name   string
			body   map[string]any
			status int
			field  string
			text   string
		}{
			{"bad url", map[string]any{"url": "ftp://x"}, http.StatusUnprocessableEntity, "body.url", "http or https"},
			{"bad key", map[string]any{"key": "not a key"}, http.StatusUnprocessableEntity, "body.key", "RSA private key"},
			{"bad ca", map[string]any{"tls": map[string]any{"caCert": "nope"}}, http.StatusUnprocessableEntity, "body.tls.caCert", "certificate"},
			{"bad guest url", map[string]any{"guestUrl": "chef.example"}, http.StatusUnprocessableEntity, "body.guestUrl", "http or https"},
			{"bad converge command", map[string]any{"convergeCommand": []string{""}}, http.StatusUnprocessableEntity, "body.convergeCommand[0]", "program"},
			{"unreachable", map[string]any{"url": closed}, http.StatusServiceUnavailable, "", "connection refused"},
			{"unknown client", map[string]any{"clientName": "nobody-here"}, http.StatusServiceUnavailable, "", "Failed to authenticate as 'nobody-here'"},
			{"wrong key", map[string]any{"key": wrong}, http.StatusServiceUnavailable, "", "401"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				b := map[string]any{"name": "chef-bad", "url": ce.chef.URL, "clientName": ce.chef.ClientName, "key": string(ce.chef.Key)}
				for k, v := range tt.body {
					b[k] = v
				}
				r := ce.do("POST", "/v1/chef/servers", ce.admin, b)
				require.Equal(t, tt.status, r.status, "got %s", r)
				p := problemOf(t, r)
				if tt.field != "" {
					assert.Contains(t, fieldLocations(p), tt.field)
				}
				assert.Contains(t, p.Detail+fieldMessages(p), tt.text)
				noSecret(t, ce, "problem", p)
			})
		}
		r := ce.do("POST", "/v1/chef/servers", tn.token, map[string]any{"name": "mine", "url": ce.chef.URL, "clientName": "admin", "key": string(ce.chef.Key)})
		assert.Equal(t, http.StatusForbidden, r.status, "a tenant registers no chef server: %s", r)

		// The key is encrypted at rest and never shown.
		var got apitypes.ChefServer
		ce.must(http.StatusOK, "GET", "/v1/chef/servers/"+string(ce.server.ID), ce.admin, nil).decode(t, &got)
		assert.Equal(t, []string{cheftest.AgentPath}, got.ConvergeCommand)
		noSecret(t, ce, "server", got)
		noSecret(t, ce, "registration", ce.server)
		require.NoError(t, ce.st.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
			rec, err := tx.Get(ctx, "chefserver", ce.server.ID)
			require.NoError(t, err)
			noSecret(t, ce, "stored record", string(rec.Data))
			return nil
		}))
		// Tenants see the server's id, name and organisation only.
		var page core.Page[apitypes.ChefServer]
		ce.must(http.StatusOK, "GET", "/v1/chef/servers", tn.token, nil).decode(t, &page)
		require.Len(t, page.Items, 1)
		assert.Equal(t, apitypes.ChefServer{ID: ce.server.ID, Name: "chef1", CreatedAt: page.Items[0].CreatedAt}, page.Items[0])
	})

	t.Run("catalog", func(t *testing.T) {
		var cat apitypes.ChefCatalog
		ce.must(http.StatusOK, "GET", "/v1/chef/servers/"+string(ce.server.ID)+"/catalog", tn.token, nil).decode(t, &cat)
		assert.Contains(t, cat.Cookbooks, apitypes.ChefCookbook{Name: ce.book, Versions: []apitypes.ChefCookbookVersion{
			{Version: "1.0.0", Recipes: []string{"default", "slow", "update", "web"}}}})
		assert.Contains(t, cat.Roles, apitypes.ChefRole{Name: ce.role, Description: "test role " + ce.role, RunList: []string{"recipe[" + ce.book + "::web]"}})
		assert.Contains(t, cat.Environments, apitypes.ChefEnvironment{Name: ce.envName, Description: "test environment " + ce.envName})
	})

	ids := []ovm.ID{ce.container(t, tn, "chef-a"), ce.container(t, tn, "chef-b"), ce.container(t, tn, "chef-c")}
	theirs := ce.container(t, other, "chef-theirs")
	for _, id := range ids {
		ce.enrol(t, tn, id)
	}

	t.Run("enrolled", func(t *testing.T) {
		for _, id := range ids {
			var n apitypes.ChefNode
			ce.must(http.StatusOK, "GET", "/v1/instances/"+string(id)+"/chef", tn.token, nil).decode(t, &n)
			assert.Equal(t, apitypes.ChefNodeEnrolled, n.State)
			assert.Equal(t, string(id), n.NodeName)
			node, err := ce.chef.Admin.Nodes.Get(string(id))
			require.NoError(t, err, "node %s on goiardi", id)
			assert.Empty(t, node.RunList)
			_, err = ce.chef.Admin.Clients.Get(string(id))
			require.NoError(t, err, "client %s on goiardi", id)
			// The private key is in the guest only, readable by root alone.
			res := ce.sh(t, tn, id, "stat -c %a /etc/chef/client.pem; head -1 /etc/chef/client.pem; cat /etc/chef/client.rb")
			assert.Contains(t, res.Stdout, "600\n-----BEGIN RSA PRIVATE KEY-----")
			assert.Contains(t, res.Stdout, `node_name "`+string(id)+`"`)
			assert.Contains(t, res.Stdout, `chef_server_url "`+ce.relayURL+`"`)
		}
		// Another VDC sees nothing of them.
		ce.must(http.StatusNotFound, "GET", "/v1/instances/"+string(ids[0])+"/chef", other.token, nil)
		ce.must(http.StatusNotFound, "DELETE", "/v1/instances/"+string(ids[0])+"/chef", other.token, nil)
	})

	t.Run("enrol at create", func(t *testing.T) {
		spec := map[string]any{"type": "container", "cpuMilli": 100, "memoryBytes": 32 << 20,
			"image": map[string]string{"format": "oci", "name": ce.image}, "command": bootCommand}
		chef := map[string]any{"serverId": ce.server.ID, "runList": []string{"recipe[" + ce.book + "::web]"}}
		p := problemOf(t, ce.must(http.StatusUnprocessableEntity, "POST", "/v1/instances", tn.token,
			map[string]any{"name": "born-stopped", "spec": spec, "chef": chef}))
		assert.Contains(t, fieldLocations(p), "body.start")
		var it core.InstanceTask
		ce.must(http.StatusAccepted, "POST", "/v1/instances", tn.token,
			map[string]any{"name": "born-enrolled", "start": true, "spec": spec, "chef": chef}).decode(t, &it)
		id := it.Instance.ID
		t.Cleanup(func() {
			removeLabelled(t, ce.dc, id)
			_ = ce.chef.Admin.Nodes.Delete(string(id))
			_ = ce.chef.Admin.Clients.Delete(string(id))
		})
		require.Equal(t, ovm.TaskSucceeded, ce.waitLong(tn.token, it.Task.ID).State)
		var n apitypes.ChefNode
		require.Eventually(t, func() bool {
			ce.must(http.StatusOK, "GET", "/v1/instances/"+string(id)+"/chef", tn.token, nil).decode(t, &n)
			return n.State != apitypes.ChefNodeEnrolling
		}, time.Minute, 50*time.Millisecond)
		require.Equal(t, apitypes.ChefNodeEnrolled, n.State, "enrolment: %+v", n)
		run := ce.run(t, tn, map[string]any{"instanceIds": []ovm.ID{id}})
		assert.Equal(t, apitypes.ChefRunSucceeded, run.State, "run %+v", run)
		assert.Equal(t, "web\n", ce.sh(t, tn, id, "cat /tmp/ovm-chef-web").Stdout, "the initial run list converged")
		var del core.InstanceTask
		ce.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(id), tn.token, nil).decode(t, &del)
		require.Equal(t, ovm.TaskSucceeded, ce.waitLong(tn.token, del.Task.ID).State)
	})

	var install apitypes.ChefRun
	t.Run("install X on two", func(t *testing.T) {
		install = ce.run(t, tn, map[string]any{"instanceIds": ids[:2], "runList": []string{"recipe[" + ce.book + "]"}})
		assert.Equal(t, apitypes.ChefRunSucceeded, install.State)
		assert.Equal(t, apitypes.ChefRunCounts{Total: 2, Succeeded: 2}, install.Counts)
		for _, id := range ids[:2] {
			res := resultOf(t, install, id)
			assert.Equal(t, apitypes.ChefSucceeded, res.Outcome, "result %+v", res)
			assert.Contains(t, res.Output, "X installed")
			assert.Equal(t, []string{"recipe[" + ce.book + "]"}, res.RunList)
			require.NotNil(t, res.OhaiTime, "ohai_time read back")
			assert.Equal(t, "busybox", res.Automatic["platform"], "automatic attributes read back: %v", res.Automatic)
			assert.NotEmpty(t, res.Automatic["hostname"])
			assert.WithinDuration(t, time.Now(), *res.OhaiTime, time.Minute)
			assert.Equal(t, "installed-by-chef\n", ce.sh(t, tn, id, "cat /tmp/ovm-chef-x").Stdout, "the recipe's file in %s", id)
			node, err := ce.chef.Admin.Nodes.Get(string(id))
			require.NoError(t, err)
			assert.Equal(t, []string{"recipe[" + ce.book + "]"}, node.RunList, "run list on goiardi")
			assert.NotNil(t, node.AutomaticAttributes["ohai_time"], "converge time on goiardi")
			var n apitypes.ChefNode
			ce.must(http.StatusOK, "GET", "/v1/instances/"+string(id)+"/chef", tn.token, nil).decode(t, &n)
			require.NotNil(t, n.LastConverge)
			assert.Equal(t, install.ID, n.LastConverge.RunID)
			assert.Equal(t, apitypes.ChefSucceeded, n.LastConverge.Outcome)
		}
		res := ce.sh(t, tn, ids[2], "cat /tmp/ovm-chef-x")
		assert.NotEqual(t, 0, res.ExitCode, "the third has no X: %+v", res)
		node, err := ce.chef.Admin.Nodes.Get(string(ids[2]))
		require.NoError(t, err)
		assert.Empty(t, node.RunList)
		assert.Nil(t, node.AutomaticAttributes["ohai_time"], "the third never converged")
	})

	t.Run("bad input runs nothing", func(t *testing.T) {
		var before core.Page[apitypes.ChefRun]
		ce.must(http.StatusOK, "GET", "/v1/chef/runs", tn.token, nil).decode(t, &before)
		for _, tt := range []struct {
			name  string
			body  map[string]any
			field string
			text  string
		}{
			{"unknown cookbook", map[string]any{"instanceIds": ids[:1], "runList": []string{"recipe[nonesuch-book]"}}, "body.runList[0]", "no cookbook"},
			{"unknown recipe", map[string]any{"instanceIds": ids[:1], "runList": []string{"recipe[" + ce.book + "::nonesuch]"}}, "body.runList[0]", "no recipe"},
			{"unknown role", map[string]any{"instanceIds": ids[:1], "runList": []string{"role[nonesuch-role]"}}, "body.runList[0]", "no role"},
			{"unknown environment", map[string]any{"instanceIds": ids[:1], "environment": "nonesuch-env"}, "body.environment", "no environment"},
			{"malformed entry", map[string]any{"instanceIds": ids[:1], "runList": []string{"recipe[x"}}, "body.runList[0]", "must be recipe"},
			{"another vdc's instance", map[string]any{"instanceIds": []ovm.ID{theirs}}, "body.instanceIds[0]", "not found"},
			{"no selector", map[string]any{}, "body.instanceIds", "exactly one"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := ce.do("POST", "/v1/chef/runs", tn.token, tt.body)
				require.Equal(t, http.StatusUnprocessableEntity, r.status, "got %s", r)
				p := problemOf(t, r)
				assert.Contains(t, fieldLocations(p), tt.field)
				assert.Contains(t, fieldMessages(p), tt.text)
			})
		}
		r := ce.do("POST", "/v1/instances/"+string(ids[2])+"/chef", tn.token, map[string]any{"serverId": ce.server.ID, "runList": []string{"role[nonesuch-role]"}})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "enrol with an unknown role: %s", r)
		var after core.Page[apitypes.ChefRun]
		ce.must(http.StatusOK, "GET", "/v1/chef/runs", tn.token, nil).decode(t, &after)
		assert.Len(t, after.Items, len(before.Items), "no run was made")
		node, err := ce.chef.Admin.Nodes.Get(string(ids[2]))
		require.NoError(t, err)
		assert.Empty(t, node.RunList, "nothing changed on the chef server")
	})

	t.Run("tenancy", func(t *testing.T) {
		ce.must(http.StatusNotFound, "GET", "/v1/chef/runs/"+string(install.ID), other.token, nil)
		ce.must(http.StatusNotFound, "POST", "/v1/chef/runs/"+string(install.ID)+"/retry", other.token, nil)
		var page core.Page[apitypes.ChefRun]
		ce.must(http.StatusOK, "GET", "/v1/chef/runs", other.token, nil).decode(t, &page)
		assert.Empty(t, page.Items, "another VDC lists no run of this one")
		r := ce.do("POST", "/v1/chef/runs", other.token, map[string]any{"all": true})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "another VDC has nothing enrolled: %s", r)
	})

	t.Run("node deleted behind OVM's back", func(t *testing.T) {
		require.NoError(t, ce.chef.Admin.Nodes.Delete(string(ids[2])))
		run := ce.run(t, tn, map[string]any{"all": true, "runList": []string{"role[" + ce.role + "]"}})
		assert.Equal(t, apitypes.ChefRunSucceeded, run.State, "run %+v", run)
		res := resultOf(t, run, ids[2])
		assert.True(t, res.Reenrolled, "the missing node was enrolled again: %+v", res)
		assert.Equal(t, apitypes.ChefSucceeded, res.Outcome)
		assert.Equal(t, []string{"role[" + ce.role + "]"}, res.RunList)
		assert.Equal(t, "web\n", ce.sh(t, tn, ids[2], "cat /tmp/ovm-chef-web").Stdout, "the role's recipe ran")
		node, err := ce.chef.Admin.Nodes.Get(string(ids[2]))
		require.NoError(t, err, "the node is back on goiardi")
		assert.Equal(t, []string{"role[" + ce.role + "]"}, node.RunList)
		assert.Equal(t, []string{"recipe[" + ce.book + "]", "role[" + ce.role + "]"}, resultOf(t, run, ids[0]).RunList, "the role was added")
	})

	t.Run("unreachable chef server", func(t *testing.T) {
		relay := cheftest.Forward(t, "127.0.0.1", strings.TrimSuffix(strings.TrimPrefix(ce.chef.URL, "http://"), "/"))
		var srv apitypes.ChefServer
		ce.must(http.StatusCreated, "POST", "/v1/chef/servers", ce.admin, map[string]any{
			"name": "chef-flaky", "url": "http://" + relay.Addr() + "/", "clientName": ce.chef.ClientName, "key": string(ce.chef.Key),
		}).decode(t, &srv)
		relay.Close()
		p := problemOf(t, ce.must(http.StatusServiceUnavailable, "GET", "/v1/chef/servers/"+string(srv.ID)+"/catalog", tn.token, nil))
		assert.Contains(t, p.Detail, "connection refused")
		p = problemOf(t, ce.must(http.StatusServiceUnavailable, "POST", "/v1/instances/"+string(theirs)+"/chef", other.token,
			map[string]any{"serverId": srv.ID, "runList": []string{"recipe[x]"}}))
		assert.Contains(t, p.Detail, "connection refused")
		ce.must(http.StatusNoContent, "DELETE", "/v1/chef/servers/"+string(srv.ID), ce.admin, nil)
	})

	t.Run("unenrol and delete", func(t *testing.T) {
		p := problemOf(t, ce.must(http.StatusConflict, "DELETE", "/v1/chef/servers/"+string(ce.server.ID), ce.admin, nil))
		assert.Contains(t, p.Detail, "enrolled")
		var nt core.ChefNodeTask
		ce.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(ids[1])+"/chef", tn.token, nil).decode(t, &nt)
		require.Equal(t, ovm.TaskSucceeded, ce.waitLong(tn.token, nt.Task.ID).State)
		ce.must(http.StatusNotFound, "GET", "/v1/instances/"+string(ids[1])+"/chef", tn.token, nil)
		_, err := ce.chef.Admin.Nodes.Get(string(ids[1]))
		assert.Error(t, err, "node gone from goiardi")
		assert.NotEqual(t, 0, ce.sh(t, tn, ids[1], "test -e /etc/chef/client.pem").ExitCode, "key removed from the guest")

		var del core.InstanceTask
		ce.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(ids[0]), tn.token, nil).decode(t, &del)
		require.Equal(t, ovm.TaskSucceeded, ce.waitLong(tn.token, del.Task.ID).State)
		_, err = ce.chef.Admin.Nodes.Get(string(ids[0]))
		assert.Error(t, err, "the deleted instance's node is gone from goiardi")
		_, err = ce.chef.Admin.Clients.Get(string(ids[0]))
		assert.Error(t, err, "the deleted instance's client is gone from goiardi")
	})
}

// TestChefUpdateAllDocker converges 20 enrolled containers in one run, two
// of them made to fail: 18 succeed, 2 fail with their output; after fixing
// them a retry converges those two. A slow run is cancelled. It logs the
// orchestration overhead: the run's time against one converge x 20 /
// concurrency.
func TestChefUpdateAllDocker(t *testing.T) {
	ce := newChefEnv(t)
	tn := ce.tn
	const n, concurrency = 20, 5
	ids := make([]ovm.ID, n)
	var wg sync.WaitGroup
	for i := range n {
		ids[i] = ce.container(t, tn, fmt.Sprintf("fleet-%02d", i))
	}
	for _, id := range ids {
		wg.Go(func() { ce.enrol(t, tn, id, "recipe["+ce.book+"::update]") })
	}
	wg.Wait()
	broken := ids[3:5]
	for _, id := range broken {
		require.Equal(t, 0, ce.sh(t, tn, id, "echo disk full > /tmp/ovm-fail").ExitCode)
	}

	start := time.Now()
	run := ce.run(t, tn, map[string]any{"all": true, "concurrency": concurrency})
	total := time.Since(start)
	assert.Equal(t, apitypes.ChefRunFailed, run.State)
	assert.Equal(t, apitypes.ChefRunCounts{Total: n, Succeeded: n - 2, Failed: 2}, run.Counts, "results %+v", run.Results)
	var sum time.Duration
	for _, res := range run.Results {
		sum += time.Duration(res.DurationMs) * time.Millisecond
		if res.InstanceID == broken[0] || res.InstanceID == broken[1] {
			assert.Equal(t, apitypes.ChefFailed, res.Outcome)
			assert.Equal(t, 1, res.ExitCode, "the stand-in exits 1 when a recipe fails")
			assert.Contains(t, res.Output, "update broken: disk full", "the failing recipe's output")
			continue
		}
		assert.Equal(t, apitypes.ChefSucceeded, res.Outcome, "result %+v", res)
		assert.NotNil(t, res.OhaiTime)
	}
	one := sum / n
	ideal := one * n / concurrency
	t.Logf("figure: update all over %d containers, concurrency %d: %s in total; one converge %s on average; one x %d / %d = %s; orchestration overhead %s",
		n, concurrency, total.Round(time.Millisecond), one.Round(time.Millisecond), n, concurrency, ideal.Round(time.Millisecond), (total - ideal).Round(time.Millisecond))

	for _, id := range broken {
		require.Equal(t, 0, ce.sh(t, tn, id, "rm /tmp/ovm-fail").ExitCode)
	}
	var rt core.ChefRunTask
	ce.must(http.StatusAccepted, "POST", "/v1/chef/runs/"+string(run.ID)+"/retry", tn.token, nil).decode(t, &rt)
	retry := ce.waitRun(t, tn, rt)
	assert.Equal(t, run.ID, retry.RetryOf)
	assert.Equal(t, apitypes.ChefRunSucceeded, retry.State)
	assert.Equal(t, apitypes.ChefRunCounts{Total: 2, Succeeded: 2}, retry.Counts)
	for _, id := range broken {
		assert.Equal(t, apitypes.ChefSucceeded, resultOf(t, retry, id).Outcome)
		node, err := ce.chef.Admin.Nodes.Get(string(id))
		require.NoError(t, err)
		assert.NotNil(t, node.AutomaticAttributes["ohai_time"], "converged on goiardi")
	}
	p := problemOf(t, ce.must(http.StatusConflict, "POST", "/v1/chef/runs/"+string(retry.ID)+"/retry", tn.token, nil))
	assert.Contains(t, p.Detail, "no failed")

	// Cancel: a slow recipe one at a time; the run stops before the rest.
	ce.must(http.StatusAccepted, "POST", "/v1/chef/runs", tn.token, map[string]any{"instanceIds": ids[:6], "concurrency": 1,
		"runList": []string{"recipe[" + ce.book + "::slow]"}}).decode(t, &rt)
	require.Eventually(t, func() bool {
		var r apitypes.ChefRun
		ce.must(http.StatusOK, "GET", "/v1/chef/runs/"+string(rt.Run.ID), tn.token, nil).decode(t, &r)
		return r.Counts.Running > 0
	}, time.Minute, 50*time.Millisecond, "a converge starts")
	ce.must(http.StatusOK, "POST", "/v1/chef/runs/"+string(rt.Run.ID)+"/cancel", tn.token, nil)
	cancelled := ce.waitRun(t, tn, rt)
	assert.Equal(t, apitypes.ChefRunCancelled, cancelled.State)
	assert.GreaterOrEqual(t, cancelled.Counts.Cancelled, 4, "counts %+v", cancelled.Counts)
	assert.Zero(t, cancelled.Counts.Pending+cancelled.Counts.Running)
	ce.must(http.StatusConflict, "POST", "/v1/chef/runs/"+string(rt.Run.ID)+"/cancel", tn.token, nil)
}
