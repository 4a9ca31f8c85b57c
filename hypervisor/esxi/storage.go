package esxi

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
)

// Storage is the storage driver of one ESXi host: its datastores (local and
// NFS) are OVM storage pools, VMDKs on them are volumes, attached to VMs
// (hot-added to running ones) by storage.Attacher, and snapshotted by
// storage.Snapshotter as full copies of their VMDK (see storage_snapshots.go).
// Its methods are safe for concurrent use.
type Storage struct {
	c *conn
}

var (
	_ storage.Driver     = (*Storage)(nil)
	_ storage.Discoverer = (*Storage)(nil)
)

// The names OVM gives its marks and files on a datastore.
const (
	poolMarkPrefix = "ovm-pool-"   // a directory in the root: the datastore is this pool
	volumesDir     = "ovm-volumes" // volumes: ovm-volumes/<id>/<name>.vmdk
)

// Capabilities: local and NFS pools of VMDKs, attached to VMs (hot-add to
// running ones); volume snapshots as copies of the VMDK, taken while no
// running VM uses the volume (ColdSnapshots); no volumes from images (VMs
// are made from templates by the hypervisor driver).
func (s *Storage) Capabilities() storage.Capabilities {
	return storage.Capabilities{
		PoolKinds:     []ovm.StoragePoolKind{ovm.StorageLocal, ovm.StorageNFS},
		Formats:       []ovm.ImageFormat{ovm.FormatVMDK},
		Attach:        true,
		HotAttach:     true,
		Snapshots:     true,
		ColdSnapshots: true,
	}
}

// dsInfo is a datastore as the storage driver sees it.
type dsInfo struct {
	ds mo.Datastore
	id ovm.ID // the OVM pool id, when it is a pool
}

var dsProps = []string{"name", "summary", "info", "browser", "vm"}

// datastores reads the host's datastores and their pool marks.
func (c *conn) datastores(ctx context.Context) ([]dsInfo, error) {
	var dss []mo.Datastore
	if err := c.collect(ctx, c.dsFolder, "Datastore", dsProps, &dss); err != nil {
		return nil, err
	}
	out := make([]dsInfo, 0, len(dss))
	for _, ds := range dss {
		d := dsInfo{ds: ds}
		if ds.Summary.Accessible {
			res, err := c.search(ctx, ds.Browser, dsPath(ds.Name, ""), false, &types.FolderFileQuery{}, poolMarkPrefix+"*")
			if err != nil {
				return nil, err
			}
			for _, r := range res {
				for _, f := range r.File {
					if id := ovm.ID(strings.TrimPrefix(f.GetFileInfo().Path, poolMarkPrefix)); id.Valid() {
						d.id = id
					}
				}
			}
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b dsInfo) int { return cmp.Compare(a.ds.Name, b.ds.Name) })
	return out, nil
}

// findPool returns the datastore of pool id.
func (c *conn) findPool(ctx context.Context, id ovm.ID) (dsInfo, error) {
	dss, err := c.datastores(ctx)
	if err != nil {
		return dsInfo{}, c.wrap(err, "read the datastores")
	}
	for _, d := range dss {
		if d.id == id {
			return d, nil
		}
	}
	return dsInfo{}, ovm.Errorf(ovm.KindNotFound, "esxi %s: storage pool %s not found", c.host, id)
}

// poolOf converts a datastore that is a pool; provisioned is what its
// volumes are given.
func poolOf(d dsInfo, provisioned ovm.Bytes) ovm.StoragePool {
	p := ovm.StoragePool{ID: d.id, Name: d.ds.Name, Kind: ovm.StorageLocal, Capacity: ovm.Bytes(d.ds.Summary.Capacity)}
	// Used is what the datastore holds plus what its thin disks may still
	// take (Uncommitted), and at least what OVM's volumes are given.
	used := ovm.Bytes(d.ds.Summary.Capacity - d.ds.Summary.FreeSpace + d.ds.Summary.Uncommitted)
	p.Used = max(used, provisioned)
	switch info := d.ds.Info.(type) {
	case *types.NasDatastoreInfo:
		p.Kind = ovm.StorageNFS
		if info.Nas != nil {
			p.Server, p.Export = info.Nas.RemoteHost, info.Nas.RemotePath
			if strings.HasPrefix(info.Nas.Name, "/") {
				p.Path = info.Nas.Name
			}
		}
	case *types.LocalDatastoreInfo:
		p.Path = info.Path
	default:
		p.Path = "/vmfs/volumes/" + d.ds.Name
	}
	return p
}

