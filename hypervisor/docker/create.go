package docker

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/versions"
	"github.com/docker/go-connections/nat"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// Create makes a stopped container from spec: its image (which must be on
// the host already: see EnsureImage; a missing one is ovm.ErrNotFound
// naming it), CPU and memory limits, command,
// environment, restart policy, published ports, volumes and NICs, with the
// OVM id and VDC as labels. A second Create with the same id returns the
// container the first made; with another name it is ovm.ErrConflict, as is
// a name or a published host port already taken. A failed Create leaves
// nothing on the host.
func (d *Driver) Create(ctx context.Context, spec hypervisor.CreateSpec) (hypervisor.Instance, error) {
	if err := d.c.ctxErr(ctx, "create "+spec.Name); err != nil {
		return hypervisor.Instance{}, err
	}
	if err := d.validate(spec); err != nil {
		return hypervisor.Instance{}, err
	}
	unlock, err := d.c.locks.lock(ctx, string(spec.ID))
	if err != nil {
		return hypervisor.Instance{}, d.c.engineError(ctx, err, "", "create %s", spec.Name)
	}
	defer unlock()

	if inst, found, err := d.existing(ctx, spec); found || err != nil {
		return inst, err
	}
	if err := d.checkPorts(ctx, spec); err != nil {
		return hypervisor.Instance{}, err
	}
	if spec.NICs, err = d.networkNames(ctx, spec.NICs); err != nil {
		return hypervisor.Instance{}, err
	}
	cfg, err := containerConfig(spec, d.c.api)
	if err != nil {
		return hypervisor.Instance{}, err
	}
	resp, err := d.c.cli.ContainerCreate(ctx, cfg.config, cfg.host, cfg.network, nil, spec.Name)
	if err != nil {
		if classify(ctx, err) == ovm.KindConflict {
			// Another Create of this id (another process, a retry) may
			// have won the name.
			if inst, found, ferr := d.winner(ctx, spec); found || ferr != nil {
				return inst, ferr
			}
		}
		return hypervisor.Instance{}, d.createError(ctx, err, spec)
	}
	for _, nic := range cfg.extraNICs {
		if err := d.c.cli.NetworkConnect(ctx, bridgeOf(nic), resp.ID, endpoint(nic, d.c.api)); err != nil {
			d.removeQuietly(resp.ID)
			return hypervisor.Instance{}, d.c.engineError(ctx, err, "", "create %s: connect to network %s", spec.Name, bridgeOf(nic))
		}
	}
	c, err := d.c.cli.ContainerInspect(ctx, resp.ID)
	if err != nil {
		return hypervisor.Instance{}, d.c.engineError(ctx, err, "", "create %s: inspect", spec.Name)
	}
	return instanceOf(c), nil
}

// validate checks spec, then what this host can give.
func (d *Driver) validate(spec hypervisor.CreateSpec) error {
	var f ovm.Fields
	f.Merge("", spec.Validate())
	if spec.Spec.Type != ovm.TypeContainer && spec.Spec.Type != "" {
		f.Addf("spec.type", "a docker host runs containers, not %q", spec.Spec.Type)
	}
	f = append(f, d.sizeFields("spec.", spec.Spec.CPU, spec.Spec.Memory)...)
	for i, pm := range spec.Spec.Ports {
		if pm.HostIP.IsValid() && !pm.HostIP.IsUnspecified() && !pm.HostIP.IsLoopback() && !pm.HostIP.IsPrivate() && !pm.HostIP.IsGlobalUnicast() {
			f.Addf(fmt.Sprintf("spec.ports[%d].hostIp", i), "must be a unicast address")
		}
	}
	return f.Err("invalid create spec")
}

