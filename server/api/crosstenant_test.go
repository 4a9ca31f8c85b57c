package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// The rules of the cross-tenant test, as a tenant of VDC B acting on VDC
// A's objects and on platform objects:
//   - byID: the path names an object (A's, or a platform object): 404.
//   - adminOnly: an administrators' route that names no object: 403.
//   - hidden: an administrators' route that names no object and hides
//     itself from tenants (the storage pools): 404.
//   - inA: a create whose body names VDC A as its vdcId: 404.
//   - listOwn: a list or read of one's own things: 200, with none of A's
//     ids in the body; with ?vdcId=A (when the route takes it): 404.
//   - own: an operation on one's own user (create a token): 2xx.
//   - presented: an operation on the token presented (log out), which
//     names no id: with a token B makes for it, 2xx; that token is 401
//     afterwards while B's own token and A's objects are untouched.
//   - public: needs no token (login): not a tenancy question.
type rule int

const (
	byID rule = iota
	adminOnly
	hidden
	inA
	listOwn
	own
	presented
	public
)

// crossTenantRules lists every operation of the API. An operation missing
// here fails TestCrossTenant: a new route cannot slip through untested.
var crossTenantRules = map[string]rule{
	"login": public, "logout": presented, "get-me": listOwn, "list-tokens": listOwn, "create-token": own, "delete-token": byID,
	"list-datacenters": adminOnly, "create-datacenter": adminOnly, "get-datacenter": byID, "update-datacenter": byID, "delete-datacenter": byID,
	"list-pools": adminOnly, "create-pool": adminOnly, "get-pool": byID, "update-pool": byID, "delete-pool": byID,
	"list-hosts": adminOnly, "register-host": adminOnly, "get-host": byID, "update-host": byID, "delete-host": byID,
	"set-host-maintenance": byID, "sync-host": byID, "set-host-bmc": byID, "delete-host-bmc": byID,
	"power-on-host":   byID,
	"list-discovered": adminOnly, "get-discovered": byID, "import-discovered": byID,
	"list-vdcs": listOwn, "create-vdc": adminOnly, "get-vdc": byID, "get-vdc-usage": byID, "set-vdc-quota": byID, "delete-vdc": byID,
	"list-users": listOwn, "create-user": inA, "get-user": byID, "update-user": byID, "delete-user": byID,
	"list-networks": listOwn, "create-network": inA, "get-network": byID, "delete-network": byID,
	"list-volumes": listOwn, "create-volume": inA, "get-volume": byID, "resize-volume": byID, "delete-volume": byID,
	"list-instances": listOwn, "create-instance": inA, "get-instance": byID, "update-instance": byID, "delete-instance": byID,
	"start-instance": byID, "stop-instance": byID, "reboot-instance": byID, "exec-instance": byID, "get-instance-console": byID,
	"create-terminal-ticket": byID,
	"migrate-instance":       byID, "cancel-instance-migration": byID,
	"list-vapps": listOwn, "deploy-vapp": inA, "get-vapp": byID, "delete-vapp": byID,
	"get-instance-metrics": byID, "get-host-metrics": byID, "get-vdc-metrics": byID,
	"list-scaling-groups": listOwn, "create-scaling-group": inA, "get-scaling-group": byID, "delete-scaling-group": byID,
	"update-scaling-group":   byID,
	"list-scaling-decisions": byID,
	"list-alert-rules":       listOwn, "create-alert-rule": inA, "get-alert-rule": byID, "delete-alert-rule": byID,
	"list-metric-alerts": listOwn, "get-metric-alert": byID,
	"list-tasks": listOwn, "get-task": byID, "watch-task": byID,
	"list-alerts": adminOnly, "get-alert": byID, "ack-alert": byID,
	"list-snapshots": listOwn, "list-instance-snapshots": byID, "create-instance-snapshot": byID, "get-instance-snapshot": byID,
	"revert-instance-snapshot": byID, "delete-instance-snapshot": byID, "list-volume-snapshots": byID, "create-volume-snapshot": byID,
	"get-volume-snapshot": byID, "revert-volume-snapshot": byID, "delete-volume-snapshot": byID,
	"list-chef-servers": listOwn, "register-chef-server": adminOnly, "get-chef-server": byID, "update-chef-server": byID,
	"delete-chef-server": byID, "get-chef-catalog": byID, "enrol-instance": byID, "get-instance-chef": byID, "unenrol-instance": byID,
	"list-chef-runs": listOwn, "create-chef-run": inA, "get-chef-run": byID, "cancel-chef-run": byID, "retry-chef-run": byID,
	"list-audit-events": listOwn, "backup": adminOnly,
	"list-storage-pools": hidden, "register-storage-pool": hidden, "get-storage-pool": byID, "update-storage-pool": byID,
	"delete-storage-pool": byID, "attach-volume": byID, "detach-volume": byID,
	"convert-image":   inA,
	"list-registries": listOwn, "register-registry": adminOnly, "get-registry": byID, "update-registry": byID, "delete-registry": byID,
	"list-registry-repositories": byID, "list-registry-tags": byID, "delete-registry-tag": byID, "list-registry-images": byID,
	"push-registry-image": byID, "commit-instance": byID,
}

