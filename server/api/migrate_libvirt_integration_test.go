//go:build integration

package api

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/libvirthost"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
	"github.com/openovm/ovm/server/store"
)

// kvmPair is a server with the two test libvirtds registered in one pool
// (both see the shared disks directory), and a tenant.
type kvmPair struct {
	e        *env
	pl       platform
	h1, h2   ovm.Host
	lh1, lh2 *libvirthost.Host
	tn       tenant
	srv      *httptest.Server
	template string
}

// newKVMPair registers kvm1 (OVM_TEST_LIBVIRT_URI) and kvm2
// (OVM_TEST_LIBVIRT_URI2). kvm2's daemon runs in its own mount namespace
// and reaches kvm1 only through kvm1's local URI, which from there names
// itself: live migrations in these tests go from kvm1 to kvm2.
func newKVMPair(t *testing.T) *kvmPair {
	t.Helper()
	uri, template, opts := libvirtTestHost(t)
	uri2 := testEnvVar(t, "OVM_TEST_LIBVIRT_URI2")
	k := &kvmPair{template: template, lh1: libvirthost.Dial(t, uri, opts), lh2: libvirthost.Dial(t, uri2, opts)}
	k.e = newEnv(t, openSQLite(t))
	drivers.RegisterEngines(k.e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	k.pl = k.e.setupPlatform(0)
	// Guests are 1 vCPU; the machine has 2 cores: overcommit CPU.
	k.e.must(http.StatusOK, "PATCH", "/v1/pools/"+string(k.pl.pool), k.e.admin, map[string]any{"overcommit": map[string]any{"cpu": 8}})
	k.e.must(http.StatusCreated, "POST", "/v1/hosts", k.e.admin, map[string]any{"name": "kvm1", "kind": "kvm", "endpoint": uri,
		"poolId": k.pl.pool, "options": opts}).decode(t, &k.h1)
	k.e.must(http.StatusCreated, "POST", "/v1/hosts", k.e.admin, map[string]any{"name": "kvm2", "kind": "kvm", "endpoint": uri2,
		"poolId": k.pl.pool, "options": opts}).decode(t, &k.h2)
	k.tn = k.e.newTenant("acme", k.pl.pool, quota)
	k.srv = httptest.NewServer(k.e.h)
	t.Cleanup(k.srv.Close)
	return k
}

// vmsOnFirst creates n running VMs on kvm1 (kvm2 in maintenance
// meanwhile), removed from both hosts when t ends.
func (k *kvmPair) vmsOnFirst(t *testing.T, prefix string, n int) []ovm.Instance {
	t.Helper()
	e := k.e
	maint := "/v1/hosts/" + string(k.h2.ID) + "/maintenance"
	e.must(http.StatusOK, "PUT", maint, e.admin, map[string]any{"enabled": true})
	var its []core.InstanceTask
	for i := range n {
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", k.tn.token, map[string]any{"name": fmt.Sprintf("%s%d", prefix, i), "start": true,
			"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 128 << 20,
				"image": map[string]string{"format": "qcow2", "name": filepath.Base(k.template)}}}).decode(t, &it)
		id, name := it.Instance.ID, hvNameOf(it.Instance)
		t.Cleanup(func() {
			for _, lh := range []*libvirthost.Host{k.lh1, k.lh2} {
				lh.RemoveDomain(name)
			}
			k.lh1.RemoveVolumes(id)
		})
		its = append(its, it)
	}
	out := make([]ovm.Instance, n)
	for i, it := range its {
		done := e.waitTask(k.tn.token, it.Task.ID)
		require.Equal(t, ovm.TaskSucceeded, done.State, "create task: %+v", done)
		out[i] = e.instanceAt(it.Instance.ID)
		require.Equal(t, k.h1.ID, out[i].Status.HostID, "%s: made on kvm1", out[i].Name)
	}
	e.must(http.StatusOK, "PUT", maint, e.admin, map[string]any{"enabled": false})
	return out
}

// oneVM is a pair with one running VM on kvm1, its domain name, and a
// context that bounds the test's console reads.
func oneVM(t *testing.T, prefix string) (*kvmPair, ovm.Instance, string, context.Context) {
	t.Helper()
	k := newKVMPair(t)
	vm := k.vmsOnFirst(t, prefix, 1)[0]
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	t.Cleanup(cancel)
	return k, vm, hvNameOf(vm), ctx
}

