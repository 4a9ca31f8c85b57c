package storage

import (
	"context"

	"github.com/openovm/ovm/ovm"
)

// PoolSpec describes a storage pool to create (or to adopt, when it already
// exists with the same shape).
type PoolSpec struct {
	ID   ovm.ID
	Name string
	Kind ovm.StoragePoolKind
	// Path is the directory (local, shared) or mount point (nfs).
	Path string
	// Server and Export name the NFS export (nfs only).
	Server string
	Export string
}

// Validate checks the spec's shape.
func (s PoolSpec) Validate() error {
	var f ovm.Fields
	if !s.ID.Valid() {
		f.Add("id", "must be an OVM id (a lower-case UUID)")
	}
	if r := ovm.ValidateName(s.Name); r != "" {
		f.Add("name", r)
	}
	switch s.Kind {
	case ovm.StorageLocal, ovm.StorageShared:
		if s.Path == "" || s.Path[0] != '/' {
			f.Add("path", "must be an absolute directory")
		}
	case ovm.StorageNFS:
		if s.Server == "" {
			f.Add("server", "is required for an nfs pool")
		}
		if s.Export == "" || s.Export[0] != '/' {
			f.Add("export", "must be an absolute export path")
		}
	default:
		f.Addf("kind", "must be %q, %q or %q", ovm.StorageLocal, ovm.StorageShared, ovm.StorageNFS)
	}
	return f.Err("invalid storage pool")
}

// VolumeSpec describes a volume to create.
type VolumeSpec struct {
	ID     ovm.ID // written on the volume; CreateVolume is idempotent by it
	Name   string
	PoolID ovm.ID
	Size   ovm.Bytes
	// Format is the disk format; empty means the driver's native one.
	Format ovm.ImageFormat
	// From makes the volume from an image (a copy-on-write clone where the
	// engine can). Size then may be zero (the image's size) or larger. A
	// driver without Capabilities.FromImage refuses it with
	// ovm.ErrUnsupported.
	From ovm.ImageRef
}

// Validate checks the spec's shape.
func (s VolumeSpec) Validate() error {
	var f ovm.Fields
	if !s.ID.Valid() {
		f.Add("id", "must be an OVM id (a lower-case UUID)")
	}
	if r := ovm.ValidateName(s.Name); r != "" {
		f.Add("name", r)
	}
	if s.PoolID.IsZero() {
		f.Add("poolId", "is required")
	}
	switch {
	case s.Size < 0:
		f.Add("sizeBytes", "must not be negative")
	case s.Size == 0 && s.From.IsZero():
		f.Add("sizeBytes", "must be positive for a blank volume")
	}
	if !s.From.IsZero() {
		f.Merge("from", s.From.Validate())
	}
	return f.Err("invalid volume")
}

// Driver is the storage contract. Errors carry ovm kinds with the engine's
// own text kept: a missing pool or volume is ovm.ErrNotFound, a bad spec
// ovm.ErrInvalid naming the field, a pool without room for a volume
// ovm.ErrConflict.
type Driver interface {
	// Capabilities announces what the driver supports.
	Capabilities() Capabilities
	// CreatePool makes a pool, or returns the existing one with the same ID.
	CreatePool(ctx context.Context, spec PoolSpec) (ovm.StoragePool, error)
	GetPool(ctx context.Context, id ovm.ID) (ovm.StoragePool, error)
	ListPools(ctx context.Context) ([]ovm.StoragePool, error)
	// DeletePool removes an empty pool; a pool with volumes is ovm.ErrConflict.
	DeletePool(ctx context.Context, id ovm.ID) error

	// CreateVolume makes a volume, or returns the existing one with the
	// same ID.
	CreateVolume(ctx context.Context, spec VolumeSpec) (ovm.Volume, error)
	GetVolume(ctx context.Context, id ovm.ID) (ovm.Volume, error)
	ListVolumes(ctx context.Context, poolID ovm.ID) ([]ovm.Volume, error)
	// ResizeVolume grows a volume; shrinking is ovm.ErrInvalid.
	ResizeVolume(ctx context.Context, id ovm.ID, size ovm.Bytes) (ovm.Volume, error)
	// DeleteVolume removes a detached volume and its snapshots; an attached
	// volume is ovm.ErrConflict.
	DeleteVolume(ctx context.Context, id ovm.ID) error
}

// Attacher attaches volumes to instances after they were created (hot-plug
// where the engine can). Drivers that attach only at create time (Docker)
// do not implement it.
type Attacher interface {
	AttachVolume(ctx context.Context, volumeID, instanceID ovm.ID) error
	DetachVolume(ctx context.Context, volumeID ovm.ID) error
}

// Discoverer lists every storage pool a host has, those OVM did not make
// too (an ESXi datastore without OVM's mark has an empty ID; CreatePool
// with its name adopts it). Drivers whose ListPools already lists every
// pool of the host do not implement it.
type Discoverer interface {
	DiscoverPools(ctx context.Context) ([]ovm.StoragePool, error)
}

// Snapshotter is the volume snapshot facet.
type Snapshotter interface {
	CreateSnapshot(ctx context.Context, volumeID ovm.ID, name string) (ovm.Snapshot, error)
	ListSnapshots(ctx context.Context, volumeID ovm.ID) ([]ovm.Snapshot, error)
	// RevertSnapshot puts the volume back to the snapshot's content.
	RevertSnapshot(ctx context.Context, volumeID, snapshotID ovm.ID) error
	DeleteSnapshot(ctx context.Context, volumeID, snapshotID ovm.ID) error
}

// Capabilities announces what a storage driver supports.
type Capabilities struct {
	PoolKinds []ovm.StoragePoolKind
	Formats   []ovm.ImageFormat
	// Attach: the driver implements Attacher.
	Attach bool
	// HotAttach: Attacher attaches to (and detaches from) a running
	// instance; without it the instance must be stopped (cold attach).
	HotAttach bool
	// Snapshots: the driver implements Snapshotter.
	Snapshots bool
	// ColdSnapshots: a snapshot is a copy of the volume's file, taken
	// only while no running instance uses the volume (ESXi, whose running
	// VM locks its disks); without it the engine snapshots a volume in any
	// state. Either way a revert needs the volume detached.
	ColdSnapshots bool
	// FromImage: CreateVolume accepts VolumeSpec.From.
	FromImage bool
}
