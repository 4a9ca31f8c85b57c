package api

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
	"github.com/openovm/ovm/server/store"
)

// importTask waits for the instance.import task of an imported instance
// (a platform task: administrators see it) and returns it once final.
func (e *env) importTask(inst ovm.ID) ovm.Task {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var page core.Page[ovm.Task]
		e.must(http.StatusOK, "GET", "/v1/tasks?limit=1000", e.admin, nil).decode(e.t, &page)
		for _, t := range page.Items {
			if t.Kind == core.TaskInstanceImport && t.TargetID == inst {
				return e.waitTask(e.admin, t.ID)
			}
		}
		require.True(e.t, time.Now().Before(deadline), "no import task of instance %s after 30s", inst)
		time.Sleep(10 * time.Millisecond)
	}
}

// imported imports the discovered object d into vdc as name (with body's
// extra fields) and waits for its import task to succeed.
func (e *env) imported(d core.Discovered, vdc ovm.ID, name string, body map[string]any) ovm.Instance {
	e.t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	body["vdcId"], body["name"] = vdc, name
	var inst ovm.Instance
	e.must(http.StatusCreated, "POST", "/v1/discovered/"+string(d.ID)+"/import", e.admin, body).decode(e.t, &inst)
	done := e.importTask(inst.ID)
	require.Equal(e.t, ovm.TaskSucceeded, done.State, "import task: %+v", done)
	return inst
}

// unmanagedOnFake adds a running VM of cpu and 1GiB beside OVM on the fake
// host hostID and returns the host, its fake and the VM as discovered.
func (e *env) unmanagedOnFake(hostID ovm.ID, name string, cpu ovm.MilliCPU) (ovm.Host, *drivers.FakeHost, core.Discovered) {
	e.t.Helper()
	var h ovm.Host
	e.must(http.StatusOK, "GET", "/v1/hosts/"+string(hostID), e.admin, nil).decode(e.t, &h)
	fh, err := e.fakes.Host(h.Endpoint)
	require.NoError(e.t, err)
	obj, err := fh.Hypervisor.AddUnmanaged(name, ovm.InstanceSpec{Type: ovm.TypeVM, CPU: cpu, Memory: ovm.GiB, Image: ovm.Template("old.qcow2")}, true)
	require.NoError(e.t, err)
	return h, fh, e.discoveredOf(h.ID, obj.NativeID)
}

// usage is a VDC's live quota usage.
func (e *env) usage(vdc ovm.ID) ovm.Usage {
	e.t.Helper()
	var u apitypes.Usage
	e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(vdc)+"/usage", e.admin, nil).decode(e.t, &u)
	return u.Usage
}

// syncNatives syncs a host and returns the native ids it lists as
// discovered, and those of GET /v1/discovered on that host.
func (e *env) syncNatives(host ovm.ID) (synced, listed map[string]bool) {
	e.t.Helper()
	var ds []core.Discovered
	e.must(http.StatusOK, "POST", "/v1/hosts/"+string(host)+"/sync", e.admin, nil).decode(e.t, &ds)
	synced = map[string]bool{}
	for _, d := range ds {
		synced[d.NativeID] = true
	}
	var page core.Page[core.Discovered]
	e.must(http.StatusOK, "GET", "/v1/discovered?limit=1000", e.admin, nil).decode(e.t, &page)
	listed = map[string]bool{}
	for _, d := range page.Items {
		if d.HostID == host {
			listed[d.NativeID] = true
		}
	}
	return synced, listed
}

// discoveredOf returns the discovered object of a host with a native id,
// after a sync.
func (e *env) discoveredOf(host ovm.ID, native string) core.Discovered {
	e.t.Helper()
	var ds []core.Discovered
	e.must(http.StatusOK, "POST", "/v1/hosts/"+string(host)+"/sync", e.admin, nil).decode(e.t, &ds)
	for _, d := range ds {
		if d.NativeID == native {
			return d
		}
	}
	require.Failf(e.t, "not discovered", "host %s: sync lists no %s among %+v", host, native, ds)
	return core.Discovered{}
}

