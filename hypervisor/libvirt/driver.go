package libvirt

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

var (
	_ hypervisor.Driver      = (*Driver)(nil)
	_ hypervisor.Consoler    = (*Driver)(nil)
	_ hypervisor.Executor    = (*Driver)(nil)
	_ hypervisor.Migrator    = (*Driver)(nil)
	_ hypervisor.Snapshotter = (*Driver)(nil)
	_ hypervisor.Registrar   = (*Driver)(nil)
)

// PoolRef names a libvirt storage pool of type dir by name and path; the
// driver defines, builds and starts it when the host does not have it.
type PoolRef struct {
	Name string
	Path string
}

// Config says how a Driver reaches its host and makes instances there.
type Config struct {
	// URI is the libvirt connection URI (see ParseURI).
	URI string
	// Templates is the pool the templates named by ImageRef.Name are in.
	Templates PoolRef
	// Disks is the pool instance disks (copy-on-write over a template) and
	// cloud-init seeds are made in. For live migration with shared
	// storage, both hosts name the same shared directory.
	Disks PoolRef
	// Kernel, Initrd and Cmdline, when Kernel is set, boot every instance
	// by direct kernel boot (paths on the host) instead of from its disk.
	Kernel, Initrd, Cmdline string
	// SharedStorage lists directories the operator declares shared with
	// the other hosts (a cluster filesystem, or one directory several
	// daemons on one machine see). libvirt recognises NFS mounts by itself
	// and calls live migration of disks elsewhere unsafe; disks under these
	// directories migrate live with VIR_MIGRATE_UNSAFE.
	SharedStorage []string
	// Machine is the QEMU machine type; empty means libvirt's default.
	Machine string
	// VirtType forces "kvm" or "qemu"; empty means probe: kvm when a KVM
	// guest can start on the host, else qemu.
	VirtType string
	// Probes, when set, remembers the kvm-or-qemu probe of each URI for
	// every driver given the same Probes, so that the probe (which starts a
	// throwaway KVM guest, tens of seconds when KVM is refused) runs once
	// per host and process instead of once per connection.
	Probes *Probes
	// Now is the clock for creation times and statistics; nil is time.Now.
	Now func() time.Time
}

// Probes remembers the virtualization probed on each host, by URI. The zero
// value is ready; share one among the drivers of a process.
type Probes struct {
	mu sync.Mutex
	m  map[string]string
}

func (p *Probes) get(uri string) string {
	if p == nil {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[uri]
}

func (p *Probes) set(uri, virt string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]string{}
	}
	p.m[uri] = virt
}

// Driver is a KVM host reached through libvirtd.
type Driver struct {
	cfg Config
	ep  Endpoint
	l   *golibvirt.Libvirt

	createMu sync.Mutex // serialises the lookup-then-define of Create
	probeMu  sync.Mutex
	virtType string          // probed once
	pools    map[string]bool // pools ensured on this connection (under probeMu)

	idsMu sync.Mutex
	ids   map[ovm.ID]golibvirt.UUID // OVM id to domain UUID, checked on use

	library atomic.Pointer[PoolRef] // the template library in use, when set

	deliverMu sync.Mutex // one template delivery at a time on this connection
}

// Dial connects to the libvirtd at cfg.URI within ctx. A URI that does not
// parse is ovm.ErrInvalid; a daemon that does not answer ovm.ErrUnavailable.
func Dial(ctx context.Context, cfg Config) (*Driver, error) {
	ep, err := ParseURI(cfg.URI)
	if err != nil {
		return nil, err
	}
	var f ovm.Fields
	if cfg.Templates.Name == "" || !strings.HasPrefix(cfg.Templates.Path, "/") {
		f.Add("templates", "needs a pool name and an absolute path")
	}
	if cfg.Disks.Name == "" || !strings.HasPrefix(cfg.Disks.Path, "/") {
		f.Add("disks", "needs a pool name and an absolute path")
	}
	if cfg.VirtType != "" && cfg.VirtType != "kvm" && cfg.VirtType != "qemu" {
		f.Add("virtType", `must be "kvm", "qemu" or empty`)
	}
	if err := f.Err("invalid libvirt driver config"); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l, err := connect(ctx, ep)
	if err != nil {
		return nil, err
	}
	if err := checkPools(ctx, l, cfg); err != nil {
		_ = l.Disconnect()
		return nil, err
	}
	return &Driver{cfg: cfg, ep: ep, l: l, virtType: cfg.VirtType, pools: map[string]bool{}, ids: map[ovm.ID]golibvirt.UUID{}}, nil
}