// hvNameOf is an instance's domain name.
func hvNameOf(inst ovm.Instance) string { return inst.Name + "-" + string(inst.ID.Short()) }

var tickNumber = regexp.MustCompile(`OVM-TICK (\d+)`)

// ticks follows an instance's console through the API and sends the
// guest's counter as it prints it; the channel closes when the stream ends
// (the domain left its host) or ctx ends.
func (k *kvmPair) ticks(ctx context.Context, t *testing.T, id ovm.ID) <-chan int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", k.srv.URL+"/v1/instances/"+string(id)+"/console?follow=true&maxSeconds=300", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+k.tn.token)
	res, err := k.srv.Client().Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "console of %s", id)
	out := make(chan int, 1024)
	go func() {
		defer close(out)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if m := tickNumber.FindStringSubmatch(strings.TrimRight(sc.Text(), "\r")); m != nil {
				n, _ := strconv.Atoi(m[1])
				out <- n
			}
		}
	}()
	return out
}

// next waits for the next tick of ch.
func next(t *testing.T, ch <-chan int, within time.Duration) int {
	t.Helper()
	select {
	case n, ok := <-ch:
		require.True(t, ok, "the console ended before a tick")
		return n
	case <-time.After(within):
		t.Fatalf("no tick on the console within %s", within)
	}
	return 0
}

// startMigration asks for a migration as token and returns its task id.
func (k *kvmPair) startMigration(t *testing.T, token string, id ovm.ID, body map[string]any) ovm.ID {
	t.Helper()
	var it core.InstanceTask
	k.e.must(http.StatusAccepted, "POST", "/v1/instances/"+string(id)+"/migrate", token, body).decode(t, &it)
	require.NotNil(t, it.Task)
	return it.Task.ID
}

// waitTaskFor polls a task until it is final, within d, and returns it
// with every progress it showed.
func (k *kvmPair) waitTaskFor(t *testing.T, token string, id ovm.ID, d time.Duration) (ovm.Task, []int) {
	t.Helper()
	deadline := time.Now().Add(d)
	var seen []int
	for {
		var task ovm.Task
		k.e.must(http.StatusOK, "GET", "/v1/tasks/"+string(id), token, nil).decode(t, &task)
		if len(seen) == 0 || seen[len(seen)-1] != task.Progress {
			seen = append(seen, task.Progress)
		}
		if task.State.Final() {
			return task, seen
		}
		require.True(t, time.Now().Before(deadline), "task %s still %s after %s", id, task.State, d)
		time.Sleep(10 * time.Millisecond)
	}
}

// domainRuns reports the domain's state on a host.
func domainRuns(t *testing.T, lh *libvirthost.Host, name string) bool {
	st, ok := lh.State(t, name)
	return ok && st == golibvirt.DomainRunning
}

// TestMigrateLibvirtLive moves a running guest from kvm1 to kvm2 through
// the REST API as its tenant (placement picks kvm2): its console counter
// goes on across the move, the task shows libvirt's progress, the host
// allocations move with the record.
func TestMigrateLibvirtLive(t *testing.T) {
	k, vm, name, ctx := oneVM(t, "live")
	before := k.ticks(ctx, t, vm.ID)
	last := next(t, before, 3*time.Minute)
	last = max(last, next(t, before, time.Minute))

	task, progress := k.waitTaskFor(t, k.tn.token, k.startMigration(t, k.tn.token, vm.ID, map[string]any{}), 3*time.Minute)
	require.Equal(t, ovm.TaskSucceeded, task.State, "migrate task: %+v", task)
	assert.Greater(t, len(progress), 2, "the task's progress while it ran: got %v, want steps between 0 and 100", progress)
	assert.Contains(t, logText(task), "migration", "the migration's progress in the task log")
	for n := range before { // what the guest printed on kvm1 until it left
		last = max(last, n)
	}

	inst := k.e.instanceAt(vm.ID)
	assert.Equal(t, k.h2.ID, inst.Status.HostID, "host after the migration")
	assert.Equal(t, ovm.PowerRunning, inst.Status.Power)
	assert.True(t, domainRuns(t, k.lh2, name), "the domain runs on kvm2, by libvirt's word")
	_, on1 := k.lh1.State(t, name)
	assert.False(t, on1, "the domain is gone from kvm1")
	after := k.ticks(ctx, t, vm.ID)
	n := next(t, after, time.Minute)
	assert.Greater(t, n, last, "console counter on kvm2: got %d after %d on kvm1, want it to go on (the guest did not restart)", n, last)
	assert.Equal(t, ovm.Resources{}, k.e.hostAt(k.h1.ID).Allocated, "kvm1's allocation after the move")
	assert.Equal(t, ovm.CPUs(1), k.e.hostAt(k.h2.ID).Allocated.CPU, "kvm2's allocation after the move")
}

