// Package libvirt is the KVM driver: it drives libvirtd hosts through
// github.com/digitalocean/go-libvirt (libvirt's RPC protocol in pure Go, no
// cgo) and renders every piece of XML it sends from the typed structs of
// libvirt.org/go/libvirtxml, reading domains back after define so that
// libvirt stays the source of truth (golden files in testdata, rewritten
// with go test -update).
//
// One Driver talks to one host (Dial with a libvirt URI: qemu:///system over
// the local socket, qemu+tcp://, qemu+tls:// and qemu+ssh://). The unix and
// tcp transports are tested against real daemons; tls and ssh URIs are
// parsed and handed to go-libvirt's TLS and SSH dialers, but no daemon on
// the test machines listens on them.
//
// Driver implements hypervisor.Driver with the console, exec (the QEMU
// guest agent on the org.qemu.guest_agent.0 channel every domain gets; see
// Driver.Exec), snapshot, migration and registrar facets; Storage (Driver.Storage) implements
// storage.Driver with volume snapshots on libvirt pools of type dir and
// netfs; Networks (Driver.Networks) implements network.Driver on libvirt
// networks (a Linux bridge per segment, DHCP reservations for attachments;
// no VLAN tags, no IPv6).
//
// Instances are domains. The OVM id, VDC, image, milli-CPU and the volumes
// the instance owns are written in the domain's <metadata> under the
// namespace MetadataNS; Create is idempotent by that id and List tells
// managed domains (with it) from unmanaged ones (without), which stay as
// they are (running or not) and can be driven by their native id. A
// domain's boot disk is a qcow2 volume copy-on-write over a template found
// in the template pool; a cloud-init NoCloud seed (an ISO 9660 image with
// Joliet names written in pure Go, see NoCloud) is uploaded as a second,
// read-only volume. The domain type is kvm when a KVM guest starts on the
// host, qemu otherwise (probed once per host, Config.Probes; reported in
// HostInfo.Virtualization; Config.VirtType forces it). vCPU and memory
// changes go to the persistent definition: at once for a stopped domain,
// at the next boot for a running one (ResizeResult.Live false).
//
// Snapshots are internal qcow2 snapshots (with the memory of a running
// domain). They follow a live migration: the driver lifts their metadata
// off the source, migrates, and redefines it on the destination (see
// migrate_snapshots.go); storage and shared-nothing migrations, which copy
// only a disk's current state, refuse a domain with snapshots.
//
// Templates come from the template pool (Config.Templates, or the library
// pool UseTemplateLibrary names). DeliverTemplate (hypervisor.TemplateDelivery)
// writes one there by volume upload, in 256 KiB stream messages as virsh
// sends them, checking size and digest on the way, and records its digest
// in a sidecar volume "<name>.sha256" written last: libvirt cannot rename a
// volume, so a template being written, or left by a crash, is the one
// without a digest. Images that would make qemu-img read other host files
// (a qcow2 backing or external data file, VMDK, QED, VHD) are refused.
//
// go-libvirt takes no context per call: every method checks its context
// before each RPC and bounds each wait loop by it.
package libvirt
