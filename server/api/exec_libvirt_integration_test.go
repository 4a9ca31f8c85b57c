//go:build integration

package api

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/libvirthost"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// TestExecLibvirt runs commands in a VM on the real libvirtd through the
// exec route: the libvirt driver's exec facet, the QEMU guest agent
// (qemu-ga) in the test guest. Output, exit codes, stdin and environment
// come back as from a container; another VDC's tenant, bad input, a
// command that outlives its timeout and a stopped VM are refused.
func TestExecLibvirt(t *testing.T) {
	uri, template, opts := libvirtTestHost(t)
	e, lh, tn, other := kvmHostWith(t, uri, opts)
	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "vm1", "start": true,
		"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 128 << 20,
			"image": map[string]string{"format": "qcow2", "name": filepath.Base(template)}}}).decode(t, &it)
	id := it.Instance.ID
	t.Cleanup(func() {
		lh.RemoveDomain("vm1-" + string(id.Short()))
		lh.RemoveVolumes(id)
	})
	ce := &chefEnv{env: e}
	require.Equal(t, ovm.TaskSucceeded, ce.waitLong(tn.token, it.Task.ID).State)
	path := "/v1/instances/" + string(id) + "/exec"

	for _, tt := range []struct {
		name string
		body map[string]any
		want core.ExecResult
	}{
		{"output and exit code", map[string]any{"command": []string{"sh", "-c", "echo out; echo err >&2; exit 4"}},
			core.ExecResult{ExitCode: 4, Stdout: "out\n", Stderr: "err\n"}},
		{"stdin", map[string]any{"command": []string{"sh", "-c", "wc -c"}, "stdin": "twelve bytes"}, core.ExecResult{Stdout: "12\n"}},
		{"env", map[string]any{"command": []string{"sh", "-c", "echo $GREETING"}, "env": map[string]string{"GREETING": "hello guest"}},
			core.ExecResult{Stdout: "hello guest\n"}},
		{"the guest's kernel", map[string]any{"command": []string{"cat", "/proc/sys/kernel/ostype"}}, core.ExecResult{Stdout: "Linux\n"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got core.ExecResult
			e.must(http.StatusOK, "POST", path, tn.token, tt.body).decode(t, &got)
			assert.Equal(t, tt.want, got)
		})
	}

	t.Run("refused", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			token  string
			body   map[string]any
			status int
			text   string
		}{
			{"another VDC", other.token, map[string]any{"command": []string{"true"}}, http.StatusNotFound, ""},
			{"no command", tn.token, map[string]any{"command": []string{}}, http.StatusUnprocessableEntity, "command"},
			{"missing program", tn.token, map[string]any{"command": []string{"/nonesuch"}}, http.StatusUnprocessableEntity, "nonesuch"},
			{"timeout", tn.token, map[string]any{"command": []string{"sleep", "30"}, "timeoutSeconds": 2}, http.StatusServiceUnavailable, "2s"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := e.do("POST", path, tt.token, tt.body)
				require.Equal(t, tt.status, r.status, "got %s", r)
				p := problemOf(t, r)
				assert.Contains(t, p.Detail+fieldMessages(p), tt.text)
			})
		}
	})

	e.power(tn.token, id, "stop")
	p := problemOf(t, e.must(http.StatusConflict, "POST", path, tn.token, map[string]any{"command": []string{"true"}}))
	assert.Contains(t, p.Detail, "stopped")
}

// kvmHostWith is a platform with the test libvirtd registered as host kvm1
// with opts, and two tenants of its pool, acme and other.
func kvmHostWith(t *testing.T, uri string, opts map[string]string) (*env, *libvirthost.Host, tenant, tenant) {
	t.Helper()
	lh := libvirthost.Dial(t, uri, opts)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "kvm1", "kind": "kvm", "endpoint": uri,
		"poolId": pl.pool, "options": opts})
	return e, lh, e.newTenant("acme", pl.pool, quota), e.newTenant("other", pl.pool, quota)
}
