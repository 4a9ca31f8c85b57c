package esxi

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/performance"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// snapshotTag marks the OVM id in a snapshot's description.
const snapshotTag = "ovm.id="

// snapshotID returns the OVM id of a snapshot: the one OVM wrote in its
// description, or one derived from the VM and snapshot references for a
// snapshot made outside OVM (stable, so that it can be reverted by it).
func snapshotID(vm types.ManagedObjectReference, t types.VirtualMachineSnapshotTree) ovm.ID {
	for _, f := range strings.Fields(t.Description) {
		if id, ok := strings.CutPrefix(f, snapshotTag); ok && ovm.ID(id).Valid() {
			return ovm.ID(id)
		}
	}
	sum := sha256.Sum256([]byte(vm.Value + "/" + t.Snapshot.Value))
	sum[6] = sum[6]&0x0f | 0x40
	sum[8] = sum[8]&0x3f | 0x80
	return ovm.ID(fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16]))
}

// snapshots flattens a VM's snapshot tree.
func snapshots(vm mo.VirtualMachine) []types.VirtualMachineSnapshotTree {
	var out []types.VirtualMachineSnapshotTree
	var walk func([]types.VirtualMachineSnapshotTree)
	walk = func(ts []types.VirtualMachineSnapshotTree) {
		for _, t := range ts {
			out = append(out, t)
			walk(t.ChildSnapshotList)
		}
	}
	if vm.Snapshot != nil {
		walk(vm.Snapshot.RootSnapshotList)
	}
	return out
}

// CreateSnapshot takes a snapshot of the VM's disks (not its memory).
func (d *Driver) CreateSnapshot(ctx context.Context, ref hypervisor.Ref, name string) (ovm.Snapshot, error) {
	if r := ovm.ValidateName(name); r != "" {
		return ovm.Snapshot{}, ovm.Invalid("invalid snapshot", ovm.FieldError{Field: "name", Reason: r, Value: name})
	}
	if err := d.c.writable(ctx, "snapshot "+ref.String()); err != nil {
		return ovm.Snapshot{}, err
	}
	vm, err := d.c.lookup(ctx, ref, []string{"name"})
	if err != nil {
		return ovm.Snapshot{}, err
	}
	id := ovm.NewID()
	err = d.c.runTask(ctx, func(ctx context.Context) (*object.Task, error) {
		return object.NewVirtualMachine(d.c.client, vm.Self).CreateSnapshot(ctx, name, snapshotTag+string(id), false, false)
	})
	if err != nil {
		return ovm.Snapshot{}, d.c.powerErr(err, ref, "snapshot")
	}
	return ovm.Snapshot{ID: id, Name: name, Of: ovm.ID(extra(vm)[KeyID]), CreatedAt: d.c.now()}, nil
}

// ListSnapshots returns the VM's snapshots, the whole tree flattened.
func (d *Driver) ListSnapshots(ctx context.Context, ref hypervisor.Ref) ([]ovm.Snapshot, error) {
	if err := d.c.ready(ctx, "list snapshots"); err != nil {
		return nil, err
	}
	vm, err := d.c.lookup(ctx, ref, []string{"snapshot"})
	if err != nil {
		return nil, err
	}
	of := ovm.ID(extra(vm)[KeyID])
	out := []ovm.Snapshot{}
	for _, t := range snapshots(vm) {
		out = append(out, ovm.Snapshot{ID: snapshotID(vm.Self, t), Name: t.Name, Of: of, CreatedAt: t.CreateTime})
	}
	return out, nil
}

// snapshot finds the snapshot of the VM ref names by its OVM id.
func (d *Driver) snapshot(ctx context.Context, ref hypervisor.Ref, id ovm.ID) (types.ManagedObjectReference, error) {
	vm, err := d.c.lookup(ctx, ref, []string{"snapshot"})
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	for _, t := range snapshots(vm) {
		if snapshotID(vm.Self, t) == id {
			return t.Snapshot, nil
		}
	}
	return types.ManagedObjectReference{}, ovm.Errorf(ovm.KindNotFound, "esxi %s: instance %s has no snapshot %s", d.c.host, ref, id)
}

// RevertSnapshot puts the VM back to the snapshot (powered off, as the
// snapshot holds no memory).
func (d *Driver) RevertSnapshot(ctx context.Context, ref hypervisor.Ref, snapshotID ovm.ID) error {
	if err := d.c.writable(ctx, "revert "+ref.String()); err != nil {
		return err
	}
	s, err := d.snapshot(ctx, ref, snapshotID)
	if err != nil {
		return err
	}
	res, err := methods.RevertToSnapshot_Task(ctx, d.c.client, &types.RevertToSnapshot_Task{This: s})
	if err == nil {
		err = object.NewTask(d.c.client, res.Returnval).Wait(ctx)
	}
	return d.c.wrap(err, "revert %s to snapshot %s", ref, snapshotID)
}

