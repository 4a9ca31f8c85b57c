package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
)

// TestTaskEvents streams a create task's changes as Server-Sent Events
// until its final state.
func TestTaskEvents(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	var h ovm.Host
	e.must(http.StatusOK, "GET", "/v1/hosts/"+string(pl.hosts[0]), e.admin, nil).decode(t, &h)
	fh, err := e.fakes.Host(h.Endpoint)
	require.NoError(t, err)
	fh.Hypervisor.SetLatency(200 * time.Millisecond) // so that the stream sees the task run

	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "web", "spec": container(), "start": true}).decode(t, &it)

	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/tasks/"+string(it.Task.ID)+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tn.token)
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	var states []ovm.TaskState
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var task ovm.Task
		require.NoError(t, json.Unmarshal([]byte(data), &task))
		states = append(states, task.State)
	}
	require.NotEmpty(t, states, "events received")
	assert.Equal(t, ovm.TaskSucceeded, states[len(states)-1], "last event is final: %v", states)
	assert.Greater(t, len(states), 1, "the stream shows progress before the end: %v", states)

	// Another tenant's task stream is not found.
	other := e.newTenant("other", pl.pool, quota)
	problemOf(t, e.must(http.StatusNotFound, "GET", "/v1/tasks/"+string(it.Task.ID)+"/events", other.token, nil))
}

// TestVAppDeploy: a vApp with anti-affinity lands on different hosts, each
// member's task is independent (one failing member does not stop the
// others), the vApp reports each outcome, and deleting it deletes its
// members and gives the quota back.
func TestVAppDeploy(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(3)
	tn := e.newTenant("acme", pl.pool, quota)

	// The next Create on one host fails: one member fails, the others go on.
	var h ovm.Host
	e.must(http.StatusOK, "GET", "/v1/hosts/"+string(pl.hosts[1]), e.admin, nil).decode(t, &h)
	fh, err := e.fakes.Host(h.Endpoint)
	require.NoError(t, err)
	fh.Hypervisor.FailNext(fake.MethodCreate, ovm.Errorf(ovm.KindUnavailable, "disk controller on fire"))

	var vt core.VAppTasks
	e.must(http.StatusAccepted, "POST", "/v1/vapps", tn.token, map[string]any{"name": "shop", "antiAffinity": true, "members": []map[string]any{
		{"name": "shop-web", "spec": container()}, {"name": "shop-app", "spec": container()}, {"name": "shop-db", "spec": container()},
	}}).decode(t, &vt)
	require.Len(t, vt.Tasks, 3, "one task per member")
	var hosts []ovm.ID
	failed := 0
	for i, tk := range vt.Tasks {
		done := e.waitTask(tn.token, tk.ID)
		var inst ovm.Instance
		e.must(http.StatusOK, "GET", "/v1/instances/"+string(vt.VApp.InstanceIDs[i]), e.admin, nil).decode(t, &inst)
		hosts = append(hosts, inst.Status.HostID)
		if done.State != ovm.TaskSucceeded {
			failed++
			assert.Equal(t, ovm.TaskRolledBack, done.State)
			assert.Contains(t, done.Error, "disk controller on fire", "the hypervisor's own text is kept")
		}
	}
	assert.Equal(t, 1, failed, "members whose create failed")
	assert.ElementsMatch(t, pl.hosts, hosts, "anti-affinity: one member per host")

	var app core.VAppInfo
	e.must(http.StatusOK, "GET", "/v1/vapps/"+string(vt.VApp.ID), tn.token, nil).decode(t, &app)
	phases := map[ovm.Phase]int{}
	for _, m := range app.MemberStatus {
		phases[m.Phase]++
	}
	assert.Equal(t, map[ovm.Phase]int{ovm.PhaseReady: 2, ovm.PhaseFailed: 1}, phases, "member outcomes")
	var u apitypes.Usage
	e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc)+"/usage", tn.token, nil).decode(t, &u)
	// The failed member gave its quota back: two containers of 100m/16MiB.
	assert.Equal(t, ovm.Usage{Instances: 2, CPU: 200, Memory: 32 * ovm.MiB}, u.Usage, "usage")

	var del core.VAppTasks
	e.must(http.StatusAccepted, "DELETE", "/v1/vapps/"+string(vt.VApp.ID), tn.token, nil).decode(t, &del)
	require.Len(t, del.Tasks, 3)
	for _, tk := range del.Tasks {
		assert.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, tk.ID).State)
	}
	e.must(http.StatusNotFound, "GET", "/v1/vapps/"+string(vt.VApp.ID), tn.token, nil)
	e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc)+"/usage", tn.token, nil).decode(t, &u)
	assert.Equal(t, ovm.Usage{}, u.Usage, "usage after the vApp is gone")
}