// TestMigrateLibvirtCancel cancels a live migration under way (its
// bandwidth held low so that it lasts): the task rolls back and the guest
// runs on at kvm1, nothing left on kvm2, nothing held there.
func TestMigrateLibvirtCancel(t *testing.T) {
	k, vm, name, ctx := oneVM(t, "cancel")
	next(t, k.ticks(ctx, t, vm.ID), 3*time.Minute)
	dom, err := k.lh1.L.DomainLookupByName(name)
	require.NoError(t, err)
	require.NoError(t, k.lh1.L.DomainMigrateSetMaxSpeed(dom, 1, 0), "hold the migration to 1 MiB/s")

	id := k.startMigration(t, k.tn.token, vm.ID, map[string]any{})
	require.Eventually(t, func() bool {
		var task ovm.Task
		k.e.must(http.StatusOK, "GET", "/v1/tasks/"+string(id), k.tn.token, nil).decode(t, &task)
		return task.Progress > 0 && task.Progress < 50
	}, time.Minute, 50*time.Millisecond, "the migration under way")
	assert.Positive(t, k.e.hostAt(k.h2.ID).Allocated.CPU, "kvm2 holds the instance's share while it moves")
	var it core.InstanceTask
	k.e.must(http.StatusAccepted, "POST", "/v1/instances/"+string(vm.ID)+"/migrate/cancel", k.tn.token, nil).decode(t, &it)
	assert.Equal(t, id, it.Task.ID, "the cancel answers the migration's task")
	task, _ := k.waitTaskFor(t, k.tn.token, id, 2*time.Minute)
	assert.Equal(t, ovm.TaskRolledBack, task.State, "migrate task after the cancel: %+v", task)
	assert.Contains(t, task.Error, "cancelled by acme-admin")

	inst := k.e.instanceAt(vm.ID)
	assert.Equal(t, k.h1.ID, inst.Status.HostID, "host after the cancel")
	assert.Equal(t, ovm.PhaseReady, inst.Status.Phase)
	assert.Contains(t, inst.Status.Message, "did not happen")
	assert.True(t, domainRuns(t, k.lh1, name), "the domain runs on kvm1, by libvirt's word")
	_, on2 := k.lh2.State(t, name)
	assert.False(t, on2, "nothing left on kvm2")
	assert.Equal(t, ovm.Resources{}, k.e.hostAt(k.h2.ID).Allocated, "kvm2 holds nothing after the cancel")
	next(t, k.ticks(ctx, t, vm.ID), time.Minute)
	problemOf(t, k.e.must(http.StatusConflict, "POST", "/v1/instances/"+string(vm.ID)+"/migrate/cancel", k.tn.token, nil))
}

// storagePool records a storage pool in a directory both hosts see,
// removed from both hosts when t ends.
func (k *kvmPair) storagePool(t *testing.T) ovm.StoragePool {
	t.Helper()
	id := ovm.NewID()
	sp := ovm.StoragePool{ID: id, Name: "ovm-mig-" + string(id.Short()), Kind: ovm.StorageShared,
		Path: filepath.Join(testEnvVar(t, "OVM_TEST_LIBVIRT_POOLS"), "api-mig-"+string(id.Short()))}
	rec, err := store.NewRecord(store.KindStoragePool, sp.ID, "", sp.Name, sp)
	require.NoError(t, err)
	require.NoError(t, k.e.st.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.Insert(ctx, &rec) }))
	t.Cleanup(func() {
		for _, lh := range []*libvirthost.Host{k.lh1, k.lh2} {
			if pool, err := lh.L.StoragePoolLookupByName(sp.Name); err == nil {
				_ = lh.L.StoragePoolDestroy(pool)
				_ = lh.L.StoragePoolUndefine(pool)
			}
		}
		_ = os.RemoveAll(sp.Path)
	})
	return sp
}