// sizeFields refuses a CPU or memory size the host cannot give: more
// CPUs or memory than it has, memory below the engine's 6 MiB minimum.
// Zero sizes are not checked.
func (d *Driver) sizeFields(prefix string, cpu ovm.MilliCPU, mem ovm.Bytes) ovm.Fields {
	var f ovm.Fields
	if maxCPU := ovm.CPUs(int64(d.c.ncpu)); cpu > 0 && d.c.ncpu > 0 && cpu > maxCPU {
		f.Addf(prefix+"cpuMilli", "%s is more than the host's %s", cpu, maxCPU)
	}
	switch {
	case mem > 0 && d.c.memTotal > 0 && mem > d.c.memTotal:
		f.Addf(prefix+"memoryBytes", "%s is more than the host's %s", mem, d.c.memTotal)
	case mem >= ovm.MinMemory && mem < minDockerMemory:
		f.Addf(prefix+"memoryBytes", "must be at least %s on docker", minDockerMemory)
	}
	return f
}

// existing returns the container that carries spec's id: found with its
// instance when its name is spec's, ovm.ErrConflict when it is another.
func (d *Driver) existing(ctx context.Context, spec hypervisor.CreateSpec) (hypervisor.Instance, bool, error) {
	native, err := d.nativeOf(ctx, spec.ID)
	if classify(ctx, err) == ovm.KindNotFound {
		return hypervisor.Instance{}, false, nil
	}
	if err != nil {
		return hypervisor.Instance{}, false, err
	}
	c, err := d.c.cli.ContainerInspect(ctx, native)
	if err != nil {
		return hypervisor.Instance{}, false, d.c.engineError(ctx, err, "", "create %s: inspect", spec.Name)
	}
	inst := instanceOf(c)
	if inst.Name != spec.Name {
		return hypervisor.Instance{}, false, ovm.Errorf(ovm.KindConflict,
			"docker host %s: create %s: id %s is already container %q (%s)", d.c.name, spec.Name, spec.ID, inst.Name, inst.NativeID)
	}
	return inst, true, nil
}