// TestVolumesImportAndPages covers volumes (create, grow, delete with their
// quota), importing a discovered instance, and cursor pagination.
func TestVolumesImportAndPages(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)

	var vt core.VolumeTask
	e.must(http.StatusAccepted, "POST", "/v1/volumes", tn.token, map[string]any{"name": "data", "sizeBytes": ovm.GiB}).decode(t, &vt)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, vt.Task.ID).State)
	var grown core.VolumeTask
	e.must(http.StatusAccepted, "PATCH", "/v1/volumes/"+string(vt.Volume.ID), tn.token, map[string]any{"sizeBytes": 2 * ovm.GiB}).decode(t, &grown)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, grown.Task.ID).State)
	var u apitypes.Usage
	e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc)+"/usage", tn.token, nil).decode(t, &u)
	assert.Equal(t, 2*ovm.GiB, u.Usage.Disk, "disk usage after growing")
	var dv core.VolumeTask
	e.must(http.StatusAccepted, "DELETE", "/v1/volumes/"+string(vt.Volume.ID), tn.token, nil).decode(t, &dv)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, dv.Task.ID).State)
	e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc)+"/usage", tn.token, nil).decode(t, &u)
	assert.Equal(t, ovm.Bytes(0), u.Usage.Disk, "disk usage after delete")

	var h ovm.Host
	e.must(http.StatusOK, "GET", "/v1/hosts/"+string(pl.hosts[0]), e.admin, nil).decode(t, &h)
	fh, err := e.fakes.Host(h.Endpoint)
	require.NoError(t, err)
	_, err = fh.Hypervisor.AddUnmanaged("legacy", ovm.InstanceSpec{Type: ovm.TypeVM, CPU: 2000, Memory: ovm.GiB, Image: ovm.Template("old.qcow2")}, true)
	require.NoError(t, err)
	var ds []core.Discovered
	e.must(http.StatusOK, "POST", "/v1/hosts/"+string(h.ID)+"/sync", e.admin, nil).decode(t, &ds)
	require.Len(t, ds, 1)
	var inst ovm.Instance
	e.must(http.StatusCreated, "POST", "/v1/discovered/"+string(ds[0].ID)+"/import", e.admin, map[string]any{"vdcId": tn.vdc, "name": "legacy"}).decode(t, &inst)
	assert.Equal(t, ds[0].NativeID, inst.Status.NativeID, "the import points at the native id")
	e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc)+"/usage", tn.token, nil).decode(t, &u)
	assert.Equal(t, ovm.Usage{CPU: 2000, Memory: ovm.GiB, Instances: 1}, u.Usage, "quota reserved by the import")
	e.must(http.StatusNotFound, "GET", "/v1/discovered/"+string(ds[0].ID), e.admin, nil)
	// The imported instance is managed like any other: stop it.
	var st core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances/"+string(inst.ID)+"/stop", tn.token, nil).decode(t, &st)
	assert.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, st.Task.ID).State)

	// Pages: 5 networks... the quota allows 5, one per page of 2.
	for i := range 4 {
		e.must(http.StatusCreated, "POST", "/v1/networks", tn.token, map[string]any{"name": fmt.Sprintf("n%d", i), "subnet": fmt.Sprintf("10.%d.0.0/24", i)})
	}
	var seen []ovm.ID
	path := "/v1/networks?limit=3"
	for pages := 0; path != ""; pages++ {
		require.Less(t, pages, 3, "pages of 3 for 4 networks")
		r := e.must(http.StatusOK, "GET", path, tn.token, nil)
		var pg core.Page[ovm.Network]
		r.decode(t, &pg)
		for _, n := range pg.Items {
			seen = append(seen, n.ID)
		}
		path = ""
		if link := r.header.Get("Link"); link != "" {
			require.NotEmpty(t, pg.Next, "Link without next")
			path = strings.TrimSuffix(strings.TrimPrefix(strings.Split(link, ";")[0], "<"), ">")
		}
	}
	assert.Len(t, seen, 4, "networks over every page")
	problemOf(t, e.must(http.StatusUnprocessableEntity, "GET", "/v1/networks?cursor=bogus", tn.token, nil))
}

