package libvirt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// Create defines a stopped domain for spec: a qcow2 boot volume over the
// template spec.Spec.Image names, a cloud-init seed volume, the spec's
// extra disks and NICs, and the OVM metadata. It is idempotent by spec.ID;
// a name taken by another domain is ovm.ErrConflict. When a step fails,
// what the earlier steps made is removed.
func (d *Driver) Create(ctx context.Context, spec hypervisor.CreateSpec) (hypervisor.Instance, error) {
	return d.create(ctx, spec, false)
}

// Register defines a stopped domain for spec over the volumes the instance
// already has in the disk pool (on shared storage, left by a host that
// failed), making only those missing; like Create it is idempotent by
// spec.ID. HA restarts an instance on another host with it.
func (d *Driver) Register(ctx context.Context, spec hypervisor.CreateSpec) (hypervisor.Instance, error) {
	return d.create(ctx, spec, true)
}

// existing returns the path of the volume name in pool when reuse is set
// and libvirt has it (after a refresh: another host may have made it).
func (d *Driver) existing(ctx context.Context, pool golibvirt.StoragePool, name string, reuse bool) (string, bool, error) {
	if !reuse {
		return "", false, nil
	}
	vol, err := lookupVolume(ctx, d.l, pool, name)
	if isCode(err, golibvirt.ErrNoStorageVol) {
		return "", false, nil
	}
	if err != nil {
		return "", false, wrap(err, "libvirt: look up volume %s", name)
	}
	return vol.Key, true, nil
}

// create is Create, reusing the instance's volumes when reuse.
func (d *Driver) create(ctx context.Context, spec hypervisor.CreateSpec, reuse bool) (hypervisor.Instance, error) {
	if err := spec.Validate(); err != nil {
		return hypervisor.Instance{}, err
	}
	if spec.Spec.Type != ovm.TypeVM {
		return hypervisor.Instance{}, ovm.Invalid("invalid create spec", ovm.FieldError{Field: "spec.type", Reason: "a KVM host runs VMs"})
	}
	if f := spec.Spec.Image.Format; f != ovm.FormatQCOW2 && f != ovm.FormatRaw {
		return hypervisor.Instance{}, ovm.Invalid("invalid create spec", ovm.FieldError{Field: "spec.image.format", Reason: "a KVM host boots qcow2 or raw templates"})
	}
	if err := ctx.Err(); err != nil {
		return hypervisor.Instance{}, err
	}
	d.createMu.Lock()
	defer d.createMu.Unlock()
	all, err := d.scan(ctx)
	if err != nil {
		return hypervisor.Instance{}, err
	}
	for _, f := range all {
		if f.managed && f.meta.ID == spec.ID {
			if f.dom.Name != spec.Name {
				return hypervisor.Instance{}, ovm.Errorf(ovm.KindConflict, "instance %s exists as %q, not %q", spec.ID, f.dom.Name, spec.Name)
			}
			return f.instance(), nil
		}
		if f.dom.Name == spec.Name {
			return hypervisor.Instance{}, ovm.Errorf(ovm.KindConflict, "the name %q is taken by domain %s", spec.Name, uuidString(f.dom.UUID))
		}
	}
	virt, err := d.virtualization(ctx)
	if err != nil {
		return hypervisor.Instance{}, err
	}
	ds, undo, err := d.prepare(ctx, spec, virt, reuse)
	if err != nil {
		return hypervisor.Instance{}, err
	}
	inst, err := d.define(ctx, ds)
	if err != nil {
		undo()
		return hypervisor.Instance{}, err
	}
	return inst, nil
}

