package hypervisor

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/openovm/ovm/ovm"
)

// Ref names one instance on a host: by its OVM id (managed instances), or by
// the hypervisor's own id (any instance, including unmanaged ones being
// imported). When both are set NativeID wins.
type Ref struct {
	ID       ovm.ID
	NativeID string
}

// ByID refers to a managed instance by its OVM id.
func ByID(id ovm.ID) Ref { return Ref{ID: id} }

// ByNative refers to an instance by the hypervisor's own id.
func ByNative(nativeID string) Ref { return Ref{NativeID: nativeID} }

// RefOf refers to inst by its native id.
func RefOf(inst Instance) Ref { return Ref{ID: inst.OVMID, NativeID: inst.NativeID} }

// IsZero reports whether the reference names nothing.
func (r Ref) IsZero() bool { return r.ID == "" && r.NativeID == "" }

func (r Ref) String() string {
	if r.NativeID != "" {
		return r.NativeID
	}
	return string(r.ID)
}

// HostInfo describes a host as its hypervisor reports it.
type HostInfo struct {
	Kind     ovm.HostKind
	Hostname string
	// UUID is the host's own identity as its engine reports it: the
	// hardware UUID of a KVM or ESXi host (libvirt capabilities, ESXi
	// hardware.systemInfo.uuid), the engine ID of a Docker host. Two
	// registrations of one host under two URLs report the same UUID.
	UUID string
	// Product and Version describe the engine, such as "libvirt" "9.0.0".
	Product  string
	Version  string
	Capacity ovm.Resources
	// Allocated is what the instances on the host are given (all of them,
	// managed or not).
	Allocated ovm.Resources
	// Virtualization is "kvm" or "qemu" for a KVM host, "" elsewhere.
	Virtualization string
	// ReadOnly is set when the host refuses changes, with ReadOnlyReason
	// (an ESXi host on the free licence, say).
	ReadOnly       bool
	ReadOnlyReason string
}

// Instance is an instance as found on a host.
type Instance struct {
	// NativeID is the hypervisor's own id (container id, domain UUID, VM
	// managed object id). Always set.
	NativeID string
	// OVMID is the OVM id written on the object; empty when unmanaged.
	OVMID ovm.ID
	// VDCID is the VDC recorded on the object, when there is one.
	VDCID  ovm.ID
	Name   string
	Type   ovm.InstanceType
	CPU    ovm.MilliCPU
	Memory ovm.Bytes
	// Disk is the size of the disks the driver made for the instance (a
	// VM's boot disk, a copy of its template, included; volumes attached
	// to it not): what it takes of its host's storage. 0 when unknown.
	Disk      ovm.Bytes
	Image     ovm.ImageRef
	Power     ovm.PowerState
	Addresses []netip.Addr
	Labels    map[string]string
	CreatedAt time.Time
}

// Managed reports whether OVM made the instance (it carries an OVM id).
func (i Instance) Managed() bool { return i.OVMID != "" }

// NICAttachment is a NIC resolved for a driver: the network it joins and the
// address IPAM chose (or the user picked).
type NICAttachment struct {
	Network ovm.Network
	MAC     string
	IP      netip.Addr
	// Bridge is the host-side name of the segment (bridge, port group,
	// Docker network) when the network driver has already made it.
	Bridge string
}

// DiskAttachment is a disk resolved for a driver: a volume the storage
// driver made (or will be made by the hypervisor driver from Image).
type DiskAttachment struct {
	Volume    ovm.Volume
	Pool      ovm.StoragePool
	MountPath string // container volumes
	Boot      bool
}

// CreateSpec is everything a driver needs to create an instance.
type CreateSpec struct {
	ID    ovm.ID // written on the object; Create is idempotent by it
	Name  string
	VDCID ovm.ID
	Spec  ovm.InstanceSpec
	NICs  []NICAttachment
	Disks []DiskAttachment
}

// Validate checks the parts of the spec every driver needs.
func (s CreateSpec) Validate() error {
	var f ovm.Fields
	if !s.ID.Valid() {
		f.Add("id", "must be an OVM id (a lower-case UUID)")
	}
	if r := ovm.ValidateName(s.Name); r != "" {
		f.Add("name", r)
	}
	f.Merge("spec", s.Spec.Validate())
	return f.Err("invalid create spec")
}

// StopOptions says how to stop an instance.
type StopOptions struct {
	// Force stops at once (power off, destroy, kill) instead of asking the
	// guest to shut down.
	Force bool
	// Timeout bounds a graceful stop; after it the driver forces the stop.
	// Zero means DefaultStopTimeout.
	Timeout time.Duration
}

