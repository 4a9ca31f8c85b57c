//go:build integration

package api

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/libvirthost"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// TestImageDeliveryLibvirt, end to end on the real libvirtd through the
// REST API: a tenant uploads a qcow2 template into the catalog (in two
// parts), creates a VM from it, and the create delivers the template into
// the host's template library pool under its library name with its digest
// beside it; the VM runs; a second VM finds the template there by digest
// and delivers nothing.
func TestImageDeliveryLibvirt(t *testing.T) {
	uri, template, opts := libvirtTestHost(t)
	lh := libvirthost.Dial(t, uri, opts)
	e := newEnv(t, openSQLite(t), withLibrary(t, nil))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	var h ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "kvm1", "kind": "kvm", "endpoint": uri,
		"poolId": pl.pool, "options": opts}).decode(t, &h)
	tn := e.newTenant("acme", pl.pool, quota)

	short := string(ovm.NewID().Short())
	dir := filepath.Join(testEnvVar(t, "OVM_TEST_LIBVIRT_POOLS"), "lib-"+short)
	libPool := e.registerPool(map[string]any{"name": "lib-" + short, "kind": "local", "path": dir, "hostIds": []ovm.ID{h.ID}, "templateLibrary": true})
	t.Cleanup(func() { removeLibvirtPool(lh, libPool.ID, dir) })

	data, err := os.ReadFile(template)
	require.NoError(t, err)
	digest := sha256Digest(data)
	img := e.createImage(tn.token, map[string]any{"name": "tiny-" + short + ".qcow2", "format": "qcow2", "size": len(data), "digest": digest})
	half := len(data) / 2
	r := e.upload(tn.token, img.ID, data[:half], "Content-Range", "bytes 0-"+itoa(half-1)+"/"+itoa(len(data)))
	require.Equal(t, http.StatusOK, r.status, "first part: %s", r)
	r = e.upload(tn.token, img.ID, data[half:], "Content-Range", "bytes "+itoa(half)+"-"+itoa(len(data)-1)+"/"+itoa(len(data)))
	require.Equal(t, http.StatusOK, r.status, "second part: %s", r)
	var ready core.Image
	r.decode(t, &ready)
	require.Equal(t, apitypes.ImageReady, ready.Phase)
	assert.Equal(t, 64*ovm.MiB, ready.VirtualSize, "qemu-img's virtual size")
	file := "vdc-" + string(tn.vdc) + "-" + img.Name

	vm := func(name string) ovm.Task {
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": name, "start": true,
			"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20,
				"image": map[string]string{"format": "qcow2", "name": img.Name}}}).decode(t, &it)
		hv := name + "-" + string(it.Instance.ID.Short())
		t.Cleanup(func() {
			lh.RemoveDomain(hv)
			lh.RemoveVolumes(it.Instance.ID)
		})
		var done ovm.Task
		deadline := time.Now().Add(2 * time.Minute)
		for {
			e.must(http.StatusOK, "GET", "/v1/tasks/"+string(it.Task.ID), e.admin, nil).decode(t, &done)
			if done.State.Final() || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		require.Equal(t, ovm.TaskSucceeded, done.State, "create %s: %+v", name, done)
		st, defined := lh.State(t, hv)
		assert.True(t, defined, "the domain %s is defined", hv)
		assert.Equal(t, golibvirt.DomainRunning, st, "the VM made from the delivered template runs")
		return done
	}

	first := vm("vm1")
	assert.True(t, logHas(first, "delivering template "+img.Name), "the first create delivers: %+v", first.Log)
	got, err := os.ReadFile(filepath.Join(dir, file))
	require.NoError(t, err, "the template reached the host's template library pool under its library name")
	assert.Equal(t, digest, sha256Digest(got), "the host's copy has the catalog's digest")
	side, err := os.ReadFile(filepath.Join(dir, file+".sha256"))
	require.NoError(t, err, "the digest is kept beside the template")
	assert.Contains(t, string(side), strings.TrimPrefix(digest, "sha256:"))
	st, err := os.Stat(filepath.Join(dir, file))
	require.NoError(t, err)
	mtime := st.ModTime()

	second := vm("vm2")
	assert.False(t, logHas(second, "delivering template"), "the second create delivers nothing: %+v", second.Log)
	assert.True(t, logHas(second, "is on host"), "the second create finds the template by digest: %+v", second.Log)
	st, err = os.Stat(filepath.Join(dir, file))
	require.NoError(t, err)
	assert.Equal(t, mtime, st.ModTime(), "the template was not written again")
}

func itoa(n int) string { return strconv.Itoa(n) }
