// Package hypervisor defines the contract every hypervisor driver implements
// (libvirt for KVM, govmomi for standalone ESXi, the Docker Engine API for
// containers, and the in-memory fake), the optional facets a driver may add
// (snapshots, migration, console, exec) and the Capabilities struct that
// announces them.
//
// The core Driver interface is small on purpose. Callers find a facet by type
// assertion and check Capabilities first:
//
//	if s, ok := d.(hypervisor.Snapshotter); ok && d.Capabilities().Snapshots {
//		snap, err := s.CreateSnapshot(ctx, ref, "before-upgrade")
//	}
//
// Every object a driver creates carries its OVM id on the hypervisor, so
// Create is idempotent by that id, and List tells managed objects (OVMID set)
// from unmanaged ones (OVMID empty), which can be imported in place. A driver
// that can write an OVM id on an object it did not make implements Marker, so
// that an imported object carries its instance's id too. Info reports the
// host's own UUID, which tells one host reached by two URLs from two hosts.
//
// Templates reach a host through TemplateDelivery, which keeps each by name
// with its digest beside it; CheckDelivery and DeliveryReader are the
// argument checks and the checked, hashed stream every driver shares.
//
// The conformance suite every driver passes is in package hypervisortest.
package hypervisor