// pool returns the pool of d with its provisioned space.
func (c *conn) pool(ctx context.Context, d dsInfo) (ovm.StoragePool, []ovm.Volume, error) {
	vols, err := c.volumes(ctx, d)
	if err != nil {
		return ovm.StoragePool{}, nil, err
	}
	var prov ovm.Bytes
	for _, v := range vols {
		prov += v.Size
	}
	return poolOf(d, prov), vols, nil
}

// CreatePool makes a datastore (CreateLocalDatastore on spec.Path, or
// CreateNasDatastore for spec.Server:spec.Export, mounted at spec.Path when
// set, else under the pool's name) and marks it as the pool, or returns the
// pool of the same id. An existing datastore of the pool's name and kind
// that is no pool yet is adopted.
func (s *Storage) CreatePool(ctx context.Context, spec storage.PoolSpec) (ovm.StoragePool, error) {
	c := s.c
	if err := c.ready(ctx, "create pool"); err != nil {
		return ovm.StoragePool{}, err
	}
	if err := spec.Validate(); err != nil {
		return ovm.StoragePool{}, err
	}
	if spec.Kind == ovm.StorageShared {
		return ovm.StoragePool{}, ovm.Invalid("invalid storage pool", ovm.FieldError{Field: "kind",
			Reason: "an ESXi host shares storage through NFS (or VMFS on a SAN) datastores: use kind nfs", Value: string(spec.Kind)})
	}
	if err := c.writable(ctx, "create pool "+spec.Name); err != nil {
		return ovm.StoragePool{}, err
	}
	c.poolMu.Lock()
	defer c.poolMu.Unlock()
	dss, err := c.datastores(ctx)
	if err != nil {
		return ovm.StoragePool{}, c.wrap(err, "create pool %s: read the datastores", spec.Name)
	}
	var adopt *dsInfo
	for i, d := range dss {
		switch {
		case d.id == spec.ID && d.ds.Name == spec.Name:
			p, _, err := c.pool(ctx, d)
			return p, err
		case d.id == spec.ID:
			return ovm.StoragePool{}, ovm.Errorf(ovm.KindConflict, "esxi %s: pool %s exists as datastore %q, not %q", c.host, spec.ID, d.ds.Name, spec.Name)
		case d.ds.Name == spec.Name && d.id != "":
			return ovm.StoragePool{}, ovm.Errorf(ovm.KindConflict, "esxi %s: datastore %q is already pool %s", c.host, spec.Name, d.id)
		case d.ds.Name == spec.Name:
			if poolOf(d, 0).Kind != spec.Kind {
				return ovm.StoragePool{}, ovm.Errorf(ovm.KindConflict, "esxi %s: datastore %q exists and is %s, not %s", c.host, spec.Name, poolOf(d, 0).Kind, spec.Kind)
			}
			adopt = &dss[i]
		}
	}
	dsSys := object.NewHostDatastoreSystem(c.client, c.dsSystem)
	var made *object.Datastore
	if adopt == nil {
		switch spec.Kind {
		case ovm.StorageNFS:
			made, err = dsSys.CreateNasDatastore(ctx, types.HostNasVolumeSpec{
				RemoteHost: spec.Server, RemotePath: spec.Export, LocalPath: cmp.Or(spec.Path, spec.Name),
				AccessMode: string(types.HostMountModeReadWrite), Type: string(types.HostFileSystemVolumeFileSystemTypeNFS),
			})
		default:
			made, err = dsSys.CreateLocalDatastore(ctx, spec.Name, spec.Path)
		}
		if err != nil {
			return ovm.StoragePool{}, c.wrap(err, "create datastore %s", spec.Name)
		}
	}
	if err := c.mkdir(ctx, dsPath(spec.Name, poolMarkPrefix+string(spec.ID))); err != nil {
		if made != nil {
			_ = c.removeDatastore(context.WithoutCancel(ctx), made.Reference())
		}
		return ovm.StoragePool{}, c.wrap(err, "mark datastore %s as pool %s", spec.Name, spec.ID)
	}
	d, err := c.findPool(ctx, spec.ID)
	if err != nil {
		return ovm.StoragePool{}, err
	}
	p, _, err := c.pool(ctx, d)
	return p, err
}