// DefaultStopTimeout bounds a graceful stop when StopOptions.Timeout is zero.
const DefaultStopTimeout = 60 * time.Second

// Resize changes an instance's CPU or memory; a zero field is unchanged.
type Resize struct {
	CPU    ovm.MilliCPU
	Memory ovm.Bytes
}

// ResizeResult says when a resize takes effect.
type ResizeResult struct {
	// Live is true when the running instance already has the new size;
	// false when the change applies at its next boot.
	Live bool
}

// Stats is a sample of an instance's use of resources.
type Stats struct {
	Time time.Time
	// CPUPercent is the guest's own CPU use: the share of one vCPU in use,
	// summed over vCPUs (200 = two vCPUs busy), never more than 100 per
	// vCPU. A VM counts its vCPUs' threads, not the hypervisor's work
	// beside them (QEMU's I/O and emulator threads); a container counts
	// its cgroup, bounded by its CPU limit.
	CPUPercent  float64
	MemoryUsed  ovm.Bytes
	MemoryLimit ovm.Bytes
	// The counters below grow from the instance's start; a restart may
	// begin them again from zero.
	NetRxBytes uint64
	NetTxBytes uint64
	DiskRead   uint64
	DiskWrite  uint64
	// DiskReadOps and DiskWriteOps count read and write requests.
	DiskReadOps  uint64
	DiskWriteOps uint64
}

// Driver is the contract every hypervisor driver implements. Every method
// that talks to the host takes a context and returns once it is done.
// Errors carry an ovm kind (errors.Is(err, ovm.ErrNotFound), ...) and keep
// the engine's own text.
//
// Power transitions: Start on a running instance and Stop on a stopped one
// return ovm.ErrConflict; Reboot needs a running instance; Delete needs a
// stopped one unless the instance is forced off first by the caller.
type Driver interface {
	// Kind is the kind of host the driver talks to.
	Kind() ovm.HostKind
	// Capabilities announces the optional facets the driver supports.
	Capabilities() Capabilities
	// Ping checks that the host answers, within ctx's deadline. The HA
	// monitor calls it; an unreachable host is ovm.ErrUnavailable.
	Ping(ctx context.Context) error
	// Info returns the host's identity, capacity and allocations.
	Info(ctx context.Context) (HostInfo, error)
	// List returns every instance on the host, managed or not.
	List(ctx context.Context) ([]Instance, error)
	// Get returns one instance, or ovm.ErrNotFound.
	Get(ctx context.Context, ref Ref) (Instance, error)
	// Create makes a stopped instance. A second Create with the same ID
	// returns the instance the first made and creates nothing; with the
	// same ID and a different name it is ovm.ErrConflict, as is a name
	// already taken by another instance.
	Create(ctx context.Context, spec CreateSpec) (Instance, error)
	Start(ctx context.Context, ref Ref) error
	Stop(ctx context.Context, ref Ref, opts StopOptions) error
	Reboot(ctx context.Context, ref Ref) error
	// Delete removes a stopped instance and the disks it owns.
	// Deleting an instance that is already gone returns ovm.ErrNotFound.
	Delete(ctx context.Context, ref Ref) error
	Reconfigure(ctx context.Context, ref Ref, r Resize) (ResizeResult, error)
	Stats(ctx context.Context, ref Ref) (Stats, error)
	// Close releases the connection to the host.
	Close() error
}

// Capabilities announces what a driver can do beyond the core contract.
// Callers branch on these, never on driver names.
type Capabilities struct {
	InstanceTypes []ovm.InstanceType
	// Snapshots: the driver implements Snapshotter.
	Snapshots bool
	// SnapshotMemory: a snapshot of a running instance holds its memory
	// too, and a revert to it brings the instance back running from that
	// moment. Without it snapshots hold the disks only.
	SnapshotMemory bool
	// LiveMigration, SharedNothingMigration, StorageMigration: the driver
	// implements Migrator and supports that kind of move.
	LiveMigration          bool
	SharedNothingMigration bool
	StorageMigration       bool
	// ColdMigration: the driver implements Migrator with MigrateCold.
	ColdMigration bool
	// MigrationKeepsSnapshots are the kinds of move that carry an
	// instance's snapshots to where it goes (under the same ids); any
	// other kind refuses an instance that has snapshots.
	MigrationKeepsSnapshots []MigrationKind
	// MigrationNote says why migration is missing, when it is.
	MigrationNote string
	// Console: the driver implements Consoler.
	Console bool
	// Exec: the driver implements Executor.
	Exec bool
	// LiveResize: Reconfigure applies to a running instance.
	LiveResizeCPU    bool
	LiveResizeMemory bool
	// RegisterExisting: the driver implements Registrar (HA restarts from
	// a shared datastore).
	RegisterExisting bool
	// Mark: the driver implements Marker (an imported object can carry
	// its instance's OVM id).
	Mark bool
	// UserData: the driver gives a VM its InstanceSpec.UserData (a
	// cloud-init NoCloud seed).
	UserData bool
}

