package libvirt

import (
	"context"
	"strings"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/openovm/ovm/ovm"
)

// snap is a volume snapshot: a hidden copy of the volume in its pool.
type snap struct {
	vol  golibvirt.StorageVol
	snap ovm.Snapshot
}

// snapName is the libvirt name of a snapshot of volume id.
func snapName(volume, id ovm.ID, name string) string {
	return snapPrefix + string(volume) + "_" + string(id) + "_" + name
}

// snapshots lists the snapshots of v.
func (s *Storage) snapshots(ctx context.Context, v volume) ([]snap, error) {
	vols, err := s.poolVolumes(ctx, v.pool, true)
	if err != nil {
		return nil, err
	}
	prefix := snapPrefix + string(v.v.ID) + "_"
	var out []snap
	for _, vol := range vols {
		rest, ok := strings.CutPrefix(vol.Name, prefix)
		if !ok {
			continue
		}
		id, name, _ := strings.Cut(rest, "_")
		out = append(out, snap{vol: vol, snap: ovm.Snapshot{ID: ovm.ID(id), Name: name, Of: v.v.ID}})
	}
	return out, nil
}

// findSnapshot finds snapshot id of volume.
func (s *Storage) findSnapshot(ctx context.Context, volumeID, id ovm.ID) (volume, snap, error) {
	v, err := s.findVolume(ctx, volumeID)
	if err != nil {
		return volume{}, snap{}, err
	}
	snaps, err := s.snapshots(ctx, v)
	if err != nil {
		return volume{}, snap{}, err
	}
	for _, sn := range snaps {
		if sn.snap.ID == id {
			return v, sn, nil
		}
	}
	return volume{}, snap{}, ovm.NotFound("snapshot of volume "+string(volumeID), id)
}

// CreateSnapshot copies the volume (libvirt's volume clone) into a hidden
// volume of the same pool.
func (s *Storage) CreateSnapshot(ctx context.Context, volumeID ovm.ID, name string) (ovm.Snapshot, error) {
	if r := ovm.ValidateName(name); r != "" {
		return ovm.Snapshot{}, ovm.Invalid("invalid snapshot", ovm.FieldError{Field: "name", Reason: r})
	}
	v, err := s.findVolume(ctx, volumeID)
	if err != nil {
		return ovm.Snapshot{}, err
	}
	id := ovm.NewID()
	x, err := VolumeXML(snapName(volumeID, id, name), uint64(v.v.Size), string(v.v.Format), "", "").Marshal()
	if err != nil {
		return ovm.Snapshot{}, err
	}
	if _, err := rpc(ctx, func() (golibvirt.StorageVol, error) { return s.d.l.StorageVolCreateXMLFrom(v.pool, x, v.vol, 0) }); err != nil {
		return ovm.Snapshot{}, wrap(err, "libvirt: snapshot volume %s", v.vol.Name)
	}
	return ovm.Snapshot{ID: id, Name: name, Of: volumeID, CreatedAt: s.d.cfg.Now()}, nil
}

// ListSnapshots lists a volume's snapshots.
func (s *Storage) ListSnapshots(ctx context.Context, volumeID ovm.ID) ([]ovm.Snapshot, error) {
	v, err := s.findVolume(ctx, volumeID)
	if err != nil {
		return nil, err
	}
	snaps, err := s.snapshots(ctx, v)
	if err != nil {
		return nil, err
	}
	out := make([]ovm.Snapshot, 0, len(snaps))
	for _, sn := range snaps {
		out = append(out, sn.snap)
	}
	return out, nil
}

// RevertSnapshot replaces the volume by a copy of the snapshot (its size
// and content at the time of the snapshot).
func (s *Storage) RevertSnapshot(ctx context.Context, volumeID, snapshotID ovm.ID) error {
	v, sn, err := s.findSnapshot(ctx, volumeID, snapshotID)
	if err != nil {
		return err
	}
	if dom, err := s.attachedTo(ctx, v.vol.Key); err != nil {
		return err
	} else if dom != "" {
		return ovm.Errorf(ovm.KindConflict, "volume %s is attached to domain %s: stop it to revert", volumeID, dom)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	_, capacity, _, err := s.d.l.StorageVolGetInfo(sn.vol)
	if err != nil {
		return wrap(err, "libvirt: size of snapshot %s", sn.vol.Name)
	}
	x, err := VolumeXML(v.vol.Name, capacity, string(v.v.Format), "", "").Marshal()
	if err != nil {
		return err
	}
	if err := do(ctx, func() error { return s.d.l.StorageVolDelete(v.vol, 0) }); err != nil {
		return wrap(err, "libvirt: revert volume %s", v.vol.Name)
	}
	_, err = rpc(context.WithoutCancel(ctx), func() (golibvirt.StorageVol, error) { return s.d.l.StorageVolCreateXMLFrom(v.pool, x, sn.vol, 0) })
	return wrap(err, "libvirt: revert volume %s to snapshot %s", v.vol.Name, snapshotID)
}

// DeleteSnapshot removes a snapshot.
func (s *Storage) DeleteSnapshot(ctx context.Context, volumeID, snapshotID ovm.ID) error {
	_, sn, err := s.findSnapshot(ctx, volumeID, snapshotID)
	if err != nil {
		return err
	}
	return wrap(do(ctx, func() error { return s.d.l.StorageVolDelete(sn.vol, 0) }), "libvirt: delete snapshot %s", sn.vol.Name)
}
