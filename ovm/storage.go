package ovm

import "time"

// StoragePoolKind tells local storage, which only its host sees, from shared
// storage that every host of a pool sees (an NFS export or any shared path).
// Only instances on shared storage can be restarted elsewhere by HA.
type StoragePoolKind string

// The storage pool kinds.
const (
	StorageLocal  StoragePoolKind = "local"
	StorageShared StoragePoolKind = "shared" // a path every host sees
	StorageNFS    StoragePoolKind = "nfs"    // an NFS export each host mounts
)

// Shared reports whether every host of the pool sees the storage.
func (k StoragePoolKind) Shared() bool { return k == StorageShared || k == StorageNFS }

// StoragePool is where volumes live.
type StoragePool struct {
	ID   ID              `json:"id"`
	Name string          `json:"name"`
	Kind StoragePoolKind `json:"kind"`
	// Path is the directory on each host (local, shared) or the mount point
	// (NFS). Server and Export name the NFS export.
	Path     string `json:"path,omitempty"`
	Server   string `json:"server,omitempty"`
	Export   string `json:"export,omitempty"`
	Capacity Bytes  `json:"capacityBytes"`
	Used     Bytes  `json:"usedBytes"`
	// Allocated is what the disks OVM made in the pool are given (volumes,
	// boot disks, template copies), counted at their full size: the
	// server's account, which may not pass Capacity.
	Allocated Bytes `json:"allocatedBytes"`
	// TemplateLibrary marks the pool VM templates are taken from on its
	// hosts.
	TemplateLibrary bool      `json:"templateLibrary"`
	HostIDs         []ID      `json:"hostIds,omitempty"` // hosts that see it
	CreatedAt       time.Time `json:"createdAt"`
}

// Volume is a disk: a VM's disk image or a container volume.
type Volume struct {
	ID            ID          `json:"id"`
	Name          string      `json:"name"`
	VDCID         ID          `json:"vdcId,omitempty"`
	StoragePoolID ID          `json:"storagePoolId"`
	Size          Bytes       `json:"sizeBytes"`
	Format        ImageFormat `json:"format,omitempty"`
	Source        ImageRef    `json:"source,omitzero"` // the image it was made from
	AttachedTo    ID          `json:"attachedTo,omitempty"`
	NativeID      string      `json:"nativeId,omitempty"` // path, libvirt key, Docker volume name
	CreatedAt     time.Time   `json:"createdAt"`
}

// Snapshot is a point-in-time copy of a volume or an instance.
type Snapshot struct {
	ID        ID        `json:"id"`
	Name      string    `json:"name"`
	Of        ID        `json:"of"` // the volume or instance
	CreatedAt time.Time `json:"createdAt"`
}
