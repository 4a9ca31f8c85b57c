package esxi

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// List returns every VM on the host (templates aside), managed or not,
// ordered by name.
func (d *Driver) List(ctx context.Context) ([]hypervisor.Instance, error) {
	if err := d.c.ready(ctx, "list"); err != nil {
		return nil, err
	}
	vms, err := d.c.allVMs(ctx, vmProps)
	if err != nil {
		return nil, d.c.wrap(err, "list vms")
	}
	out := make([]hypervisor.Instance, 0, len(vms))
	for _, vm := range vms {
		if vm.Config != nil && vm.Config.Template {
			continue
		}
		inst := instanceOf(vm)
		if inst.OVMID != "" {
			d.c.remember(inst.OVMID, vm.Self)
		}
		out = append(out, inst)
	}
	slices.SortFunc(out, func(a, b hypervisor.Instance) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// Get returns one VM, or ovm.ErrNotFound.
func (d *Driver) Get(ctx context.Context, ref hypervisor.Ref) (hypervisor.Instance, error) {
	if err := d.c.ready(ctx, "get"); err != nil {
		return hypervisor.Instance{}, err
	}
	vm, err := d.c.lookup(ctx, ref, vmProps)
	if err != nil {
		return hypervisor.Instance{}, err
	}
	return instanceOf(vm), nil
}

// remember records the VM of an OVM id, so that calls by id skip a scan.
func (c *conn) remember(id ovm.ID, ref types.ManagedObjectReference) {
	c.mu.Lock()
	c.ids[id] = ref
	c.mu.Unlock()
}

// forget drops what remember recorded.
func (c *conn) forget(id ovm.ID) {
	c.mu.Lock()
	delete(c.ids, id)
	c.mu.Unlock()
}

// notFound is the error for a VM the host does not have.
func (c *conn) notFound(ref hypervisor.Ref) error {
	return ovm.Errorf(ovm.KindNotFound, "esxi %s: instance %s not found", c.host, ref)
}

// lookup reads props (plus config.extraConfig) of the VM ref names.
func (c *conn) lookup(ctx context.Context, ref hypervisor.Ref, props []string) (mo.VirtualMachine, error) {
	if !slices.Contains(props, "config.extraConfig") {
		props = append(slices.Clip(props), "config.extraConfig")
	}
	one := func(mref types.ManagedObjectReference) (mo.VirtualMachine, error) {
		var vm mo.VirtualMachine
		err := property.DefaultCollector(c.client).RetrieveOne(ctx, mref, props, &vm)
		if err != nil && (isFault[*types.ManagedObjectNotFound](err) || kindOf(err) == ovm.KindNotFound) {
			return vm, c.notFound(ref)
		}
		return vm, c.wrap(err, "read instance %s", ref)
	}
	switch {
	case ref.NativeID != "":
		return one(types.ManagedObjectReference{Type: "VirtualMachine", Value: ref.NativeID})
	case ref.ID == "":
		return mo.VirtualMachine{}, c.notFound(ref)
	}
	c.mu.Lock()
	cached, ok := c.ids[ref.ID]
	c.mu.Unlock()
	if ok {
		vm, err := one(cached)
		if err == nil && extra(vm)[KeyID] == string(ref.ID) {
			return vm, nil
		}
		if err != nil && kindOf(err) != ovm.KindNotFound {
			return vm, err
		}
		c.forget(ref.ID)
	}
	vms, err := c.allVMs(ctx, props)
	if err != nil {
		return mo.VirtualMachine{}, c.wrap(err, "find instance %s", ref)
	}
	for _, vm := range vms {
		if extra(vm)[KeyID] == string(ref.ID) {
			c.remember(ref.ID, vm.Self)
			return vm, nil
		}
	}
	return mo.VirtualMachine{}, c.notFound(ref)
}

// moref returns the VM ref names, from the cache when it can.
func (c *conn) moref(ctx context.Context, ref hypervisor.Ref) (types.ManagedObjectReference, error) {
	if ref.NativeID != "" {
		return types.ManagedObjectReference{Type: "VirtualMachine", Value: ref.NativeID}, nil
	}
	c.mu.Lock()
	cached, ok := c.ids[ref.ID]
	c.mu.Unlock()
	if ok {
		return cached, nil
	}
	vm, err := c.lookup(ctx, ref, []string{"name"})
	return vm.Self, err
}

// validateVM checks what ESXi needs beyond CreateSpec.Validate.
func validateVM(spec hypervisor.CreateSpec) error {
	var f ovm.Fields
	f.Merge("", spec.Validate())
	if spec.Spec.Type != "" && spec.Spec.Type != ovm.TypeVM {
		f.Addf("spec.type", "an ESXi host runs vms, not %ss", spec.Spec.Type)
	}
	if spec.Spec.Image.Format != "" && spec.Spec.Image.Format != ovm.FormatVMDK && spec.Spec.Image.Format != ovm.FormatOCI {
		f.Addf("spec.image.format", "an ESXi host boots vmdk images, not %s", spec.Spec.Image.Format)
	}
	if spec.Spec.Memory > 0 && spec.Spec.Memory%(4*ovm.MiB) != 0 {
		f.Add("spec.memoryBytes", "must be a multiple of 4MiB on ESXi")
	}
	return f.Err("invalid create spec")
}

// lockID takes the lock of id and returns its release.
func (c *conn) lockID(id ovm.ID) func() {
	c.mu.Lock()
	if c.idLocks == nil {
		c.idLocks = map[ovm.ID]*sync.Mutex{}
	}
	m, ok := c.idLocks[id]
	if !ok {
		m = &sync.Mutex{}
		c.idLocks[id] = m
	}
	c.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// Create makes a stopped VM: its CPU, memory, disks (new VMDKs, existing
// volumes, or a copy of the image's template as the boot disk) and NICs on
// port groups, with the OVM id in extraConfig. Idempotent by spec.ID; a name
// taken by another VM is ovm.ErrConflict. When a step fails, what the
// earlier steps made on the host is removed again.
func (d *Driver) Create(ctx context.Context, spec hypervisor.CreateSpec) (hypervisor.Instance, error) {
	if err := d.c.ready(ctx, "create"); err != nil {
		return hypervisor.Instance{}, err
	}
	if err := validateVM(spec); err != nil {
		return hypervisor.Instance{}, fmt.Errorf("esxi %s: create: %w", d.c.host, err)
	}
	if err := d.c.writable(ctx, "create "+spec.Name); err != nil {
		return hypervisor.Instance{}, err
	}
	defer d.c.lockID(spec.ID)()
	vms, err := d.c.allVMs(ctx, vmProps)
	if err != nil {
		return hypervisor.Instance{}, d.c.wrap(err, "create %s: list vms", spec.Name)
	}
	for _, vm := range vms {
		x := extra(vm)
		switch {
		case x[KeyID] == string(spec.ID) && vm.Name == spec.Name:
			d.c.remember(spec.ID, vm.Self)
			return instanceOf(vm), nil
		case x[KeyID] == string(spec.ID):
			return hypervisor.Instance{}, ovm.Errorf(ovm.KindConflict, "esxi %s: instance %s exists as %q (%s), not %q",
				d.c.host, spec.ID, vm.Name, vm.Self.Value, spec.Name)
		case vm.Name == spec.Name:
			return hypervisor.Instance{}, &ovm.Error{Kind: ovm.KindConflict,
				Message: fmt.Sprintf("esxi %s: the name %q is taken by vm %s", d.c.host, spec.Name, vm.Self.Value),
				Fields:  []ovm.FieldError{{Field: "name", Reason: "is taken on the host", Value: spec.Name}}}
		}
	}
	return d.c.createVM(ctx, spec)
}

// createVM builds and makes the VM of spec; undo removes what was made when
// a later step fails.
func (c *conn) createVM(ctx context.Context, spec hypervisor.CreateSpec) (hypervisor.Instance, error) {
	var undo []func()
	fail := func(err error) (hypervisor.Instance, error) {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		return hypervisor.Instance{}, err
	}
	now := c.now().UTC().Round(0)
	ds := c.defaultDS
	if len(spec.Disks) > 0 && spec.Disks[0].Pool.Name != "" {
		ds = spec.Disks[0].Pool.Name
	}
	dir := fmt.Sprintf("[%s] %s", ds, spec.Name)
	opts, note := identity(spec, now)
	cs := types.VirtualMachineConfigSpec{
		Name:                spec.Name,
		GuestId:             string(types.VirtualMachineGuestOsIdentifierOtherGuest64),
		NumCPUs:             int32(spec.Spec.CPU.VCPUs()),
		MemoryMB:            int64(spec.Spec.Memory / ovm.MiB),
		CpuHotAddEnabled:    types.NewBool(true),
		MemoryHotAddEnabled: types.NewBool(true),
		Annotation:          note,
		ExtraConfig:         opts,
		Files:               &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("%s/%s.vmx", dir, spec.Name)},
	}
	disks, err := c.planDisks(spec, ds, dir)
	if err != nil {
		return fail(err)
	}
	var made ovm.Bytes // what the disks made for the VM take
	for _, d := range disks {
		if d.create {
			made += d.size
		}
	}
	if lib := c.templates(); lib != "" && spec.Spec.Image.Format == ovm.FormatVMDK {
		boot := fmt.Sprintf("%s/%s.vmdk", dir, spec.Name)
		u, err := c.copyTemplate(ctx, lib, spec.Spec.Image, boot)
		if err != nil {
			return fail(err)
		}
		undo = append(undo, u)
		size := ovm.Bytes(0)
		if len(disks) > 0 && disks[0].create {
			size = disks[0].size
			disks = disks[1:]
		}
		if size > 0 {
			if err := c.extendDisk(ctx, boot, size); err != nil {
				return fail(err)
			}
		} else if n, err := c.diskCapacity(ctx, boot); err == nil {
			made += ovm.Bytes(n) // the copy, as large as the template
		}
		disks = append([]diskPlan{{path: boot}}, disks...)
	}
	cs.DeviceChange = devices(disks, spec.NICs)
	task, err := object.NewFolder(c.client, c.vmFolder.Reference()).CreateVM(ctx, cs, c.rpool, c.hostSys)
	if err != nil {
		return fail(c.wrap(err, "create vm %s", spec.Name))
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return fail(c.wrap(err, "create vm %s", spec.Name))
	}
	ref, _ := info.Result.(types.ManagedObjectReference)
	c.remember(spec.ID, ref)
	inst := hypervisor.Instance{
		NativeID: ref.Value, OVMID: spec.ID, VDCID: spec.VDCID, Name: spec.Name, Type: ovm.TypeVM,
		CPU: spec.Spec.CPU, Memory: spec.Spec.Memory, Image: spec.Spec.Image, Power: ovm.PowerStopped,
		Labels: spec.Spec.Labels, CreatedAt: now,
	}
	inst.Disk = made
	return inst, nil
}

// diskPlan is one disk of a new VM.
type diskPlan struct {
	path   string
	size   ovm.Bytes
	create bool // a new VMDK; otherwise an existing file
}

// planDisks lists the disks of spec: resolved attachments when the caller
// gave them, else the spec's disks as new VMDKs in the VM's directory.
func (c *conn) planDisks(spec hypervisor.CreateSpec, ds, dir string) ([]diskPlan, error) {
	var out []diskPlan
	name := func(i int) string {
		if i == 0 {
			return fmt.Sprintf("%s/%s.vmdk", dir, spec.Name)
		}
		return fmt.Sprintf("%s/%s_%d.vmdk", dir, spec.Name, i)
	}
	if len(spec.Disks) > 0 {
		for i, a := range spec.Disks {
			switch {
			case a.Volume.NativeID != "":
				out = append(out, diskPlan{path: a.Volume.NativeID})
			case a.Volume.Size <= 0:
				return nil, ovm.Invalid("invalid create spec", ovm.FieldError{Field: fmt.Sprintf("disks[%d].volume.sizeBytes", i), Reason: "must be positive for a new disk"})
			default:
				p := name(i)
				if a.Pool.Name != "" && a.Pool.Name != ds {
					p = fmt.Sprintf("[%s] %s/%s_%d.vmdk", a.Pool.Name, spec.Name, spec.Name, i)
				}
				out = append(out, diskPlan{path: p, size: a.Volume.Size, create: true})
			}
		}
		return out, nil
	}
	for i, d := range spec.Spec.Disks {
		if d.Size > 0 {
			out = append(out, diskPlan{path: name(i), size: d.Size, create: true})
		}
	}
	return out, nil
}

// devices returns the device changes of a new VM: a paravirtual SCSI
// controller, its disks, and a vmxnet3 NIC per attachment.
func devices(disks []diskPlan, nics []hypervisor.NICAttachment) []types.BaseVirtualDeviceConfigSpec {
	const ctrlKey = -100
	out := []types.BaseVirtualDeviceConfigSpec{&types.VirtualDeviceConfigSpec{
		Operation: types.VirtualDeviceConfigSpecOperationAdd,
		Device: &types.ParaVirtualSCSIController{VirtualSCSIController: types.VirtualSCSIController{
			SharedBus:         types.VirtualSCSISharingNoSharing,
			VirtualController: types.VirtualController{BusNumber: 0, VirtualDevice: types.VirtualDevice{Key: ctrlKey}},
		}},
	}}
	unit := int32(0)
	for i, d := range disks {
		if unit == 7 { // the controller's own unit
			unit++
		}
		u := unit
		unit++
		disk := &types.VirtualDisk{
			VirtualDevice: types.VirtualDevice{
				Key: int32(-200 - i), ControllerKey: ctrlKey, UnitNumber: &u,
				Backing: &types.VirtualDiskFlatVer2BackingInfo{
					DiskMode:                     string(types.VirtualDiskModePersistent),
					ThinProvisioned:              types.NewBool(true),
					VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: d.path},
				},
			},
		}
		change := &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: disk}
		if d.create {
			disk.CapacityInBytes = int64(d.size)
			disk.CapacityInKB = int64(d.size) / 1024
			change.FileOperation = types.VirtualDeviceConfigSpecFileOperationCreate
		}
		out = append(out, change)
	}
	for i, n := range nics {
		out = append(out, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: nic(int32(-300-i), portGroupOf(n), n.MAC)})
	}
	return out
}

