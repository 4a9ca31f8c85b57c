//go:build integration

package libvirt_test

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// backingOffset reads the offset of the backing file name from a qcow2
// header (bytes 8 to 16, big-endian): 0 when the image has no backing
// file.
func backingOffset(t *testing.T, path string) uint64 {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var hdr [16]byte
	_, err = f.ReadAt(hdr[:], 0)
	require.NoError(t, err)
	require.Equal(t, "QFI\xfb", string(hdr[:4]), "%s is a qcow2 image", path)
	return binary.BigEndian.Uint64(hdr[8:16])
}

// TestBootDiskOutlivesTemplate: a VM's boot disk is a copy of its template
// with no backing file, so the VM starts after the template is removed
// (a qcow2 overlay over the template would not open).
func TestBootDiskOutlivesTemplate(t *testing.T) {
	e := env(t)
	d := dial(t, e, e.uri)
	t.Cleanup(func() { _ = d.Close() })
	src, err := os.ReadFile(e.template)
	require.NoError(t, err)
	id := ovm.NewID()
	tmpl := filepath.Join(filepath.Dir(e.template), "ovm-boot-"+string(id.Short())+".qcow2")
	require.NoError(t, os.WriteFile(tmpl, src, 0o644))
	t.Cleanup(func() { _ = os.Remove(tmpl) })

	sp := spec(e, "ovm-boot-"+string(id.Short()))
	sp.Spec.Image = ovm.Template(filepath.Base(tmpl))
	sp.Spec.Disks = []ovm.DiskSpec{{Size: 96 * ovm.MiB}}
	inst, err := d.Create(t.Context(), sp)
	require.NoError(t, err, "Create from the template copy")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = d.Stop(ctx, hypervisor.ByID(sp.ID), hypervisor.StopOptions{Force: true})
		_ = d.Delete(ctx, hypervisor.ByID(sp.ID))
	})
	assert.Equal(t, 96*ovm.MiB, inst.Disk, "the boot disk grown to the size the spec asks")

	boot := filepath.Join(e.shared, "ovm-"+string(sp.ID)+"-boot.qcow2")
	assert.Zero(t, backingOffset(t, boot), "the boot disk %s has no backing file", boot)
	require.NoError(t, os.Remove(tmpl), "remove the template")
	require.NoError(t, d.Start(t.Context(), hypervisor.ByID(sp.ID)), "the VM starts without its template")
	got, err := d.Get(t.Context(), hypervisor.ByID(sp.ID))
	require.NoError(t, err)
	assert.Equal(t, ovm.PowerRunning, got.Power)
}
