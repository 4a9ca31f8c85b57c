package apitypes

import "github.com/openovm/ovm/ovm"

// StoragePoolCreate registers a storage pool on hosts: a local pool on one
// host, or a shared pool (a path every host mounts, an NFS export) on
// several.
type StoragePoolCreate struct {
	Name string              `json:"name" required:"true"`
	Kind ovm.StoragePoolKind `json:"kind" required:"true"`
	Path string              `json:"path,omitempty" maxLength:"4096" doc:"The directory on each host (local, shared), or where an NFS export is mounted (nfs; empty: a directory of the driver's choosing). On ESXi a local pool's path is the disk's path and an NFS pool's is the datastore's name."`
	// Server and Export name the NFS export (nfs only).
	Server  string   `json:"server,omitempty" maxLength:"255" doc:"The NFS server (nfs only)."`
	Export  string   `json:"export,omitempty" maxLength:"4096" doc:"The exported directory (nfs only)."`
	HostIDs []ovm.ID `json:"hostIds" required:"true" maxItems:"256" doc:"The hosts that reach the pool: exactly one for a local pool."`
	// CapacityBytes caps what OVM allocates in the pool below what its
	// hosts report (0: what they report).
	CapacityBytes   ovm.Bytes `json:"capacityBytes,omitempty" doc:"The capacity OVM allocates up to (0: what the hosts report)."`
	TemplateLibrary bool      `json:"templateLibrary,omitempty" doc:"VM templates are taken from this pool on its hosts."`
	IdempotencyKey  string    `json:"-"`
}

// StoragePoolPatch changes a storage pool; nil fields are unchanged.
type StoragePoolPatch struct {
	HostIDs         *[]ovm.ID  `json:"hostIds,omitempty" maxItems:"256" doc:"The hosts that reach the pool; new ones get the pool in a task."`
	CapacityBytes   *ovm.Bytes `json:"capacityBytes,omitempty" doc:"The capacity OVM allocates up to (0: what the hosts report)."`
	TemplateLibrary *bool      `json:"templateLibrary,omitempty"`
}

// StoragePoolHost is one host of a storage pool and the pool's id there.
type StoragePoolHost struct {
	HostID ovm.ID `json:"hostId"`
	// NativeID is the pool's id on the host (empty until OVM made or
	// adopted it there).
	NativeID string `json:"nativeId"`
}

// StoragePoolInfo is a storage pool as administrators see it.
type StoragePoolInfo struct {
	ovm.StoragePool
	// Discovered: found on its hosts by inventory sync rather than
	// registered.
	Discovered bool `json:"discovered"`
	// DeclaredCapacity is the administrator's cap (0: none).
	DeclaredCapacity ovm.Bytes `json:"declaredCapacityBytes"`
	// Free is what OVM may still allocate: the capacity (declared, else
	// reported) less what it allocated.
	Free    ovm.Bytes         `json:"freeBytes"`
	Phase   ovm.Phase         `json:"phase"`
	Message string            `json:"message,omitempty"`
	Hosts   []StoragePoolHost `json:"hosts"`
}

// StoragePoolTask is a storage pool and the task that acts on it.
type StoragePoolTask struct {
	Pool StoragePoolInfo `json:"pool"`
	Task *ovm.Task       `json:"task,omitempty"`
}

// VolumeAttach attaches a volume to an instance.
type VolumeAttach struct {
	InstanceID ovm.ID `json:"instanceId" required:"true" doc:"A VM of the volume's VDC on a host that reaches the volume's storage pool."`
}