// portGroupOf is the port group a NIC joins: the segment's native name, or
// the network's name.
func portGroupOf(n hypervisor.NICAttachment) string {
	return cmp.Or(n.Bridge, n.Network.Name)
}

// nic returns a vmxnet3 NIC on port group pg, with mac when set.
func nic(key int32, pg, mac string) *types.VirtualVmxnet3 {
	card := types.VirtualEthernetCard{
		VirtualDevice: types.VirtualDevice{Key: key, Backing: &types.VirtualEthernetCardNetworkBackingInfo{
			VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: pg},
		}},
		AddressType: string(types.VirtualEthernetCardMacTypeGenerated),
	}
	if mac != "" {
		card.AddressType = string(types.VirtualEthernetCardMacTypeManual)
		card.MacAddress = strings.ToLower(mac)
	}
	return &types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: card}}
}

// copyTemplate copies the image's template from the library directory lib
// to dst and returns how to remove the copy again.
func (c *conn) copyTemplate(ctx context.Context, lib string, img ovm.ImageRef, dst string) (func(), error) {
	src := templatePath(lib, img.Name)
	if err := object.NewFileManager(c.client).MakeDirectory(ctx, dst[:strings.LastIndex(dst, "/")], c.dc, true); err != nil &&
		!isFault[*types.FileAlreadyExists](err) {
		return nil, c.wrap(err, "make the directory of %s", dst)
	}
	rmdir := func() {
		if t, err := object.NewFileManager(c.client).DeleteDatastoreFile(context.WithoutCancel(ctx), dst[:strings.LastIndex(dst, "/")], c.dc); err == nil {
			_ = t.Wait(context.WithoutCancel(ctx))
		}
	}
	vdm := object.NewVirtualDiskManager(c.client)
	task, err := vdm.CopyVirtualDisk(ctx, src, c.dc, dst, c.dc, nil, false)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		rmdir()
		if kindOf(err) == ovm.KindNotFound {
			return nil, ovm.Wrap(ovm.KindNotFound, err, "esxi %s: image %s is not in the library %s", c.host, img.Name, lib)
		}
		return nil, c.wrap(err, "copy template %s to %s", src, dst)
	}
	return func() {
		bg := context.WithoutCancel(ctx)
		if t, err := vdm.DeleteVirtualDisk(bg, dst, c.dc); err == nil {
			_ = t.Wait(bg)
		}
		rmdir()
	}, nil
}