// Libvirt returns the driver's go-libvirt connection, for callers that need
// a call the driver does not make.
func (d *Driver) Libvirt() *golibvirt.Libvirt { return d.l }

// Endpoint returns the parsed URI the driver is connected to.
func (d *Driver) Endpoint() Endpoint { return d.ep }

// Kind is ovm.HostKVM.
func (d *Driver) Kind() ovm.HostKind { return ovm.HostKVM }

// Capabilities: VMs; snapshots (internal qcow2 snapshots, with the memory
// of a running domain), the three migration kinds, the console and exec
// (through the QEMU guest agent the guest runs).
// vCPU and memory changes of a running domain apply at its next boot: the
// domains are defined without hot-pluggable vCPUs or memory, so libvirt
// cannot change them live.
func (d *Driver) Capabilities() hypervisor.Capabilities {
	return hypervisor.Capabilities{
		InstanceTypes:          []ovm.InstanceType{ovm.TypeVM},
		Snapshots:              true,
		SnapshotMemory:         true,
		LiveMigration:          true,
		SharedNothingMigration: true,
		StorageMigration:       true,
		// A live move keeps the disks where they are (internal
		// snapshots inside them) and carries the snapshots' metadata;
		// storage and shared-nothing moves copy a disk's current state.
		MigrationKeepsSnapshots: []hypervisor.MigrationKind{hypervisor.MigrateLive},
		Console:                 true,
		Exec:                    true,
		RegisterExisting:        true,
		Mark:                    true,
		UserData:                true,
	}
}

// Close disconnects from libvirtd.
func (d *Driver) Close() error {
	if err := d.l.Disconnect(); err != nil {
		return wrap(err, "libvirt: disconnect from %s", d.ep.URI)
	}
	return nil
}

// rpc runs one libvirt call after checking ctx.
func rpc[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	return fn()
}

// do runs one libvirt call without result after checking ctx.
func do(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return fn()
}

// Ping asks the daemon for its version: ovm.ErrUnavailable when it does not
// answer within ctx.
func (d *Driver) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { _, err := d.l.ConnectGetLibVersion(); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			return ovm.Errorf(ovm.KindUnavailable, "libvirt %s does not answer: %w", d.ep.URI, err)
		}
		return nil
	case <-ctx.Done():
		return ovm.Wrap(ovm.KindUnavailable, ctx.Err(), "libvirt %s does not answer", d.ep.URI)
	}
}

// Info reports the host: capacity from the node info, allocations summed
// over every running domain, and whether guests run under kvm or qemu.
func (d *Driver) Info(ctx context.Context) (hypervisor.HostInfo, error) {
	host, err := rpc(ctx, d.l.ConnectGetHostname)
	if err != nil {
		return hypervisor.HostInfo{}, wrap(err, "libvirt: hostname")
	}
	ver, err := rpc(ctx, d.l.ConnectGetLibVersion)
	if err != nil {
		return hypervisor.HostInfo{}, wrap(err, "libvirt: version")
	}
	if err := ctx.Err(); err != nil {
		return hypervisor.HostInfo{}, err
	}
	_, memKiB, cpus, _, _, _, _, _, err := d.l.NodeGetInfo()
	if err != nil {
		return hypervisor.HostInfo{}, wrap(err, "libvirt: node info")
	}
	virt, err := d.virtualization(ctx)
	if err != nil {
		return hypervisor.HostInfo{}, err
	}
	uuid, err := d.hostUUID(ctx)
	if err != nil {
		return hypervisor.HostInfo{}, err
	}
	list, err := d.List(ctx)
	if err != nil {
		return hypervisor.HostInfo{}, err
	}
	var alloc ovm.Resources
	for _, inst := range list {
		if inst.Power == ovm.PowerRunning || inst.Power == ovm.PowerPaused {
			alloc.CPU += inst.CPU
			alloc.Memory += inst.Memory
		}
	}
	return hypervisor.HostInfo{
		Kind: ovm.HostKVM, Hostname: host, UUID: uuid, Product: "libvirt",
		Version:        fmt.Sprintf("%d.%d.%d", ver/1000000, ver/1000%1000, ver%1000),
		Capacity:       ovm.Resources{CPU: ovm.CPUs(int64(cpus)), Memory: ovm.Bytes(memKiB) * ovm.KiB},
		Allocated:      alloc,
		Virtualization: virt,
	}, nil
}

