package docker

import (
	"context"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
)

// Labels of pool markers and volumes, beside LabelID, LabelRole, LabelPool
// and LabelName.
const (
	labelPoolKind = "org.openovm.pool.kind"
	labelPoolPath = "org.openovm.pool.path"
	labelSize     = "org.openovm.size"
)

// Storage is the host's storage driver: Docker volumes (local driver) are
// OVM volumes. A pool is a marker volume that records the pool on the
// engine (so that the driver keeps no state); a local pool's volumes live
// where the engine keeps its volumes, a shared pool's volumes are
// directories of the pool's path, which every host sees (as an NFS mount
// would be), bound into containers. Volumes attach at instance create time
// (hypervisor.DiskAttachment); there is no hot attach.
//
// Docker volumes have no size: the size asked for is recorded, not
// enforced, and a volume cannot grow (ResizeVolume is ovm.ErrUnsupported).
type Storage struct {
	c *conn
}

var _ storage.Driver = (*Storage)(nil)

// Storage returns the host's storage driver, sharing the driver's
// connection.
func (d *Driver) Storage() *Storage { return &Storage{c: d.c} }

// Capabilities: local and shared pools, blank volumes, attach at create.
func (s *Storage) Capabilities() storage.Capabilities {
	return storage.Capabilities{PoolKinds: []ovm.StoragePoolKind{ovm.StorageLocal, ovm.StorageShared}}
}

// poolVolume is the name of a pool's marker volume.
func poolVolume(id ovm.ID) string { return "ovm-pool-" + string(id) }

// volumeName is the Docker volume of an OVM volume.
func volumeName(v ovm.Volume) string {
	if v.NativeID != "" {
		return v.NativeID
	}
	return volumeNameOf(v.ID)
}

func volumeNameOf(id ovm.ID) string { return "ovm-vol-" + string(id) }

// sharedDir is the directory of volume name in a shared pool.
func sharedDir(p ovm.StoragePool, name string) string { return path.Join(p.Path, name) }

// CreatePool records a pool on the engine, or returns the pool with the
// same id. NFS pools are ovm.ErrUnsupported: mount the export on every
// host and make a shared pool of the mount point.
func (s *Storage) CreatePool(ctx context.Context, spec storage.PoolSpec) (ovm.StoragePool, error) {
	if err := s.c.ctxErr(ctx, "create pool "+spec.Name); err != nil {
		return ovm.StoragePool{}, err
	}
	if err := spec.Validate(); err != nil {
		return ovm.StoragePool{}, err
	}
	if spec.Kind == ovm.StorageNFS {
		return ovm.StoragePool{}, ovm.Errorf(ovm.KindUnsupported, "docker host %s: create pool %s: nfs pools are not made by the driver; mount the export on every host and make a shared pool of the mount point", s.c.name, spec.Name)
	}
	if p, err := s.GetPool(ctx, spec.ID); err == nil {
		return p, nil
	} else if !isKind(err, ovm.KindNotFound) {
		return ovm.StoragePool{}, err
	}
	v, err := s.c.cli.VolumeCreate(ctx, volume.CreateOptions{
		Name:   poolVolume(spec.ID),
		Driver: "local",
		Labels: map[string]string{
			LabelID: string(spec.ID), LabelRole: RolePool, LabelName: spec.Name,
			labelPoolKind: string(spec.Kind), labelPoolPath: spec.Path,
		},
	})
	if err != nil {
		return ovm.StoragePool{}, s.c.engineError(ctx, err, "", "create pool %s", spec.Name)
	}
	return poolOf(v, 0), nil
}

// GetPool returns a pool, with the recorded sizes of its volumes as used.
func (s *Storage) GetPool(ctx context.Context, id ovm.ID) (ovm.StoragePool, error) {
	v, err := s.poolMarker(ctx, id)
	if err != nil {
		return ovm.StoragePool{}, err
	}
	vols, err := s.volumes(ctx, id)
	if err != nil {
		return ovm.StoragePool{}, err
	}
	return poolOf(v, used(vols)), nil
}

// poolMarker returns the marker volume of pool id.
func (s *Storage) poolMarker(ctx context.Context, id ovm.ID) (volume.Volume, error) {
	if err := s.c.ctxErr(ctx, "get pool "+string(id)); err != nil {
		return volume.Volume{}, err
	}
	v, err := s.c.cli.VolumeInspect(ctx, poolVolume(id))
	if err == nil && v.Labels[LabelRole] != RolePool {
		return volume.Volume{}, ovm.Errorf(ovm.KindNotFound, "docker host %s: pool %s not found (volume %s is not an OVM pool)", s.c.name, id, v.Name)
	}
	if err != nil && classify(ctx, err) == ovm.KindNotFound {
		return volume.Volume{}, ovm.Wrap(ovm.KindNotFound, err, "docker host %s: pool %s not found", s.c.name, id)
	}
	return v, s.c.engineError(ctx, err, "", "get pool %s", id)
}

