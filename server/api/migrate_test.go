package api

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
)

// fakeVM is a small VM's spec.
func fakeVM() map[string]any {
	return map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 256 << 20,
		"image": map[string]string{"format": "qcow2", "name": "d.qcow2"}}
}

// instanceAt reads an instance as the administrator sees it.
func (e *env) instanceAt(id ovm.ID) ovm.Instance {
	e.t.Helper()
	var inst ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(id), e.admin, nil).decode(e.t, &inst)
	return inst
}

// hostAt reads a host as the administrator sees it.
func (e *env) hostAt(id ovm.ID) ovm.Host {
	e.t.Helper()
	var h ovm.Host
	e.must(http.StatusOK, "GET", "/v1/hosts/"+string(id), e.admin, nil).decode(e.t, &h)
	return h
}

// migrate asks for a migration and waits for its task.
func (e *env) migrate(token string, id ovm.ID, body map[string]any) ovm.Task {
	e.t.Helper()
	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances/"+string(id)+"/migrate", token, body).decode(e.t, &it)
	require.NotNil(e.t, it.Task)
	return e.waitTask(token, it.Task.ID)
}

// TestMigrateFake moves VMs between fake hosts through the API: placement
// picks the target for a tenant, the host allocations move with the
// record, and bad requests get problems naming the field.
func TestMigrateFake(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(3)
	tn := e.newTenant("acme", pl.pool, quota)
	vm := e.createRunning(tn, "vm1", fakeVM())
	from := e.instanceAt(vm.ID).Status.HostID
	before := e.hostAt(from).Allocated

	t.Run("tenant, placement picks", func(t *testing.T) {
		task := e.migrate(tn.token, vm.ID, map[string]any{})
		require.Equal(t, ovm.TaskSucceeded, task.State, "migrate task: %+v", task)
		for _, l := range task.Log {
			for _, h := range pl.hosts {
				assert.NotContains(t, l.Message, e.hostAt(h).Name, "a tenant's task log names no host: %q", l.Message)
			}
		}
		var seen ovm.Instance
		e.must(http.StatusOK, "GET", "/v1/instances/"+string(vm.ID), tn.token, nil).decode(t, &seen)
		assert.Empty(t, seen.Status.HostID, "a tenant sees no host")
		inst := e.instanceAt(vm.ID)
		assert.NotEqual(t, from, inst.Status.HostID, "host after the migration")
		assert.Equal(t, ovm.PowerRunning, inst.Status.Power)
		assert.Equal(t, before.Sub(ovm.Resources{CPU: 1000, Memory: 256 << 20}), e.hostAt(from).Allocated,
			"the source host's allocation: want the instance's share released")
		assert.Equal(t, ovm.Resources{CPU: 1000, Memory: 256 << 20}, e.hostAt(inst.Status.HostID).Allocated,
			"the target host's allocation: want the instance's share")
	})

	t.Run("the engine refuses", func(t *testing.T) {
		at := e.instanceAt(vm.ID).Status.HostID
		fh, err := e.fakes.Host(e.hostAt(at).Endpoint)
		require.NoError(t, err)
		fh.Hypervisor.FailNext(fake.MethodMigrate, ovm.Errorf(ovm.KindUnavailable, "the engine's own words"))
		task := e.migrate(e.admin, vm.ID, map[string]any{})
		assert.Equal(t, ovm.TaskRolledBack, task.State, "migrate task: %+v", task)
		assert.Contains(t, task.Error, "the engine's own words")
		inst := e.instanceAt(vm.ID)
		assert.Equal(t, at, inst.Status.HostID, "the instance stays")
		assert.Equal(t, ovm.PhaseReady, inst.Status.Phase)
		assert.Contains(t, inst.Status.Message, "did not happen")
		var total ovm.Resources
		for _, h := range pl.hosts {
			total = total.Add(e.hostAt(h).Allocated)
		}
		assert.Equal(t, ovm.Resources{CPU: 1000, Memory: 256 << 20}, total, "what the hosts hold: the instance's share once, the target's given back")
	})

	// A second pool with a host, and a host of the first pool down.
	var pool2 ovm.ResourcePool
	e.must(http.StatusCreated, "POST", "/v1/pools", e.admin, map[string]any{"name": "pool2", "datacenterId": pl.dc, "policy": "PERFORMANCE"}).decode(t, &pool2)
	var other ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "other", "kind": "fake",
		"endpoint": "fake://other-" + string(ovm.NewID().Short()), "poolId": pool2.ID}).decode(t, &other)
	at := e.instanceAt(vm.ID).Status.HostID
	var down ovm.ID
	for _, h := range pl.hosts {
		if h != at {
			down = h
			break
		}
	}
	require.NoError(t, core.NewSystem(e.svc).SetHostState(t.Context(), down, ovm.HostFailed, "two probes failed", nil))
	ctr := e.createRunning(tn, "c1", container())

	for _, tt := range []struct {
		name   string
		token  string
		id     ovm.ID
		body   map[string]any
		status int
		field  string
		text   string
	}{
		{"tenant naming a host", tn.token, vm.ID, map[string]any{"hostId": string(down)}, 422, "body.hostId", "only administrators"},
		{"tenant naming a pool", tn.token, vm.ID, map[string]any{"storagePoolId": string(ovm.NewID())}, 422, "body.storagePoolId", "only administrators"},
		{"unknown mode", e.admin, vm.ID, map[string]any{"mode": "teleport"}, 422, "body.mode", ""},
		{"host of another pool", e.admin, vm.ID, map[string]any{"hostId": string(other.ID)}, 422, "body.hostId", "outside the placement scope"},
		{"host that is down", e.admin, vm.ID, map[string]any{"hostId": string(down)}, 422, "body.hostId", "state failed"},
		{"the host it is on", e.admin, vm.ID, map[string]any{"hostId": string(at)}, 422, "body.hostId", "the host the instance is on"},
		{"unknown host", e.admin, vm.ID, map[string]any{"hostId": string(ovm.NewID())}, 422, "body.hostId", ""},
		{"storage without a pool", e.admin, vm.ID, map[string]any{"mode": "storage"}, 422, "body.storagePoolId", "required"},
		{"container without shared volumes", tn.token, ctr.ID, map[string]any{}, 501, "", "no volumes on a shared storage pool"},
		{"container live", tn.token, ctr.ID, map[string]any{"mode": "live"}, 422, "body.mode", "cold"},
		{"not migrating", tn.token, vm.ID, nil, 409, "", "not migrating"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := "/v1/instances/" + string(tt.id) + "/migrate"
			if tt.body == nil {
				path += "/cancel"
			}
			r := e.do("POST", path, tt.token, tt.body)
			require.Equal(t, tt.status, r.status, "got %s", r)
			p := problemOf(t, r)
			if tt.field != "" {
				assert.Contains(t, fieldLocations(p), tt.field)
			}
			assert.Contains(t, p.Detail+fieldMessages(p), tt.text)
			if tt.token == tn.token {
				assert.NotContains(t, string(r.body), string(down), "a tenant's problem names no host")
			}
		})
	}

	t.Run("no host fits", func(t *testing.T) {
		// Only the failed host is left in the pool besides the instance's.
		var third ovm.ID
		for _, h := range pl.hosts {
			if h != at && h != down {
				third = h
			}
		}
		var h ovm.Host
		e.must(http.StatusOK, "PUT", "/v1/hosts/"+string(third)+"/maintenance", e.admin, map[string]any{"enabled": true}).decode(t, &h)
		t.Cleanup(func() {
			e.must(http.StatusOK, "PUT", "/v1/hosts/"+string(third)+"/maintenance", e.admin, map[string]any{"enabled": false})
		})
		r := e.must(http.StatusServiceUnavailable, "POST", "/v1/instances/"+string(vm.ID)+"/migrate", e.admin, map[string]any{})
		p := problemOf(t, r)
		assert.Contains(t, p.Detail, "state failed", "the administrator reads each host's reason: %s", p.Detail)
		assert.Contains(t, p.Detail, "maintenance", "the administrator reads each host's reason: %s", p.Detail)
		r = e.must(http.StatusServiceUnavailable, "POST", "/v1/instances/"+string(vm.ID)+"/migrate", tn.token, map[string]any{})
		assert.NotContains(t, string(r.body), "state failed", "a tenant reads no host's reason")
	})
}

