package docker

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// The labels OVM writes on the objects it makes.
const (
	// LabelID carries the OVM id of a container, volume or network.
	LabelID = "org.openovm.id"
	// LabelVDC carries the VDC of a container.
	LabelVDC = "org.openovm.vdc"
	// LabelRole tells what a labelled volume is: RolePool or RoleVolume.
	LabelRole = "org.openovm.role"
	// LabelPool carries the pool id of a volume.
	LabelPool = "org.openovm.pool"
	// LabelName carries the OVM name of a volume, pool or network.
	LabelName = "org.openovm.name"
)

// The values of LabelRole.
const (
	RolePool   = "pool"
	RoleVolume = "volume"
)

// DefaultRebootTimeout bounds the graceful stop of a Reboot.
const DefaultRebootTimeout = 30 * time.Second

// minDockerMemory is the engine's smallest memory limit (6 MB).
const minDockerMemory = 6 * ovm.MiB

// inspectParallel bounds the inspections List runs at once.
const inspectParallel = 4

// Driver drives one Docker engine: containers are instances. It is safe
// for concurrent use.
type Driver struct {
	c *conn
}

var (
	_ hypervisor.Driver   = (*Driver)(nil)
	_ hypervisor.Executor = (*Driver)(nil)
	_ hypervisor.Consoler = (*Driver)(nil)
)

// Connect reaches the engine opts names and negotiates the API version,
// within ctx. An engine that does not answer is ovm.ErrUnavailable.
func Connect(ctx context.Context, opts Options) (*Driver, error) {
	c, err := dial(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Driver{c: c}, nil
}

// Kind is ovm.HostDocker.
func (d *Driver) Kind() ovm.HostKind { return ovm.HostDocker }

// APIVersion is the Engine API version the driver speaks with the host.
func (d *Driver) APIVersion() string { return d.c.api }

// Capabilities: containers, exec, console (attach), live CPU and memory
// resize; no snapshots, no migration.
func (d *Driver) Capabilities() hypervisor.Capabilities {
	return hypervisor.Capabilities{
		InstanceTypes:    []ovm.InstanceType{ovm.TypeContainer},
		Console:          true,
		Exec:             true,
		LiveResizeCPU:    true,
		LiveResizeMemory: true,
		MigrationNote: "a container does not migrate: recreate it on another host from its image, " +
			"with its volumes on a shared pool",
	}
}

// Ping checks that the engine answers within ctx.
func (d *Driver) Ping(ctx context.Context) error {
	if err := d.c.ctxErr(ctx, "ping"); err != nil {
		return err
	}
	_, err := d.c.cli.Ping(ctx)
	return d.c.engineError(ctx, err, "", "ping")
}

// Info reports the host's CPUs and memory, and as allocated the limits of
// its running containers (a container without a limit counts nothing).
func (d *Driver) Info(ctx context.Context) (hypervisor.HostInfo, error) {
	if err := d.c.ctxErr(ctx, "info"); err != nil {
		return hypervisor.HostInfo{}, err
	}
	info, err := d.c.cli.Info(ctx)
	if err != nil {
		return hypervisor.HostInfo{}, d.c.engineError(ctx, err, "", "info")
	}
	insts, err := d.list(ctx, filters.NewArgs(filters.Arg("status", "running")))
	if err != nil {
		return hypervisor.HostInfo{}, err
	}
	var alloc ovm.Resources
	for _, i := range insts {
		alloc.CPU += i.CPU
		alloc.Memory += i.Memory
	}
	return hypervisor.HostInfo{
		Kind:      ovm.HostDocker,
		Hostname:  info.Name,
		UUID:      engineIdentity(info.ID, info.DockerRootDir),
		Product:   "docker",
		Version:   info.ServerVersion,
		Capacity:  ovm.Resources{CPU: ovm.CPUs(int64(info.NCPU)), Memory: ovm.Bytes(info.MemTotal)},
		Allocated: alloc,
	}, nil
}

// engineIdentity is a Docker host's identity: the engine's ID and its data
// root. Engines before 23.0 take the ID from key.json in the configuration
// directory, which two daemons of one machine share, while each daemon
// keeps its containers in its own data root; so the same engine reached by
// two URLs has one identity, and two daemons of one machine two. Machines
// cloned with their key.json share an identity until it is made anew
// (remove /etc/docker/key.json and restart dockerd).
func engineIdentity(id, root string) string {
	return id + "@" + root
}

// List returns every container on the host, managed (LabelID set) or not.
func (d *Driver) List(ctx context.Context) ([]hypervisor.Instance, error) {
	if err := d.c.ctxErr(ctx, "list containers"); err != nil {
		return nil, err
	}
	return d.list(ctx, filters.NewArgs())
}

// list inspects the containers that match f, a few at once; containers
// removed meanwhile are left out.
func (d *Driver) list(ctx context.Context, f filters.Args) ([]hypervisor.Instance, error) {
	sums, err := d.c.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, d.c.engineError(ctx, err, "", "list containers")
	}
	out := make([]hypervisor.Instance, len(sums))
	found := make([]bool, len(sums))
	errs := make([]error, len(sums))
	sem := make(chan struct{}, inspectParallel)
	var wg sync.WaitGroup
	for i, s := range sums {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := d.c.cli.ContainerInspect(ctx, s.ID)
			switch {
			case err == nil:
				out[i], found[i] = instanceOf(c), true
			case classify(ctx, err) != ovm.KindNotFound:
				errs[i] = d.c.engineError(ctx, err, "", "inspect container %s", s.ID)
			}
		})
	}
	wg.Wait()
	res := make([]hypervisor.Instance, 0, len(sums))
	for i := range sums {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if found[i] {
			res = append(res, out[i])
		}
	}
	return res, nil
}