// winner finds the container another Create of spec's id made when ours
// lost the name to it. The engine reserves a name a moment before it lists
// the container, so it looks again for up to nameSettle, within ctx; a
// container of that name without spec's id is no winner.
func (d *Driver) winner(ctx context.Context, spec hypervisor.CreateSpec) (hypervisor.Instance, bool, error) {
	deadline := time.Now().Add(nameSettle)
	for {
		if inst, found, err := d.existing(ctx, spec); found || err != nil {
			return inst, found, err
		}
		if c, err := d.c.cli.ContainerInspect(ctx, spec.Name); err == nil && c.Config != nil && c.Config.Labels[LabelID] != string(spec.ID) {
			return hypervisor.Instance{}, false, nil
		}
		if time.Now().After(deadline) {
			return hypervisor.Instance{}, false, nil
		}
		select {
		case <-ctx.Done():
			return hypervisor.Instance{}, false, d.c.engineError(ctx, ctx.Err(), "", "create %s", spec.Name)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// nameSettle bounds how long Create waits for the winner of a name.
const nameSettle = 5 * time.Second

// checkPorts refuses host ports that another container already publishes.
func (d *Driver) checkPorts(ctx context.Context, spec hypervisor.CreateSpec) error {
	want := map[string]bool{}
	for _, pm := range spec.Spec.Ports {
		if pm.HostPort != 0 {
			want[fmt.Sprintf("%d/%s", pm.HostPort, protocol(pm))] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	sums, err := d.c.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs()})
	if err != nil {
		return d.c.engineError(ctx, err, "", "create %s: list published ports", spec.Name)
	}
	for _, s := range sums {
		for _, p := range s.Ports {
			if p.PublicPort != 0 && want[fmt.Sprintf("%d/%s", p.PublicPort, p.Type)] {
				return ovm.Errorf(ovm.KindConflict, "docker host %s: create %s: host port %d/%s is already published by container %s",
					d.c.name, spec.Name, p.PublicPort, p.Type, s.ID[:12])
			}
		}
		// A stopped container keeps its bindings for its next start.
		if s.State != container.StateRunning {
			c, err := d.c.cli.ContainerInspect(ctx, s.ID)
			if err != nil || c.HostConfig == nil {
				continue
			}
			for port, bs := range c.HostConfig.PortBindings {
				for _, b := range bs {
					if b.HostPort != "" && want[b.HostPort+"/"+port.Proto()] {
						return ovm.Errorf(ovm.KindConflict, "docker host %s: create %s: host port %s/%s is already bound by container %s",
							d.c.name, spec.Name, b.HostPort, port.Proto(), s.ID[:12])
					}
				}
			}
		}
	}
	return nil
}

// createError translates a refused ContainerCreate, naming the field.
func (d *Driver) createError(ctx context.Context, err error, spec hypervisor.CreateSpec) error {
	field := ""
	switch classify(ctx, err) {
	case ovm.KindNotFound:
		if d.imageMissing(ctx, err, spec.Spec.Image.Name) {
			return ovm.Wrap(ovm.KindNotFound, err, "docker host %s: create %s: image %q is not on the host (pull it first)", d.c.name, spec.Name, spec.Spec.Image.Name)
		}
		// Something else is missing: a network of a NIC, say.
		return d.c.engineError(ctx, err, "", "create %s", spec.Name)
	case ovm.KindInvalid:
		field = "spec"
		if msg := err.Error(); containsAny(msg, "reference format", "repository name") {
			field = "spec.image.name"
		} else if containsAny(msg, "container name") {
			field = "name"
		} else if containsAny(msg, "memory") {
			field = "spec.memoryBytes"
		}
	}
	return d.c.engineError(ctx, err, field, "create %s", spec.Name)
}

// imageMissing reports whether a create refused as not found was refused
// for its image: the engine says so ("No such image"), or the image is not
// on the host when asked.
func (d *Driver) imageMissing(ctx context.Context, err error, image string) bool {
	if containsAny(err.Error(), "no such image") {
		return true
	}
	_, ierr := d.c.cli.ImageInspect(ctx, image)
	return ierr != nil && classify(ctx, ierr) == ovm.KindNotFound
}

// removeQuietly removes a container made by a failed Create, on its own
// short context so that a cancelled caller leaves nothing behind.
func (d *Driver) removeQuietly(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	_ = d.c.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
}

// createConfig is what ContainerCreate takes, and the NICs connected
// after it.
type createConfig struct {
	config    *container.Config
	host      *container.HostConfig
	network   *network.NetworkingConfig
	extraNICs []hypervisor.NICAttachment
}

// containerConfig translates spec into the engine's create request for an
// engine speaking API version api. It does no I/O.
func containerConfig(spec hypervisor.CreateSpec, api string) (createConfig, error) {
	s := spec.Spec
	labels := maps.Clone(s.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelID] = string(spec.ID)
	if spec.VDCID != "" {
		labels[LabelVDC] = string(spec.VDCID)
	}
	cfg := &container.Config{
		Image:     s.Image.Name,
		Cmd:       s.Command,
		Labels:    labels,
		Hostname:  s.Hostname,
		OpenStdin: true,
	}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		cfg.Env = append(cfg.Env, k+"="+s.Env[k])
	}
	host := &container.HostConfig{
		Resources: container.Resources{
			NanoCPUs:   int64(s.CPU) * 1e6,
			Memory:     int64(s.Memory),
			MemorySwap: int64(s.Memory), // no swap beyond the limit
		},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyMode(s.RestartPolicy)},
	}
	if s.RestartPolicy == "" {
		host.RestartPolicy.Name = container.RestartPolicyDisabled
	}
	if len(s.Ports) > 0 {
		cfg.ExposedPorts = nat.PortSet{}
		host.PortBindings = nat.PortMap{}
		for _, pm := range s.Ports {
			port := nat.Port(fmt.Sprintf("%d/%s", pm.ContainerPort, protocol(pm)))
			cfg.ExposedPorts[port] = struct{}{}
			b := nat.PortBinding{}
			if pm.HostIP.IsValid() {
				b.HostIP = pm.HostIP.String()
			}
			if pm.HostPort != 0 {
				b.HostPort = strconv.Itoa(int(pm.HostPort))
			}
			host.PortBindings[port] = append(host.PortBindings[port], b)
		}
	}
	for i, disk := range spec.Disks {
		if disk.MountPath == "" {
			return createConfig{}, ovm.Invalid("invalid create spec", ovm.FieldError{Field: fmt.Sprintf("disks[%d].mountPath", i), Reason: "is required for a container volume"})
		}
		name := volumeName(disk.Volume)
		if disk.Pool.Kind.Shared() {
			// A directory of the path every host sees; the engine makes it
			// on first use.
			host.Binds = append(host.Binds, sharedDir(disk.Pool, name)+":"+disk.MountPath)
			continue
		}
		host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeVolume, Source: name, Target: disk.MountPath})
	}
	var netCfg *network.NetworkingConfig
	if len(spec.NICs) > 0 {
		first := spec.NICs[0]
		host.NetworkMode = container.NetworkMode(bridgeOf(first))
		netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{bridgeOf(first): endpoint(first, api)}}
		if first.MAC != "" && versions.LessThan(api, "1.44") {
			cfg.MacAddress = first.MAC //nolint:staticcheck // the only way before API 1.44
		}
	}
	var extra []hypervisor.NICAttachment
	if len(spec.NICs) > 1 {
		extra = spec.NICs[1:]
	}
	return createConfig{config: cfg, host: host, network: netCfg, extraNICs: extra}, nil
}

