package fake

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// Options configure a fake host. The zero value is a usable host.
type Options struct {
	// Name is the host's hostname; "fake" when empty.
	Name string
	// Kind is the kind of host the fake poses as; ovm.HostFake when empty.
	Kind ovm.HostKind
	// UUID is the host's own identity (HostInfo.UUID); a new random one
	// when empty.
	UUID string
	// Capacity is the host's physical capacity; DefaultCapacity when zero.
	Capacity ovm.Resources
	// Overcommit scales Capacity into what may be allocated; the zero value
	// allows no overcommit.
	Overcommit ovm.Overcommit
	// Now is the clock read for creation times, uptimes and statistics;
	// time.Now when nil.
	Now func() time.Time
	// NoLiveResize makes the host apply every resize of a running instance
	// at its next boot (Capabilities.LiveResizeCPU and LiveResizeMemory are
	// then false).
	NoLiveResize bool
	// TemplateDisk is the size of the boot disk the host copies from a
	// VM's template when the spec declares no disk (0: no such disk).
	TemplateDisk ovm.Bytes
}

// DefaultCapacity returns the capacity of a fake host whose Options leave it
// zero: 16 vCPU, 64GiB of memory, 1TiB of disk.
func DefaultCapacity() ovm.Resources {
	return ovm.Resources{CPU: ovm.CPUs(16), Memory: 64 * ovm.GiB, Disk: ovm.TiB}
}

// Product and Version are what Info reports for the engine.
const (
	Product = "ovm-fake"
	Version = "1.0.0"
)

// The method names FailNext and Calls take: the Driver's methods, plus
// MethodReceive, the destination's side of a migration.
const (
	MethodPing           = "Ping"
	MethodInfo           = "Info"
	MethodList           = "List"
	MethodGet            = "Get"
	MethodCreate         = "Create"
	MethodStart          = "Start"
	MethodStop           = "Stop"
	MethodReboot         = "Reboot"
	MethodDelete         = "Delete"
	MethodReconfigure    = "Reconfigure"
	MethodStats          = "Stats"
	MethodCreateSnapshot = "CreateSnapshot"
	MethodListSnapshots  = "ListSnapshots"
	MethodRevertSnapshot = "RevertSnapshot"
	MethodDeleteSnapshot = "DeleteSnapshot"
	MethodMigrate        = "Migrate"
	MethodReceive        = "Receive"
	MethodConsole        = "Console"
	MethodExec           = "Exec"
	MethodRegister       = "Register"
	MethodMark           = "Mark"
	MethodCommitImage    = "CommitImage"
	// The TemplateDelivery facet.
	MethodTemplateDigest  = "TemplateDigest"
	MethodDeliverTemplate = "DeliverTemplate"
)

// Methods returns every method name FailNext and Calls accept.
func Methods() []string {
	return []string{
		MethodPing, MethodInfo, MethodList, MethodGet, MethodCreate, MethodStart, MethodStop,
		MethodReboot, MethodDelete, MethodReconfigure, MethodStats, MethodCreateSnapshot,
		MethodListSnapshots, MethodRevertSnapshot, MethodDeleteSnapshot, MethodMigrate,
		MethodReceive, MethodConsole, MethodExec, MethodRegister, MethodMark, MethodCommitImage,
		MethodTemplateDigest, MethodDeliverTemplate,
	}
}

// Driver is a fake host and the connection to it. Its methods are safe for
// concurrent use.
type Driver struct {
	name     string
	kind     ovm.HostKind
	uuid     string
	capacity ovm.Resources
	overc    ovm.Overcommit
	now      func() time.Time
	liveSize bool
	tdisk    ovm.Bytes // Options.TemplateDisk

	mu       sync.Mutex
	byNative map[string]*record
	byID     map[ovm.ID]*record
	byName   map[string]*record
	calls    map[string]int
	failNext map[string][]error
	down     bool
	latency  time.Duration
	closed   bool
	commits  map[string]string // image reference -> digest, by CommitImage
	// templates are the delivered templates' digests, by name.
	templates map[string]string
}