// removeDatastore unmounts a datastore: RemoveDatastore, or Destroy where
// the host does not implement it.
func (c *conn) removeDatastore(ctx context.Context, ref types.ManagedObjectReference) error {
	err := object.NewHostDatastoreSystem(c.client, c.dsSystem).Remove(ctx, object.NewDatastore(c.client, ref))
	if err == nil || kindOf(err) == ovm.KindConflict || kindOf(err) == ovm.KindNotFound {
		return err
	}
	return c.runTask(ctx, func(ctx context.Context) (*object.Task, error) {
		return object.NewDatastore(c.client, ref).Destroy(ctx)
	})
}

// GetPool returns pool id.
func (s *Storage) GetPool(ctx context.Context, id ovm.ID) (ovm.StoragePool, error) {
	if err := s.c.ready(ctx, "get pool"); err != nil {
		return ovm.StoragePool{}, err
	}
	d, err := s.c.findPool(ctx, id)
	if err != nil {
		return ovm.StoragePool{}, err
	}
	p, _, err := s.c.pool(ctx, d)
	return p, err
}

// ListPools returns the datastores that are OVM pools, by name.
func (s *Storage) ListPools(ctx context.Context) ([]ovm.StoragePool, error) {
	if err := s.c.ready(ctx, "list pools"); err != nil {
		return nil, err
	}
	return s.listPools(ctx, false)
}

// DiscoverPools lists every datastore of the host as a pool: those that
// are no pool yet with an empty ID (storage.Discoverer).
func (s *Storage) DiscoverPools(ctx context.Context) ([]ovm.StoragePool, error) {
	if err := s.c.ready(ctx, "discover pools"); err != nil {
		return nil, err
	}
	return s.listPools(ctx, true)
}

