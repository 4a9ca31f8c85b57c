package fake

import (
	"context"
	"path"
	"slices"
	"sort"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
)

// nativeFormat is the format of a volume whose spec names none.
const nativeFormat = ovm.FormatQCOW2

// CreateVolume makes a volume, or returns the existing one with the same id
// (a retry). The same id in another pool is ovm.ErrConflict, as is a volume
// the pool has no room for. Volumes made from an image take its size when
// spec.Size is zero, and its format when spec.Format is empty and the image
// is a disk format.
func (d *Driver) CreateVolume(ctx context.Context, spec storage.VolumeSpec) (ovm.Volume, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodCreateVolume); err != nil {
		return ovm.Volume{}, err
	}
	if err := spec.Validate(); err != nil {
		return ovm.Volume{}, err
	}
	if v, ok := d.volumes[spec.ID]; ok {
		if v.v.StoragePoolID != spec.PoolID {
			return ovm.Volume{}, ovm.Errorf(ovm.KindConflict, "volume %s exists in storage pool %s, not %s",
				spec.ID, v.v.StoragePoolID, spec.PoolID)
		}
		return v.v, nil
	}
	p, err := d.pool(spec.PoolID)
	if err != nil {
		return ovm.Volume{}, err
	}
	size, format := spec.Size, spec.Format
	if !spec.From.IsZero() {
		imageSize, err := d.imageSize(spec.From)
		if err != nil {
			return ovm.Volume{}, err
		}
		if size == 0 {
			size = imageSize
		}
		if size < imageSize {
			return ovm.Volume{}, ovm.Invalid("invalid volume", ovm.FieldError{
				Field: "sizeBytes", Reason: "must be at least the image's size, " + imageSize.String(), Value: size,
			})
		}
		if format == "" && slices.Contains(d.Capabilities().Formats, spec.From.Format) {
			format = spec.From.Format
		}
	}
	if format == "" {
		format = nativeFormat
	}
	if !slices.Contains(d.Capabilities().Formats, format) {
		return ovm.Volume{}, ovm.Invalid("invalid volume", ovm.FieldError{
			Field: "format", Reason: "must be qcow2, raw or vmdk", Value: format,
		})
	}
	if size > p.free() {
		return ovm.Volume{}, p.noRoom("volume "+spec.Name, size)
	}
	v := &volume{v: ovm.Volume{
		ID:            spec.ID,
		Name:          spec.Name,
		StoragePoolID: spec.PoolID,
		Size:          size,
		Format:        format,
		Source:        spec.From,
		NativeID:      path.Join("/", p.p.Path, spec.Name+"-"+spec.ID.Short()+"."+string(format)),
		CreatedAt:     d.now(),
	}}
	d.volumes[spec.ID] = v
	p.p.Used += size
	return v.v, nil
}

func (d *Driver) imageSize(ref ovm.ImageRef) (ovm.Bytes, error) {
	if d.opts.Images == nil {
		return DefaultImageSize, nil
	}
	size, ok := d.opts.Images[ref]
	if !ok {
		return 0, ovm.NotFound("image", ref)
	}
	return size, nil
}

// GetVolume returns a volume.
func (d *Driver) GetVolume(ctx context.Context, id ovm.ID) (ovm.Volume, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodGetVolume); err != nil {
		return ovm.Volume{}, err
	}
	v, err := d.volume(id)
	if err != nil {
		return ovm.Volume{}, err
	}
	return v.v, nil
}

// ListVolumes returns the volumes of a pool sorted by name, or those of
// every pool when poolID is empty.
func (d *Driver) ListVolumes(ctx context.Context, poolID ovm.ID) ([]ovm.Volume, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodListVolumes); err != nil {
		return nil, err
	}
	if !poolID.IsZero() {
		if _, err := d.pool(poolID); err != nil {
			return nil, err
		}
	}
	out := []ovm.Volume{}
	for _, v := range d.volumes {
		if poolID.IsZero() || v.v.StoragePoolID == poolID {
			out = append(out, v.v)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// ResizeVolume grows a volume. Shrinking is ovm.ErrInvalid, growing past
// the pool's free space ovm.ErrConflict; the same size changes nothing.
func (d *Driver) ResizeVolume(ctx context.Context, id ovm.ID, size ovm.Bytes) (ovm.Volume, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodResizeVolume); err != nil {
		return ovm.Volume{}, err
	}
	v, err := d.volume(id)
	if err != nil {
		return ovm.Volume{}, err
	}
	if size < v.v.Size {
		return ovm.Volume{}, ovm.Invalid("invalid volume resize", ovm.FieldError{
			Field: "sizeBytes", Reason: "must not be below the volume's size, " + v.v.Size.String() + ": volumes only grow", Value: size,
		})
	}
	if err := d.setSize(v, size); err != nil {
		return ovm.Volume{}, err
	}
	return v.v, nil
}

// setSize changes v's size, keeping its pool's usage, or returns the
// conflict of a pool without room for the growth.
func (d *Driver) setSize(v *volume, size ovm.Bytes) error {
	p := d.pools[v.v.StoragePoolID]
	if grow := size - v.v.Size; grow > p.free() {
		return p.noRoom("volume "+v.v.Name, grow)
	}
	p.p.Used += size - v.v.Size
	v.v.Size = size
	return nil
}

// DeleteVolume removes a detached volume and its snapshots; an attached
// volume is ovm.ErrConflict.
func (d *Driver) DeleteVolume(ctx context.Context, id ovm.ID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodDeleteVolume); err != nil {
		return err
	}
	v, err := d.volume(id)
	if err != nil {
		return err
	}
	if !v.v.AttachedTo.IsZero() {
		return ovm.Errorf(ovm.KindConflict, "volume %s (%s) is attached to instance %s: detach it first",
			v.v.Name, id, v.v.AttachedTo)
	}
	d.pools[v.v.StoragePoolID].p.Used -= v.v.Size
	delete(d.volumes, id)
	return nil
}

// AttachVolume attaches a volume to an instance. Attaching it again to the
// same instance changes nothing; to another instance is ovm.ErrConflict.
// The fake knows no instances: any valid id is accepted.
func (d *Driver) AttachVolume(ctx context.Context, volumeID, instanceID ovm.ID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodAttachVolume); err != nil {
		return err
	}
	if !instanceID.Valid() {
		return ovm.Invalid("invalid attachment", ovm.FieldError{
			Field: "instanceId", Reason: "must be an OVM id (a lower-case UUID)", Value: instanceID,
		})
	}
	v, err := d.volume(volumeID)
	if err != nil {
		return err
	}
	switch v.v.AttachedTo {
	case "", instanceID:
		v.v.AttachedTo = instanceID
		return nil
	default:
		return ovm.Errorf(ovm.KindConflict, "volume %s (%s) is attached to instance %s, not %s",
			v.v.Name, volumeID, v.v.AttachedTo, instanceID)
	}
}

// DetachVolume detaches a volume; a detached volume stays as it is.
func (d *Driver) DetachVolume(ctx context.Context, volumeID ovm.ID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodDetachVolume); err != nil {
		return err
	}
	v, err := d.volume(volumeID)
	if err != nil {
		return err
	}
	v.v.AttachedTo = ""
	return nil
}

func (d *Driver) volume(id ovm.ID) (*volume, error) {
	v, ok := d.volumes[id]
	if !ok {
		return nil, ovm.NotFound("volume", id)
	}
	return v, nil
}