// TestMaintenanceFake drains a fake host: its running VMs move away by
// placement and it ends in maintenance; a container without shared volumes
// keeps it entering maintenance with the reason; leaving maintenance
// returns it to placement.
func TestMaintenanceFake(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(3)
	tn := e.newTenant("acme", pl.pool, quota)
	target := pl.hosts[0]
	var vms []ovm.ID
	for i := range 4 {
		vm := e.createRunning(tn, fmt.Sprintf("vm%d", i), fakeVM())
		if at := e.instanceAt(vm.ID).Status.HostID; at != target {
			task := e.migrate(e.admin, vm.ID, map[string]any{"hostId": string(target)})
			require.Equal(t, ovm.TaskSucceeded, task.State, "%+v", task)
		}
		vms = append(vms, vm.ID)
	}
	path := "/v1/hosts/" + string(target) + "/maintenance"
	drained := func(t *testing.T, want ovm.HostState) ovm.Host {
		t.Helper()
		var h ovm.Host
		require.Eventually(t, func() bool {
			h = e.hostAt(target)
			return h.State == want
		}, 20e9, 20e6, "host state: want %s", want)
		return h
	}

	t.Run("all move", func(t *testing.T) {
		var h ovm.Host
		e.must(http.StatusOK, "PUT", path, e.admin, map[string]any{"enabled": true}).decode(t, &h)
		assert.Equal(t, ovm.HostEnteringMaintenance, h.State, "right after the request")
		assert.Contains(t, h.StateReason, "moving 4 instances away")
		h = drained(t, ovm.HostMaintenance)
		for _, id := range vms {
			inst := e.instanceAt(id)
			assert.NotEqual(t, target, inst.Status.HostID, "instance %s after the drain", inst.Name)
			assert.Equal(t, ovm.PowerRunning, inst.Status.Power)
		}
		assert.Equal(t, ovm.Resources{}, h.Allocated, "the drained host's allocation")
		// In maintenance, placement skips it.
		vm := e.createRunning(tn, "new", fakeVM())
		assert.NotEqual(t, target, e.instanceAt(vm.ID).Status.HostID, "a new instance on a host in maintenance")
	})

	t.Run("a container cannot move", func(t *testing.T) {
		e.must(http.StatusOK, "PUT", path, e.admin, map[string]any{"enabled": false})
		assert.Equal(t, ovm.HostUp, e.hostAt(target).State, "out of maintenance")
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "c1", "start": true, "spec": container()}).decode(t, &it)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, it.Task.ID).State)
		// PERFORMANCE puts it on the emptiest host: the drained one.
		require.Equal(t, target, e.instanceAt(it.Instance.ID).Status.HostID, "the container's host")
		var h ovm.Host
		e.must(http.StatusOK, "PUT", path, e.admin, map[string]any{"enabled": true}).decode(t, &h)
		assert.Equal(t, ovm.HostEnteringMaintenance, h.State)
		assert.Contains(t, h.StateReason, "c1", "the reason names the container")
		assert.Contains(t, h.StateReason, "no volumes on a shared storage pool")
		// The host monitor does not take a drain over.
		sys := core.NewSystem(e.svc)
		for _, st := range []ovm.HostState{ovm.HostUp, ovm.HostMaintenance, ovm.HostSuspect} {
			require.NoError(t, sys.SetHostState(t.Context(), target, st, "probe", nil))
			assert.Equal(t, ovm.HostEnteringMaintenance, e.hostAt(target).State, "after the monitor said %s", st)
		}
		// Leaving maintenance returns it to placement.
		e.must(http.StatusOK, "PUT", path, e.admin, map[string]any{"enabled": false})
		assert.Equal(t, ovm.HostUp, e.hostAt(target).State)
	})
}
