package libvirt

import (
	"context"
	"fmt"
	"slices"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
)

var _ storage.Attacher = (*Storage)(nil)

// detachWait bounds how long DetachVolume waits for a running guest to
// release a disk (the guest acknowledges the unplug).
const detachWait = 30 * time.Second

// findVolumeFresh finds a volume by OVM id, refreshing the host's pools
// once when it is not known yet: another host of a shared pool made it.
func (s *Storage) findVolumeFresh(ctx context.Context, id ovm.ID) (volume, error) {
	v, err := s.findVolume(ctx, id)
	if ovm.KindOf(err) != ovm.KindNotFound {
		return v, err
	}
	pools, lerr := rpc(ctx, func() ([]golibvirt.StoragePool, error) {
		p, _, err := s.d.l.ConnectListAllStoragePools(1, golibvirt.ConnectListStoragePoolsActive)
		return p, err
	})
	if lerr != nil {
		return v, wrap(lerr, "libvirt: list pools")
	}
	for _, pool := range pools {
		_ = RefreshPool(ctx, s.d.l, pool)
	}
	return s.findVolume(ctx, id)
}

// deviceFlags are the flags of a device change: the domain's definition,
// and the running guest too when it runs.
func deviceFlags(f found) (golibvirt.DomainDeviceModifyFlags, bool) {
	live := f.power == ovm.PowerRunning || f.power == ovm.PowerPaused
	if live {
		return golibvirt.DomainDeviceModifyConfig | golibvirt.DomainDeviceModifyLive, true
	}
	return golibvirt.DomainDeviceModifyConfig, false
}

// AttachVolume attaches a volume to the domain of an instance as the next
// free virtio disk: to the running guest and its definition (hot-plug) when
// it runs, else to its definition. Attaching it again to the same domain
// does nothing. It does not scan the host's other domains: the caller
// keeps a volume on one instance (the server's record does), and QEMU's
// image lock refuses a disk another running guest has open.
func (s *Storage) AttachVolume(ctx context.Context, volumeID, instanceID ovm.ID) error {
	v, err := s.findVolumeFresh(ctx, volumeID)
	if err != nil {
		return err
	}
	f, err := s.d.lookup(ctx, hypervisor.ByID(instanceID))
	if err != nil {
		return err
	}
	if diskOf(f.def, v.vol.Key) != nil {
		return nil
	}
	format := string(v.v.Format)
	if format == "" {
		format = "qcow2"
	}
	disk := libvirtxml.DomainDisk{
		Device: "disk",
		Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: format},
		Source: &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: v.vol.Key}},
		Target: &libvirtxml.DomainDiskTarget{Dev: freeTarget(f.def), Bus: "virtio"},
	}
	x, err := disk.Marshal()
	if err != nil {
		return fmt.Errorf("libvirt: render disk %s: %w", v.vol.Key, err)
	}
	flags, _ := deviceFlags(f)
	return wrap(do(ctx, func() error { return s.d.l.DomainAttachDeviceFlags(f.dom, x, uint32(flags)) }),
		"libvirt: attach volume %s to domain %s", v.vol.Name, f.dom.Name)
}

// DetachVolume detaches a volume from the domain that uses it (from the
// running guest too, waiting until the guest released it); a volume no
// domain uses is left alone.
func (s *Storage) DetachVolume(ctx context.Context, volumeID ovm.ID) error {
	v, err := s.findVolumeFresh(ctx, volumeID)
	if err != nil {
		return err
	}
	all, err := s.d.scan(ctx)
	if err != nil {
		return err
	}
	for _, f := range all {
		disk := diskOf(f.def, v.vol.Key)
		if disk == nil {
			continue
		}
		x, err := disk.Marshal()
		if err != nil {
			return fmt.Errorf("libvirt: render disk %s: %w", v.vol.Key, err)
		}
		flags, live := deviceFlags(f)
		if err := do(ctx, func() error { return s.d.l.DomainDetachDeviceFlags(f.dom, x, uint32(flags)) }); err != nil {
			return wrap(err, "libvirt: detach volume %s from domain %s", v.vol.Name, f.dom.Name)
		}
		if live {
			return s.released(ctx, f.dom, v.vol.Key)
		}
		return nil
	}
	return nil
}

// released waits until a running domain no longer has the disk at path.
func (s *Storage) released(ctx context.Context, dom golibvirt.Domain, path string) error {
	deadline := time.Now().Add(detachWait)
	for {
		x, err := rpc(ctx, func() (string, error) { return s.d.l.DomainGetXMLDesc(dom, 0) })
		if isCode(err, golibvirt.ErrNoDomain) {
			return nil
		}
		if err != nil {
			return wrap(err, "libvirt: read domain %s", dom.Name)
		}
		var def libvirtxml.Domain
		if err := def.Unmarshal(x); err != nil {
			return fmt.Errorf("libvirt: parse domain %s: %w", dom.Name, err)
		}
		if diskOf(def, path) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return ovm.Errorf(ovm.KindUnavailable, "libvirt: the guest of domain %s did not release disk %s within %s", dom.Name, path, detachWait)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// diskOf returns the disk of def whose source is the file path.
func diskOf(def libvirtxml.Domain, path string) *libvirtxml.DomainDisk {
	if def.Devices == nil {
		return nil
	}
	for i, d := range def.Devices.Disks {
		if d.Source != nil && d.Source.File != nil && d.Source.File.File == path {
			return &def.Devices.Disks[i]
		}
	}
	return nil
}

// freeTarget returns the first virtio disk name def does not use.
func freeTarget(def libvirtxml.Domain) string {
	var used []string
	if def.Devices != nil {
		for _, d := range def.Devices.Disks {
			if d.Target != nil {
				used = append(used, d.Target.Dev)
			}
		}
	}
	for i := 0; ; i++ {
		if t := diskTarget(i); !slices.Contains(used, t) {
			return t
		}
	}
}
