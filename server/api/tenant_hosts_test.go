package api

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
)

// tenantView records every response body and event a tenant receives.
type tenantView struct {
	t      *testing.T
	e      *env
	token  string
	bodies []string // what came back
	asked  []string // "METHOD PATH" of each body
}

// do sends a request as the tenant, records the answer and requires want.
func (v *tenantView) do(want int, method, path string, body any) resp {
	v.t.Helper()
	r := v.e.doWith(v.t, method, path, v.token, body)
	v.bodies, v.asked = append(v.bodies, string(r.body)), append(v.asked, method+" "+path)
	require.Equal(v.t, want, r.status, "%s %s: got %s", method, path, r)
	return r
}

// events reads a task's Server-Sent Events to the end, recorded.
func (v *tenantView) events(id ovm.ID) string {
	v.t.Helper()
	req := httptest.NewRequest("GET", "/v1/tasks/"+string(id)+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+v.token)
	w := httptest.NewRecorder()
	v.e.h.ServeHTTP(w, req)
	require.Equal(v.t, http.StatusOK, w.Code, "events of task %s: %s", id, w.Body)
	v.bodies, v.asked = append(v.bodies, w.Body.String()), append(v.asked, "events of task "+string(id))
	return w.Body.String()
}

// wait follows a task to its end through its events and returns it as a
// GET reads it.
func (v *tenantView) wait(id ovm.ID) ovm.Task {
	v.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		v.events(id)
		var t ovm.Task
		v.do(http.StatusOK, "GET", "/v1/tasks/"+string(id), nil).decode(v.t, &t)
		if t.State.Final() {
			return t
		}
		require.True(v.t, time.Now().Before(deadline), "task %s still %s", id, t.State)
	}
}

// hostNeedles are what names the hosts: names, ids (whole and short),
// endpoints and their addresses.
func hostNeedles(hosts []ovm.Host) []string {
	var out []string
	for _, h := range hosts {
		out = append(out, h.Name, string(h.ID), h.ID.Short(), h.Endpoint)
		if u, err := url.Parse(h.Endpoint); err == nil {
			if u.Host != "" {
				out = append(out, u.Host)
			}
			if strings.Count(u.Path, "/") > 1 {
				out = append(out, u.Path)
			}
		}
	}
	return out
}

// scenario is what a tenant scenario needs of its hosts.
type scenario struct {
	hosts    []ovm.Host
	pool     ovm.ID
	spec     func() map[string]any // a container that runs
	network  bool                  // attach the instances to a network
	failing  func() map[string]any // a spec whose create fails on the host
	prepare  func(t *testing.T)    // arms the failure, when it needs arming
	cleanups func(id ovm.ID)       // removes what an instance left on the host
}