// endpoint is a NIC's endpoint settings: the address IPAM chose, and the
// MAC where the API takes one per network (1.44 and later).
func endpoint(nic hypervisor.NICAttachment, api string) *network.EndpointSettings {
	ep := &network.EndpointSettings{}
	if nic.IP.IsValid() {
		ep.IPAMConfig = &network.EndpointIPAMConfig{}
		if nic.IP.Is4() {
			ep.IPAMConfig.IPv4Address = nic.IP.String()
		} else {
			ep.IPAMConfig.IPv6Address = nic.IP.String()
		}
	}
	if nic.MAC != "" && !versions.LessThan(api, "1.44") {
		ep.MacAddress = nic.MAC
	}
	return ep
}

// networkNames names the Docker network of each NIC whose segment is
// given by its engine id: the engine applies a container's MAC address
// only on the network its network mode names by name.
func (d *Driver) networkNames(ctx context.Context, nics []hypervisor.NICAttachment) ([]hypervisor.NICAttachment, error) {
	var out []hypervisor.NICAttachment
	for i, nic := range nics {
		if engineID.MatchString(nic.Bridge) {
			if out == nil {
				out = slices.Clone(nics)
			}
			nw, err := d.c.cli.NetworkInspect(ctx, nic.Bridge, network.InspectOptions{})
			if err != nil {
				return nil, d.c.engineError(ctx, err, "", "network %s of nics[%d]", nic.Network.Name, i)
			}
			out[i].Bridge = nw.Name
		}
	}
	if out == nil {
		return nics, nil
	}
	return out, nil
}

// engineID matches the engine's own ids (64 hex digits).
var engineID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// bridgeOf is the Docker network a NIC joins: the segment's engine id or
// name (Bridge) when the network driver gave one, else the network's name
// (a Docker network OVM made is named after its network, or after its
// name and id when another network had the name).
func bridgeOf(nic hypervisor.NICAttachment) string {
	if nic.Bridge != "" {
		return nic.Bridge
	}
	return nic.Network.Name
}

// protocol is a port mapping's protocol, tcp by default.
func protocol(pm ovm.PortMapping) string {
	if pm.Protocol == "" {
		return "tcp"
	}
	return string(pm.Protocol)
}

// addrString renders an address, or "" for none.
func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