// listPools lists the pools, and with all the datastores that are none.
func (s *Storage) listPools(ctx context.Context, all bool) ([]ovm.StoragePool, error) {
	dss, err := s.c.datastores(ctx)
	if err != nil {
		return nil, s.c.wrap(err, "list pools")
	}
	out := []ovm.StoragePool{}
	for _, d := range dss {
		if d.id == "" && !all {
			continue
		}
		p, _, err := s.c.pool(ctx, d)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// DeletePool unmarks and unmounts an empty pool; one with volumes or VMs
// is ovm.ErrConflict.
func (s *Storage) DeletePool(ctx context.Context, id ovm.ID) error {
	c := s.c
	if err := c.writable(ctx, "delete pool "+string(id)); err != nil {
		return err
	}
	c.poolMu.Lock()
	defer c.poolMu.Unlock()
	d, err := c.findPool(ctx, id)
	if err != nil {
		return err
	}
	vols, err := c.volumes(ctx, d)
	if err != nil {
		return err
	}
	if len(vols) > 0 || len(d.ds.Vm) > 0 {
		return ovm.Errorf(ovm.KindConflict, "esxi %s: pool %s (%s) holds %d volumes and %d vms", c.host, d.ds.Name, id, len(vols), len(d.ds.Vm))
	}
	if err := c.remove(ctx, dsPath(d.ds.Name, poolMarkPrefix+string(id))); err != nil && kindOf(err) != ovm.KindNotFound {
		return c.wrap(err, "unmark pool %s", d.ds.Name)
	}
	_ = c.remove(ctx, dsPath(d.ds.Name, volumesDir))
	return c.wrap(c.removeDatastore(ctx, d.ds.Self), "remove datastore %s", d.ds.Name)
}

// volumes lists the volumes on a pool's datastore.
func (c *conn) volumes(ctx context.Context, d dsInfo) ([]ovm.Volume, error) {
	res, err := c.search(ctx, d.ds.Browser, dsPath(d.ds.Name, volumesDir), true, &types.VmDiskFileQuery{}, "*.vmdk")
	if err != nil {
		if kindOf(err) == ovm.KindNotFound {
			return nil, nil
		}
		return nil, c.wrap(err, "list the volumes of %s", d.ds.Name)
	}
	var out []ovm.Volume
	for _, r := range res {
		_, dir := splitDSPath(r.FolderPath)
		id := ovm.ID(path.Base(strings.TrimSuffix(dir, "/")))
		if !id.Valid() { // a volume's snapshots directory among them
			continue
		}
		for _, f := range r.File {
			fi := f.GetFileInfo()
			if strings.HasSuffix(fi.Path, "-flat.vmdk") {
				continue
			}
			v, err := c.volume(ctx, d, id, fi)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b ovm.Volume) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// volume reads one volume's capacity.
func (c *conn) volume(ctx context.Context, d dsInfo, id ovm.ID, fi *types.FileInfo) (ovm.Volume, error) {
	p := dsPath(d.ds.Name, fmt.Sprintf("%s/%s/%s", volumesDir, id, fi.Path))
	size, err := c.diskCapacity(ctx, p)
	if err != nil {
		return ovm.Volume{}, c.wrap(err, "read volume %s", p)
	}
	v := ovm.Volume{ID: id, Name: strings.TrimSuffix(fi.Path, ".vmdk"), StoragePoolID: d.id, Size: ovm.Bytes(size),
		Format: ovm.FormatVMDK, NativeID: p}
	if fi.Modification != nil {
		v.CreatedAt = *fi.Modification
	}
	return v, nil
}

// findVolume returns volume id and the pool it is in.
func (c *conn) findVolume(ctx context.Context, id ovm.ID) (ovm.Volume, dsInfo, error) {
	dss, err := c.datastores(ctx)
	if err != nil {
		return ovm.Volume{}, dsInfo{}, c.wrap(err, "read the datastores")
	}
	for _, d := range dss {
		if d.id == "" {
			continue
		}
		res, err := c.search(ctx, d.ds.Browser, dsPath(d.ds.Name, volumesDir+"/"+string(id)), false, &types.VmDiskFileQuery{}, "*.vmdk")
		if err != nil {
			if kindOf(err) == ovm.KindNotFound {
				continue
			}
			return ovm.Volume{}, dsInfo{}, c.wrap(err, "find volume %s", id)
		}
		for _, r := range res {
			for _, f := range r.File {
				if fi := f.GetFileInfo(); !strings.HasSuffix(fi.Path, "-flat.vmdk") {
					v, err := c.volume(ctx, d, id, fi)
					return v, d, err
				}
			}
		}
	}
	return ovm.Volume{}, dsInfo{}, ovm.Errorf(ovm.KindNotFound, "esxi %s: volume %s not found", c.host, id)
}

// full is the error for a pool without room for more bytes.
func (c *conn) full(p ovm.StoragePool, need ovm.Bytes) error {
	return ovm.Errorf(ovm.KindConflict, "esxi %s: storage pool %s (%s) is full: %s needed, %s free of %s",
		c.host, p.Name, p.ID, need, p.Capacity-p.Used, p.Capacity)
}

// CreateVolume makes a thin VMDK, or returns the volume of the same id.
func (s *Storage) CreateVolume(ctx context.Context, spec storage.VolumeSpec) (ovm.Volume, error) {
	c := s.c
	if err := c.ready(ctx, "create volume"); err != nil {
		return ovm.Volume{}, err
	}
	if err := spec.Validate(); err != nil {
		return ovm.Volume{}, err
	}
	if !spec.From.IsZero() {
		return ovm.Volume{}, ovm.Errorf(ovm.KindUnsupported, "esxi %s: volumes are made blank; VMs boot from copies of templates made by the hypervisor driver", c.host)
	}
	if spec.Format != "" && spec.Format != ovm.FormatVMDK {
		return ovm.Volume{}, ovm.Invalid("invalid volume", ovm.FieldError{Field: "format", Reason: "an ESXi datastore holds vmdk volumes", Value: string(spec.Format)})
	}
	if err := c.writable(ctx, "create volume "+spec.Name); err != nil {
		return ovm.Volume{}, err
	}
	defer c.lockID(spec.ID)()
	d, err := c.findPool(ctx, spec.PoolID)
	if err != nil {
		return ovm.Volume{}, err
	}
	if v, _, err := c.findVolume(ctx, spec.ID); err == nil {
		if v.Name != spec.Name || v.StoragePoolID != spec.PoolID {
			return ovm.Volume{}, ovm.Errorf(ovm.KindConflict, "esxi %s: volume %s exists as %q in pool %s", c.host, spec.ID, v.Name, v.StoragePoolID)
		}
		return v, nil
	} else if kindOf(err) != ovm.KindNotFound {
		return ovm.Volume{}, err
	}
	p, _, err := c.pool(ctx, d)
	if err != nil {
		return ovm.Volume{}, err
	}
	if spec.Size > p.Capacity-p.Used {
		return ovm.Volume{}, c.full(p, spec.Size)
	}
	dir := dsPath(d.ds.Name, volumesDir+"/"+string(spec.ID))
	if err := c.mkdir(ctx, dir); err != nil {
		return ovm.Volume{}, c.wrap(err, "make %s", dir)
	}
	file := dir + "/" + spec.Name + ".vmdk"
	err = c.runTask(ctx, func(ctx context.Context) (*object.Task, error) {
		return object.NewVirtualDiskManager(c.client).CreateVirtualDisk(ctx, file, c.dc, &types.FileBackedVirtualDiskSpec{
			VirtualDiskSpec: types.VirtualDiskSpec{DiskType: string(types.VirtualDiskTypeThin), AdapterType: string(types.VirtualDiskAdapterTypeLsiLogic)},
			CapacityKb:      int64(spec.Size) / 1024,
		})
	})
	if err != nil {
		_ = c.remove(context.WithoutCancel(ctx), dir)
		if isFault[*types.NoDiskSpace](err) {
			return ovm.Volume{}, ovm.Wrap(ovm.KindConflict, err, "esxi %s: storage pool %s (%s) is full", c.host, p.Name, p.ID)
		}
		return ovm.Volume{}, c.wrap(err, "create volume %s", file)
	}
	return ovm.Volume{ID: spec.ID, Name: spec.Name, StoragePoolID: spec.PoolID, Size: spec.Size, Format: ovm.FormatVMDK,
		NativeID: file, CreatedAt: c.now()}, nil
}

// GetVolume returns volume id.
func (s *Storage) GetVolume(ctx context.Context, id ovm.ID) (ovm.Volume, error) {
	if err := s.c.ready(ctx, "get volume"); err != nil {
		return ovm.Volume{}, err
	}
	v, _, err := s.c.findVolume(ctx, id)
	if err != nil {
		return v, err
	}
	v.AttachedTo, err = s.c.attachedTo(ctx, v.NativeID)
	return v, err
}

// ListVolumes returns the volumes of pool poolID.
func (s *Storage) ListVolumes(ctx context.Context, poolID ovm.ID) ([]ovm.Volume, error) {
	if err := s.c.ready(ctx, "list volumes"); err != nil {
		return nil, err
	}
	d, err := s.c.findPool(ctx, poolID)
	if err != nil {
		return nil, err
	}
	vols, err := s.c.volumes(ctx, d)
	if vols == nil && err == nil {
		vols = []ovm.Volume{}
	}
	return vols, err
}

// ResizeVolume grows a VMDK with ExtendVirtualDisk.
func (s *Storage) ResizeVolume(ctx context.Context, id ovm.ID, size ovm.Bytes) (ovm.Volume, error) {
	c := s.c
	if err := c.writable(ctx, "resize volume "+string(id)); err != nil {
		return ovm.Volume{}, err
	}
	v, d, err := c.findVolume(ctx, id)
	if err != nil {
		return ovm.Volume{}, err
	}
	switch {
	case size < v.Size:
		return ovm.Volume{}, ovm.Invalid("invalid resize", ovm.FieldError{Field: "sizeBytes",
			Reason: fmt.Sprintf("must not shrink the volume (it has %s)", v.Size), Value: int64(size)})
	case size == v.Size:
		return v, nil
	}
	p, _, err := c.pool(ctx, d)
	if err != nil {
		return ovm.Volume{}, err
	}
	if size-v.Size > p.Capacity-p.Used {
		return ovm.Volume{}, c.full(p, size-v.Size)
	}
	if err := c.extendDisk(ctx, v.NativeID, size); err != nil {
		return ovm.Volume{}, err
	}
	v.Size = size
	return v, nil
}

// DeleteVolume deletes a VMDK and its directory. A disk in use by a VM is
// locked by the host, which answers ovm.ErrConflict.
func (s *Storage) DeleteVolume(ctx context.Context, id ovm.ID) error {
	c := s.c
	if err := c.writable(ctx, "delete volume "+string(id)); err != nil {
		return err
	}
	v, _, err := c.findVolume(ctx, id)
	if err != nil {
		return err
	}
	if user, err := c.attachedTo(ctx, v.NativeID); err != nil {
		return err
	} else if user != "" {
		return ovm.Errorf(ovm.KindConflict, "esxi %s: volume %s is attached to instance %s", c.host, id, user)
	}
	err = c.runTask(ctx, func(ctx context.Context) (*object.Task, error) {
		return object.NewVirtualDiskManager(c.client).DeleteVirtualDisk(ctx, v.NativeID, c.dc)
	})
	if err != nil {
		return c.wrap(err, "delete volume %s", v.NativeID)
	}
	return c.wrap(c.remove(ctx, v.NativeID[:strings.LastIndex(v.NativeID, "/")]), "delete the directory of %s", v.NativeID)
}