// world is VDC A's objects and the platform's, by the collection a path
// starts with.
type world struct {
	ids  map[string]ovm.ID
	vdcA ovm.ID
	netA ovm.ID
	all  []ovm.ID // every id of A and of the platform
}

// buildWorld makes VDC A with one of everything, and VDC B's tenant.
func buildWorld(t *testing.T, e *env) (world, tenant) {
	pl := e.setupPlatform(2)
	a := e.newTenant("vdc-a", pl.pool, quota)
	b := e.newTenant("vdc-b", pl.pool, quota)
	w := world{ids: map[string]ovm.ID{"datacenters": pl.dc, "pools": pl.pool, "hosts": pl.hosts[0], "vdcs": a.vdc, "users": a.user}, vdcA: a.vdc}

	var n ovm.Network
	e.must(http.StatusCreated, "POST", "/v1/networks", a.token, map[string]any{"name": "net-a", "subnet": "10.9.0.0/24"}).decode(t, &n)
	w.ids["networks"], w.netA = n.ID, n.ID
	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", a.token, map[string]any{"name": "inst-a", "spec": container(n.ID), "start": true}).decode(t, &it)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(a.token, it.Task.ID).State)
	w.ids["instances"], w.ids["tasks"] = it.Instance.ID, it.Task.ID
	var vt core.VolumeTask
	e.must(http.StatusAccepted, "POST", "/v1/volumes", a.token, map[string]any{"name": "vol-a", "sizeBytes": 1 << 30}).decode(t, &vt)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(a.token, vt.Task.ID).State)
	w.ids["volumes"] = vt.Volume.ID
	var vapp core.VAppTasks
	e.must(http.StatusAccepted, "POST", "/v1/vapps", a.token, map[string]any{"name": "app-a", "antiAffinity": true,
		"members": []map[string]any{{"name": "app-a-1", "spec": container()}, {"name": "app-a-2", "spec": container()}}}).decode(t, &vapp)
	for _, tk := range vapp.Tasks {
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(a.token, tk.ID).State)
	}
	w.ids["vapps"] = vapp.VApp.ID
	// A VM with a snapshot, and a snapshot of the volume, for the
	// snapshot routes (see fill).
	var vm core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", a.token, map[string]any{"name": "vm-a", "spec": map[string]any{"type": "vm",
		"cpuMilli": 1000, "memoryBytes": 64 << 20, "image": map[string]string{"format": "qcow2", "name": "tiny.qcow2"}}}).decode(t, &vm)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(a.token, vm.Task.ID).State)
	w.ids["vm"] = vm.Instance.ID
	w.ids["vm-snapshot"] = e.snapshot(a.token, "instances", vm.Instance.ID, "snap-a").ID
	w.ids["volume-snapshot"] = e.snapshot(a.token, "volumes", vt.Volume.ID, "snap-a").ID
	var tok core.NewToken
	e.must(http.StatusCreated, "POST", "/v1/tokens", a.token, map[string]any{"name": "ci"}).decode(t, &tok)
	w.ids["tokens"] = tok.ID
	var sg core.ScalingGroup
	e.must(http.StatusCreated, "POST", "/v1/scaling-groups", a.token, map[string]any{"name": "grp-a", "spec": container(),
		"policy": map[string]any{"min": 0, "max": 2}}).decode(t, &sg)
	w.ids["scaling-groups"] = sg.ID
	var rule core.AlertRule
	e.must(http.StatusCreated, "POST", "/v1/alert-rules", a.token, map[string]any{"name": "any-a", "subject": "instance",
		"metric": "memoryLimitBytes", "comparison": "above", "threshold": 0}).decode(t, &rule)
	w.ids["alert-rules"] = rule.ID
	sys := core.NewSystem(e.svc)
	require.NoError(t, sys.RecordMetrics(t.Context(), []store.MetricSample{{Subject: it.Instance.ID, Kind: store.MetricInstance,
		VDCID: a.vdc, At: time.Now(), MemoryLimit: 1 << 20}}, nil))
	_, err := sys.EvaluateMetricAlerts(t.Context(), time.Second, nil)
	require.NoError(t, err)
	var fired core.Page[core.MetricAlert]
	e.must(http.StatusOK, "GET", "/v1/metric-alerts", a.token, nil).decode(t, &fired)
	require.Len(t, fired.Items, 1)
	w.ids["metric-alerts"] = fired.Items[0].ID

	var h ovm.Host
	e.must(http.StatusOK, "GET", "/v1/hosts/"+string(pl.hosts[0]), e.admin, nil).decode(t, &h)
	fh, err := e.fakes.Host(h.Endpoint)
	require.NoError(t, err)
	_, err = fh.Hypervisor.AddUnmanaged("legacy", ovm.InstanceSpec{Type: ovm.TypeVM, CPU: 1000, Memory: 512 * ovm.MiB, Image: ovm.Template("old.qcow2")}, true)
	require.NoError(t, err)
	var ds []core.Discovered
	e.must(http.StatusOK, "POST", "/v1/hosts/"+string(pl.hosts[0])+"/sync", e.admin, nil).decode(t, &ds)
	require.Len(t, ds, 1, "discovered objects on the host")
	w.ids["discovered"] = ds[0].ID
	al, err := core.NewSystem(e.svc).RaiseAlert(t.Context(), ha.Alert{Kind: ha.AlertFenceUnconfirmed, Host: pl.hosts[0], Instances: []ovm.ID{it.Instance.ID},
		Message: "no fence confirmed that host 1 is down"}, nil)
	require.NoError(t, err)
	w.ids["alerts"] = al.ID
	// No Chef server answers here: ids nobody has (TestChefDocker checks
	// the Chef routes across tenants on a real one).
	w.ids["chef/servers"], w.ids["chef/runs"] = ovm.NewID(), ovm.NewID()
	// No registry answers here either (TestRegistries checks the
	// namespaces across tenants on the real one).
	w.ids["registries"] = ovm.NewID()
	w.ids["storage-pools"] = e.registerPool(map[string]any{"name": "disks-a", "kind": "local", "path": "/srv/disks", "hostIds": []ovm.ID{pl.hosts[0]}}).ID
	for _, id := range w.ids {
		w.all = append(w.all, id)
	}
	w.all = append(w.all, vapp.VApp.InstanceIDs...)
	return w, b
}