// staleDiscovered records, straight in the store, a discovered object for
// an object that an instance already holds: a record such as a sync that
// raced the import, or a server of before claims, could have left. An
// import of it must be refused by the store's claim of the object.
func (e *env) staleDiscovered(d core.Discovered) ovm.ID {
	e.t.Helper()
	d.ID = ovm.NewID()
	r, err := store.NewRecord(store.KindDiscovered, d.ID, "", string(d.ID), d)
	require.NoError(e.t, err)
	r.ParentID, r.HostID = d.HostID, d.HostID
	require.NoError(e.t, e.st.Tx(context.Background(), func(ctx context.Context, tx store.Tx) error { return tx.Insert(ctx, &r) }))
	return d.ID
}

// TestImportedBeforeClaims: an instance imported by a server of before
// claims (its record points at the object, no claim holds it, and the fake
// host's object was never marked) is not offered again by a sync; a fake
// host registers once per endpoint.
func TestImportedBeforeClaims(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	h, fh, d := e.unmanagedOnFake(pl.hosts[0], "legacy", 1000)
	p := problemOf(t, e.must(http.StatusConflict, "POST", "/v1/hosts", e.admin, map[string]any{
		"name": "again", "kind": "fake", "endpoint": h.Endpoint, "poolId": pl.pool}))
	assert.Contains(t, p.Detail, "registered already, as host "+h.Name)

	// The engine refuses the mark: the import stands, its task says why.
	fh.Hypervisor.FailNext(fake.MethodMark, ovm.Errorf(ovm.KindUnavailable, "the host refuses changes"))
	var inst ovm.Instance
	e.must(http.StatusCreated, "POST", "/v1/discovered/"+string(d.ID)+"/import", e.admin, map[string]any{"vdcId": tn.vdc, "name": "legacy"}).decode(t, &inst)
	task := e.importTask(inst.ID)
	require.NotEqual(t, ovm.TaskSucceeded, task.State, "import task with the mark refused: %+v", task)
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(inst.ID), e.admin, nil).decode(t, &inst)
	assert.Contains(t, inst.Status.Message, "the host refuses changes", "the instance says why its object is not marked")
	assert.Equal(t, ovm.PhaseReady, inst.Status.Phase, "the import stands")
	// As a server of before claims left it: no claim, no mark.
	require.NoError(t, e.st.Tx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		rs, _, err := tx.List(ctx, store.Filter{Kind: store.KindClaim, HostID: h.ID}, store.Page{})
		if err != nil {
			return err
		}
		require.Len(t, rs, 1, "the import's claim")
		return tx.Delete(ctx, store.KindClaim, rs[0].ID, 0)
	}))
	fresh, err := fh.Hypervisor.AddUnmanaged("unmarked", ovm.InstanceSpec{Type: ovm.TypeVM, CPU: 1000, Memory: ovm.GiB, Image: ovm.Template("old.qcow2")}, false)
	require.NoError(t, err)
	synced, listed := e.syncNatives(h.ID)
	assert.False(t, synced[d.NativeID] || listed[d.NativeID], "the imported object is offered again")
	assert.True(t, synced[fresh.NativeID] && listed[fresh.NativeID], "another unmanaged object is discovered")
}

// TestConcurrentImportsOfOneObject: five discovered records of one object
// imported at once into five VDCs make one instance; every other import
// is refused and charges nothing (on every store engine, PostgreSQL under
// serializable isolation too).
func TestConcurrentImportsOfOneObject(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t))
			pl := e.setupPlatform(1)
			_, _, d := e.unmanagedOnFake(pl.hosts[0], "legacy", 1000)
			ids := []ovm.ID{d.ID}
			var tenants []tenant
			for i := range 5 {
				if i > 0 {
					ids = append(ids, e.staleDiscovered(d))
				}
				tenants = append(tenants, e.newTenant(fmt.Sprintf("t%d", i), pl.pool, quota))
			}
			statuses := make([]int, len(ids))
			var wg sync.WaitGroup
			for i := range ids {
				wg.Go(func() {
					statuses[i] = e.do("POST", "/v1/discovered/"+string(ids[i])+"/import", e.admin,
						map[string]any{"vdcId": tenants[i].vdc, "name": "legacy"}).status
				})
			}
			wg.Wait()
			created, charged := 0, 0
			for i, s := range statuses {
				assert.Contains(t, []int{http.StatusCreated, http.StatusConflict}, s, "import %d", i)
				if s == http.StatusCreated {
					created++
				}
				if e.usage(tenants[i].vdc) != (ovm.Usage{}) {
					charged++
				}
			}
			assert.Equal(t, 1, created, "imports that made an instance: statuses %v", statuses)
			assert.Equal(t, 1, charged, "VDCs charged")
		})
	}
}

