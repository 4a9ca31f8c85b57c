package fake

import (
	"context"
	"slices"

	"github.com/openovm/ovm/ovm"
)

// CreateSnapshot takes a snapshot of a volume. Its name is a DNS label,
// unique among the volume's snapshots (a second one of the same name is
// ovm.ErrConflict). Snapshots take no room in the fake's pools.
func (d *Driver) CreateSnapshot(ctx context.Context, volumeID ovm.ID, name string) (ovm.Snapshot, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodCreateSnapshot); err != nil {
		return ovm.Snapshot{}, err
	}
	if r := ovm.ValidateName(name); r != "" {
		return ovm.Snapshot{}, ovm.Invalid("invalid snapshot", ovm.FieldError{Field: "name", Reason: r, Value: name})
	}
	v, err := d.volume(volumeID)
	if err != nil {
		return ovm.Snapshot{}, err
	}
	for _, s := range v.snaps {
		if s.s.Name == name {
			return ovm.Snapshot{}, ovm.Errorf(ovm.KindConflict, "volume %s (%s) already has a snapshot named %q (%s)",
				v.v.Name, volumeID, name, s.s.ID)
		}
	}
	s := snapshot{
		s:    ovm.Snapshot{ID: ovm.NewID(), Name: name, Of: volumeID, CreatedAt: d.now()},
		size: v.v.Size,
	}
	v.snaps = append(v.snaps, s)
	return s.s, nil
}

// ListSnapshots returns a volume's snapshots, oldest first.
func (d *Driver) ListSnapshots(ctx context.Context, volumeID ovm.ID) ([]ovm.Snapshot, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodListSnapshots); err != nil {
		return nil, err
	}
	v, err := d.volume(volumeID)
	if err != nil {
		return nil, err
	}
	out := make([]ovm.Snapshot, 0, len(v.snaps))
	for _, s := range v.snaps {
		out = append(out, s.s)
	}
	return out, nil
}

// RevertSnapshot puts the volume back to the snapshot: in the fake, to the
// size it had then. Growing back past the pool's free space (a revert to a
// later, larger snapshot) is ovm.ErrConflict.
func (d *Driver) RevertSnapshot(ctx context.Context, volumeID, snapshotID ovm.ID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodRevertSnapshot); err != nil {
		return err
	}
	v, i, err := d.snapshot(volumeID, snapshotID)
	if err != nil {
		return err
	}
	return d.setSize(v, v.snaps[i].size)
}

// DeleteSnapshot removes a snapshot; the volume is unchanged.
func (d *Driver) DeleteSnapshot(ctx context.Context, volumeID, snapshotID ovm.ID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodDeleteSnapshot); err != nil {
		return err
	}
	v, i, err := d.snapshot(volumeID, snapshotID)
	if err != nil {
		return err
	}
	v.snaps = slices.Delete(v.snaps, i, i+1)
	return nil
}

func (d *Driver) snapshot(volumeID, snapshotID ovm.ID) (*volume, int, error) {
	v, err := d.volume(volumeID)
	if err != nil {
		return nil, 0, err
	}
	for i, s := range v.snaps {
		if s.s.ID == snapshotID {
			return v, i, nil
		}
	}
	return nil, 0, ovm.NotFound("snapshot", snapshotID)
}
