package libvirt

import (
	"context"
	"fmt"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// Snapshots across a migration. libvirt keeps a domain's snapshot metadata
// per daemon and refuses to migrate a domain that has any ("cannot migrate
// domain with N snapshots"); the internal qcow2 snapshots themselves are
// inside the disk. A live migration leaves the disks where they are, on
// storage both hosts see, so the driver lifts the metadata off the source
// before the move (each snapshot's XML, then a metadata-only delete),
// redefines it on the destination after (VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE,
// parents first, the current one current again) and redefines it on the
// source again when the move fails. Storage and shared-nothing migrations
// copy the disk's current state only (blockcopy, NBD), not its internal
// snapshots: a domain with snapshots is refused.

// liftedSnapshots are the snapshot definitions of a domain, parents first,
// and which of them was current (-1: none).
type liftedSnapshots struct {
	xml     []string
	names   []string
	current int
}

// readSnapshots reads the definitions of dom's snapshots, parents first.
func (d *Driver) readSnapshots(ctx context.Context, dom golibvirt.Domain) (liftedSnapshots, []golibvirt.DomainSnapshot, error) {
	out := liftedSnapshots{current: -1}
	snaps, err := rpc(ctx, func() ([]golibvirt.DomainSnapshot, error) {
		s, _, err := d.l.DomainListAllSnapshots(dom, 1, uint32(golibvirt.DomainSnapshotListTopological))
		return s, err
	})
	if err != nil {
		return out, nil, wrap(err, "libvirt: snapshots of domain %s", dom.Name)
	}
	for i, s := range snaps {
		x, err := rpc(ctx, func() (string, error) {
			return d.l.DomainSnapshotGetXMLDesc(s, uint32(golibvirt.DomainSnapshotXMLSecure))
		})
		if err != nil {
			return out, nil, wrap(err, "libvirt: snapshot %s of domain %s", s.Name, dom.Name)
		}
		cur, err := rpc(ctx, func() (int32, error) { return d.l.DomainSnapshotIsCurrent(s, 0) })
		if err != nil {
			return out, nil, wrap(err, "libvirt: snapshot %s of domain %s", s.Name, dom.Name)
		}
		if cur == 1 {
			out.current = i
		}
		out.xml, out.names = append(out.xml, x), append(out.names, s.Name)
	}
	return out, snaps, nil
}

// liftSnapshots reads dom's snapshot definitions and removes them from
// this daemon (the metadata only: the disks keep the snapshots). A removal
// that fails puts back what was removed.
func (d *Driver) liftSnapshots(ctx context.Context, dom golibvirt.Domain) (liftedSnapshots, error) {
	l, snaps, err := d.readSnapshots(ctx, dom)
	if err != nil || len(snaps) == 0 {
		return l, err
	}
	for i := len(snaps) - 1; i >= 0; i-- { // children first
		s := snaps[i]
		if err := do(ctx, func() error { return d.l.DomainSnapshotDelete(s, golibvirt.DomainSnapshotDeleteMetadataOnly) }); err != nil {
			back := liftedSnapshots{xml: l.xml[i+1:], names: l.names[i+1:], current: l.current - (i + 1)}
			_ = d.redefineSnapshots(context.WithoutCancel(ctx), dom, back)
			return l, wrap(err, "libvirt: lift the metadata of snapshot %s of domain %s", s.Name, dom.Name)
		}
	}
	return l, nil
}

// redefineSnapshots defines lifted snapshots on dom of this daemon, parents
// first; one this daemon has already is left alone.
func (d *Driver) redefineSnapshots(ctx context.Context, dom golibvirt.Domain, l liftedSnapshots) error {
	for i, x := range l.xml {
		flags := golibvirt.DomainSnapshotCreateRedefine
		if i == l.current {
			flags |= golibvirt.DomainSnapshotCreateCurrent
		}
		_, err := rpc(ctx, func() (golibvirt.DomainSnapshot, error) { return d.l.DomainSnapshotCreateXML(dom, x, uint32(flags)) })
		if err != nil {
			if _, lerr := d.l.DomainSnapshotLookupByName(dom, l.names[i], 0); lerr == nil {
				continue
			}
			return wrap(err, "libvirt: redefine snapshot %s of domain %s", l.names[i], dom.Name)
		}
	}
	return nil
}

// refuseSnapshots is ovm.ErrConflict when dom has snapshots, which a
// migration of kind does not carry.
func (d *Driver) refuseSnapshots(ctx context.Context, dom golibvirt.Domain, kind hypervisor.MigrationKind) error {
	n, err := rpc(ctx, func() (int32, error) { return d.l.DomainSnapshotNum(dom, 0) })
	if err != nil {
		return wrap(err, "libvirt: snapshots of domain %s", dom.Name)
	}
	if n > 0 {
		return ovm.Errorf(ovm.KindConflict, "libvirt: domain %s has %d snapshots, and a %s migration copies only the disk's current "+
			"state, not the snapshots inside it: delete them first, or migrate live over shared storage", dom.Name, n, kind)
	}
	return nil
}

// carrySnapshots redefines lifted snapshots on the domain of the same name
// on dest.
func (d *Driver) carrySnapshots(ctx context.Context, dest *Driver, name string, l liftedSnapshots) error {
	if len(l.xml) == 0 {
		return nil
	}
	dom, err := rpc(ctx, func() (golibvirt.Domain, error) { return dest.l.DomainLookupByName(name) })
	if err != nil {
		return wrap(err, "libvirt: domain %s on %s", name, dest.ep.URI)
	}
	if err := dest.redefineSnapshots(ctx, dom, l); err != nil {
		return fmt.Errorf("domain %s runs on %s, but its %d snapshots were not carried there: %w", name, dest.ep.URI, len(l.xml), err)
	}
	return nil
}