// prepare makes the instance's volumes and returns the domain to define,
// and an undo that deletes the volumes.
func (d *Driver) prepare(ctx context.Context, spec hypervisor.CreateSpec, virt string, reuse bool) (DomainSpec, func(), error) {
	var made []string
	undo := func() {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		for _, p := range made {
			_ = deleteVolumePath(c, d.l, p)
		}
	}
	tpool, err := d.ensureDirPool(ctx, d.templates())
	if err != nil {
		return DomainSpec{}, nil, err
	}
	tvol, err := lookupVolume(ctx, d.l, tpool, spec.Spec.Image.Name)
	if isCode(err, golibvirt.ErrNoStorageVol) {
		return DomainSpec{}, nil, notFoundTemplate(spec.Spec.Image.Name, tpool.Name, err)
	}
	if err != nil {
		return DomainSpec{}, nil, wrap(err, "libvirt: look up template %s", spec.Spec.Image.Name)
	}
	if err := ctx.Err(); err != nil {
		return DomainSpec{}, nil, err
	}
	_, tcap, _, err := d.l.StorageVolGetInfo(tvol)
	if err != nil {
		return DomainSpec{}, nil, wrap(err, "libvirt: size of template %s", spec.Spec.Image.Name)
	}
	dpool, err := d.ensureDirPool(ctx, d.cfg.Disks)
	if err != nil {
		return DomainSpec{}, nil, err
	}
	capacity := tcap
	if len(spec.Spec.Disks) > 0 && uint64(spec.Spec.Disks[0].Size) > capacity {
		capacity = uint64(spec.Spec.Disks[0].Size)
	}
	var owned []string
	bootName := "ovm-" + string(spec.ID) + "-boot.qcow2"
	boot, ok, err := d.existing(ctx, dpool, bootName, reuse)
	if err != nil {
		return DomainSpec{}, nil, err
	}
	if !ok {
		if boot, err = copyTemplate(ctx, d.l, dpool, tvol, bootName, tcap, capacity); err != nil {
			return DomainSpec{}, nil, err
		}
		made = append(made, boot)
	}
	owned = append(owned, boot)
	seed, ok, err := d.existing(ctx, dpool, "ovm-"+string(spec.ID)+"-seed.iso", reuse)
	if err != nil {
		undo()
		return DomainSpec{}, nil, err
	}
	if !ok {
		if seed, err = d.uploadSeed(ctx, dpool, spec); err != nil {
			undo()
			return DomainSpec{}, nil, err
		}
		made = append(made, seed)
	}
	owned = append(owned, seed)

	ds := DomainSpec{
		Type: virt, Name: spec.Name, VCPUs: uint(spec.Spec.CPU.VCPUs()),
		MemoryKiB: uint((spec.Spec.Memory + ovm.KiB - 1) / ovm.KiB), Machine: d.cfg.Machine,
		Kernel: d.cfg.Kernel, Initrd: d.cfg.Initrd, Cmdline: d.cfg.Cmdline, VNC: true,
		Disks: []DiskSpec{{Path: boot, Format: "qcow2", Target: diskTarget(0)}, {Path: seed, Format: "raw", Target: diskTarget(1), ReadOnly: true}},
		Metadata: Metadata{
			ID: spec.ID, VDCID: spec.VDCID, Name: spec.Name, CPU: spec.Spec.CPU, Image: spec.Spec.Image,
			CreatedAt: d.cfg.Now().UTC().Truncate(time.Second), Labels: spec.Spec.Labels, Volumes: owned,
			Disk: ovm.Bytes(capacity),
		},
	}
	for _, a := range spec.Disks {
		if a.Volume.NativeID == "" {
			undo()
			return DomainSpec{}, nil, ovm.Invalid("invalid create spec", ovm.FieldError{Field: "disks", Reason: "a volume has no native id (path)"})
		}
		f := string(a.Volume.Format)
		if f == "" {
			f = "qcow2"
		}
		ds.Disks = append(ds.Disks, DiskSpec{Path: a.Volume.NativeID, Format: f, Target: diskTarget(len(ds.Disks))})
	}
	for _, n := range spec.NICs {
		br := n.Bridge
		if br == "" {
			br = BridgeName(n.Network)
		}
		ds.NICs = append(ds.NICs, NICSpec{Bridge: br, MAC: n.MAC})
	}
	return ds, undo, nil
}

// BridgeName is the Linux bridge OVM's network driver makes for a segment:
// "ovmbr" and the VLAN id, or the network's short id when untagged.
func BridgeName(n ovm.Network) string {
	if n.VLAN > 0 {
		return fmt.Sprintf("ovmbr%d", n.VLAN)
	}
	return "ovm" + n.ID.Short()
}

