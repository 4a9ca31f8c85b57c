package libvirt

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/ovm"
)

// DirPoolXML renders a pool of type dir at path.
func DirPoolXML(name, uuid, path string) *libvirtxml.StoragePool {
	return &libvirtxml.StoragePool{
		Type: "dir", Name: name, UUID: uuid,
		Target: &libvirtxml.StoragePoolTarget{Path: path},
	}
}

// NetFSPoolXML renders a pool of type netfs: the NFS export server:export
// mounted at path.
func NetFSPoolXML(name, uuid, server, export, path string) *libvirtxml.StoragePool {
	return &libvirtxml.StoragePool{
		Type: "netfs", Name: name, UUID: uuid,
		Source: &libvirtxml.StoragePoolSource{
			Host:   []libvirtxml.StoragePoolSourceHost{{Name: server}},
			Dir:    &libvirtxml.StoragePoolSourceDir{Path: export},
			Format: &libvirtxml.StoragePoolSourceFormat{Type: "nfs"},
		},
		Target: &libvirtxml.StoragePoolTarget{Path: path},
	}
}

// definePool defines, builds, starts and autostarts a pool from its XML,
// undefining it again when a later step fails. It returns the running pool.
func definePool(ctx context.Context, l *golibvirt.Libvirt, p *libvirtxml.StoragePool) (golibvirt.StoragePool, error) {
	x, err := p.Marshal()
	if err != nil {
		return golibvirt.StoragePool{}, fmt.Errorf("libvirt: render pool %s: %w", p.Name, err)
	}
	pool, err := rpc(ctx, func() (golibvirt.StoragePool, error) { return l.StoragePoolDefineXML(x, 0) })
	if err != nil {
		return golibvirt.StoragePool{}, wrap(err, "libvirt: define pool %s", p.Name)
	}
	undo := func() { _ = l.StoragePoolUndefine(pool) }
	if err := do(ctx, func() error { return l.StoragePoolBuild(pool, golibvirt.StoragePoolBuildNew) }); err != nil {
		undo()
		return golibvirt.StoragePool{}, wrap(err, "libvirt: build pool %s", p.Name)
	}
	built := func() { _ = l.StoragePoolDelete(pool, 0); undo() } // removes the directory Build made
	if err := do(ctx, func() error { return l.StoragePoolCreate(pool, 0) }); err != nil {
		built()
		return golibvirt.StoragePool{}, wrap(err, "libvirt: start pool %s", p.Name)
	}
	if err := do(ctx, func() error { return l.StoragePoolSetAutostart(pool, 1) }); err != nil {
		_ = l.StoragePoolDestroy(pool)
		built()
		return golibvirt.StoragePool{}, wrap(err, "libvirt: autostart pool %s", p.Name)
	}
	return pool, nil
}

// ensureDirPool returns the pool named ref.Name, defining a dir pool at
// ref.Path when the host has none, and starting it when inactive. A pool
// this driver already ensured is only looked up (one call).
func (d *Driver) ensureDirPool(ctx context.Context, ref PoolRef) (golibvirt.StoragePool, error) {
	d.probeMu.Lock()
	defer d.probeMu.Unlock()
	pool, err := rpc(ctx, func() (golibvirt.StoragePool, error) { return d.l.StoragePoolLookupByName(ref.Name) })
	if isCode(err, golibvirt.ErrNoStoragePool) {
		pool, err = definePool(ctx, d.l, DirPoolXML(ref.Name, "", ref.Path))
		if err == nil {
			d.pools[ref.Name] = true
		}
		return pool, err
	}
	if err != nil {
		return golibvirt.StoragePool{}, wrap(err, "libvirt: look up pool %s", ref.Name)
	}
	if d.pools[ref.Name] {
		return pool, nil
	}
	active, err := rpc(ctx, func() (int32, error) { return d.l.StoragePoolIsActive(pool) })
	if err != nil {
		return golibvirt.StoragePool{}, wrap(err, "libvirt: pool %s", ref.Name)
	}
	if active == 0 {
		if err := do(ctx, func() error { return d.l.StoragePoolCreate(pool, 0) }); err != nil {
			return golibvirt.StoragePool{}, wrap(err, "libvirt: start pool %s", ref.Name)
		}
	} else if err := RefreshPool(ctx, d.l, pool); err != nil {
		return golibvirt.StoragePool{}, wrap(err, "libvirt: refresh pool %s", ref.Name)
	}
	d.pools[ref.Name] = true
	return pool, nil
}

