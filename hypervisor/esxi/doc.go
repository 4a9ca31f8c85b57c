// Package esxi drives standalone VMware ESXi hosts (no vCenter) through
// github.com/vmware/govmomi: a hypervisor.Driver for VMs, a storage.Driver for
// datastores and their VMDKs, and a network.Driver for port groups on a
// standard vSwitch (Config.VSwitch). All three share one session to the
// host, opened by Dial.
//
// Connection. Dial logs in with a user name and password over TLS and always
// verifies the host: against Config.RootCAs (or the system roots), or against
// a pinned SHA-256 or SHA-1 thumbprint of the host's certificate, as the ESXi
// console shows it. There is no "insecure" switch. The session is kept alive
// (govmomi's session/keepalive) and, when the host forgets it anyway (it
// restarted, an administrator terminated it), the next call logs in again and
// is retried once. An endpoint whose About.ApiType is not "HostAgent" (a
// vCenter) is refused: OVM manages hosts vCenter does not.
//
// Identity. Every VM OVM makes carries its OVM id and VDC in extraConfig
// (ovm.id, ovm.vdc, ovm.image, ovm.created) and an annotation; Create is
// idempotent by ovm.id, and List shows VMs without it as unmanaged, importable
// in place. A datastore that is an OVM storage pool holds a directory
// ovm-pool-<id>; volumes live under ovm-volumes/<id>/<name>.vmdk. Port groups
// carry no metadata on ESXi, so a network's subnet, gateway and ranges are
// kept as a small JSON file on a datastore of the host (.ovm/networks).
//
// Guests. A VM with user-data gets cloud-init's VMware guestinfo keys
// (guestinfo.userdata and guestinfo.metadata, base64) in its extraConfig.
// With a guest account (Config.GuestUser) the driver runs commands in VMs
// whose Tools run, through guest operations (Driver.Exec).
//
// Power. Stop asks the guest to shut down when VMware Tools run in it and
// powers the VM off if it is not off within the timeout; without Tools there
// is nobody to ask, and the VM is powered off at once. Reboot is a guest
// reboot with Tools, a reset without. Reconfigure applies to a stopped VM at
// its next boot; a running VM grows live only when its hot-add flags allow
// (OVM sets them on the VMs it makes), and is never shrunk live.
//
// Stats. CPU, memory, network and disk come from the host's
// PerformanceManager (the latest 20-second real-time sample). ESXi reports
// network and disk rates, so the byte counters are rates times intervals
// summed over the samples this driver has seen.
//
// Storage. Local pools are datastores made with CreateLocalDatastore, NFS
// pools with CreateNasDatastore (mounted under the pool's name, or at
// PoolSpec.Path when set); an existing datastore of the pool's name and
// kind is adopted. Volumes are thin VMDKs: a pool's Used counts them at
// their full size, so that a pool is never promised twice.
//
// Volume snapshots. A standalone host has no disk-level snapshots (First
// Class Disk snapshots, VStorageObjectManager, need vCenter; govmomi's
// simulator has them on its vCenter model only, and no revert), and a VM
// snapshot takes all the VM's disks. A volume snapshot is therefore a full
// thin copy of the volume's VMDK (CopyVirtualDisk) in
// ovm-volumes/<id>/snapshots/<snapshot id>_<name>.vmdk, deleted with the
// volume. The copy is taken while no powered-on VM uses the volume (a
// running VM locks its disk): detached, or attached to a stopped VM; a
// running user is ovm.ErrConflict, and Capabilities says ColdSnapshots. A
// revert copies the snapshot beside the volume and moves the copy over the
// volume's VMDK (ESXi's CopyVirtualDisk ignores its force flag; the move
// overwrites), only while the volume is detached.
//
// Templates. CloneVM_Task needs vCenter; "create from a template" copies the
// template's VMDK from the image library (Config.ImageLibrary, or the root
// of the datastore UseTemplateLibrary names) with the VirtualDiskManager and
// builds a new VM around the copy. DeliverTemplate
// (hypervisor.TemplateDelivery) writes a template there from a disk's raw
// contents: uploaded over the datastore HTTP interface under a temporary
// name, moved into place as the extent of a flat VMDK, then its descriptor
// and its digest ("<name>.sha256"), so the old template stays whole until
// the new bytes are complete.
//
// Licence. A host on the free licence refuses every change made through the
// API ("Current license or ESXi version prohibits execution of the requested
// operation"). Dial and Info detect it from the licence manager; Info then
// reports HostInfo.ReadOnly with the reason, and every mutating call returns
// ovm.ErrUnsupported with that reason before it reaches the host.
//
// Migration. Standalone hosts cannot vMotion without vCenter: the driver
// announces no live migration and says so in Capabilities.MigrationNote; it
// moves VMs cold (power off, copy the VM's directory, register, power on).
// A VM's snapshots must be listed on the destination after the register,
// else the move is undone (govmomi's simulator keeps snapshots in memory and
// does not rebuild them from the files), so MigrationKeepsSnapshots is
// empty. HA is
// OVM's business: Register (the Registrar facet) adopts a VMX that is already
// on a shared datastore so that it can be powered on here.
//
// Errors. vim faults become ovm kinds (NotFound and ManagedObjectNotFound are
// ovm.ErrNotFound; DuplicateName, AlreadyExists, InvalidPowerState, NoDiskSpace
// and InsufficientResources are ovm.ErrConflict; InvalidArgument and
// InvalidName are ovm.ErrInvalid; a refused login is ovm.ErrInvalid "wrong
// user name or password for HOST"; a host that does not answer is
// ovm.ErrUnavailable), always keeping the host's own fault text.
package esxi