// ListPools returns the pools recorded on the engine.
func (s *Storage) ListPools(ctx context.Context) ([]ovm.StoragePool, error) {
	if err := s.c.ctxErr(ctx, "list pools"); err != nil {
		return nil, err
	}
	resp, err := s.c.cli.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelRole+"="+RolePool))})
	if err != nil {
		return nil, s.c.engineError(ctx, err, "", "list pools")
	}
	all, err := s.volumes(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]ovm.StoragePool, 0, len(resp.Volumes))
	for _, v := range resp.Volumes {
		id := ovm.ID(v.Labels[LabelID])
		var mine []ovm.Volume
		for _, vol := range all {
			if vol.StoragePoolID == id {
				mine = append(mine, vol)
			}
		}
		out = append(out, poolOf(*v, used(mine)))
	}
	slices.SortFunc(out, func(a, b ovm.StoragePool) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out, nil
}

// DeletePool removes an empty pool's record; a pool with volumes is
// ovm.ErrConflict.
func (s *Storage) DeletePool(ctx context.Context, id ovm.ID) error {
	if _, err := s.poolMarker(ctx, id); err != nil {
		return err
	}
	vols, err := s.volumes(ctx, id)
	if err != nil {
		return err
	}
	if len(vols) > 0 {
		return ovm.Errorf(ovm.KindConflict, "docker host %s: delete pool %s: it holds %d volumes", s.c.name, id, len(vols))
	}
	err = s.c.cli.VolumeRemove(ctx, poolVolume(id), false)
	if err != nil && classify(ctx, err) == ovm.KindNotFound {
		return ovm.Wrap(ovm.KindNotFound, err, "docker host %s: pool %s not found", s.c.name, id)
	}
	return s.c.engineError(ctx, err, "", "delete pool %s", id)
}

// CreateVolume makes a Docker volume in a pool, or returns the volume with
// the same id. Volumes from images are ovm.ErrUnsupported.
func (s *Storage) CreateVolume(ctx context.Context, spec storage.VolumeSpec) (ovm.Volume, error) {
	if err := s.c.ctxErr(ctx, "create volume "+spec.Name); err != nil {
		return ovm.Volume{}, err
	}
	if err := spec.Validate(); err != nil {
		return ovm.Volume{}, err
	}
	if !spec.From.IsZero() {
		return ovm.Volume{}, ovm.Errorf(ovm.KindUnsupported, "docker host %s: create volume %s: a docker volume is not made from an image; a container's image gives its root filesystem", s.c.name, spec.Name)
	}
	marker, err := s.poolMarker(ctx, spec.PoolID)
	if err != nil {
		return ovm.Volume{}, err
	}
	pool := poolOf(marker, 0)
	if v, err := s.GetVolume(ctx, spec.ID); err == nil {
		return v, nil
	} else if !isKind(err, ovm.KindNotFound) {
		return ovm.Volume{}, err
	}
	name := volumeNameOf(spec.ID)
	opts := volume.CreateOptions{
		Name:   name,
		Driver: "local",
		Labels: map[string]string{
			LabelID: string(spec.ID), LabelRole: RoleVolume, LabelName: spec.Name,
			LabelPool: string(spec.PoolID), labelSize: strconv.FormatInt(int64(spec.Size), 10),
		},
	}
	if pool.Kind.Shared() {
		opts.DriverOpts = map[string]string{"type": "none", "o": "bind", "device": sharedDir(pool, name)}
	}
	v, err := s.c.cli.VolumeCreate(ctx, opts)
	if err != nil {
		return ovm.Volume{}, s.c.engineError(ctx, err, "", "create volume %s", spec.Name)
	}
	return volumeOf(&v, nil), nil
}

// GetVolume returns a volume, attached to the managed container that
// mounts it, if any.
func (s *Storage) GetVolume(ctx context.Context, id ovm.ID) (ovm.Volume, error) {
	if err := s.c.ctxErr(ctx, "get volume "+string(id)); err != nil {
		return ovm.Volume{}, err
	}
	v, err := s.c.cli.VolumeInspect(ctx, volumeNameOf(id))
	if err == nil && v.Labels[LabelRole] != RoleVolume {
		err = ovm.Errorf(ovm.KindNotFound, "docker host %s: volume %s not found (%s is not an OVM volume)", s.c.name, id, v.Name)
	}
	if err != nil {
		if classify(ctx, err) == ovm.KindNotFound {
			return ovm.Volume{}, ovm.Wrap(ovm.KindNotFound, err, "docker host %s: volume %s not found", s.c.name, id)
		}
		return ovm.Volume{}, s.c.engineError(ctx, err, "", "get volume %s", id)
	}
	users, err := s.users(ctx)
	if err != nil {
		return ovm.Volume{}, err
	}
	return volumeOf(&v, users), nil
}

