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

// TestVAppDeploy: a vApp with anti-affinity lands on different hosts and
// deploys as one: when a member cannot be made, every member is rolled
// back and the quota given back, unless the vApp is partial, which keeps
// and starts what was made and reports why the rest is missing.
func TestVAppDeploy(t *testing.T) {
	for _, partial := range []bool{false, true} {
		t.Run(fmt.Sprintf("partial=%v", partial), func(t *testing.T) {
			e := newEnv(t, openSQLite(t))
			pl := e.setupPlatform(3)
			tn := e.newTenant("acme", pl.pool, quota)

			// The next Create on one host fails.
			var h ovm.Host
			e.must(http.StatusOK, "GET", "/v1/hosts/"+string(pl.hosts[1]), e.admin, nil).decode(t, &h)
			fh, err := e.fakes.Host(h.Endpoint)
			require.NoError(t, err)
			fh.Hypervisor.FailNext(fake.MethodCreate, ovm.Errorf(ovm.KindUnavailable, "disk controller on fire"))

			var vt core.VAppTasks
			e.must(http.StatusAccepted, "POST", "/v1/vapps", tn.token, map[string]any{"name": "shop", "antiAffinity": true, "partial": partial,
				"members": []map[string]any{{"name": "shop-web", "spec": container()}, {"name": "shop-app", "spec": container()}, {"name": "shop-db", "spec": container()}},
			}).decode(t, &vt)
			require.Len(t, vt.Tasks, 3, "one task per member")
			assert.Equal(t, ovm.PhaseCreating, vt.VApp.Phase, "the vApp while its members are made")
			var hosts []ovm.ID
			failed := 0
			for i, tk := range vt.Tasks {
				done := e.waitTask(tn.token, tk.ID)
				if done.State != ovm.TaskSucceeded {
					failed++
					assert.Equal(t, ovm.TaskRolledBack, done.State)
					assert.Contains(t, done.Error, "disk controller on fire", "the hypervisor's own text is kept")
				}
				var inst ovm.Instance
				if e.do("GET", "/v1/instances/"+string(vt.VApp.InstanceIDs[i]), e.admin, nil).status == http.StatusOK {
					e.must(http.StatusOK, "GET", "/v1/instances/"+string(vt.VApp.InstanceIDs[i]), e.admin, nil).decode(t, &inst)
					hosts = append(hosts, inst.Status.HostID)
				}
			}
			assert.Equal(t, 1, failed, "members whose create failed")

			app := e.waitVApp(tn.token, vt.VApp.ID, func(a core.VAppInfo) bool { return a.Phase != ovm.PhaseCreating && a.TaskID == "" })
			assert.Contains(t, app.Message, "disk controller on fire", "the vApp says why")
			var u apitypes.Usage
			if !partial {
				assert.Equal(t, ovm.PhaseFailed, app.Phase, "a vApp that cannot be made whole")
				require.Eventually(t, func() bool {
					e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc)+"/usage", tn.token, nil).decode(t, &u)
					return u.Usage == ovm.Usage{}
				}, 30*time.Second, 20*time.Millisecond, "usage after the roll back: %+v", u.Usage)
				for _, id := range vt.VApp.InstanceIDs {
					e.must(http.StatusNotFound, "GET", "/v1/instances/"+string(id), e.admin, nil)
				}
				require.Eventually(t, func() bool {
					for _, id := range pl.hosts {
						var h ovm.Host
						e.must(http.StatusOK, "GET", "/v1/hosts/"+string(id), e.admin, nil).decode(t, &h)
						f, err := e.fakes.Host(h.Endpoint)
						require.NoError(t, err)
						if got, err := f.Hypervisor.List(t.Context()); err != nil || len(got) > 0 {
							return false
						}
					}
					return true
				}, 30*time.Second, 20*time.Millisecond, "the roll back leaves nothing on the hosts")
				e.must(http.StatusConflict, "POST", "/v1/vapps/"+string(vt.VApp.ID)+"/start", tn.token, nil)
			} else {
				assert.ElementsMatch(t, pl.hosts, hosts, "anti-affinity: one member per host")
				assert.Equal(t, ovm.PhaseReady, app.Phase, "a partial vApp keeps what was made")
				phases := map[string]int{}
				for _, m := range app.MemberStatus {
					phases[string(m.Phase)+"/"+string(m.Power)]++
				}
				assert.Equal(t, map[string]int{"ready/running": 2, "failed/unknown": 1}, phases, "member outcomes")
				e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc)+"/usage", tn.token, nil).decode(t, &u)
				// The failed member gave its quota back: two containers of 100m/16MiB.
				assert.Equal(t, ovm.Usage{Instances: 2, CPU: 200, Memory: 32 * ovm.MiB}, u.Usage, "usage")
			}

			var del core.VAppTasks
			e.must(http.StatusAccepted, "DELETE", "/v1/vapps/"+string(vt.VApp.ID), tn.token, nil).decode(t, &del)
			for _, tk := range del.Tasks {
				assert.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, tk.ID).State)
			}
			e.must(http.StatusNotFound, "GET", "/v1/vapps/"+string(vt.VApp.ID), tn.token, nil)
			e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc)+"/usage", tn.token, nil).decode(t, &u)
			assert.Equal(t, ovm.Usage{}, u.Usage, "usage after the vApp is gone")
		})
	}
}