// Get returns one container.
func (d *Driver) Get(ctx context.Context, ref hypervisor.Ref) (hypervisor.Instance, error) {
	c, err := d.inspect(ctx, ref, "get")
	if err != nil {
		return hypervisor.Instance{}, err
	}
	return instanceOf(c), nil
}

// Close releases the connection; the storage, network and image drivers
// of the host share it.
func (d *Driver) Close() error { return d.c.cli.Close() }

// inspect finds the container ref names: by native id (or name) when set,
// else by its OVM id label.
func (d *Driver) inspect(ctx context.Context, ref hypervisor.Ref, op string) (container.InspectResponse, error) {
	if err := d.c.ctxErr(ctx, op+" "+ref.String()); err != nil {
		return container.InspectResponse{}, err
	}
	if ref.IsZero() {
		return container.InspectResponse{}, ovm.Invalid("no instance named", ovm.FieldError{Field: "ref", Reason: "must name an instance"})
	}
	id := ref.NativeID
	if id == "" {
		native, err := d.nativeOf(ctx, ref.ID)
		if err != nil {
			return container.InspectResponse{}, err
		}
		id = native
	}
	c, err := d.c.cli.ContainerInspect(ctx, id)
	if err != nil {
		if classify(ctx, err) == ovm.KindNotFound {
			return container.InspectResponse{}, ovm.Wrap(ovm.KindNotFound, err, "docker host %s: %s: instance %s not found", d.c.name, op, ref)
		}
		return container.InspectResponse{}, d.c.engineError(ctx, err, "", "%s %s", op, ref)
	}
	return c, nil
}

// nativeOf returns the id of the container labelled with OVM id id.
func (d *Driver) nativeOf(ctx context.Context, id ovm.ID) (string, error) {
	sums, err := d.c.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", LabelID+"="+string(id)))})
	if err != nil {
		return "", d.c.engineError(ctx, err, "", "find instance %s", id)
	}
	if len(sums) == 0 {
		return "", ovm.Errorf(ovm.KindNotFound, "docker host %s: instance %s not found", d.c.name, id)
	}
	return sums[0].ID, nil
}

// instanceOf converts an inspected container.
func instanceOf(c container.InspectResponse) hypervisor.Instance {
	inst := hypervisor.Instance{
		NativeID: c.ID,
		Name:     strings.TrimPrefix(c.Name, "/"),
		Type:     ovm.TypeContainer,
		Power:    ovm.PowerUnknown,
	}
	if c.Config != nil {
		inst.Image = ovm.ContainerImage(c.Config.Image)
		inst.Labels = c.Config.Labels
		inst.OVMID = ovm.ID(c.Config.Labels[LabelID])
		inst.VDCID = ovm.ID(c.Config.Labels[LabelVDC])
	}
	if hc := c.HostConfig; hc != nil {
		inst.CPU = ovm.MilliCPU(hc.NanoCPUs / 1e6)
		if hc.NanoCPUs == 0 && hc.CPUQuota > 0 && hc.CPUPeriod > 0 { // --cpu-quota/--cpu-period rather than --cpus
			inst.CPU = ovm.MilliCPU(hc.CPUQuota * 1000 / hc.CPUPeriod)
		}
		inst.Memory = ovm.Bytes(hc.Memory)
	}
	if c.State != nil {
		inst.Power = powerOf(c.State.Status)
	}
	if t, err := time.Parse(time.RFC3339Nano, c.Created); err == nil {
		inst.CreatedAt = t
	}
	if c.NetworkSettings != nil {
		for _, ep := range c.NetworkSettings.Networks {
			if ep == nil {
				continue
			}
			ip := ep.IPAddress
			if ip == "" && ep.IPAMConfig != nil {
				ip = ep.IPAMConfig.IPv4Address
			}
			if a, err := netip.ParseAddr(ip); err == nil {
				inst.Addresses = append(inst.Addresses, a)
			}
		}
		slices.SortFunc(inst.Addresses, func(a, b netip.Addr) int { return a.Compare(b) })
	}
	return inst
}

// powerOf maps the engine's container state to a power state.
func powerOf(status string) ovm.PowerState {
	switch status {
	case container.StateRunning, container.StateRestarting:
		return ovm.PowerRunning
	case container.StatePaused:
		return ovm.PowerPaused
	case container.StateCreated, container.StateExited, container.StateDead, container.StateRemoving:
		return ovm.PowerStopped
	}
	return ovm.PowerUnknown
}