var (
	_ hypervisor.Driver         = (*Driver)(nil)
	_ hypervisor.Snapshotter    = (*Driver)(nil)
	_ hypervisor.Migrator       = (*Driver)(nil)
	_ hypervisor.Consoler       = (*Driver)(nil)
	_ hypervisor.Executor       = (*Driver)(nil)
	_ hypervisor.Registrar      = (*Driver)(nil)
	_ hypervisor.Marker         = (*Driver)(nil)
	_ hypervisor.ImageCommitter = (*Driver)(nil)
)

// record is one instance and what the host keeps about it.
type record struct {
	inst hypervisor.Instance
	spec hypervisor.CreateSpec
	// disk is the instance's share of the host's disk.
	disk ovm.Bytes
	// bootCPU and bootMemory are the size the running instance has; they
	// differ from inst.CPU and inst.Memory after a resize that waits for
	// the next boot.
	bootCPU    ovm.MilliCPU
	bootMemory ovm.Bytes
	startedAt  time.Time
	snapshots  []snapshot
	consoles   []*console
	migrating  bool
}

// snapshot is a snapshot and the size it restores.
type snapshot struct {
	snap   ovm.Snapshot
	cpu    ovm.MilliCPU
	memory ovm.Bytes
	labels map[string]string
}

// New returns a fake host configured by opts.
func New(opts Options) *Driver {
	d := &Driver{
		name:     opts.Name,
		kind:     opts.Kind,
		uuid:     opts.UUID,
		capacity: opts.Capacity,
		overc:    opts.Overcommit,
		now:      opts.Now,
		liveSize: !opts.NoLiveResize,
		tdisk:    opts.TemplateDisk,
		byNative: map[string]*record{},
		byID:     map[ovm.ID]*record{},
		byName:   map[string]*record{},
		calls:    map[string]int{},
		failNext: map[string][]error{},

		templates: map[string]string{},
	}
	if d.name == "" {
		d.name = "fake"
	}
	if d.kind == "" {
		d.kind = ovm.HostFake
	}
	if d.uuid == "" {
		d.uuid = string(ovm.NewID())
	}
	if d.capacity.IsZero() {
		d.capacity = DefaultCapacity()
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d
}

// Name returns the host's hostname.
func (d *Driver) Name() string { return d.name }

// Kind returns the kind of host the fake poses as.
func (d *Driver) Kind() ovm.HostKind { return d.kind }

// Capabilities announces every facet: the fake implements them all.
func (d *Driver) Capabilities() hypervisor.Capabilities {
	return hypervisor.Capabilities{
		InstanceTypes:          []ovm.InstanceType{ovm.TypeVM, ovm.TypeContainer},
		Snapshots:              true,
		LiveMigration:          true,
		SharedNothingMigration: true,
		StorageMigration:       true,
		// Every move carries the instance's snapshots.
		MigrationKeepsSnapshots: []hypervisor.MigrationKind{hypervisor.MigrateLive, hypervisor.MigrateSharedNothing, hypervisor.MigrateStorage},
		Console:                 true,
		Exec:                    true,
		LiveResizeCPU:           d.liveSize,
		LiveResizeMemory:        d.liveSize,
		RegisterExisting:        true,
		Mark:                    true,
	}
}

// Close ends the connection: later calls fail with ovm.ErrUnavailable.
// Closing twice is harmless.
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	return nil
}

// SetUnreachable makes the host dead (every call, Ping included, fails
// with ovm.ErrUnavailable) or alive again.
func (d *Driver) SetUnreachable(down bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down = down
}

