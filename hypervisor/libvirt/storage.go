package libvirt

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	golibvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
)

var (
	_ storage.Driver      = (*Storage)(nil)
	_ storage.Snapshotter = (*Storage)(nil)
)

// Storage is the storage driver of a libvirt host, on its Driver's
// connection. Pools are libvirt storage pools whose UUID is the OVM id:
// type dir for local and shared pools (a shared one holds the empty marker
// volume ".ovm-shared"), type netfs for NFS. Volumes are named
// "<name>_<ovm id>.<format>"; a volume snapshot is a full copy named
// ".snap_<volume id>_<snapshot id>_<name>" in the same pool (libvirt has no
// volume snapshot call; qcow2 internal snapshots need qemu-img on the host).
type Storage struct {
	d  *Driver
	mu sync.Mutex // serialises the free-space check with the create or resize

	keysMu sync.Mutex
	keys   map[ovm.ID]string // volume id to libvirt key (path), checked on use
}

// Storage returns the host's storage driver.
func (d *Driver) Storage() *Storage { return &Storage{d: d} }

const (
	sharedMarker = ".ovm-shared"
	snapPrefix   = ".snap_"
)

// Capabilities: dir and netfs pools, qcow2 and raw, snapshots, volumes
// from templates, attach (hot-plug to a running guest) and detach.
func (s *Storage) Capabilities() storage.Capabilities {
	return storage.Capabilities{
		PoolKinds: []ovm.StoragePoolKind{ovm.StorageLocal, ovm.StorageShared, ovm.StorageNFS},
		Formats:   []ovm.ImageFormat{ovm.FormatQCOW2, ovm.FormatRaw},
		Attach:    true,
		HotAttach: true,
		Snapshots: true,
		FromImage: true,
	}
}

// DefaultNFSMountRoot is where an NFS pool without a path is mounted.
const DefaultNFSMountRoot = "/var/lib/libvirt/ovm-nfs"

// CreatePool defines, builds and starts a pool, or returns the one with the
// same id. An NFS pool is mounted when it starts; a host that cannot mount
// it (no NFS client) refuses it with libvirt's text and keeps nothing.
func (s *Storage) CreatePool(ctx context.Context, spec storage.PoolSpec) (ovm.StoragePool, error) {
	if err := spec.Validate(); err != nil {
		return ovm.StoragePool{}, err
	}
	if p, err := s.GetPool(ctx, spec.ID); err == nil {
		return p, nil
	} else if ovm.KindOf(err) != ovm.KindNotFound {
		return ovm.StoragePool{}, err
	}
	var def *libvirtxml.StoragePool
	switch spec.Kind {
	case ovm.StorageNFS:
		mount := spec.Path
		if mount == "" {
			mount = path.Join(DefaultNFSMountRoot, spec.Name)
		}
		def = NetFSPoolXML(spec.Name, string(spec.ID), spec.Server, spec.Export, mount)
	default:
		def = DirPoolXML(spec.Name, string(spec.ID), spec.Path)
	}
	pool, err := definePool(ctx, s.d.l, def)
	if err != nil {
		return ovm.StoragePool{}, err
	}
	_, markErr := rpc(ctx, func() (golibvirt.StorageVol, error) { return s.d.l.StorageVolLookupByName(pool, sharedMarker) })
	if spec.Kind == ovm.StorageShared && markErr != nil { // another host may have marked the directory
		if _, _, err := createVolume(ctx, s.d.l, pool, VolumeXML(sharedMarker, 0, "raw", "", "")); err != nil {
			s.removePool(context.WithoutCancel(ctx), pool)
			return ovm.StoragePool{}, err
		}
	}
	return s.GetPool(ctx, spec.ID)
}

// removePool stops, deletes and undefines a pool.
func (s *Storage) removePool(ctx context.Context, pool golibvirt.StoragePool) {
	_ = do(ctx, func() error { return s.d.l.StoragePoolDestroy(pool) })
	_ = do(ctx, func() error { return s.d.l.StoragePoolDelete(pool, 0) })
	_ = do(ctx, func() error { return s.d.l.StoragePoolUndefine(pool) })
}

// lookupPool finds a pool by OVM id (its UUID).
func (s *Storage) lookupPool(ctx context.Context, id ovm.ID) (golibvirt.StoragePool, error) {
	u, ok := parseUUID(string(id))
	if !ok {
		return golibvirt.StoragePool{}, ovm.NotFound("storage pool", id)
	}
	pool, err := rpc(ctx, func() (golibvirt.StoragePool, error) { return s.d.l.StoragePoolLookupByUUID(u) })
	if isCode(err, golibvirt.ErrNoStoragePool) {
		return pool, ovm.Errorf(ovm.KindNotFound, "storage pool %s not found: %w", id, err)
	}
	return pool, wrap(err, "libvirt: look up pool %s", id)
}