// Runs reports whether the driver can run instances of type t.
func (c Capabilities) Runs(t ovm.InstanceType) bool {
	for _, x := range c.InstanceTypes {
		if x == t {
			return true
		}
	}
	return false
}

// Snapshotter is the snapshot facet.
type Snapshotter interface {
	CreateSnapshot(ctx context.Context, ref Ref, name string) (ovm.Snapshot, error)
	ListSnapshots(ctx context.Context, ref Ref) ([]ovm.Snapshot, error)
	RevertSnapshot(ctx context.Context, ref Ref, snapshotID ovm.ID) error
	DeleteSnapshot(ctx context.Context, ref Ref, snapshotID ovm.ID) error
}

// MigrationKind says what moves in a migration.
type MigrationKind string

// The migration kinds.
const (
	MigrateLive          MigrationKind = "live"           // memory only; disks on shared storage
	MigrateSharedNothing MigrationKind = "shared-nothing" // memory and disks to another host
	MigrateStorage       MigrationKind = "storage"        // disks to another pool, same host
	// MigrateCold powers the instance off, copies its files to the
	// destination, registers it there and powers it on again (where it
	// was running): for engines that cannot move a running instance.
	MigrateCold MigrationKind = "cold"
)

// MigrationTarget says where an instance goes.
type MigrationTarget struct {
	Kind MigrationKind
	// Destination is the driver of the target host (live, shared-nothing).
	Destination Driver
	// Pool is the target storage pool (storage, shared-nothing).
	Pool ovm.StoragePool
}

// Progress reports how far a long operation is, 0 to 100.
type Progress func(percent int, message string)

// Migrator is the migration facet.
type Migrator interface {
	Migrate(ctx context.Context, ref Ref, to MigrationTarget, progress Progress) error
}

// Consoler is the console facet: the serial console of a VM, the attached
// output of a container, as a byte stream.
type Consoler interface {
	Console(ctx context.Context, ref Ref) (io.ReadWriteCloser, error)
}

// ExecSpec is a command to run inside an instance.
type ExecSpec struct {
	Command []string
	Env     map[string]string
	Stdin   io.Reader
}

// ExecResult is what a command inside an instance did.
type ExecResult struct {
	ExitCode int
	Stdout   []byte
	Stderr   []byte
}

// Executor is the exec-in-guest or exec-in-container facet.
type Executor interface {
	Exec(ctx context.Context, ref Ref, spec ExecSpec) (ExecResult, error)
}

// Marker is the facet of a driver that writes an OVM id onto an object it
// did not create (libvirt domain metadata, ESXi extraConfig), so that an
// imported object carries its instance's id like one OVM made. Docker
// cannot relabel a container and has no Marker: the server's store maps
// an imported container to its instance instead.
type Marker interface {
	// Mark writes id and vdcID on the object ref names and returns it as
	// found afterwards. Marking an object that carries id already is
	// success; one that carries another OVM id is ovm.ErrConflict.
	Mark(ctx context.Context, ref Ref, id, vdcID ovm.ID) (Instance, error)
}

// Registrar registers an instance that already exists on shared storage
// (a VMX on an NFS datastore, a domain whose disk is on a shared pool) on
// this host, under its OVM id, so that HA can restart it here.
type Registrar interface {
	Register(ctx context.Context, spec CreateSpec) (Instance, error)
}

// ErrPower builds the conflict error for an invalid power transition.
func ErrPower(ref Ref, op string, state ovm.PowerState) error {
	return ovm.Errorf(ovm.KindConflict, "cannot %s instance %s: it is %s", op, ref, state)
}

// CheckPower returns ErrPower unless state allows op ("start", "stop",
// "reboot", "delete"). Drivers call it so that every driver refuses the same
// transitions with the same kind of error.
func CheckPower(ref Ref, op string, state ovm.PowerState) error {
	ok := false
	switch op {
	case "start":
		ok = state == ovm.PowerStopped
	case "stop", "reboot":
		ok = state == ovm.PowerRunning || state == ovm.PowerPaused
	case "delete":
		ok = state != ovm.PowerRunning && state != ovm.PowerPaused
	default:
		return fmt.Errorf("hypervisor: unknown operation %q", op)
	}
	if !ok {
		return ErrPower(ref, op, state)
	}
	return nil
}