// FailNext makes the next call of method (one of Methods) return err
// without doing anything. Several calls queue errors for the calls that
// follow, in order; a nil err lets its call through, so FailNext(m, nil)
// then FailNext(m, err) fails the second call. FailNext panics on an
// unknown method name, since a misspelt name would otherwise never fire.
func (d *Driver) FailNext(method string, err error) {
	if !slices.Contains(Methods(), method) {
		panic(fmt.Sprintf("fake: FailNext: unknown method %q", method))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failNext[method] = append(d.failNext[method], err)
}

// SetLatency makes every later call wait lat before it runs; a call whose
// context ends first returns the context's error. Zero removes the latency.
func (d *Driver) SetLatency(lat time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.latency = lat
}

// Calls returns how many times method was called, failed calls included.
func (d *Driver) Calls(method string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[method]
}

// gate runs before every call: it counts the call, then refuses it when the
// context is done, the latency outlasts the context, the driver is closed,
// the host unreachable, or an error is queued for the method.
func (d *Driver) gate(ctx context.Context, method string) error {
	d.mu.Lock()
	d.calls[method]++
	lat := d.latency
	d.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fake host %s: %s: %w", d.name, method, err)
	}
	if lat > 0 {
		timer := time.NewTimer(lat)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("fake host %s: %s: %w", d.name, method, ctx.Err())
		case <-timer.C:
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return ovm.Errorf(ovm.KindUnavailable, "fake host %s: %s: driver closed", d.name, method)
	case d.down:
		return ovm.Errorf(ovm.KindUnavailable, "fake host %s: %s: host unreachable", d.name, method)
	}
	if q := d.failNext[method]; len(q) > 0 {
		err := q[0]
		if len(q) == 1 {
			delete(d.failNext, method)
		} else {
			d.failNext[method] = q[1:]
		}
		return err
	}
	return nil
}

// lookupLocked finds the instance ref names. NativeID wins when both are set.
func (d *Driver) lookupLocked(ref hypervisor.Ref) (*record, error) {
	var r *record
	switch {
	case ref.NativeID != "":
		r = d.byNative[ref.NativeID]
	case ref.ID != "":
		r = d.byID[ref.ID]
	default:
		return nil, ovm.Invalid("invalid instance reference",
			ovm.FieldError{Field: "ref", Reason: "must name an instance by id or native id"})
	}
	if r == nil {
		return nil, ovm.Errorf(ovm.KindNotFound, "fake host %s: instance %s not found", d.name, ref)
	}
	return r, nil
}

// changeLocked finds the instance ref names and refuses it while it moves.
func (d *Driver) changeLocked(ref hypervisor.Ref, op string) (*record, error) {
	r, err := d.lookupLocked(ref)
	if err != nil {
		return nil, err
	}
	if r.migrating {
		return nil, ovm.Errorf(ovm.KindConflict, "cannot %s instance %s: it is migrating", op, ref)
	}
	return r, nil
}

// allocatedLocked sums what every instance on the host is given.
func (d *Driver) allocatedLocked() ovm.Resources {
	var a ovm.Resources
	for _, r := range d.byNative {
		a = a.Add(r.demand())
	}
	return a
}

// fitLocked refuses more when it does not fit in what is left of the host.
func (d *Driver) fitLocked(what string, more ovm.Resources) error {
	more = more.Max(ovm.Resources{})
	free := d.overc.Apply(d.capacity).Sub(d.allocatedLocked())
	if short := more.Short(free); short != "" {
		return ovm.Errorf(ovm.KindConflict, "fake host %s has no room for %s: %s", d.name, what, short)
	}
	return nil
}

// addLocked records a new instance after checking its identity and room.
func (d *Driver) addLocked(r *record) error {
	if r.inst.OVMID != "" && d.byID[r.inst.OVMID] != nil {
		return ovm.Errorf(ovm.KindConflict, "fake host %s: instance %s already exists", d.name, r.inst.OVMID)
	}
	if o := d.byName[r.inst.Name]; o != nil {
		return ovm.Errorf(ovm.KindConflict, "fake host %s: name %q is taken by instance %s", d.name, r.inst.Name, o.inst.NativeID)
	}
	if d.byNative[r.inst.NativeID] != nil {
		return ovm.Errorf(ovm.KindConflict, "fake host %s: native id %s already exists", d.name, r.inst.NativeID)
	}
	if err := d.fitLocked("instance "+r.inst.Name, r.demand()); err != nil {
		return err
	}
	d.byNative[r.inst.NativeID] = r
	d.byName[r.inst.Name] = r
	if r.inst.OVMID != "" {
		d.byID[r.inst.OVMID] = r
	}
	return nil
}