// bodies are valid bodies for the operations that take one, so that
// tenancy, not validation, decides the answer.
func bodies(w world) map[string]any {
	spec := container()
	return map[string]any{
		"create-token":           map[string]any{"name": "b-token"},
		"update-datacenter":      map[string]any{"description": "x"},
		"create-datacenter":      map[string]any{"name": "dc-b"},
		"update-pool":            map[string]any{"haEnabled": true},
		"create-pool":            map[string]any{"name": "pool-b", "datacenterId": w.ids["datacenters"]},
		"register-host":          map[string]any{"name": "host-b", "kind": "fake", "endpoint": "fake://host-b", "poolId": w.ids["pools"]},
		"update-host":            map[string]any{"credentials": map[string]string{"username": "x"}},
		"set-host-maintenance":   map[string]any{"enabled": true},
		"set-host-bmc":           map[string]any{"address": "127.0.0.1", "port": 9, "username": "admin", "password": "x"},
		"import-discovered":      map[string]any{"vdcId": w.vdcA, "name": "stolen"},
		"create-vdc":             map[string]any{"name": "vdc-c", "poolId": w.ids["pools"], "quota": quota},
		"set-vdc-quota":          map[string]any{"quota": ovm.Quota{}},
		"create-user":            map[string]any{"name": "intruder", "role": "vdc-member", "vdcId": w.vdcA, "password": "long-enough-password"},
		"update-user":            map[string]any{"disabled": true},
		"create-network":         map[string]any{"vdcId": w.vdcA, "name": "net-b", "subnet": "10.8.0.0/24"},
		"create-volume":          map[string]any{"vdcId": w.vdcA, "name": "vol-b", "sizeBytes": 1 << 20},
		"resize-volume":          map[string]any{"sizeBytes": 2 << 30},
		"create-instance":        map[string]any{"vdcId": w.vdcA, "name": "inst-b", "spec": spec},
		"update-instance":        map[string]any{"labels": map[string]string{"owner": "b"}},
		"exec-instance":          map[string]any{"command": []string{"hostname"}},
		"create-terminal-ticket": map[string]any{"mode": "serial"},
		"deploy-vapp":            map[string]any{"vdcId": w.vdcA, "name": "app-b", "members": []map[string]any{{"name": "m1", "spec": spec}}},

		// The snapshot routes.
		"create-instance-snapshot": map[string]any{"name": "snap-b"},
		"create-volume-snapshot":   map[string]any{"name": "snap-b"},
		"register-chef-server":     map[string]any{"name": "chef-b", "url": "http://127.0.0.1:1/", "clientName": "b", "key": "k"},
		"update-chef-server":       map[string]any{"guestUrl": "http://chef.example/"},
		"register-registry":        map[string]any{"name": "reg-b", "address": "127.0.0.1:1"},
		"update-registry":          map[string]any{"insecure": true},
		"commit-instance":          map[string]any{"repository": "stolen", "tag": "1"},
		"enrol-instance":           map[string]any{"serverId": w.ids["chef/servers"]},
		"create-chef-run":          map[string]any{"vdcId": w.vdcA, "all": true},
		"register-storage-pool":    map[string]any{"name": "pool-b", "kind": "local", "path": "/srv/b", "hostIds": []ovm.ID{w.ids["hosts"]}},
		"update-storage-pool":      map[string]any{"templateLibrary": true},
		"attach-volume":            map[string]any{"instanceId": w.ids["instances"]},
		"create-scaling-group":     map[string]any{"vdcId": w.vdcA, "name": "grp-b", "spec": spec, "policy": map[string]any{"min": 0, "max": 1}},
		"update-scaling-group":     map[string]any{"desired": 1},
		"create-alert-rule": map[string]any{"vdcId": w.vdcA, "name": "rule-b", "subject": "instance", "metric": "cpuPercent",
			"comparison": "above", "threshold": 1},
		"convert-image": map[string]any{"direction": "to-template", "source": "registry.test/app:1",
			"target": map[string]any{"name": "conv-b", "vdcId": w.vdcA}},
	}
}