// TestMigrateLibvirtStorage moves a running guest's disk to another pool
// of its host, then with its disk to kvm2 (shared-nothing), through the
// API as the administrator: the guest goes on counting and its disk is in
// the pool named.
func TestMigrateLibvirtStorage(t *testing.T) {
	k, vm, name, ctx := oneVM(t, "disk")
	last := next(t, k.ticks(ctx, t, vm.ID), 3*time.Minute)
	for _, tt := range []struct {
		mode string
		host ovm.ID
		lh   *libvirthost.Host
	}{
		{"storage", k.h1.ID, k.lh1},
		{"shared-nothing", k.h2.ID, k.lh2},
	} {
		sp := k.storagePool(t)
		task, _ := k.waitTaskFor(t, k.e.admin, k.startMigration(t, k.e.admin, vm.ID,
			map[string]any{"mode": tt.mode, "storagePoolId": string(sp.ID)}), 3*time.Minute)
		require.Equal(t, ovm.TaskSucceeded, task.State, "%s migrate task: %+v", tt.mode, task)
		inst := k.e.instanceAt(vm.ID)
		assert.Equal(t, tt.host, inst.Status.HostID, "host after the %s migration", tt.mode)
		dom, err := tt.lh.L.DomainLookupByName(name)
		require.NoError(t, err, "the domain after the %s migration", tt.mode)
		x, err := tt.lh.L.DomainGetXMLDesc(dom, 0)
		require.NoError(t, err)
		assert.Contains(t, x, sp.Path+"/", "the domain's disk after the %s migration: want it in %s", tt.mode, sp.Path)
		n := next(t, k.ticks(ctx, t, vm.ID), time.Minute)
		assert.Greater(t, n, last, "console counter after the %s migration: got %d after %d", tt.mode, n, last)
		last = n
	}
}

// TestMaintenanceLibvirt puts kvm1 into maintenance through the API: its
// running guests are live-migrated to kvm2 by placement and kvm1 ends in
// maintenance; a guest asked to move by a tenant naming a host is refused;
// leaving maintenance returns kvm1 to placement.
func TestMaintenanceLibvirt(t *testing.T) {
	k := newKVMPair(t)
	vms := k.vmsOnFirst(t, "drain", 2)
	p := problemOf(t, k.e.must(http.StatusUnprocessableEntity, "POST", "/v1/instances/"+string(vms[0].ID)+"/migrate", k.tn.token,
		map[string]any{"hostId": string(k.h2.ID)}))
	assert.Contains(t, fieldLocations(p), "body.hostId")

	var h ovm.Host
	k.e.must(http.StatusOK, "PUT", "/v1/hosts/"+string(k.h1.ID)+"/maintenance", k.e.admin, map[string]any{"enabled": true}).decode(t, &h)
	assert.Equal(t, ovm.HostEnteringMaintenance, h.State)
	require.Eventually(t, func() bool { return k.e.hostAt(k.h1.ID).State == ovm.HostMaintenance }, 4*time.Minute, 100*time.Millisecond,
		"kvm1 in maintenance once drained")
	for _, vm := range vms {
		inst := k.e.instanceAt(vm.ID)
		assert.Equal(t, k.h2.ID, inst.Status.HostID, "%s after the drain", vm.Name)
		assert.True(t, domainRuns(t, k.lh2, hvNameOf(vm)), "%s runs on kvm2, by libvirt's word", vm.Name)
	}
	assert.Equal(t, ovm.Resources{}, k.e.hostAt(k.h1.ID).Allocated, "kvm1's allocation once drained")
	k.e.must(http.StatusOK, "PUT", "/v1/hosts/"+string(k.h1.ID)+"/maintenance", k.e.admin, map[string]any{"enabled": false}).decode(t, &h)
	assert.Equal(t, ovm.HostUp, h.State, "out of maintenance")
}
