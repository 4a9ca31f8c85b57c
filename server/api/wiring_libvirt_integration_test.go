//go:build integration

package api

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
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
)

// domainState is the state of a domain by the engine's own word.
func domainState(t *testing.T, h *libvirthost.Host, name string) golibvirt.DomainState {
	t.Helper()
	st, ok := h.State(t, name)
	require.True(t, ok, "lookup domain %s", name)
	return st
}

var tickLine = regexp.MustCompile(`OVM-TICK \d+`)

// libvirtTestHost returns the test libvirtd's URI, its template image and
// the options the API tests register it with: the template's directory as
// the templates pool, the shared directory for disks, direct kernel boot
// of the test kernel, and emulation (KVM guests hang at their first
// instruction in the test environment; see the driver's tests).
func libvirtTestHost(t testing.TB) (uri, template string, opts map[string]string) {
	t.Helper()
	uri = testEnvVar(t, "OVM_TEST_LIBVIRT_URI")
	template = testEnvVar(t, "OVM_TEST_LIBVIRT_TEMPLATE")
	shared := testEnvVar(t, "OVM_TEST_LIBVIRT_SHARED")
	return uri, template, map[string]string{
		"templates": filepath.Dir(template), "disks": shared,
		"kernel": testEnvVar(t, "OVM_TEST_LIBVIRT_KERNEL"), "initrd": testEnvVar(t, "OVM_TEST_LIBVIRT_INITRD"),
		"cmdline": "console=ttyS0 quiet", "virtType": "qemu", "sharedStorage": shared,
	}
}