// extendDisk grows the VMDK at path to size.
func (c *conn) extendDisk(ctx context.Context, path string, size ovm.Bytes) error {
	task, err := object.NewVirtualDiskManager(c.client).ExtendVirtualDisk(ctx, path, c.dc, int64(size)/1024, nil)
	if err == nil {
		err = task.Wait(ctx)
	}
	return c.wrap(err, "extend %s to %s", path, size)
}

// powerProps are what power operations read first.
var powerProps = []string{"runtime.powerState", "guest.toolsRunningStatus"}

// Start powers a stopped VM on.
func (d *Driver) Start(ctx context.Context, ref hypervisor.Ref) error {
	if err := d.c.writable(ctx, "start "+ref.String()); err != nil {
		return err
	}
	mref, err := d.c.moref(ctx, ref)
	if err != nil {
		return err
	}
	err = d.c.runTask(ctx, func(ctx context.Context) (*object.Task, error) {
		return object.NewVirtualMachine(d.c.client, mref).PowerOn(ctx)
	})
	if err != nil && ref.NativeID == "" && isFault[*types.ManagedObjectNotFound](err) {
		d.c.forget(ref.ID) // the cache was stale: find the VM again
		if mref, err = d.c.moref(ctx, ref); err != nil {
			return err
		}
		err = d.c.runTask(ctx, func(ctx context.Context) (*object.Task, error) {
			return object.NewVirtualMachine(d.c.client, mref).PowerOn(ctx)
		})
	}
	return d.c.powerErr(err, ref, "start")
}