// DeleteSnapshot removes one snapshot, consolidating its changes into its
// child (or the VM's disks).
func (d *Driver) DeleteSnapshot(ctx context.Context, ref hypervisor.Ref, snapshotID ovm.ID) error {
	if err := d.c.writable(ctx, "delete snapshot of "+ref.String()); err != nil {
		return err
	}
	s, err := d.snapshot(ctx, ref, snapshotID)
	if err != nil {
		return err
	}
	res, err := methods.RemoveSnapshot_Task(ctx, d.c.client, &types.RemoveSnapshot_Task{This: s, RemoveChildren: false, Consolidate: types.NewBool(true)})
	if err == nil {
		err = object.NewTask(d.c.client, res.Returnval).Wait(ctx)
	}
	return d.c.wrap(err, "delete snapshot %s of %s", snapshotID, ref)
}

// Register adopts the VMX at "[datastore] name/name.vmx" (the datastore of
// the spec's first disk, or the default one) as a stopped VM of this host,
// under spec.ID: the HA restart of an instance whose host failed, from a
// shared datastore. Idempotent by spec.ID. A VMX that carries another OVM id
// is ovm.ErrConflict and is unregistered again. A VMX without an OVM id, or
// with another size than the spec's, is brought to the spec.
func (d *Driver) Register(ctx context.Context, spec hypervisor.CreateSpec) (hypervisor.Instance, error) {
	if err := d.c.ready(ctx, "register"); err != nil {
		return hypervisor.Instance{}, err
	}
	if err := validateVM(spec); err != nil {
		return hypervisor.Instance{}, fmt.Errorf("esxi %s: register: %w", d.c.host, err)
	}
	if err := d.c.writable(ctx, "register "+spec.Name); err != nil {
		return hypervisor.Instance{}, err
	}
	defer d.c.lockID(spec.ID)()
	vms, err := d.c.allVMs(ctx, vmProps)
	if err != nil {
		return hypervisor.Instance{}, d.c.wrap(err, "register %s: list vms", spec.Name)
	}
	for _, vm := range vms {
		switch id := extra(vm)[KeyID]; {
		case id == string(spec.ID) && vm.Name == spec.Name:
			d.c.remember(spec.ID, vm.Self)
			return instanceOf(vm), nil
		case id == string(spec.ID), vm.Name == spec.Name:
			return hypervisor.Instance{}, ovm.Errorf(ovm.KindConflict, "esxi %s: register %s (%s): vm %s %q is already registered with id %q",
				d.c.host, spec.Name, spec.ID, vm.Self.Value, vm.Name, id)
		}
	}
	ds := d.c.defaultDS
	if len(spec.Disks) > 0 && spec.Disks[0].Pool.Name != "" {
		ds = spec.Disks[0].Pool.Name
	}
	vmx := fmt.Sprintf("[%s] %s/%s.vmx", ds, spec.Name, spec.Name)
	task, err := d.c.vmFolderObj().RegisterVM(ctx, vmx, spec.Name, false, d.c.rpool, d.c.hostSys)
	var info *types.TaskInfo
	if err == nil {
		info, err = task.WaitForResult(ctx, nil)
	}
	if err != nil {
		return hypervisor.Instance{}, d.c.wrap(err, "register %s from %s", spec.Name, vmx)
	}
	ref, _ := info.Result.(types.ManagedObjectReference)
	o := object.NewVirtualMachine(d.c.client, ref)
	vm, err := d.c.lookup(ctx, hypervisor.ByNative(ref.Value), vmProps)
	if err != nil {
		return hypervisor.Instance{}, err
	}
	x := extra(vm)
	if id := x[KeyID]; id != "" && id != string(spec.ID) {
		_ = o.Unregister(context.WithoutCancel(ctx))
		return hypervisor.Instance{}, ovm.Errorf(ovm.KindConflict, "esxi %s: the VMX %s belongs to instance %s, not %s", d.c.host, vmx, id, spec.ID)
	}
	inst := instanceOf(vm)
	if inst.OVMID != spec.ID || inst.CPU != spec.Spec.CPU || inst.Memory != spec.Spec.Memory || inst.Image != spec.Spec.Image {
		created := inst.CreatedAt // kept when the VMX has it
		if _, ok := x[KeyCreated]; !ok {
			created = d.c.now()
		}
		opts, note := identity(spec, created)
		cs := types.VirtualMachineConfigSpec{NumCPUs: int32(spec.Spec.CPU.VCPUs()), MemoryMB: int64(spec.Spec.Memory / ovm.MiB),
			ExtraConfig: opts, Annotation: note}
		if err := d.c.runTask(ctx, func(ctx context.Context) (*object.Task, error) { return o.Reconfigure(ctx, cs) }); err != nil {
			_ = o.Unregister(context.WithoutCancel(ctx))
			return hypervisor.Instance{}, d.c.wrap(err, "register %s: write its identity", spec.Name)
		}
		if vm, err = d.c.lookup(ctx, hypervisor.ByNative(ref.Value), vmProps); err != nil {
			return hypervisor.Instance{}, err
		}
		inst = instanceOf(vm)
	}
	d.c.remember(spec.ID, ref)
	return inst, nil
}