// define defines the domain ds, reads it back and returns it.
func (d *Driver) define(ctx context.Context, ds DomainSpec) (hypervisor.Instance, error) {
	def, err := DomainXML(ds)
	if err != nil {
		return hypervisor.Instance{}, err
	}
	x, err := def.Marshal()
	if err != nil {
		return hypervisor.Instance{}, fmt.Errorf("libvirt: render domain %s: %w", ds.Name, err)
	}
	dom, err := rpc(ctx, func() (golibvirt.Domain, error) { return d.l.DomainDefineXMLFlags(x, golibvirt.DomainDefineValidate) })
	if err != nil {
		return hypervisor.Instance{}, wrap(err, "libvirt: define domain %s", ds.Name)
	}
	f, err := d.describe(context.WithoutCancel(ctx), dom)
	if err != nil {
		_ = d.l.DomainUndefineFlags(dom, 0)
		return hypervisor.Instance{}, err
	}
	d.remember(f)
	return f.instance(), nil
}

// Start boots a stopped instance.
func (d *Driver) Start(ctx context.Context, ref hypervisor.Ref) error {
	f, err := d.lookup(ctx, ref)
	if err != nil {
		return err
	}
	if err := hypervisor.CheckPower(ref, "start", f.power); err != nil {
		return err
	}
	return wrap(do(ctx, func() error { return d.l.DomainCreate(f.dom) }), "libvirt: start domain %s", f.dom.Name)
}