// GetPool returns a pool with its capacity and use, refreshed.
func (s *Storage) GetPool(ctx context.Context, id ovm.ID) (ovm.StoragePool, error) {
	pool, err := s.lookupPool(ctx, id)
	if err != nil {
		return ovm.StoragePool{}, err
	}
	return s.describePool(ctx, pool)
}

// describePool reads a pool's definition and size.
func (s *Storage) describePool(ctx context.Context, pool golibvirt.StoragePool) (ovm.StoragePool, error) {
	_ = RefreshPool(ctx, s.d.l, pool)
	x, err := rpc(ctx, func() (string, error) { return s.d.l.StoragePoolGetXMLDesc(pool, 0) })
	if err != nil {
		return ovm.StoragePool{}, wrap(err, "libvirt: read pool %s", pool.Name)
	}
	var def libvirtxml.StoragePool
	if err := def.Unmarshal(x); err != nil {
		return ovm.StoragePool{}, fmt.Errorf("libvirt: parse pool %s: %w", pool.Name, err)
	}
	p := ovm.StoragePool{ID: ovm.ID(uuidString(pool.UUID)), Name: pool.Name, Kind: ovm.StorageLocal}
	if def.Target != nil {
		p.Path = def.Target.Path
	}
	if def.Type == "netfs" {
		p.Kind = ovm.StorageNFS
		if def.Source != nil && len(def.Source.Host) > 0 && def.Source.Dir != nil {
			p.Server, p.Export = def.Source.Host[0].Name, def.Source.Dir.Path
		}
	}
	if err := ctx.Err(); err != nil {
		return ovm.StoragePool{}, err
	}
	_, capacity, _, available, err := s.d.l.StoragePoolGetInfo(pool)
	if err != nil {
		return ovm.StoragePool{}, wrap(err, "libvirt: size of pool %s", pool.Name)
	}
	p.Capacity, p.Used = ovm.Bytes(capacity), ovm.Bytes(capacity-available)
	if p.Kind == ovm.StorageLocal {
		if _, err := rpc(ctx, func() (golibvirt.StorageVol, error) { return s.d.l.StorageVolLookupByName(pool, sharedMarker) }); err == nil {
			p.Kind = ovm.StorageShared
		}
	}
	return p, nil
}