// runTask starts a task and waits for it.
func (c *conn) runTask(ctx context.Context, start func(ctx context.Context) (*object.Task, error)) error {
	t, err := start(ctx)
	if err != nil {
		return err
	}
	return t.Wait(ctx)
}

// powerErr translates the error of a power operation.
func (c *conn) powerErr(err error, ref hypervisor.Ref, op string) error {
	if err == nil {
		return nil
	}
	if isFault[*types.ManagedObjectNotFound](err) {
		return ovm.Wrap(ovm.KindNotFound, err, "esxi %s: %s: instance %s not found", c.host, op, ref)
	}
	return c.wrap(err, "%s %s", op, ref)
}

// Stop stops a running VM: a guest shutdown when VMware Tools run in it,
// then a power off if it is not off within the timeout; a power off at once
// when forced or when the guest has no running Tools to ask.
func (d *Driver) Stop(ctx context.Context, ref hypervisor.Ref, opts hypervisor.StopOptions) error {
	if opts.Timeout < 0 {
		return ovm.Invalid("invalid stop options", ovm.FieldError{Field: "timeout", Reason: "must not be negative", Value: opts.Timeout.String()})
	}
	if err := d.c.writable(ctx, "stop "+ref.String()); err != nil {
		return err
	}
	vm, err := d.c.lookup(ctx, ref, powerProps)
	if err != nil {
		return err
	}
	if err := hypervisor.CheckPower(ref, "stop", power(vm.Runtime.PowerState)); err != nil {
		return err
	}
	o := object.NewVirtualMachine(d.c.client, vm.Self)
	if !opts.Force && vm.Guest != nil && vm.Guest.ToolsRunningStatus == string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) {
		timeout := cmp.Or(opts.Timeout, hypervisor.DefaultStopTimeout)
		if err := o.ShutdownGuest(ctx); err == nil {
			wctx, cancel := context.WithTimeout(ctx, timeout)
			err = o.WaitForPowerState(wctx, types.VirtualMachinePowerStatePoweredOff)
			cancel()
			if err == nil {
				return nil
			}
			if ctx.Err() != nil {
				return d.c.wrap(ctx.Err(), "stop %s", ref)
			}
		} else if isFault[*types.InvalidPowerState](err) {
			return d.c.powerErr(err, ref, "stop")
		}
	}
	err = d.c.runTask(ctx, o.PowerOff)
	return d.c.powerErr(err, ref, "stop")
}