// ListVolumes returns a pool's volumes, or every OVM volume when poolID is
// empty.
func (s *Storage) ListVolumes(ctx context.Context, poolID ovm.ID) ([]ovm.Volume, error) {
	if poolID != "" {
		if _, err := s.poolMarker(ctx, poolID); err != nil {
			return nil, err
		}
	} else if err := s.c.ctxErr(ctx, "list volumes"); err != nil {
		return nil, err
	}
	return s.volumes(ctx, poolID)
}

// volumes lists the OVM volumes of a pool (all pools when poolID is empty).
func (s *Storage) volumes(ctx context.Context, poolID ovm.ID) ([]ovm.Volume, error) {
	f := filters.NewArgs(filters.Arg("label", LabelRole+"="+RoleVolume))
	if poolID != "" {
		f.Add("label", LabelPool+"="+string(poolID))
	}
	resp, err := s.c.cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return nil, s.c.engineError(ctx, err, "", "list volumes")
	}
	users, err := s.users(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ovm.Volume, 0, len(resp.Volumes))
	for _, v := range resp.Volumes {
		out = append(out, volumeOf(v, users))
	}
	slices.SortFunc(out, func(a, b ovm.Volume) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out, nil
}

// users maps each volume name to the OVM id of a container that mounts it
// (or its native id for an unmanaged container).
func (s *Storage) users(ctx context.Context) (map[string]string, error) {
	sums, err := s.c.cli.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return nil, s.c.engineError(ctx, err, "", "list containers")
	}
	users := map[string]string{}
	for _, c := range sums {
		for _, m := range c.Mounts {
			if m.Name == "" {
				continue
			}
			if id := c.Labels[LabelID]; id != "" {
				users[m.Name] = id
			} else {
				users[m.Name] = c.ID
			}
		}
	}
	return users, nil
}

// ResizeVolume is ovm.ErrUnsupported (after checking the volume exists):
// a Docker volume has no size to grow.
func (s *Storage) ResizeVolume(ctx context.Context, id ovm.ID, size ovm.Bytes) (ovm.Volume, error) {
	if _, err := s.GetVolume(ctx, id); err != nil {
		return ovm.Volume{}, err
	}
	return ovm.Volume{}, ovm.Errorf(ovm.KindUnsupported, "docker host %s: resize volume %s: a docker volume has no size to change", s.c.name, id)
}

// DeleteVolume removes a volume no container mounts (the engine refuses
// one in use: ovm.ErrConflict). The directory of a shared pool's volume
// stays on the shared path: the engine does not remove a bound directory.
func (s *Storage) DeleteVolume(ctx context.Context, id ovm.ID) error {
	v, err := s.GetVolume(ctx, id)
	if err != nil {
		return err
	}
	if v.AttachedTo != "" {
		return ovm.Errorf(ovm.KindConflict, "docker host %s: delete volume %s: container %s mounts it", s.c.name, id, v.AttachedTo)
	}
	err = s.c.cli.VolumeRemove(ctx, v.NativeID, false)
	if err != nil && classify(ctx, err) == ovm.KindNotFound {
		return ovm.Wrap(ovm.KindNotFound, err, "docker host %s: volume %s not found", s.c.name, id)
	}
	return s.c.engineError(ctx, err, "", "delete volume %s", id)
}

// poolOf converts a pool's marker volume.
func poolOf(v volume.Volume, usedBytes ovm.Bytes) ovm.StoragePool {
	p := ovm.StoragePool{
		ID:   ovm.ID(v.Labels[LabelID]),
		Name: v.Labels[LabelName],
		Kind: ovm.StoragePoolKind(v.Labels[labelPoolKind]),
		Path: v.Labels[labelPoolPath],
		Used: usedBytes,
	}
	if t, err := time.Parse(time.RFC3339, v.CreatedAt); err == nil {
		p.CreatedAt = t
	}
	return p
}

// volumeOf converts a Docker volume; users maps volume names to the
// container mounting them.
func volumeOf(v *volume.Volume, users map[string]string) ovm.Volume {
	size, _ := strconv.ParseInt(v.Labels[labelSize], 10, 64)
	out := ovm.Volume{
		ID:            ovm.ID(v.Labels[LabelID]),
		Name:          v.Labels[LabelName],
		StoragePoolID: ovm.ID(v.Labels[LabelPool]),
		Size:          ovm.Bytes(size),
		NativeID:      v.Name,
		AttachedTo:    ovm.ID(users[v.Name]),
	}
	if t, err := time.Parse(time.RFC3339, v.CreatedAt); err == nil {
		out.CreatedAt = t
	}
	return out
}

// used sums the recorded sizes of vols.
func used(vols []ovm.Volume) ovm.Bytes {
	var n ovm.Bytes
	for _, v := range vols {
		n += v.Size
	}
	return n
}

// isKind reports whether err has kind k.
func isKind(err error, k ovm.Kind) bool { return err != nil && ovm.KindOf(err) == k }