// ListPools lists every pool of the host.
func (s *Storage) ListPools(ctx context.Context) ([]ovm.StoragePool, error) {
	pools, err := rpc(ctx, func() ([]golibvirt.StoragePool, error) {
		p, _, err := s.d.l.ConnectListAllStoragePools(1, 0)
		return p, err
	})
	if err != nil {
		return nil, wrap(err, "libvirt: list pools")
	}
	out := make([]ovm.StoragePool, 0, len(pools))
	for _, pool := range pools {
		p, err := s.describePool(ctx, pool)
		if ovm.KindOf(err) == ovm.KindNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// DeletePool removes an empty pool (its directory too); a pool holding a
// volume is ovm.ErrConflict. The pool is refreshed first (another host of
// a shared pool may have changed it); a pool whose storage is gone (its
// shared directory removed through another host) is only forgotten.
func (s *Storage) DeletePool(ctx context.Context, id ovm.ID) error {
	pool, err := s.lookupPool(ctx, id)
	if err != nil {
		return err
	}
	if active, err := rpc(ctx, func() (int32, error) { return s.d.l.StoragePoolIsActive(pool) }); err == nil && active == 1 {
		if err := RefreshPool(ctx, s.d.l, pool); err != nil {
			_ = do(ctx, func() error { return s.d.l.StoragePoolDestroy(pool) })
			return wrap(do(ctx, func() error { return s.d.l.StoragePoolUndefine(pool) }), "libvirt: undefine pool %s", pool.Name)
		}
	}
	vols, err := s.poolVolumes(ctx, pool, true)
	if err != nil {
		return err
	}
	for _, v := range vols {
		if !strings.HasPrefix(v.Name, ".") {
			return ovm.Errorf(ovm.KindConflict, "storage pool %s (%s) holds volume %s", pool.Name, id, v.Name)
		}
	}
	for _, v := range vols {
		_ = do(ctx, func() error { return s.d.l.StorageVolDelete(v, 0) })
	}
	if err := do(ctx, func() error { return s.d.l.StoragePoolDestroy(pool) }); err != nil && !isCode(err, golibvirt.ErrOperationInvalid) {
		return wrap(err, "libvirt: stop pool %s", pool.Name)
	}
	_ = do(ctx, func() error { return s.d.l.StoragePoolDelete(pool, 0) })
	return wrap(do(ctx, func() error { return s.d.l.StoragePoolUndefine(pool) }), "libvirt: undefine pool %s", pool.Name)
}

// poolVolumes lists a pool's volumes; hidden ones (markers, snapshots)
// only when all.
func (s *Storage) poolVolumes(ctx context.Context, pool golibvirt.StoragePool, all bool) ([]golibvirt.StorageVol, error) {
	vols, err := rpc(ctx, func() ([]golibvirt.StorageVol, error) {
		v, _, err := s.d.l.StoragePoolListAllVolumes(pool, 1, 0)
		return v, err
	})
	if err != nil {
		return nil, wrap(err, "libvirt: volumes of pool %s", pool.Name)
	}
	if !all {
		vols = slices.DeleteFunc(vols, func(v golibvirt.StorageVol) bool { return strings.HasPrefix(v.Name, ".") })
	}
	return vols, nil
}

// volumeName is the libvirt name of an OVM volume.
func volumeName(name string, id ovm.ID, f ovm.ImageFormat) string {
	return name + "_" + string(id) + "." + string(f)
}

// parseVolumeName splits a libvirt volume name made by volumeName.
func parseVolumeName(n string) (name string, id ovm.ID, f ovm.ImageFormat, ok bool) {
	base, ext, found := strings.Cut(n, ".")
	if !found {
		return "", "", "", false
	}
	i := strings.LastIndex(base, "_")
	if i < 0 || !ovm.ID(base[i+1:]).Valid() {
		return "", "", "", false
	}
	return base[:i], ovm.ID(base[i+1:]), ovm.ImageFormat(ext), true
}

// volume is a found OVM volume.
type volume struct {
	vol  golibvirt.StorageVol
	pool golibvirt.StoragePool
	v    ovm.Volume
}

// findVolume finds the volume with OVM id id in any pool: by the key this
// driver saw last for the id (checked against the volume's name), else by
// a scan of the pools.
func (s *Storage) findVolume(ctx context.Context, id ovm.ID) (volume, error) {
	if v, ok := s.knownVolume(ctx, id); ok {
		return v, nil
	}
	v, err := s.scanVolume(ctx, id)
	if err == nil {
		s.keysMu.Lock()
		if s.keys == nil {
			s.keys = map[ovm.ID]string{}
		}
		s.keys[id] = v.vol.Key
		s.keysMu.Unlock()
	}
	return v, err
}

// knownVolume looks a volume up by the key remembered for its id.
func (s *Storage) knownVolume(ctx context.Context, id ovm.ID) (volume, bool) {
	s.keysMu.Lock()
	key, ok := s.keys[id]
	s.keysMu.Unlock()
	if !ok {
		return volume{}, false
	}
	vol, err := rpc(ctx, func() (golibvirt.StorageVol, error) { return s.d.l.StorageVolLookupByKey(key) })
	if err == nil {
		if _, vid, _, named := parseVolumeName(vol.Name); named && vid == id {
			if pool, err := rpc(ctx, func() (golibvirt.StoragePool, error) { return s.d.l.StoragePoolLookupByVolume(vol) }); err == nil {
				if v, err := s.describeVolume(ctx, pool, vol); err == nil {
					return v, true
				}
			}
		}
	}
	s.keysMu.Lock()
	delete(s.keys, id)
	s.keysMu.Unlock()
	return volume{}, false
}

// scanVolume finds the volume with OVM id id in the active pools.
func (s *Storage) scanVolume(ctx context.Context, id ovm.ID) (volume, error) {
	pools, err := rpc(ctx, func() ([]golibvirt.StoragePool, error) {
		p, _, err := s.d.l.ConnectListAllStoragePools(1, golibvirt.ConnectListStoragePoolsActive)
		return p, err
	})
	if err != nil {
		return volume{}, wrap(err, "libvirt: list pools")
	}
	for _, pool := range pools {
		vols, err := s.poolVolumes(ctx, pool, false)
		if err != nil {
			return volume{}, err
		}
		for _, v := range vols {
			if _, vid, _, ok := parseVolumeName(v.Name); ok && vid == id {
				return s.describeVolume(ctx, pool, v)
			}
		}
	}
	return volume{}, ovm.NotFound("volume", id)
}

// describeVolume reads a volume's size and source.
func (s *Storage) describeVolume(ctx context.Context, pool golibvirt.StoragePool, vol golibvirt.StorageVol) (volume, error) {
	name, id, f, _ := parseVolumeName(vol.Name)
	x, err := rpc(ctx, func() (string, error) { return s.d.l.StorageVolGetXMLDesc(vol, 0) })
	if err != nil {
		return volume{}, wrap(err, "libvirt: read volume %s", vol.Name)
	}
	var def libvirtxml.StorageVolume
	if err := def.Unmarshal(x); err != nil {
		return volume{}, fmt.Errorf("libvirt: parse volume %s: %w", vol.Name, err)
	}
	v := ovm.Volume{ID: id, Name: name, StoragePoolID: ovm.ID(uuidString(pool.UUID)), Format: f, NativeID: vol.Key}
	if def.Capacity != nil {
		v.Size = ovm.Bytes(def.Capacity.Value)
	}
	if def.BackingStore != nil && def.BackingStore.Path != "" {
		v.Source = ovm.Template(filepath.Base(def.BackingStore.Path))
	}
	return volume{vol: vol, pool: pool, v: v}, nil
}

// GetVolume returns a volume by OVM id, with the instance whose domain
// uses it.
func (s *Storage) GetVolume(ctx context.Context, id ovm.ID) (ovm.Volume, error) {
	v, err := s.findVolume(ctx, id)
	if err != nil {
		return v.v, err
	}
	all, err := s.d.scan(ctx)
	if err != nil {
		return v.v, err
	}
	for _, f := range all {
		if diskOf(f.def, v.vol.Key) != nil {
			v.v.AttachedTo = f.meta.ID
		}
	}
	return v.v, nil
}

// ListVolumes lists a pool's OVM volumes.
func (s *Storage) ListVolumes(ctx context.Context, poolID ovm.ID) ([]ovm.Volume, error) {
	pool, err := s.lookupPool(ctx, poolID)
	if err != nil {
		return nil, err
	}
	_ = RefreshPool(ctx, s.d.l, pool)
	vols, err := s.poolVolumes(ctx, pool, false)
	if err != nil {
		return nil, err
	}
	out := make([]ovm.Volume, 0, len(vols))
	for _, vol := range vols {
		if _, _, _, ok := parseVolumeName(vol.Name); !ok {
			continue
		}
		v, err := s.describeVolume(ctx, pool, vol)
		if err != nil {
			return nil, err
		}
		out = append(out, v.v)
	}
	return out, nil
}

// free returns how many bytes pool has free, refreshed.
func (s *Storage) free(ctx context.Context, pool golibvirt.StoragePool) (ovm.Bytes, error) {
	if err := RefreshPool(ctx, s.d.l, pool); err != nil {
		return 0, wrap(err, "libvirt: refresh pool %s", pool.Name)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	_, _, _, available, err := s.d.l.StoragePoolGetInfo(pool)
	return ovm.Bytes(available), wrap(err, "libvirt: size of pool %s", pool.Name)
}

// full is the error for a volume that does not fit its pool. Volumes are
// counted at their full size: a thin qcow2 may grow to it.
func full(pool golibvirt.StoragePool, want, free ovm.Bytes) error {
	return ovm.Errorf(ovm.KindConflict, "storage pool %s (%s) is full: %s wanted, %s free", pool.Name, uuidString(pool.UUID), want, free)
}

// CreateVolume makes a blank volume, or a qcow2 copy-on-write clone of a
// template (From), or returns the one with the same id.
func (s *Storage) CreateVolume(ctx context.Context, spec storage.VolumeSpec) (ovm.Volume, error) {
	if err := spec.Validate(); err != nil {
		return ovm.Volume{}, err
	}
	f := spec.Format
	if f == "" {
		f = ovm.FormatQCOW2
	}
	if f != ovm.FormatQCOW2 && f != ovm.FormatRaw {
		return ovm.Volume{}, ovm.Invalid("invalid volume", ovm.FieldError{Field: "format", Reason: "must be qcow2 or raw"})
	}
	pool, err := s.lookupPool(ctx, spec.PoolID)
	if err != nil {
		return ovm.Volume{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, err := s.findVolume(ctx, spec.ID); err == nil {
		return v.v, nil
	} else if ovm.KindOf(err) != ovm.KindNotFound {
		return ovm.Volume{}, err
	}
	size := spec.Size
	var def *libvirtxml.StorageVolume
	if !spec.From.IsZero() {
		tpath, tsize, err := s.template(ctx, spec.From)
		if err != nil {
			return ovm.Volume{}, err
		}
		size = max(size, tsize)
		def = VolumeXML(volumeName(spec.Name, spec.ID, ovm.FormatQCOW2), uint64(size), "qcow2", tpath, string(spec.From.Format))
	} else {
		def = VolumeXML(volumeName(spec.Name, spec.ID, f), uint64(size), string(f), "", "")
	}
	free, err := s.free(ctx, pool)
	if err != nil {
		return ovm.Volume{}, err
	}
	if size > free {
		return ovm.Volume{}, full(pool, size, free)
	}
	vol, _, err := createVolume(ctx, s.d.l, pool, def)
	if err != nil {
		return ovm.Volume{}, err
	}
	v, err := s.describeVolume(ctx, pool, vol)
	return v.v, err
}

// template finds an image in the driver's template pool.
func (s *Storage) template(ctx context.Context, img ovm.ImageRef) (string, ovm.Bytes, error) {
	tpool, err := s.d.ensureDirPool(ctx, s.d.templates())
	if err != nil {
		return "", 0, err
	}
	tvol, err := lookupVolume(ctx, s.d.l, tpool, img.Name)
	if isCode(err, golibvirt.ErrNoStorageVol) {
		return "", 0, notFoundTemplate(img.Name, tpool.Name, err)
	}
	if err != nil {
		return "", 0, wrap(err, "libvirt: look up template %s", img.Name)
	}
	if err := ctx.Err(); err != nil {
		return "", 0, err
	}
	_, capacity, _, err := s.d.l.StorageVolGetInfo(tvol)
	if err != nil {
		return "", 0, wrap(err, "libvirt: size of template %s", img.Name)
	}
	return tvol.Key, ovm.Bytes(capacity), nil
}

// ResizeVolume grows a volume; shrinking is ovm.ErrInvalid, growing past
// the pool's free space ovm.ErrConflict.
func (s *Storage) ResizeVolume(ctx context.Context, id ovm.ID, size ovm.Bytes) (ovm.Volume, error) {
	v, err := s.findVolume(ctx, id)
	if err != nil {
		return ovm.Volume{}, err
	}
	if size < v.v.Size {
		return ovm.Volume{}, ovm.Invalid("invalid resize", ovm.FieldError{Field: "sizeBytes", Reason: fmt.Sprintf("must not shrink the volume below its %s", v.v.Size)})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	free, err := s.free(ctx, v.pool)
	if err != nil {
		return ovm.Volume{}, err
	}
	if err := ctx.Err(); err != nil {
		return ovm.Volume{}, err
	}
	_, _, alloc, err := s.d.l.StorageVolGetInfo(v.vol)
	if err != nil {
		return ovm.Volume{}, wrap(err, "libvirt: size of volume %s", v.vol.Name)
	}
	if size-ovm.Bytes(alloc) > free {
		return ovm.Volume{}, full(v.pool, size, free)
	}
	if err := do(ctx, func() error { return s.d.l.StorageVolResize(v.vol, uint64(size), 0) }); err != nil {
		return ovm.Volume{}, wrap(err, "libvirt: resize volume %s", v.vol.Name)
	}
	return s.GetVolume(ctx, id)
}

// attachedTo returns the instance whose domain uses path, if any.
func (s *Storage) attachedTo(ctx context.Context, p string) (string, error) {
	all, err := s.d.scan(ctx)
	if err != nil {
		return "", err
	}
	for _, f := range all {
		if f.def.Devices == nil {
			continue
		}
		for _, disk := range f.def.Devices.Disks {
			if disk.Source != nil && disk.Source.File != nil && disk.Source.File.File == p {
				return f.dom.Name, nil
			}
		}
	}
	return "", nil
}

// DeleteVolume removes a volume and its snapshots; a volume a domain uses
// is ovm.ErrConflict.
func (s *Storage) DeleteVolume(ctx context.Context, id ovm.ID) error {
	v, err := s.findVolume(ctx, id)
	if err != nil {
		return err
	}
	if dom, err := s.attachedTo(ctx, v.vol.Key); err != nil {
		return err
	} else if dom != "" {
		return ovm.Errorf(ovm.KindConflict, "volume %s is attached to domain %s", id, dom)
	}
	snaps, err := s.snapshots(ctx, v)
	if err != nil {
		return err
	}
	for _, sn := range snaps {
		if err := do(ctx, func() error { return s.d.l.StorageVolDelete(sn.vol, 0) }); err != nil {
			return wrap(err, "libvirt: delete snapshot %s", sn.vol.Name)
		}
	}
	return wrap(do(ctx, func() error { return s.d.l.StorageVolDelete(v.vol, 0) }), "libvirt: delete volume %s", v.vol.Name)
}