// Reboot restarts a running VM: a guest reboot when VMware Tools run in it,
// a reset otherwise.
func (d *Driver) Reboot(ctx context.Context, ref hypervisor.Ref) error {
	if err := d.c.writable(ctx, "reboot "+ref.String()); err != nil {
		return err
	}
	vm, err := d.c.lookup(ctx, ref, powerProps)
	if err != nil {
		return err
	}
	if err := hypervisor.CheckPower(ref, "reboot", power(vm.Runtime.PowerState)); err != nil {
		return err
	}
	o := object.NewVirtualMachine(d.c.client, vm.Self)
	if vm.Guest != nil && vm.Guest.ToolsRunningStatus == string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) {
		if err := o.RebootGuest(ctx); err == nil {
			return nil
		}
	}
	return d.c.powerErr(d.c.runTask(ctx, o.Reset), ref, "reboot")
}

// Delete destroys a stopped VM with the disks it owns. Disks that are OVM
// volumes (under ovm-volumes/) are detached first and kept.
func (d *Driver) Delete(ctx context.Context, ref hypervisor.Ref) error {
	if err := d.c.writable(ctx, "delete "+ref.String()); err != nil {
		return err
	}
	vm, err := d.c.lookup(ctx, ref, []string{"runtime.powerState", "config.hardware.device"})
	if err != nil {
		return err
	}
	if err := hypervisor.CheckPower(ref, "delete", power(vm.Runtime.PowerState)); err != nil {
		return err
	}
	o := object.NewVirtualMachine(d.c.client, vm.Self)
	if vm.Config != nil {
		var keep []types.BaseVirtualDevice
		for _, dev := range vm.Config.Hardware.Device {
			if disk, ok := dev.(*types.VirtualDisk); ok {
				if b, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok &&
					strings.Contains(b.GetVirtualDeviceFileBackingInfo().FileName, "] "+volumesDir+"/") {
					keep = append(keep, dev)
				}
			}
		}
		if len(keep) > 0 {
			if err := o.RemoveDevice(ctx, true, keep...); err != nil {
				return d.c.wrap(err, "delete %s: detach its volumes", ref)
			}
		}
	}
	if err := d.c.runTask(ctx, o.Destroy); err != nil {
		return d.c.powerErr(err, ref, "delete")
	}
	if id := extra(vm)[KeyID]; id != "" {
		d.c.forget(ovm.ID(id))
	}
	return nil
}