// virtualization returns "kvm" when a KVM guest can start on the host, else
// "qemu". The probe starts a paused transient domain without devices once
// per driver: libvirt's capabilities list kvm whenever /dev/kvm exists, even
// when QEMU (running as libvirt-qemu) cannot open it.
func (d *Driver) virtualization(ctx context.Context) (string, error) {
	d.probeMu.Lock()
	defer d.probeMu.Unlock()
	if d.virtType != "" {
		return d.virtType, nil
	}
	if v := d.cfg.Probes.get(d.ep.URI); v != "" {
		d.virtType = v
		return v, nil
	}
	c, err := d.capabilities(ctx)
	if err != nil {
		return "", err
	}
	kvm := false
	for _, g := range c.Guests {
		for _, dom := range g.Arch.Domains {
			kvm = kvm || (g.Arch.Name == "x86_64" && dom.Type == "kvm")
		}
	}
	virt := "qemu"
	if kvm {
		sum := sha256.Sum256([]byte(d.ep.URI + time.Now().String()))
		probe := libvirtxml.Domain{
			Type: "kvm", Name: fmt.Sprintf("ovm-kvm-probe-%x", sum[:4]),
			Memory: &libvirtxml.DomainMemory{Value: 16, Unit: "MiB"},
			OS:     &libvirtxml.DomainOS{Type: &libvirtxml.DomainOSType{Arch: "x86_64", Type: "hvm"}},
		}
		x, err := probe.Marshal()
		if err != nil {
			return "", fmt.Errorf("libvirt: render kvm probe: %w", err)
		}
		dom, err := rpc(ctx, func() (golibvirt.Domain, error) {
			return d.l.DomainCreateXML(x, golibvirt.DomainStartPaused)
		})
		if err == nil {
			virt = "kvm"
			_ = d.l.DomainDestroy(dom)
		}
	}
	d.virtType = virt
	d.cfg.Probes.set(d.ep.URI, virt)
	return virt, nil
}

// domainState maps a libvirt domain state to a power state.
func domainState(s int32) ovm.PowerState {
	switch golibvirt.DomainState(s) {
	case golibvirt.DomainRunning, golibvirt.DomainBlocked:
		return ovm.PowerRunning
	case golibvirt.DomainPaused, golibvirt.DomainPmsuspended:
		return ovm.PowerPaused
	case golibvirt.DomainShutoff, golibvirt.DomainShutdown, golibvirt.DomainCrashed:
		return ovm.PowerStopped
	}
	return ovm.PowerUnknown
}

// found is a domain with its definition and OVM metadata.
type found struct {
	dom     golibvirt.Domain
	def     libvirtxml.Domain
	meta    Metadata
	managed bool
	power   ovm.PowerState
}

