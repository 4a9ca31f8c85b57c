package apitypes

import "github.com/openovm/ovm/ovm"

// MigrationMode says how an instance moves to another host or pool.
type MigrationMode string

// The migration modes.
const (
	// MigrationLive moves a running VM's memory to another host; its
	// disks stay on storage both hosts see.
	MigrationLive MigrationMode = "live"
	// MigrationSharedNothing moves a running VM's memory and disks to
	// another host and a storage pool there.
	MigrationSharedNothing MigrationMode = "shared-nothing"
	// MigrationStorage moves a running VM's disks to another storage pool
	// of its host.
	MigrationStorage MigrationMode = "storage"
	// MigrationCold stops the instance, moves it and starts it again
	// where it was running: a VM's files are copied and registered on the
	// other host (ESXi without vCenter); a container is recreated there
	// from its image with its volumes on shared storage.
	MigrationCold MigrationMode = "cold"
)

// MigrationModes lists every migration mode.
var MigrationModes = []MigrationMode{MigrationLive, MigrationSharedNothing, MigrationStorage, MigrationCold}

// InstanceMigrate asks for an instance to move. Everything may be left out:
// the server picks the mode the instance's host can do and placement
// picks the target host. Only administrators name a host or a storage
// pool; a tenant may ask for a move without them.
type InstanceMigrate struct {
	Mode          MigrationMode `json:"mode,omitempty" doc:"How the instance moves; left out: live for a VM whose host migrates live, cold otherwise."`
	HostID        ovm.ID        `json:"hostId,omitempty" doc:"The target host (administrators); left out: placement picks one in the instance's pool."`
	StoragePoolID ovm.ID        `json:"storagePoolId,omitempty" doc:"The storage pool the disks move to (administrators): required by storage and shared-nothing migrations."`
}