// runTenantScenario walks a tenant through login, a network, an
// instance's create, start, stop and delete, a vApp, its tasks (list, get,
// events), a create the pool has no room for (instance and vApp) and a
// create that fails on the host; no answer and no event names a host, and
// the administrator's view of the failure does (the text was there to
// hide).
func runTenantScenario(t *testing.T, e *env, sc scenario) {
	suffix := strings.ToLower(string(ovm.NewID().Short()))
	bigQuota := ovm.Quota{CPU: ovm.CPUs(200), Memory: 64 * ovm.GiB, Disk: ovm.TiB, Instances: 50, Networks: 5}
	vdcName := "tn-" + suffix
	e.newTenant(vdcName, sc.pool, bigQuota)
	v := &tenantView{t: t, e: e}
	var sess core.Session
	v.do(http.StatusOK, "POST", "/v1/login", map[string]string{"name": vdcName + "-admin", "password": "tenant-password-1"}).decode(t, &sess)
	v.token = sess.Token
	v.do(http.StatusOK, "GET", "/v1/me", nil)

	spec := sc.spec()
	if sc.network {
		var n ovm.Network
		v.do(http.StatusCreated, "POST", "/v1/networks", map[string]any{"name": "net1", "subnet": "10.77.0.0/24"}).decode(t, &n)
		spec["nics"] = []map[string]any{{"networkId": n.ID}}
		v.do(http.StatusOK, "GET", "/v1/networks", nil)
	}

	// An instance's life.
	var it core.InstanceTask
	v.do(http.StatusAccepted, "POST", "/v1/instances", map[string]any{"name": "web", "start": true, "spec": spec}).decode(t, &it)
	id := it.Instance.ID
	if sc.cleanups != nil {
		t.Cleanup(func() { sc.cleanups(id) })
	}
	require.Equal(t, ovm.TaskSucceeded, v.wait(it.Task.ID).State, "create")
	v.do(http.StatusOK, "GET", "/v1/instances/"+string(id), nil)
	v.do(http.StatusOK, "GET", "/v1/instances", nil)
	for _, action := range []string{"stop", "start"} {
		var at core.InstanceTask
		v.do(http.StatusAccepted, "POST", "/v1/instances/"+string(id)+"/"+action, nil).decode(t, &at)
		require.Equal(t, ovm.TaskSucceeded, v.wait(at.Task.ID).State, action)
	}

	// A vApp.
	var vt core.VAppTasks
	v.do(http.StatusAccepted, "POST", "/v1/vapps", map[string]any{"name": "app", "members": []map[string]any{
		{"name": "m1", "spec": sc.spec()}, {"name": "m2", "spec": sc.spec()}}}).decode(t, &vt)
	for _, task := range vt.Tasks {
		if sc.cleanups != nil {
			t.Cleanup(func() { sc.cleanups(task.TargetID) })
		}
		require.Equal(t, ovm.TaskSucceeded, v.wait(task.ID).State, "vapp member")
	}
	// Then the vApp's own task starts the members.
	deadline := time.Now().Add(time.Minute)
	for {
		var app core.VAppInfo
		v.do(http.StatusOK, "GET", "/v1/vapps/"+string(vt.VApp.ID), nil).decode(t, &app)
		if app.Phase != ovm.PhaseCreating && app.TaskID == "" {
			require.Equal(t, ovm.PhaseReady, app.Phase, "vApp: %s", app.Message)
			break
		}
		require.True(t, time.Now().Before(deadline), "the vApp never settles: %+v", app)
		time.Sleep(20 * time.Millisecond)
	}
	v.do(http.StatusOK, "GET", "/v1/vapps", nil)
	var dt core.VAppTasks
	v.do(http.StatusAccepted, "DELETE", "/v1/vapps/"+string(vt.VApp.ID), nil).decode(t, &dt)
	for _, task := range dt.Tasks {
		v.wait(task.ID)
	}

	// No room: 50 vCPU fit the quota, not the pool.
	huge := sc.spec()
	huge["cpuMilli"] = 50000
	p := problemOf(t, v.do(http.StatusServiceUnavailable, "POST", "/v1/instances", map[string]any{"name": "huge", "spec": huge}))
	assert.Contains(t, p.Detail, "the pool has no room for", "a tenant's placement failure")
	assert.Contains(t, p.Detail, "50 vCPU")
	v.do(http.StatusServiceUnavailable, "POST", "/v1/vapps", map[string]any{"name": "hugeapp", "members": []map[string]any{{"name": "h1", "spec": huge}}})
	// The administrator still reads every host's reason.
	ar := e.do("POST", "/v1/instances", e.admin, map[string]any{"vdcId": it.Instance.VDCID, "name": "huge", "spec": huge})
	require.Equal(t, http.StatusServiceUnavailable, ar.status, "admin: %s", ar)
	assert.Contains(t, string(ar.body), sc.hosts[0].Name, "the administrator's placement failure names the hosts")

	// A create that fails on the host.
	if sc.prepare != nil {
		sc.prepare(t)
	}
	var ft core.InstanceTask
	v.do(http.StatusAccepted, "POST", "/v1/instances", map[string]any{"name": "broken", "start": true, "spec": sc.failing()}).decode(t, &ft)
	if sc.cleanups != nil {
		t.Cleanup(func() { sc.cleanups(ft.Instance.ID) })
	}
	failed := v.wait(ft.Task.ID)
	require.Contains(t, []ovm.TaskState{ovm.TaskFailed, ovm.TaskRolledBack}, failed.State, "the failing create: %+v", failed)
	assert.NotEmpty(t, failed.Error, "the tenant reads why it failed")
	var broken ovm.Instance
	v.do(http.StatusOK, "GET", "/v1/instances/"+string(ft.Instance.ID), nil).decode(t, &broken)
	assert.NotEmpty(t, broken.Status.Message, "the failed instance says why")
	var adminTask ovm.Task
	e.must(http.StatusOK, "GET", "/v1/tasks/"+string(ft.Task.ID), e.admin, nil).decode(t, &adminTask)
	assert.True(t, containsAny(fmt.Sprint(adminTask.Log, adminTask.Error), hostNeedles(sc.hosts)),
		"the administrator's task log names the host: %+v", adminTask.Log)

	// Tasks and clean-up.
	var tasks struct{ Items []ovm.Task }
	v.do(http.StatusOK, "GET", "/v1/tasks?limit=1000", nil).decode(t, &tasks)
	require.NotEmpty(t, tasks.Items)
	for _, task := range tasks.Items {
		v.do(http.StatusOK, "GET", "/v1/tasks/"+string(task.ID), nil)
	}
	for _, iid := range []ovm.ID{id, ft.Instance.ID} {
		var del core.InstanceTask
		v.do(http.StatusAccepted, "DELETE", "/v1/instances/"+string(iid), nil).decode(t, &del)
		v.wait(del.Task.ID)
	}
	// Infrastructure is not the tenant's to read.
	v.do(http.StatusForbidden, "GET", "/v1/hosts", nil)
	v.do(http.StatusNotFound, "GET", "/v1/hosts/"+string(sc.hosts[0].ID), nil)

	needles := hostNeedles(sc.hosts)
	for i, b := range v.bodies {
		for _, n := range needles {
			if !assert.NotContains(t, b, n, "the answer to %s names a host", v.asked[i]) {
				return
			}
		}
	}
	t.Logf("%d answers and event streams checked for %d host names, ids and endpoints", len(v.bodies), len(needles))
}