// removeLocked forgets an instance and hangs up its consoles.
func (d *Driver) removeLocked(r *record) {
	delete(d.byNative, r.inst.NativeID)
	delete(d.byName, r.inst.Name)
	if r.inst.OVMID != "" {
		delete(d.byID, r.inst.OVMID)
	}
	r.hangUp()
}

// createLocked makes a stopped instance from spec, or returns the one
// already made under spec.ID.
func (d *Driver) createLocked(spec hypervisor.CreateSpec) (hypervisor.Instance, error) {
	if r := d.byID[spec.ID]; r != nil {
		if r.inst.Name != spec.Name {
			return hypervisor.Instance{}, ovm.Errorf(ovm.KindConflict,
				"fake host %s: instance %s already exists as %q, not %q", d.name, spec.ID, r.inst.Name, spec.Name)
		}
		return clone(r.inst), nil
	}
	r := newRecord(spec, d.now())
	if spec.Spec.Type == ovm.TypeVM && len(spec.Spec.Disks) == 0 && d.tdisk > 0 {
		r.disk = d.tdisk // the copy of the template
	}
	r.inst.Disk = r.disk
	if err := d.addLocked(r); err != nil {
		return hypervisor.Instance{}, err
	}
	return clone(r.inst), nil
}

// newRecord builds the record of a stopped instance made from spec.
func newRecord(spec hypervisor.CreateSpec, now time.Time) *record {
	var addrs []netip.Addr
	for _, n := range spec.NICs {
		if n.IP.IsValid() {
			addrs = append(addrs, n.IP)
		}
	}
	// Keep nothing the caller may change later.
	spec.NICs = slices.Clone(spec.NICs)
	spec.Disks = slices.Clone(spec.Disks)
	spec.Spec.Env = maps.Clone(spec.Spec.Env)
	spec.Spec.Labels = maps.Clone(spec.Spec.Labels)
	return &record{
		inst: hypervisor.Instance{
			NativeID:  nativeID(),
			OVMID:     spec.ID,
			VDCID:     spec.VDCID,
			Name:      spec.Name,
			Type:      spec.Spec.Type,
			CPU:       spec.Spec.CPU,
			Memory:    spec.Spec.Memory,
			Image:     spec.Spec.Image,
			Power:     ovm.PowerStopped,
			Addresses: addrs,
			Labels:    maps.Clone(spec.Spec.Labels),
			CreatedAt: now,
		},
		spec:       spec,
		disk:       spec.Spec.Demand().Disk,
		bootCPU:    spec.Spec.CPU,
		bootMemory: spec.Spec.Memory,
	}
}

// nativeID returns a new random native id: 32 hex digits.
func nativeID() string { return strings.ReplaceAll(string(ovm.NewID()), "-", "") }

// demand is what the instance takes on its host: its configured size, and
// while it runs with a resize pending for its next boot, the larger of the
// two sizes.
func (r *record) demand() ovm.Resources {
	d := ovm.Resources{CPU: r.inst.CPU, Memory: r.inst.Memory, Disk: r.disk}
	if r.running() {
		d.CPU, d.Memory = max(d.CPU, r.bootCPU), max(d.Memory, r.bootMemory)
	}
	return d
}

// clone returns a copy of inst that shares no memory with it.
func clone(inst hypervisor.Instance) hypervisor.Instance {
	inst.Addresses = slices.Clone(inst.Addresses)
	inst.Labels = maps.Clone(inst.Labels)
	return inst
}

// running reports whether the instance is up.
func (r *record) running() bool {
	return r.inst.Power == ovm.PowerRunning || r.inst.Power == ovm.PowerPaused
}

// boot starts the instance at now with its configured size.
func (r *record) boot(now time.Time) {
	r.inst.Power = ovm.PowerRunning
	r.startedAt = now
	r.bootCPU, r.bootMemory = r.inst.CPU, r.inst.Memory
}

// hangUp closes the instance's consoles.
func (r *record) hangUp() {
	for _, c := range r.consoles {
		_ = c.Close()
	}
	r.consoles = nil
}
