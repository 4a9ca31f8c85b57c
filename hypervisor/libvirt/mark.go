package libvirt

import (
	"context"
	"encoding/xml"
	"fmt"
	"path/filepath"

	golibvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

var _ hypervisor.Marker = (*Driver)(nil)

// Mark writes OVM's metadata element, with id and vdcID, into the
// definition of a domain OVM did not make (hypervisor.Marker). The domain's
// devices and size stay as they are, a running domain keeps running, and
// its disks stay its own: Delete removes only the volumes the metadata
// lists, and a marked domain lists none.
func (d *Driver) Mark(ctx context.Context, ref hypervisor.Ref, id, vdcID ovm.ID) (hypervisor.Instance, error) {
	if !id.Valid() {
		return hypervisor.Instance{}, ovm.Invalid("invalid mark", ovm.FieldError{Field: "id", Reason: "must be an OVM id (a lower-case UUID)"})
	}
	d.createMu.Lock() // one id, one domain: as Create, look up then define
	defer d.createMu.Unlock()
	f, err := d.lookup(ctx, ref)
	if err != nil {
		return hypervisor.Instance{}, err
	}
	switch {
	case f.managed && f.meta.ID == id:
		return f.instance(), nil
	case f.managed:
		return hypervisor.Instance{}, ovm.Errorf(ovm.KindConflict, "libvirt: domain %s carries OVM id %s already", f.dom.Name, f.meta.ID)
	}
	if other, err := d.lookup(ctx, hypervisor.ByID(id)); err == nil {
		return hypervisor.Instance{}, ovm.Errorf(ovm.KindConflict, "libvirt: OVM id %s is on domain %s", id, other.dom.Name)
	} else if ovm.KindOf(err) != ovm.KindNotFound {
		return hypervisor.Instance{}, err
	}
	inst := f.instance()
	meta, err := MarshalMetadata(Metadata{ID: id, VDCID: vdcID, Name: f.dom.Name, CPU: inst.CPU, CreatedAt: d.cfg.Now()})
	if err != nil {
		return hypervisor.Instance{}, err
	}
	def := f.def
	def.Metadata = &libvirtxml.DomainMetadata{XML: replaceMetadata(def.Metadata, meta)}
	x, err := def.Marshal()
	if err != nil {
		return hypervisor.Instance{}, fmt.Errorf("libvirt: render domain %s: %w", f.dom.Name, err)
	}
	if _, err := rpc(ctx, func() (golibvirt.Domain, error) { return d.l.DomainDefineXMLFlags(x, golibvirt.DomainDefineValidate) }); err != nil {
		return hypervisor.Instance{}, wrap(err, "libvirt: mark domain %s with %s", f.dom.Name, id)
	}
	if f, err = d.describe(ctx, f.dom); err != nil {
		return hypervisor.Instance{}, err
	}
	d.remember(f)
	return f.instance(), nil
}

// capabilities reads and parses libvirt's capabilities of the host.
func (d *Driver) capabilities(ctx context.Context) (libvirtxml.Caps, error) {
	caps, err := rpc(ctx, d.l.Capabilities)
	if err != nil {
		return libvirtxml.Caps{}, wrap(err, "libvirt: capabilities")
	}
	var c libvirtxml.Caps
	if err := xml.Unmarshal(caps, &c); err != nil {
		return libvirtxml.Caps{}, fmt.Errorf("libvirt: parse capabilities: %w", err)
	}
	return c, nil
}

// hostUUID reads the host's UUID from libvirt's capabilities (the
// host_uuid of libvirtd.conf, else the machine's SMBIOS UUID).
func (d *Driver) hostUUID(ctx context.Context) (string, error) {
	c, err := d.capabilities(ctx)
	return c.Host.UUID, err
}

// checkPools refuses a configuration whose templates or disks pool exists
// on the host at another directory than the one configured: libvirt would
// use the pool's own directory without a word. The error names the field
// (templates, disks) and both directories.
func checkPools(ctx context.Context, l *golibvirt.Libvirt, cfg Config) error {
	var f ovm.Fields
	for _, p := range []struct {
		field string
		ref   PoolRef
	}{{"templates", cfg.Templates}, {"disks", cfg.Disks}} {
		pool, err := rpc(ctx, func() (golibvirt.StoragePool, error) { return l.StoragePoolLookupByName(p.ref.Name) })
		if isCode(err, golibvirt.ErrNoStoragePool) {
			continue // defined at the configured directory on first use
		}
		if err != nil {
			return wrap(err, "libvirt: look up pool %s", p.ref.Name)
		}
		x, err := rpc(ctx, func() (string, error) { return l.StoragePoolGetXMLDesc(pool, 0) })
		if err != nil {
			return wrap(err, "libvirt: read pool %s", p.ref.Name)
		}
		var def libvirtxml.StoragePool
		if err := def.Unmarshal(x); err != nil {
			return fmt.Errorf("libvirt: parse pool %s: %w", p.ref.Name, err)
		}
		if def.Target == nil || filepath.Clean(def.Target.Path) != filepath.Clean(p.ref.Path) {
			have := "no directory"
			if def.Target != nil {
				have = def.Target.Path
			}
			f.Addf(p.field, "the host's storage pool %s is at %s, not %s: give that directory, or another pool name as NAME:%s",
				p.ref.Name, have, p.ref.Path, p.ref.Path)
		}
	}
	return f.Err("storage pool directory conflict")
}