// Reconfigure changes a VM's CPU or memory. A stopped VM takes any size,
// for its next boot. A running VM grows live when its hot-add flags allow
// (OVM sets them on the VMs it makes); shrinking a running VM, or growing
// one without hot-add, is ovm.ErrUnsupported: stop it first.
func (d *Driver) Reconfigure(ctx context.Context, ref hypervisor.Ref, r hypervisor.Resize) (hypervisor.ResizeResult, error) {
	var f ovm.Fields
	switch {
	case r.CPU < 0:
		f.Add("cpuMilli", "must not be negative")
	case r.CPU%1000 != 0:
		f.Add("cpuMilli", "must be whole vCPUs (a multiple of 1000)")
	case r.CPU > ovm.MaxCPU:
		f.Addf("cpuMilli", "must be at most %d", ovm.MaxCPU)
	}
	switch {
	case r.Memory < 0:
		f.Add("memoryBytes", "must not be negative")
	case r.Memory != 0 && r.Memory < ovm.MinMemory:
		f.Addf("memoryBytes", "must be at least %s", ovm.MinMemory)
	case r.Memory%(4*ovm.MiB) != 0:
		f.Add("memoryBytes", "must be a multiple of 4MiB on ESXi")
	}
	if err := f.Err("invalid resize"); err != nil {
		return hypervisor.ResizeResult{}, err
	}
	if err := d.c.writable(ctx, "reconfigure "+ref.String()); err != nil {
		return hypervisor.ResizeResult{}, err
	}
	vm, err := d.c.lookup(ctx, ref, []string{"runtime.powerState", "config.hardware.numCPU", "config.hardware.memoryMB",
		"config.cpuHotAddEnabled", "config.memoryHotAddEnabled"})
	if err != nil {
		return hypervisor.ResizeResult{}, err
	}
	if vm.Config == nil {
		return hypervisor.ResizeResult{}, ovm.Errorf(ovm.KindConflict, "esxi %s: instance %s has no readable configuration", d.c.host, ref)
	}
	cs := types.VirtualMachineConfigSpec{}
	cpu, mem := int32(r.CPU.VCPUs()), int64(r.Memory/ovm.MiB)
	running := power(vm.Runtime.PowerState) != ovm.PowerStopped
	if r.CPU != 0 && cpu != vm.Config.Hardware.NumCPU {
		if running && (cpu < vm.Config.Hardware.NumCPU || vm.Config.CpuHotAddEnabled == nil || !*vm.Config.CpuHotAddEnabled) {
			return hypervisor.ResizeResult{}, ovm.Errorf(ovm.KindUnsupported,
				"esxi %s: instance %s is running: its vCPUs go from %d to %d only when it is stopped (CPU hot-add is off or this is a shrink)",
				d.c.host, ref, vm.Config.Hardware.NumCPU, cpu)
		}
		cs.NumCPUs = cpu
	}
	if r.Memory != 0 && mem != int64(vm.Config.Hardware.MemoryMB) {
		if running && (mem < int64(vm.Config.Hardware.MemoryMB) || vm.Config.MemoryHotAddEnabled == nil || !*vm.Config.MemoryHotAddEnabled) {
			return hypervisor.ResizeResult{}, ovm.Errorf(ovm.KindUnsupported,
				"esxi %s: instance %s is running: its memory goes from %dMiB to %dMiB only when it is stopped (memory hot-add is off or this is a shrink)",
				d.c.host, ref, vm.Config.Hardware.MemoryMB, mem)
		}
		cs.MemoryMB = mem
	}
	if cs.NumCPUs == 0 && cs.MemoryMB == 0 {
		return hypervisor.ResizeResult{Live: running}, nil
	}
	err = d.c.runTask(ctx, func(ctx context.Context) (*object.Task, error) {
		return object.NewVirtualMachine(d.c.client, vm.Self).Reconfigure(ctx, cs)
	})
	if err != nil {
		return hypervisor.ResizeResult{}, d.c.wrap(err, "reconfigure %s", ref)
	}
	return hypervisor.ResizeResult{Live: running}, nil
}
