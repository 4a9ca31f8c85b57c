//go:build integration

package api

import (
	"encoding/binary"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/libvirthost"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// qcow2Size reads the virtual size of a qcow2 image from its header (bytes
// 24 to 32, big-endian).
func qcow2Size(t *testing.T, path string) ovm.Bytes {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var hdr [32]byte
	_, err = f.ReadAt(hdr[:], 0)
	require.NoError(t, err)
	require.Equal(t, "QFI\xfb", string(hdr[:4]), "a qcow2 template")
	return ovm.Bytes(binary.BigEndian.Uint64(hdr[24:32]))
}

// TestBootDiskCountsOnLibvirt: a VM made from a template on the real
// libvirtd, with no disk declared, takes its boot disk (the template's copy,
// as large as the template) of its VDC's disk quota and of its host's
// allocation; a VDC whose disk quota cannot hold the copy gets a create
// task that rolls back and leaves nothing on the host or in the quota;
// deleting the VM gives everything back.
func TestBootDiskCountsOnLibvirt(t *testing.T) {
	uri, template, opts := libvirtTestHost(t)
	lh := libvirthost.Dial(t, uri, opts)
	size := qcow2Size(t, template)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	var h ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "kvm1", "kind": "kvm", "endpoint": uri,
		"poolId": pl.pool, "options": opts}).decode(t, &h)
	vmSpec := map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20,
		"image": map[string]string{"format": "qcow2", "name": filepath.Base(template)}}
	usage := func(tn tenant) ovm.Usage {
		var v ovm.VDC
		e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc), tn.token, nil).decode(t, &v)
		return v.Usage
	}
	allocated := func() ovm.Resources {
		var got ovm.Host
		e.must(http.StatusOK, "GET", "/v1/hosts/"+string(h.ID), e.admin, nil).decode(t, &got)
		return got.Allocated
	}

	t.Run("counted", func(t *testing.T) {
		tn := e.newTenant("acme", pl.pool, quota)
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "vm1", "spec": vmSpec}).decode(t, &it)
		id := it.Instance.ID
		t.Cleanup(func() {
			lh.RemoveDomain("vm1-" + string(id.Short()))
			lh.RemoveVolumes(id)
		})
		done := e.waitTask(tn.token, it.Task.ID)
		require.Equal(t, ovm.TaskSucceeded, done.State, "create task: %+v", done)
		assert.Equal(t, size, usage(tn).Disk, "the boot disk in the vdc's usage")
		assert.Equal(t, ovm.Resources{CPU: ovm.CPUs(1), Memory: 64 * ovm.MiB, Disk: size}, allocated(), "the boot disk on the host")

		var del core.InstanceTask
		e.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(id), tn.token, nil).decode(t, &del)
		require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, del.Task.ID).State)
		assert.Equal(t, ovm.Usage{}, usage(tn), "everything given back")
		assert.Equal(t, ovm.Resources{}, allocated(), "nothing left on the host")
	})

	t.Run("over quota", func(t *testing.T) {
		q := quota
		q.Disk = size - 1
		tn := e.newTenant("tiny", pl.pool, q)
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "vm2", "spec": vmSpec}).decode(t, &it)
		id := it.Instance.ID
		hvName := "vm2-" + string(id.Short())
		t.Cleanup(func() {
			lh.RemoveDomain(hvName)
			lh.RemoveVolumes(id)
		})
		done := e.waitTask(tn.token, it.Task.ID)
		require.Equal(t, ovm.TaskRolledBack, done.State, "create task: %+v", done)
		assert.Contains(t, done.Error, "quota")
		_, defined := lh.State(t, hvName)
		assert.False(t, defined, "the domain was removed")
		assert.Empty(t, lh.Volumes(t, id), "its disks were removed")
		assert.Equal(t, ovm.Usage{}, usage(tn), "nothing held in the vdc")
		assert.Equal(t, ovm.Resources{}, allocated(), "nothing held on the host")
		var inst ovm.Instance
		e.must(http.StatusOK, "GET", "/v1/instances/"+string(id), tn.token, nil).decode(t, &inst)
		assert.Equal(t, ovm.PhaseFailed, inst.Status.Phase)
	})
}
