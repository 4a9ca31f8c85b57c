package fake

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// Ping answers unless the host is unreachable, closed, or ctx is done.
func (d *Driver) Ping(ctx context.Context) error {
	return d.gate(ctx, MethodPing)
}

// Info returns the host's identity, capacity and allocations (every
// instance, running or not, managed or not).
func (d *Driver) Info(ctx context.Context) (hypervisor.HostInfo, error) {
	if err := d.gate(ctx, MethodInfo); err != nil {
		return hypervisor.HostInfo{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	info := hypervisor.HostInfo{
		Kind:      d.kind,
		Hostname:  d.name,
		UUID:      d.uuid,
		Product:   Product,
		Version:   Version,
		Capacity:  d.capacity,
		Allocated: d.allocatedLocked(),
	}
	if d.kind == ovm.HostKVM {
		info.Virtualization = "qemu"
	}
	return info, nil
}

// List returns every instance on the host, ordered by name.
func (d *Driver) List(ctx context.Context) ([]hypervisor.Instance, error) {
	if err := d.gate(ctx, MethodList); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]hypervisor.Instance, 0, len(d.byNative))
	for _, r := range d.byNative {
		out = append(out, clone(r.inst))
	}
	slices.SortFunc(out, func(a, b hypervisor.Instance) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// Get returns one instance, or ovm.ErrNotFound.
func (d *Driver) Get(ctx context.Context, ref hypervisor.Ref) (hypervisor.Instance, error) {
	if err := d.gate(ctx, MethodGet); err != nil {
		return hypervisor.Instance{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.lookupLocked(ref)
	if err != nil {
		return hypervisor.Instance{}, err
	}
	return clone(r.inst), nil
}

// Create makes a stopped instance, idempotently by spec.ID. A spec that
// does not fit in what is left of the host is ovm.ErrConflict.
func (d *Driver) Create(ctx context.Context, spec hypervisor.CreateSpec) (hypervisor.Instance, error) {
	if err := d.gate(ctx, MethodCreate); err != nil {
		return hypervisor.Instance{}, err
	}
	if err := spec.Validate(); err != nil {
		return hypervisor.Instance{}, fmt.Errorf("fake host %s: create: %w", d.name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.createLocked(spec)
}

// Start boots a stopped instance.
func (d *Driver) Start(ctx context.Context, ref hypervisor.Ref) error {
	if err := d.gate(ctx, MethodStart); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.changeLocked(ref, "start")
	if err != nil {
		return err
	}
	if err := hypervisor.CheckPower(ref, "start", r.inst.Power); err != nil {
		return err
	}
	r.boot(d.now())
	return nil
}

// Stop stops a running instance; graceful and forced stops end the same way.
func (d *Driver) Stop(ctx context.Context, ref hypervisor.Ref, opts hypervisor.StopOptions) error {
	if err := d.gate(ctx, MethodStop); err != nil {
		return err
	}
	if opts.Timeout < 0 {
		return ovm.Invalid("invalid stop options", ovm.FieldError{Field: "timeout", Reason: "must not be negative", Value: opts.Timeout.String()})
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.changeLocked(ref, "stop")
	if err != nil {
		return err
	}
	if err := hypervisor.CheckPower(ref, "stop", r.inst.Power); err != nil {
		return err
	}
	r.inst.Power = ovm.PowerStopped
	r.startedAt = time.Time{}
	r.hangUp()
	return nil
}

// Reboot restarts a running instance: its uptime starts again and a resize
// pending for the next boot takes effect.
func (d *Driver) Reboot(ctx context.Context, ref hypervisor.Ref) error {
	if err := d.gate(ctx, MethodReboot); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.changeLocked(ref, "reboot")
	if err != nil {
		return err
	}
	if err := hypervisor.CheckPower(ref, "reboot", r.inst.Power); err != nil {
		return err
	}
	r.boot(d.now())
	for _, c := range r.consoles {
		c.put(fmt.Sprintf("\r\n[reboot]\r\n%s login: ", r.hostname()))
	}
	return nil
}

// Delete removes a stopped instance with its snapshots.
func (d *Driver) Delete(ctx context.Context, ref hypervisor.Ref) error {
	if err := d.gate(ctx, MethodDelete); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.changeLocked(ref, "delete")
	if err != nil {
		return err
	}
	if err := hypervisor.CheckPower(ref, "delete", r.inst.Power); err != nil {
		return err
	}
	d.removeLocked(r)
	return nil
}

// Reconfigure resizes an instance. A stopped instance takes the new size at
// its next boot; a running one at once, unless Options.NoLiveResize is set.
// Growth that does not fit in what is left of the host is ovm.ErrConflict.
func (d *Driver) Reconfigure(ctx context.Context, ref hypervisor.Ref, rs hypervisor.Resize) (hypervisor.ResizeResult, error) {
	if err := d.gate(ctx, MethodReconfigure); err != nil {
		return hypervisor.ResizeResult{}, err
	}
	var f ovm.Fields
	if rs.CPU < 0 {
		f.Add("cpuMilli", "must not be negative")
	}
	if rs.Memory < 0 {
		f.Add("memoryBytes", "must not be negative")
	}
	if err := f.Err("invalid resize"); err != nil {
		return hypervisor.ResizeResult{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.changeLocked(ref, "reconfigure")
	if err != nil {
		return hypervisor.ResizeResult{}, err
	}
	cpu, mem := cmp.Or(rs.CPU, r.inst.CPU), cmp.Or(rs.Memory, r.inst.Memory)
	next := r.spec.Spec
	next.Type, next.CPU, next.Memory, next.Image = r.inst.Type, cpu, mem, r.inst.Image
	if err := next.Validate(); err != nil {
		var g ovm.Fields
		for _, fe := range ovm.FieldsOf(err) {
			if fe.Field == "cpuMilli" || fe.Field == "memoryBytes" {
				g = append(g, fe)
			}
		}
		if err := g.Err("invalid resize"); err != nil {
			return hypervisor.ResizeResult{}, err
		}
	}
	if err := d.fitLocked("instance "+r.inst.Name, ovm.Resources{CPU: cpu - r.inst.CPU, Memory: mem - r.inst.Memory}); err != nil {
		return hypervisor.ResizeResult{}, err
	}
	r.inst.CPU, r.inst.Memory = cpu, mem
	live := r.running() && d.liveSize
	if live {
		r.bootCPU, r.bootMemory = cpu, mem
	}
	if !r.running() {
		r.bootCPU, r.bootMemory = cpu, mem
	}
	return hypervisor.ResizeResult{Live: live}, nil
}

// Stats samples a running instance's use at the clock's now, derived from
// its size and uptime u (whole seconds since it booted):
//
//	CPUPercent  = vCPUs x (10 + u mod 30)   a saw-tooth between 10% and 39% of each vCPU
//	MemoryUsed  = memory/4 + memory/2 x min(u, 600)/600   from 25% to 75% over ten minutes
//	NetRxBytes  = 1500 x s, NetTxBytes = 700 x s
//	DiskRead    = 32MiB + 64KiB x s, DiskWrite = 16KiB x s
//
// where s is the uptime in seconds, fractions included, so that the
// counters' growth over any interval is their rate times its length.
//
// A stopped instance uses nothing; MemoryLimit is its memory either way.
func (d *Driver) Stats(ctx context.Context, ref hypervisor.Ref) (hypervisor.Stats, error) {
	if err := d.gate(ctx, MethodStats); err != nil {
		return hypervisor.Stats{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.lookupLocked(ref)
	if err != nil {
		return hypervisor.Stats{}, err
	}
	now := d.now()
	if !r.running() {
		return hypervisor.Stats{Time: now, MemoryLimit: r.inst.Memory}, nil
	}
	return usage(r.bootCPU, r.bootMemory, now.Sub(r.startedAt), now), nil
}

// usage is the sample of an instance of the given size after uptime up.
func usage(cpu ovm.MilliCPU, mem ovm.Bytes, up time.Duration, now time.Time) hypervisor.Stats {
	u := max(int64(up/time.Second), 0)
	secs := max(up.Seconds(), 0)
	grow := func(perSecond float64) uint64 { return uint64(perSecond * secs) }
	return hypervisor.Stats{
		Time:         now,
		CPUPercent:   float64(cpu) / 1000 * float64(10+u%30),
		MemoryUsed:   mem/4 + ovm.Bytes(int64(mem/2)*min(u, 600)/600),
		MemoryLimit:  mem,
		NetRxBytes:   grow(1500),
		NetTxBytes:   grow(700),
		DiskRead:     uint64(32*ovm.MiB) + grow(64*1024),
		DiskWrite:    grow(16 * 1024),
		DiskReadOps:  512 + grow(16),
		DiskWriteOps: grow(4),
	}
}

// AddUnmanaged seeds an instance made out of band: it has no OVM id, counts
// against the host's capacity like any other, and is running when running
// is set. Zero fields of spec default to a 1-vCPU, 512MiB VM from the
// template "unmanaged.qcow2" (or a container from "busybox:latest" when
// spec.Type is container). AddUnmanaged is not a call to the host: the
// fault knobs do not apply to it and Calls does not count it.
func (d *Driver) AddUnmanaged(name string, spec ovm.InstanceSpec, running bool) (hypervisor.Instance, error) {
	if spec.Type == "" {
		spec.Type = ovm.TypeVM
		if !spec.Image.IsZero() {
			spec.Type = spec.Image.InstanceType()
		}
	}
	if spec.Image.IsZero() {
		spec.Image = ovm.Template("unmanaged.qcow2")
		if spec.Type == ovm.TypeContainer {
			spec.Image = ovm.ContainerImage("busybox:latest")
		}
	}
	spec.CPU = cmp.Or(spec.CPU, ovm.CPUs(1))
	spec.Memory = cmp.Or(spec.Memory, 512*ovm.MiB)
	var f ovm.Fields
	if reason := ovm.ValidateName(name); reason != "" {
		f.Add("name", reason)
	}
	f.Merge("spec", spec.Validate())
	if err := f.Err("invalid unmanaged instance"); err != nil {
		return hypervisor.Instance{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r := newRecord(hypervisor.CreateSpec{Name: name, Spec: spec}, d.now())
	if err := d.addLocked(r); err != nil {
		return hypervisor.Instance{}, err
	}
	if running {
		r.boot(d.now())
	}
	return clone(r.inst), nil
}