// apiOperation is one operation of the OpenAPI document.
type apiOperation struct {
	id, method, path string
	query            []string
	secured          bool
}

// operations reads every operation from /openapi.json.
func operations(t *testing.T, e *env) []apiOperation {
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Parameters  []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
			Security []map[string][]string `json:"security"`
		} `json:"paths"`
	}
	e.must(http.StatusOK, "GET", "/openapi.json", "", nil).decode(t, &doc)
	var out []apiOperation
	for path, methods := range doc.Paths {
		for method, o := range methods {
			ao := apiOperation{id: o.OperationID, method: strings.ToUpper(method), path: path, secured: len(o.Security) > 0}
			for _, p := range o.Parameters {
				if p.In == "query" {
					ao.query = append(ao.query, p.Name)
				}
			}
			out = append(out, ao)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// TestCrossTenant calls every operation of the OpenAPI document as a tenant
// of VDC B with VDC A's ids and platform ids, and expects the rule of the
// operation (see crossTenantRules); afterwards A's objects are unchanged.
func TestCrossTenant(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	w, b := buildWorld(t, e)
	bs := bodies(w)
	ops := operations(t, e)
	require.Len(t, ops, len(crossTenantRules), "operations in the document vs rules")
	var before ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(w.ids["instances"]), e.admin, nil).decode(t, &before)

	for _, o := range ops {
		t.Run(o.id, func(t *testing.T) {
			r, ok := crossTenantRules[o.id]
			require.True(t, ok, "operation %s (%s %s) has no cross-tenant rule: add one to crossTenantRules", o.id, o.method, o.path)
			if r == public {
				assert.False(t, o.secured, "a public operation needs no token")
				return
			}
			require.True(t, o.secured, "operation %s must require a bearer token", o.id)
			// Without a token every secured operation is 401.
			path := fill(t, o.path, w)
			e.must(http.StatusUnauthorized, o.method, path, "", bs[o.id])
			token := b.token
			if r == presented {
				// Not B's own token, which the later operations need.
				var tok core.NewToken
				e.must(http.StatusCreated, "POST", "/v1/tokens", b.token, map[string]any{"name": "b-" + o.id}).decode(t, &tok)
				token = tok.Token
			}
			got := e.do(o.method, path, token, bs[o.id])
			switch r {
			case byID:
				assert.Equal(t, http.StatusNotFound, got.status, "%s %s as tenant B: got %s, want 404", o.method, path, got)
			case adminOnly:
				assert.Equal(t, http.StatusForbidden, got.status, "%s %s as tenant B: got %s, want 403", o.method, path, got)
			case hidden:
				assert.Equal(t, http.StatusNotFound, got.status, "%s %s as tenant B: got %s, want 404", o.method, path, got)
			case inA:
				assert.Equal(t, http.StatusNotFound, got.status, "%s %s into vdc A as tenant B: got %s, want 404", o.method, path, got)
			case listOwn:
				assert.Equal(t, http.StatusOK, got.status, "%s %s as tenant B: got %s, want 200", o.method, path, got)
				for _, id := range w.all {
					assert.NotContains(t, string(got.body), string(id), "%s %s as tenant B shows an id of A or the platform", o.method, path)
				}
				if slices.Contains(o.query, "vdcId") {
					other := e.do(o.method, path+"?vdcId="+string(w.vdcA), b.token, nil)
					assert.Equal(t, http.StatusNotFound, other.status, "%s %s?vdcId=A as tenant B: got %s, want 404", o.method, path, other)
				}
			case own:
				assert.Less(t, got.status, 300, "%s %s as tenant B on its own: got %s, want 2xx", o.method, path, got)
			case presented:
				assert.Less(t, got.status, 300, "%s %s as tenant B with its own token: got %s, want 2xx", o.method, path, got)
				e.must(http.StatusUnauthorized, "GET", "/v1/me", token, nil)
				e.must(http.StatusOK, "GET", "/v1/me", b.token, nil)
			}
		})
	}

	var al core.Alert
	e.must(http.StatusOK, "GET", "/v1/alerts/"+string(w.ids["alerts"]), e.admin, nil).decode(t, &al)
	assert.True(t, al.Open(), "the platform's alert was resolved by tenant B's calls: %+v", al)
	var after ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(w.ids["instances"]), e.admin, nil).decode(t, &after)
	assert.Equal(t, before, after, "A's instance changed under tenant B's calls")
	for _, path := range []string{fill(t, "/v1/instances/{id}/snapshots/{snapshotId}", w), fill(t, "/v1/volumes/{id}/snapshots/{snapshotId}", w)} {
		var sn core.SnapshotInfo
		e.must(http.StatusOK, "GET", path, e.admin, nil).decode(t, &sn)
		assert.Equal(t, ovm.PhaseReady, sn.Phase, "A's snapshot %s under tenant B's calls", path)
		assert.Empty(t, sn.Message)
	}
	var v ovm.VDC
	e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(w.vdcA), e.admin, nil).decode(t, &v)
	assert.Equal(t, quota, v.Quota, "A's quota changed under tenant B's calls")
	e.must(http.StatusOK, "GET", "/v1/tokens", e.admin, nil)
	_, err := e.svc.Authenticate(context.Background(), "ovm_not-a-token")
	assert.ErrorIs(t, err, core.ErrUnauthenticated)
}

// fill puts into a path template the id of A's (or the platform's) object
// of the collection the path names.
func fill(t *testing.T, path string, w world) string {
	if !strings.Contains(path, "{id}") {
		return path
	}
	coll := strings.Split(strings.TrimPrefix(path, "/v1/"), "/")[0]
	if strings.Contains(path, "/snapshots") {
		// A's VM and its snapshot, or A's volume and its snapshot.
		owner, snap := w.ids["vm"], w.ids["vm-snapshot"]
		if coll == "volumes" {
			owner, snap = w.ids["volumes"], w.ids["volume-snapshot"]
		}
		return strings.NewReplacer("{id}", string(owner), "{snapshotId}", string(snap)).Replace(path)
	}
	if coll == "chef" {
		coll = strings.Join(strings.Split(strings.TrimPrefix(path, "/v1/"), "/")[:2], "/")
	}
	id, ok := w.ids[coll]
	require.True(t, ok, "no object of collection %q to fill %s with", coll, path)
	return strings.Replace(path, "{id}", string(id), 1)
}

var _ = json.Marshal