func containsAny(s string, needles []string) bool {
	for _, n := range needles {
		if strings.Contains(s, n) {
			return true
		}
	}
	return false
}

// TestTenantNeverSeesHosts runs the tenant scenario on fake hosts whose
// failure names its host and endpoint.
func TestTenantNeverSeesHosts(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(2)
	var hosts []ovm.Host
	for _, id := range pl.hosts {
		var h ovm.Host
		e.must(http.StatusOK, "GET", "/v1/hosts/"+string(id), e.admin, nil).decode(t, &h)
		hosts = append(hosts, h)
	}
	runTenantScenario(t, e, scenario{
		hosts: hosts, pool: pl.pool, network: true,
		spec:    func() map[string]any { return container() },
		failing: func() map[string]any { return container() },
		prepare: func(t *testing.T) {
			for _, h := range hosts {
				fh, err := e.fakes.Host(h.Endpoint)
				require.NoError(t, err)
				fh.Hypervisor.FailNext("Create", fmt.Errorf("host %s (%s, %s) refused: %w", h.Name, h.ID, h.Endpoint,
					ovm.Errorf(ovm.KindUnavailable, "disk of %s full", h.Name)))
			}
		},
	})
}

// TestRedactedProblem: an engine's error a tenant's request meets is
// answered without the host's name or endpoint.
func TestRedactedProblem(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	var h ovm.Host
	e.must(http.StatusOK, "GET", "/v1/hosts/"+string(pl.hosts[0]), e.admin, nil).decode(t, &h)
	inst := e.runningInstance(tn, "web")
	fh, err := e.fakes.Host(h.Endpoint)
	require.NoError(t, err)
	fh.Hypervisor.FailNext("Exec", ovm.Errorf(ovm.KindUnavailable, "fake host %s at %s: gone", h.Name, h.Endpoint))
	r := e.do("POST", "/v1/instances/"+string(inst.ID)+"/exec", tn.token, map[string]any{"command": []string{"true"}})
	require.GreaterOrEqual(t, r.status, 400, "exec with a failing host: %s", r)
	assert.False(t, containsAny(string(r.body), hostNeedles([]ovm.Host{h})), "a tenant's problem names the host: %s", r)
	assert.True(t, bytes.Contains(r.body, []byte("(host)")), "the problem still says what failed: %s", r)
}