// Mark writes an OVM id and VDC in the extraConfig of a VM OVM did not make
// (hypervisor.Marker), as Create writes them; nothing else of the VM
// changes, and a running VM keeps running.
func (d *Driver) Mark(ctx context.Context, ref hypervisor.Ref, id, vdcID ovm.ID) (hypervisor.Instance, error) {
	if err := d.c.ready(ctx, "mark"); err != nil {
		return hypervisor.Instance{}, err
	}
	if !id.Valid() {
		return hypervisor.Instance{}, ovm.Invalid("invalid mark", ovm.FieldError{Field: "id", Reason: "must be an OVM id (a lower-case UUID)"})
	}
	if err := d.c.writable(ctx, "mark "+ref.String()); err != nil {
		return hypervisor.Instance{}, err
	}
	defer d.c.lockID(id)()
	vm, err := d.c.lookup(ctx, ref, vmProps)
	if err != nil {
		return hypervisor.Instance{}, err
	}
	switch have := ovm.ID(extra(vm)[KeyID]); {
	case have == id:
		d.c.remember(id, vm.Self)
		return instanceOf(vm), nil
	case have != "":
		return hypervisor.Instance{}, ovm.Errorf(ovm.KindConflict, "esxi %s: vm %s (%s) carries OVM id %s already", d.c.host, vm.Name, vm.Self.Value, have)
	}
	if other, err := d.c.lookup(ctx, hypervisor.ByID(id), []string{"name"}); err == nil {
		return hypervisor.Instance{}, ovm.Errorf(ovm.KindConflict, "esxi %s: OVM id %s is on vm %s (%s)", d.c.host, id, other.Name, other.Self.Value)
	} else if kindOf(err) != ovm.KindNotFound {
		return hypervisor.Instance{}, err
	}
	cs := types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{
		&types.OptionValue{Key: KeyID, Value: string(id)},
		&types.OptionValue{Key: KeyVDC, Value: string(vdcID)},
	}}
	o := object.NewVirtualMachine(d.c.client, vm.Self)
	if err := d.c.runTask(ctx, func(ctx context.Context) (*object.Task, error) { return o.Reconfigure(ctx, cs) }); err != nil {
		return hypervisor.Instance{}, d.c.wrap(err, "mark %s with %s", ref, id)
	}
	if vm, err = d.c.lookup(ctx, hypervisor.ByNative(vm.Self.Value), vmProps); err != nil {
		return hypervisor.Instance{}, err
	}
	d.c.remember(id, vm.Self)
	return instanceOf(vm), nil
}

// vmFolderObj returns the host's vm folder.
func (c *conn) vmFolderObj() *object.Folder {
	return object.NewFolder(c.client, c.vmFolder.Reference())
}

// The real-time counters Stats reads.
var statCounters = []string{
	"cpu.usage.average", "mem.consumed.average",
	"net.received.average", "net.transmitted.average",
	"disk.read.average", "disk.write.average",
	"disk.numberReadAveraged.average", "disk.numberWriteAveraged.average",
}

// netDisk accumulates a VM's network and disk rates into byte counters.
type netDisk struct {
	last                  time.Time
	rx, tx, dread, dwrite uint64
	rops, wops            uint64
}