// TestWiringLibvirt registers the test libvirtd through the API, imports
// a domain defined beside OVM, and runs a tenant's VM from the test
// template (direct kernel boot) through create, console, stop, start and
// delete, checking the host with go-libvirt.
func TestWiringLibvirt(t *testing.T) {
	uri, template, opts := libvirtTestHost(t)
	lh := libvirthost.Dial(t, uri, opts)
	l := lh.L
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	suffix := string(ovm.NewID().Short())

	t.Run("bad registrations", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		require.NoError(t, ln.Close())
		without := func(k string) map[string]string {
			m := map[string]string{}
			for kk, v := range opts {
				if kk != k {
					m[kk] = v
				}
			}
			return m
		}
		with := func(k, v string) map[string]string {
			m := without("")
			m[k] = v
			return m
		}
		for _, tt := range []struct {
			name, endpoint string
			opts           map[string]string
			status         int
			field, text    string
		}{
			{"no templates", uri, without("templates"), http.StatusUnprocessableEntity, "body.options.templates", "required"},
			{"relative disks", uri, with("disks", "disks"), http.StatusUnprocessableEntity, "body.options.disks", "absolute"},
			{"virt type", uri, with("virtType", "xen"), http.StatusUnprocessableEntity, "body.options.virtType", "kvm"},
			{"unknown option", uri, with("bridge", "br0"), http.StatusUnprocessableEntity, "body.options.bridge", "unknown option"},
			{"bad uri", "xen:///system", opts, http.StatusUnprocessableEntity, "body.endpoint", "qemu"},
			{"unreachable", "qemu+tcp://127.0.0.1:" + port + "/system", opts, http.StatusServiceUnavailable, "", "does not answer"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := e.do("POST", "/v1/hosts", e.admin, map[string]any{"name": "kvm-bad", "kind": "kvm", "endpoint": tt.endpoint,
					"poolId": pl.pool, "options": tt.opts})
				require.Equal(t, tt.status, r.status, "got %s", r)
				p := problemOf(t, r)
				if tt.field != "" {
					assert.Contains(t, fieldLocations(p), tt.field)
				}
				assert.Contains(t, p.Detail+fieldMessages(p), tt.text)
			})
		}
	})

	// A domain defined and started beside OVM.
	legacyName := "ovm-wiring-legacy-" + suffix
	dom := lh.StartUnmanaged(t, legacyName, opts["kernel"], opts["initrd"])

	var h ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "kvm1", "kind": "kvm", "endpoint": uri,
		"poolId": pl.pool, "options": opts}).decode(t, &h)
	assert.Equal(t, ovm.HostKVM, h.Kind)
	assert.Positive(t, h.Capacity.Memory)
	tn := e.newTenant("acme", pl.pool, quota)

	t.Run("import", func(t *testing.T) {
		var ds []core.Discovered
		e.must(http.StatusOK, "POST", "/v1/hosts/"+string(h.ID)+"/sync", e.admin, nil).decode(t, &ds)
		var found *core.Discovered
		for i := range ds {
			if ds[i].NativeID == libvirthost.UUIDText(dom.UUID) {
				found = &ds[i]
			}
		}
		require.NotNil(t, found, "%s among the discovered %+v", legacyName, ds)
		assert.Equal(t, legacyName, found.Name)
		assert.Equal(t, ovm.PowerRunning, found.Power)
		var inst ovm.Instance
		e.must(http.StatusCreated, "POST", "/v1/discovered/"+string(found.ID)+"/import", e.admin,
			map[string]any{"vdcId": tn.vdc, "name": "legacy"}).decode(t, &inst)
		assert.Equal(t, ovm.PowerRunning, inst.Status.Power)
		assert.Equal(t, golibvirt.DomainRunning, domainState(t, lh, legacyName), "the imported domain still runs")
	})

	t.Run("tenant vm", func(t *testing.T) {
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "vm1", "start": true,
			"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 128 << 20,
				"image": map[string]string{"format": "qcow2", "name": filepath.Base(template)}}}).decode(t, &it)
		id := it.Instance.ID
		hvName := "vm1-" + string(id.Short())
		t.Cleanup(func() {
			lh.RemoveDomain(hvName)
			lh.RemoveVolumes(id)
		})
		done := e.waitTask(tn.token, it.Task.ID)
		require.Equal(t, ovm.TaskSucceeded, done.State, "create task: %+v", done)
		assert.Equal(t, golibvirt.DomainRunning, domainState(t, lh, hvName), "running after create")
		assert.NotEmpty(t, lh.Volumes(t, id), "the instance's disk in the disk pool")
		path := "/v1/instances/" + string(id)

		// The serial console shows the guest's own output.
		srv := httptest.NewServer(e.h)
		t.Cleanup(srv.Close)
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+path+"/console?follow=true&maxSeconds=170", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tn.token)
		res, err := srv.Client().Do(req)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode)
		var seen []string
		sc := bufio.NewScanner(res.Body)
		matched := false
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			seen = append(seen, line)
			if tickLine.MatchString(line) {
				matched = true
				break
			}
		}
		cancel()
		_ = res.Body.Close()
		require.True(t, matched, "a line of the guest's counter on the console; got %q", seen[max(0, len(seen)-10):])

		var ex core.ExecResult
		e.must(http.StatusOK, "POST", path+"/exec", tn.token, map[string]any{"command": []string{"cat", "/proc/sys/kernel/ostype"}}).decode(t, &ex)
		assert.Equal(t, core.ExecResult{Stdout: "Linux\n"}, ex, "exec through the guest agent")

		e.power(tn.token, id, "stop")
		assert.Equal(t, golibvirt.DomainShutoff, domainState(t, lh, hvName), "shut off after stop")
		problemOf(t, e.must(http.StatusConflict, "GET", path+"/console", tn.token, nil))
		e.power(tn.token, id, "start")
		assert.Equal(t, golibvirt.DomainRunning, domainState(t, lh, hvName), "running after start")

		var del core.InstanceTask
		e.must(http.StatusAccepted, "DELETE", path, tn.token, nil).decode(t, &del)
		done = e.waitTask(tn.token, del.Task.ID)
		require.Equal(t, ovm.TaskSucceeded, done.State, "delete task: %+v", done)
		_, err = l.DomainLookupByName(hvName)
		assert.Error(t, err, "domain %s left on the host", hvName)
		assert.Empty(t, lh.Volumes(t, id), "disks left in the pool")
	})

	t.Run("missing template", func(t *testing.T) {
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "vm-notpl", "start": true,
			"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 128 << 20,
				"image": map[string]string{"format": "qcow2", "name": "no-such-template.qcow2"}}}).decode(t, &it)
		id := it.Instance.ID
		hvName := "vm-notpl-" + string(id.Short())
		t.Cleanup(func() { lh.RemoveDomain(hvName) })
		done := e.waitTask(tn.token, it.Task.ID)
		require.NotEqual(t, ovm.TaskSucceeded, done.State, "a create from a missing template")
		assert.Contains(t, done.Error, "no-such-template.qcow2", "the task names the template")
		assert.Contains(t, logText(done), "Storage volume not found", "libvirt's own text in the task log")
		_, err := l.DomainLookupByName(hvName)
		assert.Error(t, err, "no domain defined for the refused create")
		assert.Empty(t, lh.Volumes(t, id), "no disk left in the pool")
		var inst ovm.Instance
		e.must(http.StatusOK, "GET", "/v1/instances/"+string(id), tn.token, nil).decode(t, &inst)
		assert.Equal(t, ovm.PhaseFailed, inst.Status.Phase)
	})
}