// Stop shuts an instance down: with Force at once (destroy); otherwise by
// ACPI power button, pressed again every two seconds (a guest still booting
// misses the first), and destroyed when the timeout passes.
func (d *Driver) Stop(ctx context.Context, ref hypervisor.Ref, opts hypervisor.StopOptions) error {
	f, err := d.lookup(ctx, ref)
	if err != nil {
		return err
	}
	if err := hypervisor.CheckPower(ref, "stop", f.power); err != nil {
		return err
	}
	if opts.Force {
		return d.destroy(ctx, f.dom)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = hypervisor.DefaultStopTimeout
	}
	deadline := time.Now().Add(timeout)
	var press time.Time
	for time.Now().Before(deadline) {
		if time.Since(press) >= 2*time.Second {
			err := do(ctx, func() error { return d.l.DomainShutdownFlags(f.dom, golibvirt.DomainShutdownAcpiPowerBtn) })
			if err != nil && !isCode(err, golibvirt.ErrOperationInvalid) {
				return wrap(err, "libvirt: shut down domain %s", f.dom.Name)
			}
			press = time.Now()
		}
		st, _, err := rpc2(ctx, func() (int32, int32, error) { return d.l.DomainGetState(f.dom, 0) })
		if err != nil {
			return wrap(err, "libvirt: state of domain %s", f.dom.Name)
		}
		// Off, not merely shutting down (which domainState also calls
		// stopped): a start right after would find it still running.
		if s := golibvirt.DomainState(st); s == golibvirt.DomainShutoff || s == golibvirt.DomainCrashed {
			return nil
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return d.destroy(ctx, f.dom)
}

// destroy powers a domain off; one already off is fine.
func (d *Driver) destroy(ctx context.Context, dom golibvirt.Domain) error {
	err := do(ctx, func() error { return d.l.DomainDestroy(dom) })
	if err != nil && !isCode(err, golibvirt.ErrOperationInvalid) {
		return wrap(err, "libvirt: destroy domain %s", dom.Name)
	}
	return nil
}

// rpc2 runs a two-result libvirt call after checking ctx.
func rpc2[A, B any](ctx context.Context, fn func() (A, B, error)) (A, B, error) {
	if err := ctx.Err(); err != nil {
		var a A
		var b B
		return a, b, err
	}
	return fn()
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Reboot asks the guest to reboot (libvirt's default: ACPI, then a fresh
// start of QEMU once the guest is down).
func (d *Driver) Reboot(ctx context.Context, ref hypervisor.Ref) error {
	f, err := d.lookup(ctx, ref)
	if err != nil {
		return err
	}
	if err := hypervisor.CheckPower(ref, "reboot", f.power); err != nil {
		return err
	}
	return wrap(do(ctx, func() error { return d.l.DomainReboot(f.dom, 0) }), "libvirt: reboot domain %s", f.dom.Name)
}

// Delete undefines a stopped instance with its snapshots' metadata and
// deletes the volumes it owns.
func (d *Driver) Delete(ctx context.Context, ref hypervisor.Ref) error {
	f, err := d.lookup(ctx, ref)
	if err != nil {
		return err
	}
	if err := hypervisor.CheckPower(ref, "delete", f.power); err != nil {
		return err
	}
	flags := golibvirt.DomainUndefineManagedSave | golibvirt.DomainUndefineSnapshotsMetadata | golibvirt.DomainUndefineNvram
	if err := do(ctx, func() error { return d.l.DomainUndefineFlags(f.dom, flags) }); err != nil {
		if isCode(err, golibvirt.ErrNoDomain) {
			return ovm.Errorf(ovm.KindNotFound, "instance %s not found: %w", ref, err)
		}
		return wrap(err, "libvirt: undefine domain %s", f.dom.Name)
	}
	d.forget(f.meta.ID)
	// The instance's volumes may be in a shared directory this host's
	// libvirt has no pool for yet (the instance migrated here).
	_, _ = d.ensureDirPool(ctx, d.cfg.Disks)
	var errs []error
	for _, p := range f.meta.Volumes {
		errs = append(errs, deleteVolumePath(context.WithoutCancel(ctx), d.l, p))
	}
	return errors.Join(errs...)
}

// Reconfigure changes vCPUs and memory in the persistent definition. A
// stopped instance has the new size at once; a running one at its next boot
// (Live false): the domains have no hot-pluggable vCPUs or memory.
func (d *Driver) Reconfigure(ctx context.Context, ref hypervisor.Ref, r hypervisor.Resize) (hypervisor.ResizeResult, error) {
	var fe ovm.Fields
	if r.CPU < 0 || r.CPU > ovm.MaxCPU {
		fe.Addf("cpuMilli", "must be between 0 (unchanged) and %s", ovm.MaxCPU)
	}
	if r.Memory < 0 || (r.Memory > 0 && r.Memory < ovm.MinMemory) || r.Memory > ovm.MaxMemory {
		fe.Addf("memoryBytes", "must be 0 (unchanged) or between %s and %s", ovm.MinMemory, ovm.MaxMemory)
	}
	if err := fe.Err("invalid resize"); err != nil {
		return hypervisor.ResizeResult{}, err
	}
	f, err := d.lookup(ctx, ref)
	if err != nil {
		return hypervisor.ResizeResult{}, err
	}
	def := f.def
	if r.CPU > 0 {
		def.VCPU = &libvirtxml.DomainVCPU{Placement: "static", Value: uint(r.CPU.VCPUs())}
		if f.managed {
			f.meta.CPU = r.CPU
		}
	}
	if r.Memory > 0 {
		kib := uint((r.Memory + ovm.KiB - 1) / ovm.KiB)
		def.Memory = &libvirtxml.DomainMemory{Value: kib, Unit: "KiB"}
		def.CurrentMemory = &libvirtxml.DomainCurrentMemory{Value: kib, Unit: "KiB"}
	}
	if f.managed {
		meta, err := MarshalMetadata(f.meta)
		if err != nil {
			return hypervisor.ResizeResult{}, err
		}
		def.Metadata = &libvirtxml.DomainMetadata{XML: replaceMetadata(def.Metadata, meta)}
	}
	x, err := def.Marshal()
	if err != nil {
		return hypervisor.ResizeResult{}, fmt.Errorf("libvirt: render domain %s: %w", f.dom.Name, err)
	}
	if _, err := rpc(ctx, func() (golibvirt.Domain, error) { return d.l.DomainDefineXMLFlags(x, golibvirt.DomainDefineValidate) }); err != nil {
		return hypervisor.ResizeResult{}, wrap(err, "libvirt: resize domain %s", f.dom.Name)
	}
	return hypervisor.ResizeResult{Live: false}, nil
}

// replaceMetadata swaps OVM's element in a domain's metadata for meta,
// keeping other applications' elements.
func replaceMetadata(old *libvirtxml.DomainMetadata, meta string) string {
	if old == nil {
		return meta
	}
	inner := old.XML
	start := strings.Index(inner, "<"+MetadataPrefix+":instance")
	end := strings.Index(inner, "</"+MetadataPrefix+":instance>")
	if start < 0 || end < 0 {
		return inner + meta
	}
	return inner[:start] + meta + inner[end+len("</"+MetadataPrefix+":instance>"):]
}

// num reads a typed parameter as a number.
func num(v any) uint64 {
	switch x := v.(type) {
	case uint64:
		return x
	case int64:
		return uint64(max(x, 0))
	case uint32:
		return uint64(x)
	case int32:
		return uint64(max(x, 0))
	case float64:
		return uint64(max(x, 0))
	}
	return 0
}