// Stats reads the VM's latest real-time sample (20 s) from the host's
// PerformanceManager: CPU use, consumed memory, and network and disk rates.
// ESXi reports rates, not totals: the byte counters add up rate × interval
// over the samples this driver has seen, so they never go back.
func (d *Driver) Stats(ctx context.Context, ref hypervisor.Ref) (hypervisor.Stats, error) {
	if err := d.c.ready(ctx, "stats"); err != nil {
		return hypervisor.Stats{}, err
	}
	vm, err := d.c.lookup(ctx, ref, []string{"config.hardware.numCPU", "config.hardware.memoryMB", "runtime.powerState"})
	if err != nil {
		return hypervisor.Stats{}, err
	}
	st := hypervisor.Stats{Time: d.c.now()}
	vcpus := 1
	if vm.Config != nil {
		st.MemoryLimit = ovm.Bytes(vm.Config.Hardware.MemoryMB) * ovm.MiB
		vcpus = max(int(vm.Config.Hardware.NumCPU), 1)
	}
	ids, err := d.c.counterIDs(ctx)
	if err != nil {
		return hypervisor.Stats{}, err
	}
	spec := types.PerfQuerySpec{Entity: vm.Self, IntervalId: 20, MaxSample: 1}
	for _, name := range statCounters {
		spec.MetricId = append(spec.MetricId, types.PerfMetricId{CounterId: ids[name], Instance: ""})
	}
	res, err := methods.QueryPerf(ctx, d.c.client, &types.QueryPerf{This: *d.c.client.ServiceContent.PerfManager, QuerySpec: []types.PerfQuerySpec{spec}})
	if err != nil {
		return hypervisor.Stats{}, d.c.wrap(err, "stats of %s", ref)
	}
	latest := map[int32]int64{}
	var sampled time.Time
	interval := int32(20)
	for _, base := range res.Returnval {
		m, ok := base.(*types.PerfEntityMetric)
		if !ok || len(m.SampleInfo) == 0 {
			continue
		}
		last := 0
		for i, s := range m.SampleInfo {
			if s.Timestamp.After(m.SampleInfo[last].Timestamp) {
				last = i
			}
		}
		sampled, interval = m.SampleInfo[last].Timestamp, max(m.SampleInfo[last].Interval, 1)
		for _, v := range m.Value {
			if s, ok := v.(*types.PerfMetricIntSeries); ok && len(s.Value) > last {
				latest[s.Id.CounterId] = max(s.Value[last], 0)
			}
		}
	}
	if !sampled.IsZero() {
		st.Time = sampled
	}
	// cpu.usage.average is in hundredths of a percent of the VM's vCPUs.
	st.CPUPercent = min(float64(latest[ids["cpu.usage.average"]])/100, 100) * float64(vcpus)
	st.MemoryUsed = min(ovm.Bytes(latest[ids["mem.consumed.average"]])*ovm.KiB, st.MemoryLimit)
	d.c.mu.Lock()
	acc, ok := d.c.samples[vm.Self.Value]
	if !ok {
		acc = &netDisk{}
		d.c.samples[vm.Self.Value] = acc
	}
	if !sampled.IsZero() && sampled.After(acc.last) {
		kb := func(name string) uint64 { return uint64(latest[ids[name]]) * 1024 * uint64(interval) }
		acc.rx += kb("net.received.average")
		acc.tx += kb("net.transmitted.average")
		acc.dread += kb("disk.read.average")
		acc.dwrite += kb("disk.write.average")
		// numberReadAveraged and numberWriteAveraged are requests per second.
		acc.rops += uint64(latest[ids["disk.numberReadAveraged.average"]]) * uint64(interval)
		acc.wops += uint64(latest[ids["disk.numberWriteAveraged.average"]]) * uint64(interval)
		acc.last = sampled
	}
	st.NetRxBytes, st.NetTxBytes, st.DiskRead, st.DiskWrite = acc.rx, acc.tx, acc.dread, acc.dwrite
	st.DiskReadOps, st.DiskWriteOps = acc.rops, acc.wops
	d.c.mu.Unlock()
	return st, nil
}

// counterIDs returns the ids of statCounters, read from the host once.
func (c *conn) counterIDs(ctx context.Context) (map[string]int32, error) {
	c.mu.Lock()
	if len(c.counters) > 0 {
		defer c.mu.Unlock()
		return c.counters, nil
	}
	c.mu.Unlock()
	byName, err := performance.NewManager(c.client).CounterInfoByName(ctx)
	if err != nil {
		return nil, c.wrap(err, "read the performance counters")
	}
	ids := map[string]int32{}
	for _, name := range statCounters {
		info, ok := byName[name]
		if !ok {
			return nil, ovm.Errorf(ovm.KindUnsupported, "esxi %s: the host has no performance counter %s", c.host, name)
		}
		ids[name] = info.Key
	}
	c.mu.Lock()
	c.counters = ids
	c.mu.Unlock()
	return ids, nil
}
