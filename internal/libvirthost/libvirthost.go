// Package libvirthost is the server tests' own go-libvirt connection to a
// test libvirtd, to make and check things on the host beside OVM.
package libvirthost

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/stretchr/testify/require"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/hypervisor/libvirt"
	"github.com/openovm/ovm/ovm"
)

// DiskPool is the pool the server tests register as the host's disks.
const DiskPool = "ovm-disks"

// Host is a go-libvirt connection to one libvirtd.
type Host struct{ L *golibvirt.Libvirt }

// Dial connects through the driver's dialer (which knows the URI forms),
// with the host options' templates and disks directories; closed when t
// ends.
func Dial(t testing.TB, uri string, opts map[string]string) *Host {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := libvirt.Dial(ctx, libvirt.Config{URI: uri, VirtType: "qemu",
		Templates: libvirt.PoolRef{Name: "ovm-templates", Path: opts["templates"]},
		Disks:     libvirt.PoolRef{Name: DiskPool, Path: opts["disks"]}})
	require.NoError(t, err, "dial %s", uri)
	t.Cleanup(func() { _ = d.Close() })
	return &Host{L: d.Libvirt()}
}

// UUIDText is a domain's UUID as libvirt prints it (a discovered object's
// native id).
func UUIDText(u golibvirt.UUID) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// State is a domain's state by the engine's own word; exists is false when
// libvirt does not know the domain.
func (h *Host) State(t testing.TB, name string) (st golibvirt.DomainState, exists bool) {
	t.Helper()
	dom, err := h.L.DomainLookupByName(name)
	if err != nil {
		require.True(t, golibvirt.IsNotFound(err), "lookup domain %s: %v", name, err)
		return 0, false
	}
	s, _, err := h.L.DomainGetState(dom, 0)
	require.NoError(t, err, "state of %s", name)
	return golibvirt.DomainState(s), true
}

// StartUnmanaged defines and starts a small domain beside OVM (no OVM
// metadata) that boots kernel and initrd, removed when t ends.
func (h *Host) StartUnmanaged(t testing.TB, name, kernel, initrd string) golibvirt.Domain {
	t.Helper()
	def := libvirtxml.Domain{Type: "qemu", Name: name,
		Memory: &libvirtxml.DomainMemory{Value: 64, Unit: "MiB"},
		VCPU:   &libvirtxml.DomainVCPU{Value: 1},
		OS: &libvirtxml.DomainOS{Type: &libvirtxml.DomainOSType{Arch: "x86_64", Type: "hvm"},
			Kernel: kernel, Initrd: initrd, Cmdline: "console=ttyS0 quiet"}}
	x, err := def.Marshal()
	require.NoError(t, err)
	dom, err := h.L.DomainDefineXML(x)
	require.NoError(t, err, "define the unmanaged domain %s", name)
	t.Cleanup(func() { h.RemoveDomain(name) })
	require.NoError(t, h.L.DomainCreate(dom), "start the unmanaged domain %s", name)
	return dom
}

// RemoveDomain destroys and undefines a domain by name, if it exists.
func (h *Host) RemoveDomain(name string) {
	dom, err := h.L.DomainLookupByName(name)
	if err != nil {
		return
	}
	_ = h.L.DomainDestroy(dom)
	_ = h.L.DomainUndefineFlags(dom, golibvirt.DomainUndefineSnapshotsMetadata|golibvirt.DomainUndefineManagedSave)
}

// Volumes lists the disk pool's volumes whose name holds id.
func (h *Host) Volumes(t testing.TB, id ovm.ID) []string {
	t.Helper()
	pool, err := h.L.StoragePoolLookupByName(DiskPool)
	require.NoError(t, err, "the disk pool")
	require.NoError(t, libvirt.RefreshPool(context.Background(), h.L, pool))
	vols, _, err := h.L.StoragePoolListAllVolumes(pool, 1, 0)
	require.NoError(t, err)
	var out []string
	for _, v := range vols {
		if strings.Contains(v.Name, string(id)) {
			out = append(out, v.Name)
		}
	}
	return out
}

// RemoveVolumes deletes the disk pool's volumes whose name holds id
// (cleanup).
func (h *Host) RemoveVolumes(id ovm.ID) {
	pool, err := h.L.StoragePoolLookupByName(DiskPool)
	if err != nil {
		return
	}
	vols, _, _ := h.L.StoragePoolListAllVolumes(pool, 1, 0)
	for _, v := range vols {
		if strings.Contains(v.Name, string(id)) {
			_ = h.L.StorageVolDelete(v, 0)
		}
	}
}

// RemoveNetwork destroys and undefines the libvirt network of an OVM
// network (its UUID is the network's id), if it exists (cleanup).
func (h *Host) RemoveNetwork(id ovm.ID) {
	b, err := hex.DecodeString(strings.ReplaceAll(string(id), "-", ""))
	if err != nil || len(b) != len(golibvirt.UUID{}) {
		return
	}
	n, err := h.L.NetworkLookupByUUID(golibvirt.UUID(b))
	if err != nil {
		return
	}
	_ = h.L.NetworkDestroy(n)
	_ = h.L.NetworkUndefine(n)
}