// TestVAppStartOrder: the members of a vApp are made stopped and started
// together once all are made, group by group with the vApp's delay
// between groups; stop and start act on the vApp as a unit (stop in the
// reverse order), and bad start settings are refused naming the field.
func TestVAppStartOrder(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(2)
	tn := e.newTenant("acme", pl.pool, quota)
	for _, bad := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"name": "x", "startDelaySeconds": 601, "members": []map[string]any{{"name": "x1", "spec": container()}}}, "body.startDelaySeconds"},
		{map[string]any{"name": "x", "members": []map[string]any{{"name": "x1", "startGroup": -1, "spec": container()}}}, "body.members[0].startGroup"},
		{map[string]any{"name": "x", "members": []map[string]any{{"name": "x1", "startGroup": 101, "spec": container()}}}, "body.members[0].startGroup"},
	} {
		r := e.do("POST", "/v1/vapps", tn.token, bad.body)
		assert.Contains(t, []int{http.StatusBadRequest, http.StatusUnprocessableEntity}, r.status, "%v: %s", bad.body, r.body)
		assert.Contains(t, string(r.body), bad.field, "the problem names the field")
	}

	var vt core.VAppTasks
	e.must(http.StatusAccepted, "POST", "/v1/vapps", tn.token, map[string]any{"name": "stack", "startDelaySeconds": 1,
		"members": []map[string]any{
			{"name": "app", "startGroup": 2, "spec": container()},
			{"name": "db", "startGroup": 1, "spec": container()},
			{"name": "cache", "startGroup": 1, "spec": container()},
		}}).decode(t, &vt)
	app := e.waitVApp(tn.token, vt.VApp.ID, func(a core.VAppInfo) bool { return a.Phase == ovm.PhaseReady && a.TaskID == "" })
	for _, m := range app.MemberStatus {
		assert.Equal(t, ovm.PowerRunning, m.Power, "member %s", m.Name)
	}
	groupTimes := func(id ovm.ID, op string) []time.Time {
		t.Helper()
		var task ovm.Task
		e.must(http.StatusOK, "GET", "/v1/tasks/"+string(id), tn.token, nil).decode(t, &task)
		assert.Equal(t, []string{op + " group 1", op + " group 2", "record"}, stepNames(task), "steps")
		var at []time.Time
		for _, l := range task.Log {
			if strings.HasPrefix(l.Message, op+" group ") {
				at = append(at, l.Time)
			}
		}
		require.Len(t, at, 2, "log of %s: %+v", op, task.Log)
		return at
	}
	var page core.Page[ovm.Task]
	e.must(http.StatusOK, "GET", "/v1/tasks?limit=1000", tn.token, nil).decode(t, &page)
	var deploy []ovm.Task
	for _, tk := range page.Items {
		if tk.Kind == core.TaskVAppPower {
			deploy = append(deploy, tk)
		}
	}
	require.Len(t, deploy, 1, "the deployment's start task")
	at := groupTimes(deploy[0].ID, "start")
	assert.GreaterOrEqual(t, at[1].Sub(at[0]), time.Second, "the delay between the groups")

	var stop core.VAppTask
	e.must(http.StatusAccepted, "POST", "/v1/vapps/"+string(vt.VApp.ID)+"/stop", tn.token, nil).decode(t, &stop)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, stop.Task.ID).State)
	groupTimes(stop.Task.ID, "stop")
	e.must(http.StatusOK, "GET", "/v1/vapps/"+string(vt.VApp.ID), tn.token, nil).decode(t, &app)
	for _, m := range app.MemberStatus {
		assert.Equal(t, ovm.PowerStopped, m.Power, "member %s after stop", m.Name)
	}
	e.must(http.StatusConflict, "POST", "/v1/instances/"+string(app.InstanceIDs[0])+"/stop", tn.token, nil)
	var start core.VAppTask
	e.must(http.StatusAccepted, "POST", "/v1/vapps/"+string(vt.VApp.ID)+"/start", tn.token, nil).decode(t, &start)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, start.Task.ID).State)
	e.must(http.StatusOK, "GET", "/v1/vapps/"+string(vt.VApp.ID), tn.token, nil).decode(t, &app)
	for _, m := range app.MemberStatus {
		assert.Equal(t, ovm.PowerRunning, m.Power, "member %s after start", m.Name)
	}
	other := e.newTenant("other", pl.pool, quota)
	e.must(http.StatusNotFound, "POST", "/v1/vapps/"+string(vt.VApp.ID)+"/stop", other.token, nil)
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

// waitVApp polls a vApp until ok holds and returns it.
func (e *env) waitVApp(token string, id ovm.ID, ok func(core.VAppInfo) bool) core.VAppInfo {
	e.t.Helper()
	var app core.VAppInfo
	deadline := time.Now().Add(30 * time.Second)
	for {
		app = core.VAppInfo{} // fields left out of the JSON are empty
		e.must(http.StatusOK, "GET", "/v1/vapps/"+string(id), token, nil).decode(e.t, &app)
		if ok(app) {
			return app
		}
		require.True(e.t, time.Now().Before(deadline), "vApp %s never as wanted: %+v", id, app)
		time.Sleep(10 * time.Millisecond)
	}
}

// stepNames returns the names of a task's steps in order.
func stepNames(t ovm.Task) []string {
	out := make([]string, len(t.Steps))
	for i, s := range t.Steps {
		out[i] = s.Name
	}
	return out
}
