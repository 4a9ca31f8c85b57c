//go:build integration

package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
)

// TestCommitDocker commits a container of the real dockerd that wrote a
// file, as a task that pushes it to the real registry under the tenant's
// namespace, then runs a new container instance from the pushed reference
// (pulled from the registry: the host keeps no copy) and reads the file.
// The image's size is held in the VDC's disk quota; a VM is refused.
func TestCommitDocker(t *testing.T) {
	address := testEnvVar(t, "OVM_TEST_REGISTRY")
	e, tn, dc, image, _ := dockerTenant(t, quota)
	registerTestRegistry(t, e, address)
	inst := e.createRunning(tn, "src", map[string]any{"type": "container", "cpuMilli": 200, "memoryBytes": 64 << 20,
		"image": map[string]string{"format": "oci", "name": image}, "command": bootCommand})
	t.Cleanup(func() { removeLabelled(t, dc, inst.ID) })
	marker := "made-" + ovm.NewID().Short()
	e.shell(tn, inst.ID, "echo "+marker+" > /marker")

	repo := "commit-" + strings.ToLower(ovm.NewID().Short())
	ns := "vdc-" + tn.vdc.Short()
	t.Cleanup(func() { deleteFromRegistry(t, address, ns+"/"+repo, "1") })
	before := usageOf(t, e, tn)
	var ct apitypes.InstanceCommitTask
	e.must(http.StatusAccepted, "POST", "/v1/instances/"+string(inst.ID)+"/commit", tn.token,
		map[string]any{"repository": repo, "tag": "1"}).decode(t, &ct)
	want := address + "/" + ns + "/" + repo + ":1"
	assert.Equal(t, want, ct.Reference)
	task := e.waitTask(tn.token, ct.Task.ID)
	require.Equal(t, ovm.TaskSucceeded, task.State, "commit task: %+v", task)
	assert.False(t, onEngine(t, dc, want), "the host keeps no copy of the committed image")

	var tags core.Page[apitypes.Image]
	e.must(http.StatusOK, "GET", "/v1/registries/"+string(mustDefault(t, e))+"/tags?repository="+ns+"/"+repo, tn.token, nil).decode(t, &tags)
	require.Len(t, tags.Items, 1)
	assert.Equal(t, want, tags.Items[0].Name)
	assert.Equal(t, before.Disk+tags.Items[0].Size, usageOf(t, e, tn).Disk, "the image's size is held in the vdc's disk quota")

	// A new container from the pushed reference reads what the first wrote.
	run := e.createRunning(tn, "copy", map[string]any{"type": "container", "cpuMilli": 200, "memoryBytes": 64 << 20,
		"image": map[string]string{"format": "oci", "name": want}, "command": bootCommand})
	t.Cleanup(func() { removeLabelled(t, dc, run.ID); untagImage(t, dc, want) })
	var res core.ExecResult
	e.must(http.StatusOK, "POST", "/v1/instances/"+string(run.ID)+"/exec", tn.token,
		map[string]any{"command": []string{"cat", "/marker"}}).decode(t, &res)
	assert.Equal(t, marker+"\n", res.Stdout)

	// Bad input: another VDC's namespace, a bad tag, no such registry.
	for _, tt := range []struct {
		name   string
		body   map[string]any
		status int
		field  string
	}{
		{"bad tag", map[string]any{"repository": repo, "tag": "a:b"}, http.StatusUnprocessableEntity, "body.tag"},
		{"unknown registry", map[string]any{"registryId": ovm.NewID(), "repository": repo, "tag": "2"}, http.StatusUnprocessableEntity, "body.registryId"},
		{"another vdc's namespace", map[string]any{"repository": "vdc-00000000/x", "tag": "2"}, http.StatusNotFound, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/v1/instances/"+string(inst.ID)+"/commit", tn.token, tt.body)
			require.Equal(t, tt.status, r.status, "got %s", r)
			if tt.field != "" {
				assert.Contains(t, fieldLocations(problemOf(t, r)), tt.field)
			}
		})
	}
}

// mustDefault returns the default registry's id.
func mustDefault(t *testing.T, e *env) ovm.ID {
	t.Helper()
	var page core.Page[core.Registry]
	e.must(http.StatusOK, "GET", "/v1/registries", e.admin, nil).decode(t, &page)
	for _, r := range page.Items {
		if r.Default {
			return r.ID
		}
	}
	t.Fatal("no default registry")
	return ""
}
