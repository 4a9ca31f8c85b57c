package api

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
)

// createVM creates a small VM from a template and returns its create task
// once final.
func (e *env) createVM(token, name string, image map[string]string) ovm.Task {
	e.t.Helper()
	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", token, map[string]any{"name": name,
		"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20, "image": image}}).decode(e.t, &it)
	return e.waitTask(token, it.Task.ID)
}

// logHas reports whether a task's log has a line containing s.
func logHas(t ovm.Task, s string) bool {
	for _, l := range t.Log {
		if strings.Contains(l.Message, s) {
			return true
		}
	}
	return false
}

// TestImageDeliveryFake: a VM made from a catalog template gets the
// template delivered to its host in a step before the create (a VDC's
// private image under its library name); a second VM on the host finds it
// there by digest and delivers nothing; a failed delivery fails the create
// and gives its quota back; a library file changed outside OVM is not
// delivered; a template still uploading is refused; the image cannot be
// deleted while a VM boots from it.
func TestImageDeliveryFake(t *testing.T) {
	var dir string
	e := newEnv(t, openSQLite(t), withLibrary(t, &dir))
	pl := e.setupPlatform(1)
	a := e.newTenant("a", pl.pool, quota)
	fh := e.fakeHost(pl.hosts[0]).Hypervisor

	data, digest := randomBytes(t, 256<<10)
	img := e.createImage(a.token, map[string]any{"name": "base.raw", "format": "raw", "size": len(data), "digest": digest})
	e.must(http.StatusOK, "PUT", "/v1/images/"+string(img.ID)+"/content", a.token, data, "Content-Type", "application/octet-stream")
	file := "vdc-" + string(a.vdc) + "-base.raw"
	ref := map[string]string{"format": "raw", "name": "base.raw"}

	first := e.createVM(a.token, "v1", ref)
	require.Equal(t, ovm.TaskSucceeded, first.State, "create: %s", first.Error)
	require.GreaterOrEqual(t, len(first.Steps), 2)
	var names []string
	for _, st := range first.Steps {
		names = append(names, st.Name)
	}
	assert.Less(t, indexOf(names, "deliver template"), indexOf(names, "create"), "the delivery comes before the create: %v", names)
	assert.True(t, logHas(first, "delivering template base.raw"), "the log tells of the delivery: %+v", first.Log)
	assert.Equal(t, map[string]string{file: digest}, fh.Templates(), "the host has the template under its library name")
	assert.Equal(t, 1, fh.Calls(fake.MethodDeliverTemplate))

	second := e.createVM(a.token, "v2", ref)
	require.Equal(t, ovm.TaskSucceeded, second.State, "create: %s", second.Error)
	assert.True(t, logHas(second, "is on host"), "the second create finds the template: %+v", second.Log)
	assert.Equal(t, 1, fh.Calls(fake.MethodDeliverTemplate), "no second delivery")

	// A template replaced on the host by other bytes is delivered again;
	// a delivery that fails fails the create and gives its quota back.
	require.NoError(t, fh.DeliverTemplate(t.Context(), file, sha256Digest([]byte("x")), 1, strings.NewReader("x"), nil))
	fh.FailNext(fake.MethodDeliverTemplate, ovm.Errorf(ovm.KindUnavailable, "disk full"))
	before := e.usage(a.vdc)
	failed := e.createVM(a.token, "v3", ref)
	assert.NotEqual(t, ovm.TaskSucceeded, failed.State)
	assert.Contains(t, failed.Error, "disk full")
	assert.Equal(t, before, e.usage(a.vdc), "the failed create gives its quota back")
	again := e.createVM(a.token, "v3b", ref)
	require.Equal(t, ovm.TaskSucceeded, again.State, "create: %s", again.Error)
	assert.Equal(t, digest, fh.Templates()[file], "the template is delivered again")

	// The library's file changed outside OVM (same size, other bytes): the
	// library hashes it again and the delivery refuses it by name.
	other, _ := randomBytes(t, len(data))
	require.NoError(t, os.WriteFile(filepath.Join(dir, file), other, 0o644))
	require.NoError(t, os.Chtimes(filepath.Join(dir, file), time.Now(), time.Now().Add(time.Minute)))
	require.NoError(t, fh.DeliverTemplate(t.Context(), file, sha256Digest([]byte("x")), 1, strings.NewReader("x"), nil))
	changed := e.createVM(a.token, "v5", ref)
	assert.NotEqual(t, ovm.TaskSucceeded, changed.State)
	assert.Contains(t, changed.Error, "upload it again", "the task says what to do: %s", changed.Error)
	assert.Equal(t, sha256Digest([]byte("x")), fh.Templates()[file], "nothing delivered from the changed file")
	require.NoError(t, os.WriteFile(filepath.Join(dir, file), data, 0o644))

	uploading := e.createImage(a.token, map[string]any{"name": "half.raw", "format": "raw", "size": 10})
	r := e.do("POST", "/v1/instances", a.token, map[string]any{"name": "v4",
		"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20, "image": map[string]string{"format": "raw", "name": "half.raw"}}})
	assert.Equal(t, http.StatusUnprocessableEntity, r.status, "a VM from an image still uploading: %s", r)
	assert.Contains(t, string(r.body), `"location":"body.spec.image.name"`)

	r = e.do("DELETE", "/v1/images/"+string(img.ID), a.token, nil)
	assert.Equal(t, http.StatusConflict, r.status, "delete while VMs boot from it: %s", r)
	assert.Contains(t, string(r.body), "is the image of instance v")
	e.must(http.StatusNoContent, "DELETE", "/v1/images/"+string(uploading.ID), a.token, nil)
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}