// uuidString renders a libvirt UUID.
func uuidString(u golibvirt.UUID) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// describe reads a domain's definition (inactive, so that sizes are the
// configured ones) and state.
func (d *Driver) describe(ctx context.Context, dom golibvirt.Domain) (found, error) {
	x, err := rpc(ctx, func() (string, error) { return d.l.DomainGetXMLDesc(dom, golibvirt.DomainXMLInactive) })
	if err != nil {
		return found{}, wrap(err, "libvirt: read domain %s", dom.Name)
	}
	f := found{dom: dom}
	if err := f.def.Unmarshal(x); err != nil {
		return found{}, fmt.Errorf("libvirt: parse domain %s: %w", dom.Name, err)
	}
	if f.def.Metadata != nil {
		if f.meta, f.managed, err = ParseMetadata(f.def.Metadata.XML); err != nil {
			return found{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return found{}, err
	}
	st, _, err := d.l.DomainGetState(dom, 0)
	if err != nil {
		return found{}, wrap(err, "libvirt: state of domain %s", dom.Name)
	}
	f.power = domainState(st)
	return f, nil
}

// instance turns a found domain into an Instance.
func (f found) instance() hypervisor.Instance {
	inst := hypervisor.Instance{
		NativeID: uuidString(f.dom.UUID), Name: f.dom.Name, Type: ovm.TypeVM, Power: f.power,
		Memory: memoryBytes(f.def.Memory),
	}
	if f.def.VCPU != nil {
		inst.CPU = ovm.CPUs(int64(f.def.VCPU.Value))
	}
	if f.managed {
		inst.OVMID, inst.VDCID, inst.Image = f.meta.ID, f.meta.VDCID, f.meta.Image
		inst.Labels, inst.CreatedAt, inst.Disk = f.meta.Labels, f.meta.CreatedAt, f.meta.Disk
		if f.meta.CPU > 0 {
			inst.CPU = f.meta.CPU
		}
	}
	return inst
}

// domains lists every domain of the host, defined or transient.
func (d *Driver) domains(ctx context.Context) ([]golibvirt.Domain, error) {
	doms, err := rpc(ctx, func() ([]golibvirt.Domain, error) {
		doms, _, err := d.l.ConnectListAllDomains(1, 0)
		return doms, err
	})
	if err != nil {
		return nil, wrap(err, "libvirt: list domains")
	}
	return doms, nil
}

// List returns every domain, managed (with OVM metadata) or not. A domain
// that disappears while it is being read is left out.
func (d *Driver) List(ctx context.Context) ([]hypervisor.Instance, error) {
	all, err := d.scan(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]hypervisor.Instance, 0, len(all))
	for _, f := range all {
		out = append(out, f.instance())
	}
	slices.SortFunc(out, func(a, b hypervisor.Instance) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// scan describes every domain.
func (d *Driver) scan(ctx context.Context) ([]found, error) {
	doms, err := d.domains(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]found, 0, len(doms))
	for _, dom := range doms {
		f, err := d.describe(ctx, dom)
		if ovm.KindOf(err) == ovm.KindNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// lookup finds the domain ref names: by UUID or name for a native id, by
// the OVM id in the metadata otherwise.
func (d *Driver) lookup(ctx context.Context, ref hypervisor.Ref) (found, error) {
	if ref.IsZero() {
		return found{}, ovm.Invalid("invalid instance reference", ovm.FieldError{Field: "ref", Reason: "names no instance"})
	}
	if ref.NativeID != "" {
		dom, err := d.byNative(ctx, ref.NativeID)
		if err != nil {
			return found{}, err
		}
		return d.describe(ctx, dom)
	}
	// The UUID this driver saw last for the id, checked against the
	// domain's metadata; else a scan of every domain.
	d.idsMu.Lock()
	u, ok := d.ids[ref.ID]
	d.idsMu.Unlock()
	if ok {
		dom, err := rpc(ctx, func() (golibvirt.Domain, error) { return d.l.DomainLookupByUUID(u) })
		if err == nil {
			f, err := d.describe(ctx, dom)
			if err == nil && f.managed && f.meta.ID == ref.ID {
				return f, nil
			}
		}
		if err := ctx.Err(); err != nil {
			return found{}, err
		}
	}
	all, err := d.scan(ctx)
	if err != nil {
		return found{}, err
	}
	for _, f := range all {
		if f.managed && f.meta.ID == ref.ID {
			d.remember(f)
			return f, nil
		}
	}
	d.forget(ref.ID)
	return found{}, ovm.NotFound("instance", ref.ID)
}

// remember records a managed domain's UUID under its OVM id.
func (d *Driver) remember(f found) {
	if !f.managed {
		return
	}
	d.idsMu.Lock()
	defer d.idsMu.Unlock()
	d.ids[f.meta.ID] = f.dom.UUID
}

// forget drops an OVM id from the cache.
func (d *Driver) forget(id ovm.ID) {
	d.idsMu.Lock()
	defer d.idsMu.Unlock()
	delete(d.ids, id)
}

// byNative looks a domain up by UUID, or by name.
func (d *Driver) byNative(ctx context.Context, native string) (golibvirt.Domain, error) {
	if u, ok := parseUUID(native); ok {
		dom, err := rpc(ctx, func() (golibvirt.Domain, error) { return d.l.DomainLookupByUUID(u) })
		if err == nil {
			return dom, nil
		}
		if !isCode(err, golibvirt.ErrNoDomain) {
			return golibvirt.Domain{}, wrap(err, "libvirt: look up domain %s", native)
		}
	}
	dom, err := rpc(ctx, func() (golibvirt.Domain, error) { return d.l.DomainLookupByName(native) })
	if err != nil {
		if isCode(err, golibvirt.ErrNoDomain) {
			return golibvirt.Domain{}, ovm.Errorf(ovm.KindNotFound, "instance %s not found: %w", native, err)
		}
		return golibvirt.Domain{}, wrap(err, "libvirt: look up domain %s", native)
	}
	return dom, nil
}

// parseUUID parses a UUID in its usual text form.
func parseUUID(s string) (golibvirt.UUID, bool) {
	var u golibvirt.UUID
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 || len(s) != 36 {
		return u, false
	}
	for i := range 16 {
		var b byte
		if _, err := fmt.Sscanf(h[2*i:2*i+2], "%02x", &b); err != nil {
			return u, false
		}
		u[i] = b
	}
	return u, true
}

// Get returns the instance ref names.
func (d *Driver) Get(ctx context.Context, ref hypervisor.Ref) (hypervisor.Instance, error) {
	f, err := d.lookup(ctx, ref)
	if err != nil {
		return hypervisor.Instance{}, err
	}
	return f.instance(), nil
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