// TestMetricsAndHealth: /metrics counts requests by route and status, tasks
// by kind and state, and driver calls; /healthz and /readyz answer.
func TestMetricsAndHealth(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "web", "spec": container()}).decode(t, &it)
	e.waitTask(tn.token, it.Task.ID)
	e.must(http.StatusOK, "GET", "/healthz", "", nil)
	e.must(http.StatusOK, "GET", "/readyz", "", nil)
	e.must(http.StatusOK, "GET", "/docs", "", nil)
	// The engine counts a task just after its final state is committed, so
	// a watcher may see "succeeded" a moment before the counter moves.
	var body string
	require.Eventually(t, func() bool {
		body = string(e.must(http.StatusOK, "GET", "/metrics", e.admin, nil).body)
		return strings.Contains(body, `ovm_tasks_total{kind="instance.create",state="succeeded"} 1`)
	}, 10*time.Second, 20*time.Millisecond, "task counter")
	for _, want := range []string{
		`ovm_http_requests_total{method="POST",route="/v1/instances",status="202"} 1`,
		`ovm_tasks_total{kind="instance.create",state="succeeded"} 1`,
		`ovm_driver_calls_total{kind="fake",method="Create",outcome="ok"} 1`,
		`ovm_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
	} {
		assert.Contains(t, body, want)
	}
}

// TestResizeAndRoles: a size change is a task whose quota delta is reserved
// at once; a VDC member may run instances but not manage networks or users.
func TestResizeAndRoles(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "web", "spec": container(), "start": true}).decode(t, &it)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, it.Task.ID).State)

	var rs core.InstanceTask
	e.must(http.StatusAccepted, "PATCH", "/v1/instances/"+string(it.Instance.ID), tn.token, map[string]any{"cpuMilli": 500}).decode(t, &rs)
	require.NotNil(t, rs.Task)
	assert.Equal(t, core.TaskInstanceResize, rs.Task.Kind)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, rs.Task.ID).State)
	var u apitypes.Usage
	e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc)+"/usage", tn.token, nil).decode(t, &u)
	assert.Equal(t, ovm.MilliCPU(500), u.Usage.CPU, "cpu usage after the resize")
	problemOf(t, e.must(http.StatusForbidden, "PATCH", "/v1/instances/"+string(it.Instance.ID), tn.token, map[string]any{"cpuMilli": 64000}))

	var member core.NewUser
	e.must(http.StatusCreated, "POST", "/v1/users", tn.token, map[string]any{"name": "bob", "role": "vdc-member"}).decode(t, &member)
	assert.Equal(t, tn.vdc, member.VDCID, "a vdc admin creates users in its own vdc")
	assert.NotEmpty(t, member.Password, "a generated password is returned once")
	bob := e.login("bob", member.Password)
	problemOf(t, e.must(http.StatusForbidden, "POST", "/v1/networks", bob, map[string]any{"name": "n", "subnet": "10.0.0.0/24"}))
	problemOf(t, e.must(http.StatusForbidden, "POST", "/v1/users", bob, map[string]any{"name": "eve", "role": "vdc-member"}))
	problemOf(t, e.must(http.StatusForbidden, "POST", "/v1/users", tn.token, map[string]any{"name": "root2", "role": "admin"}))
	var bi core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", bob, map[string]any{"name": "bobs", "spec": container()}).decode(t, &bi)
	// Disabling bob logs him out at once on this replica.
	e.must(http.StatusOK, "PATCH", "/v1/users/"+string(member.ID), tn.token, map[string]any{"disabled": true})
	e.must(http.StatusUnauthorized, "GET", "/v1/instances", bob, nil)
}
