package libvirt

import (
	"context"
	"strconv"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// CreateSnapshot takes an internal snapshot of the instance's qcow2 disks
// (the read-only seed is left out), named by a new OVM id, with name as its
// description.
func (d *Driver) CreateSnapshot(ctx context.Context, ref hypervisor.Ref, name string) (ovm.Snapshot, error) {
	f, err := d.lookup(ctx, ref)
	if err != nil {
		return ovm.Snapshot{}, err
	}
	id := ovm.NewID()
	x, err := (&libvirtxml.DomainSnapshot{Name: string(id), Description: name}).Marshal()
	if err != nil {
		return ovm.Snapshot{}, err
	}
	if _, err := rpc(ctx, func() (golibvirt.DomainSnapshot, error) { return d.l.DomainSnapshotCreateXML(f.dom, x, 0) }); err != nil {
		return ovm.Snapshot{}, wrap(err, "libvirt: snapshot domain %s", f.dom.Name)
	}
	return ovm.Snapshot{ID: id, Name: name, Of: instanceID(f), CreatedAt: d.cfg.Now()}, nil
}

// instanceID is the OVM id of a found domain, or its UUID when unmanaged.
func instanceID(f found) ovm.ID {
	if f.managed {
		return f.meta.ID
	}
	return ovm.ID(uuidString(f.dom.UUID))
}

// ListSnapshots lists the instance's snapshots.
func (d *Driver) ListSnapshots(ctx context.Context, ref hypervisor.Ref) ([]ovm.Snapshot, error) {
	f, err := d.lookup(ctx, ref)
	if err != nil {
		return nil, err
	}
	snaps, err := rpc(ctx, func() ([]golibvirt.DomainSnapshot, error) {
		s, _, err := d.l.DomainListAllSnapshots(f.dom, 1, 0)
		return s, err
	})
	if err != nil {
		return nil, wrap(err, "libvirt: snapshots of domain %s", f.dom.Name)
	}
	out := make([]ovm.Snapshot, 0, len(snaps))
	for _, s := range snaps {
		x, err := rpc(ctx, func() (string, error) { return d.l.DomainSnapshotGetXMLDesc(s, 0) })
		if err != nil {
			return nil, wrap(err, "libvirt: snapshot %s of domain %s", s.Name, f.dom.Name)
		}
		var def libvirtxml.DomainSnapshot
		if err := def.Unmarshal(x); err != nil {
			return nil, err
		}
		secs, _ := strconv.ParseInt(def.CreationTime, 10, 64)
		out = append(out, ovm.Snapshot{ID: ovm.ID(s.Name), Name: def.Description, Of: instanceID(f),
			CreatedAt: time.Unix(secs, 0)})
	}
	return out, nil
}

// snapshot looks up one snapshot of a domain.
func (d *Driver) snapshot(ctx context.Context, ref hypervisor.Ref, id ovm.ID) (golibvirt.DomainSnapshot, error) {
	f, err := d.lookup(ctx, ref)
	if err != nil {
		return golibvirt.DomainSnapshot{}, err
	}
	s, err := rpc(ctx, func() (golibvirt.DomainSnapshot, error) { return d.l.DomainSnapshotLookupByName(f.dom, string(id), 0) })
	if isCode(err, golibvirt.ErrNoDomainSnapshot) {
		return s, ovm.Errorf(ovm.KindNotFound, "snapshot %s of instance %s not found: %w", id, ref, err)
	}
	return s, wrap(err, "libvirt: snapshot %s of domain %s", id, f.dom.Name)
}

// RevertSnapshot puts the instance back to the snapshot.
func (d *Driver) RevertSnapshot(ctx context.Context, ref hypervisor.Ref, id ovm.ID) error {
	s, err := d.snapshot(ctx, ref, id)
	if err != nil {
		return err
	}
	return wrap(do(ctx, func() error { return d.l.DomainRevertToSnapshot(s, 0) }), "libvirt: revert to snapshot %s", id)
}

// DeleteSnapshot deletes one snapshot.
func (d *Driver) DeleteSnapshot(ctx context.Context, ref hypervisor.Ref, id ovm.ID) error {
	s, err := d.snapshot(ctx, ref, id)
	if err != nil {
		return err
	}
	return wrap(do(ctx, func() error { return d.l.DomainSnapshotDelete(s, 0) }), "libvirt: delete snapshot %s", id)
}
