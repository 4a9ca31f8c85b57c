package libvirt

import (
	"context"
	"fmt"

	golibvirt "github.com/digitalocean/go-libvirt"
)

// copyTemplate makes a VM's boot disk name in pool as a full qcow2 copy of
// the template volume tvol (libvirt's clone: qemu-img convert), grown to
// capacity when that is more than the template's size, and returns its
// path. The copy has no backing file: the VM does not depend on the
// template staying unchanged, nor on the template library being reachable
// from the host it moves to.
func copyTemplate(ctx context.Context, l *golibvirt.Libvirt, pool golibvirt.StoragePool, tvol golibvirt.StorageVol, name string, tcap, capacity uint64) (string, error) {
	x, err := VolumeXML(name, tcap, "qcow2", "", "").Marshal()
	if err != nil {
		return "", fmt.Errorf("libvirt: render volume %s: %w", name, err)
	}
	vol, err := rpc(ctx, func() (golibvirt.StorageVol, error) { return l.StorageVolCreateXMLFrom(pool, x, tvol, 0) })
	if err != nil {
		return "", wrap(err, "libvirt: copy template %s to %s in pool %s", tvol.Name, name, pool.Name)
	}
	if capacity > tcap {
		if err := do(ctx, func() error { return l.StorageVolResize(vol, capacity, 0) }); err != nil {
			_ = l.StorageVolDelete(vol, 0)
			return "", wrap(err, "libvirt: grow volume %s", name)
		}
	}
	path, err := rpc(ctx, func() (string, error) { return l.StorageVolGetPath(vol) })
	if err != nil {
		_ = l.StorageVolDelete(vol, 0)
		return "", wrap(err, "libvirt: path of volume %s", name)
	}
	return path, nil
}