// lookupVolume finds a volume by name in pool, refreshing the pool once
// when libvirt does not know it yet (a file another host made).
func lookupVolume(ctx context.Context, l *golibvirt.Libvirt, pool golibvirt.StoragePool, name string) (golibvirt.StorageVol, error) {
	vol, err := rpc(ctx, func() (golibvirt.StorageVol, error) { return l.StorageVolLookupByName(pool, name) })
	if isCode(err, golibvirt.ErrNoStorageVol) {
		if rerr := RefreshPool(ctx, l, pool); rerr == nil {
			vol, err = rpc(ctx, func() (golibvirt.StorageVol, error) { return l.StorageVolLookupByName(pool, name) })
		}
	}
	return vol, err
}

// VolumeXML renders a volume of capacity bytes in format; with backing set,
// a copy-on-write qcow2 over that file.
func VolumeXML(name string, capacity uint64, format, backing, backingFormat string) *libvirtxml.StorageVolume {
	v := &libvirtxml.StorageVolume{
		Name:     name,
		Capacity: &libvirtxml.StorageVolumeSize{Value: capacity, Unit: "bytes"},
		Target:   &libvirtxml.StorageVolumeTarget{Format: &libvirtxml.StorageVolumeTargetFormat{Type: format}},
	}
	if backing != "" {
		v.BackingStore = &libvirtxml.StorageVolumeBackingStore{
			Path: backing, Format: &libvirtxml.StorageVolumeTargetFormat{Type: backingFormat},
		}
	}
	return v
}

// createVolume makes a volume in pool from its XML and returns its path.
func createVolume(ctx context.Context, l *golibvirt.Libvirt, pool golibvirt.StoragePool, v *libvirtxml.StorageVolume) (golibvirt.StorageVol, string, error) {
	x, err := v.Marshal()
	if err != nil {
		return golibvirt.StorageVol{}, "", fmt.Errorf("libvirt: render volume %s: %w", v.Name, err)
	}
	vol, err := rpc(ctx, func() (golibvirt.StorageVol, error) { return l.StorageVolCreateXML(pool, x, 0) })
	if err != nil {
		return golibvirt.StorageVol{}, "", wrap(err, "libvirt: create volume %s in pool %s", v.Name, pool.Name)
	}
	path, err := rpc(ctx, func() (string, error) { return l.StorageVolGetPath(vol) })
	if err != nil {
		_ = l.StorageVolDelete(vol, 0)
		return golibvirt.StorageVol{}, "", wrap(err, "libvirt: path of volume %s", v.Name)
	}
	return vol, path, nil
}

// deleteVolumePath deletes the volume at path; one already gone is fine.
func deleteVolumePath(ctx context.Context, l *golibvirt.Libvirt, path string) error {
	// Another host may have made the file in a shared directory: refresh
	// the pool that holds it first, so that libvirt knows the volume.
	if pool, err := rpc(ctx, func() (golibvirt.StoragePool, error) { return l.StoragePoolLookupByTargetPath(filepath.Dir(path)) }); err == nil {
		_ = RefreshPool(ctx, l, pool)
	}
	vol, err := rpc(ctx, func() (golibvirt.StorageVol, error) { return l.StorageVolLookupByPath(path) })
	if isCode(err, golibvirt.ErrNoStorageVol) {
		return nil
	}
	if err != nil {
		return wrap(err, "libvirt: look up volume %s", path)
	}
	if err := do(ctx, func() error { return l.StorageVolDelete(vol, 0) }); err != nil && !isCode(err, golibvirt.ErrNoStorageVol) {
		return wrap(err, "libvirt: delete volume %s", path)
	}
	return nil
}

// notFoundTemplate is the error for a template missing from the pool.
func notFoundTemplate(name, pool string, err error) error {
	return ovm.Errorf(ovm.KindNotFound, "template %q not found in pool %s: %w", name, pool, err)
}

// poolBusyWait bounds how long RefreshPool waits for a pool's volume jobs.
const poolBusyWait = 2 * time.Minute

// RefreshPool refreshes a pool through any go-libvirt connection, waiting
// (within ctx, at most poolBusyWait) while libvirt refuses because a
// volume of the pool is being built by another client or task (a clone, a
// qcow2 over a template): "pool '...' has asynchronous jobs running".
func RefreshPool(ctx context.Context, l *golibvirt.Libvirt, pool golibvirt.StoragePool) error {
	return whilePoolBusy(ctx, poolBusyWait, func() error {
		return do(ctx, func() error { return l.StoragePoolRefresh(pool, 0) })
	})
}

// whilePoolBusy runs fn again, with a growing pause, for as long as it
// fails because the pool is busy, ctx lasts and wait allows.
func whilePoolBusy(ctx context.Context, wait time.Duration, fn func() error) error {
	delay, deadline := 10*time.Millisecond, time.Now().Add(wait)
	for {
		err := fn()
		if !poolBusy(err) || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay = min(2*delay, time.Second)
	}
}

// poolBusy reports libvirt's refusal to refresh a pool while one of its
// volumes is being built.
func poolBusy(err error) bool {
	return err != nil && strings.Contains(err.Error(), "asynchronous jobs running")
}