// importedOnce checks that the object d, imported as inst into VDC a, is
// held by it alone: a sync lists it no more, and an import of a discovered
// record of it into VDC b (with body's extra fields) is refused without
// charging either VDC again.
func (e *env) importedOnce(t *testing.T, d core.Discovered, inst ovm.Instance, a, b tenant, body map[string]any) {
	t.Helper()
	charged := e.usage(a.vdc)
	synced, listed := e.syncNatives(d.HostID)
	assert.False(t, synced[d.NativeID], "a sync after the import lists %s (%s) as discovered again", d.Name, d.NativeID)
	assert.False(t, listed[d.NativeID], "GET /v1/discovered lists the imported %s (%s)", d.Name, d.NativeID)
	// The import's discovered record is gone.
	e.must(http.StatusNotFound, "GET", "/v1/discovered/"+string(d.ID), e.admin, nil)

	// A discovered record of the same object, however it came, makes no
	// second instance in another VDC.
	stale := e.staleDiscovered(d)
	if body == nil {
		body = map[string]any{}
	}
	body["vdcId"], body["name"] = b.vdc, "again"
	p := problemOf(t, e.must(http.StatusConflict, "POST", "/v1/discovered/"+string(stale)+"/import", e.admin, body))
	assert.Contains(t, p.Detail, "imported already, as instance "+inst.Name+" ("+string(inst.ID)+")")
	assert.Equal(t, ovm.Usage{}, e.usage(b.vdc), "the other VDC is charged nothing")
	assert.Equal(t, charged, e.usage(a.vdc), "the importing VDC is charged once")
	var page core.Page[ovm.Instance]
	e.must(http.StatusOK, "GET", "/v1/instances", b.token, nil).decode(t, &page)
	assert.Empty(t, page.Items, "the other VDC has no instance")
}

// TestImportDemandOfAnObjectWithLimits: an object with limits of its own is
// charged those; an import that names other ones is refused, naming the
// field, and charges nothing.
func TestImportDemandOfAnObjectWithLimits(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	_, _, d := e.unmanagedOnFake(pl.hosts[0], "legacy", 2000)
	for _, tt := range []struct {
		name  string
		body  map[string]any
		field string
		text  string
	}{
		{"other cpu", map[string]any{"cpuMilli": 4000}, "body.cpuMilli", "has 2000 milli-vCPU on its host"},
		{"other memory", map[string]any{"memoryBytes": 2 << 30}, "body.memoryBytes", "has 1GiB of memory on its host"},
		{"negative cpu", map[string]any{"cpuMilli": -1}, "body.cpuMilli", ""},
		{"tiny memory", map[string]any{"memoryBytes": 1}, "body.memoryBytes", "at least"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.body["vdcId"], tt.body["name"] = tn.vdc, "legacy"
			r := e.do("POST", "/v1/discovered/"+string(d.ID)+"/import", e.admin, tt.body)
			require.Equal(t, http.StatusUnprocessableEntity, r.status, "got %s", r)
			p := problemOf(t, r)
			assert.Contains(t, fieldLocations(p), tt.field)
			assert.Contains(t, fieldMessages(p), tt.text)
		})
	}
	assert.Equal(t, ovm.Usage{}, e.usage(tn.vdc), "refused imports charge nothing")
	e.imported(d, tn.vdc, "legacy", map[string]any{"cpuMilli": 2000, "memoryBytes": 1 << 30})
	assert.Equal(t, ovm.Usage{CPU: 2000, Memory: ovm.GiB, Instances: 1}, e.usage(tn.vdc), "the object's own limits are charged")
}
