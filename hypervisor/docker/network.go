package docker

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/versions"

	"github.com/openovm/ovm/hypervisor"
	ovmnet "github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
)

// Labels of networks, beside LabelID and LabelName.
const (
	labelVLAN    = "org.openovm.vlan"
	labelGateway = "org.openovm.gateway"
	labelRanges  = "org.openovm.ranges"
	labelSubnet  = "org.openovm.subnet"
)

// NetworkOptions configures how segments are made on a host.
type NetworkOptions struct {
	// Uplink is the host interface that carries the segments' VLANs (such
	// as "eth1"). With it, a segment is a macvlan network on the VLAN
	// sub-interface UPLINK.VLAN (the uplink itself when untagged), which
	// the engine creates; without it, a segment is a bridge network of
	// this host only and cannot carry a VLAN.
	Uplink string
}

// Networks is the host's network driver: an OVM segment is a Docker
// network (bridge, or macvlan on the uplink), and an instance's address is
// the one OVM's IPAM chose, set statically on its endpoint.
type Networks struct {
	c    *conn
	opts NetworkOptions
}

var _ ovmnet.Driver = (*Networks)(nil)

// Networks returns the host's network driver, sharing the driver's
// connection.
func (d *Driver) Networks(opts NetworkOptions) *Networks { return &Networks{c: d.c, opts: opts} }

// Capabilities: VLANs when an uplink is configured, IPv6, attach to
// running containers.
func (n *Networks) Capabilities() ovmnet.Capabilities {
	return ovmnet.Capabilities{VLAN: n.opts.Uplink != "", IPv6: true, HotAttach: true}
}

// CreateNetwork makes the Docker network of a segment, or returns the one
// with the same id.
func (n *Networks) CreateNetwork(ctx context.Context, net ovm.Network) (ovmnet.Segment, error) {
	if err := n.c.ctxErr(ctx, "create network "+net.Name); err != nil {
		return ovmnet.Segment{}, err
	}
	var f ovm.Fields
	if !net.ID.Valid() {
		f.Add("id", "must be an OVM id (a lower-case UUID)")
	}
	f.Merge("", net.Validate())
	if err := f.Err("invalid network"); err != nil {
		return ovmnet.Segment{}, err
	}
	if net.VLAN != 0 && n.opts.Uplink == "" {
		return ovmnet.Segment{}, ovm.Errorf(ovm.KindUnsupported, "docker host %s: create network %s: VLAN %d needs an uplink (a bridge network carries no VLAN)", n.c.name, net.Name, net.VLAN)
	}
	unlock, err := n.c.locks.lock(ctx, string(net.ID))
	if err != nil {
		return ovmnet.Segment{}, n.c.engineError(ctx, err, "", "create network %s", net.Name)
	}
	defer unlock()
	if s, err := n.GetNetwork(ctx, net.ID); err == nil {
		return s, nil
	} else if !isKind(err, ovm.KindNotFound) {
		return ovmnet.Segment{}, err
	}
	_, err = n.c.cli.NetworkCreate(ctx, net.Name, networkCreate(net, n.opts.Uplink))
	if err != nil && classify(ctx, err) == ovm.KindConflict {
		// Another network has the name (another VDC's of the same name):
		// this one is named after its id too; NICs join it by engine id.
		if _, gerr := n.GetNetwork(ctx, net.ID); isKind(gerr, ovm.KindNotFound) {
			_, err = n.c.cli.NetworkCreate(ctx, net.Name+"-"+net.ID.Short(), networkCreate(net, n.opts.Uplink))
		}
	}
	if err != nil {
		if classify(ctx, err) == ovm.KindConflict {
			if s, gerr := n.GetNetwork(ctx, net.ID); gerr == nil {
				return s, nil
			}
		}
		return ovmnet.Segment{}, n.c.engineError(ctx, err, "", "create network %s", net.Name)
	}
	return n.GetNetwork(ctx, net.ID)
}

// networkCreate is the engine's create request for a segment: a bridge,
// or a macvlan on uplink (its VLAN sub-interface when tagged). No I/O.
func networkCreate(net ovm.Network, uplink string) network.CreateOptions {
	ipam := network.IPAMConfig{Subnet: net.Subnet.String()}
	if net.Gateway.IsValid() {
		ipam.Gateway = net.Gateway.String()
	}
	var ranges []string
	for _, r := range net.Ranges {
		ranges = append(ranges, r.Start.String()+"-"+r.End.String())
	}
	v6 := net.Subnet.Addr().Is6()
	opts := network.CreateOptions{
		Driver:     "bridge",
		EnableIPv6: &v6,
		IPAM:       &network.IPAM{Driver: "default", Config: []network.IPAMConfig{ipam}},
		Labels: map[string]string{
			LabelID: string(net.ID), LabelName: net.Name, labelVLAN: strconv.Itoa(net.VLAN),
			labelGateway: addrString(net.Gateway), labelRanges: strings.Join(ranges, ","),
			labelSubnet: net.Subnet.String(),
		},
	}
	if uplink != "" {
		parent := uplink
		if net.VLAN != 0 {
			parent = fmt.Sprintf("%s.%d", uplink, net.VLAN)
		}
		opts.Driver = "macvlan"
		opts.Options = map[string]string{"parent": parent, "macvlan_mode": "bridge"}
	}
	return opts
}

// GetNetwork returns the segment of network id.
func (n *Networks) GetNetwork(ctx context.Context, id ovm.ID) (ovmnet.Segment, error) {
	if err := n.c.ctxErr(ctx, "get network "+string(id)); err != nil {
		return ovmnet.Segment{}, err
	}
	nets, err := n.c.cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelID+"="+string(id)))})
	if err != nil {
		return ovmnet.Segment{}, n.c.engineError(ctx, err, "", "get network %s", id)
	}
	if len(nets) == 0 {
		return ovmnet.Segment{}, ovm.Errorf(ovm.KindNotFound, "docker host %s: network %s not found", n.c.name, id)
	}
	return segmentOf(nets[0]), nil
}

// ListNetworks returns the segments OVM made on the host.
func (n *Networks) ListNetworks(ctx context.Context) ([]ovmnet.Segment, error) {
	if err := n.c.ctxErr(ctx, "list networks"); err != nil {
		return nil, err
	}
	nets, err := n.c.cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelID))})
	if err != nil {
		return nil, n.c.engineError(ctx, err, "", "list networks")
	}
	out := make([]ovmnet.Segment, 0, len(nets))
	for _, s := range nets {
		out = append(out, segmentOf(s))
	}
	return out, nil
}

// DeleteNetwork removes a segment no container is attached to.
func (n *Networks) DeleteNetwork(ctx context.Context, id ovm.ID) error {
	s, err := n.GetNetwork(ctx, id)
	if err != nil {
		return err
	}
	atts, err := n.attachments(ctx, s, true)
	if err != nil {
		return err
	}
	if len(atts) > 0 {
		return ovm.Errorf(ovm.KindConflict, "docker host %s: delete network %s: %d containers are attached", n.c.name, id, len(atts))
	}
	err = n.c.cli.NetworkRemove(ctx, s.NativeID)
	return n.c.engineError(ctx, err, "", "delete network %s", id)
}

// Attach connects the container of instance inst to a segment with the
// address IPAM chose. A MAC needs API 1.44 (engine 25) or later; older
// engines set a MAC only on a container's first network, at create
// (hypervisor.NICAttachment.MAC), and refuse one here with
// ovm.ErrUnsupported.
func (n *Networks) Attach(ctx context.Context, networkID, inst ovm.ID, spec ovmnet.AttachSpec) (ovmnet.Attachment, error) {
	s, err := n.GetNetwork(ctx, networkID)
	if err != nil {
		return ovmnet.Attachment{}, err
	}
	var f ovm.Fields
	if spec.IP.IsValid() && !s.Network.Subnet.Contains(spec.IP) {
		f.Addf("ip", "%s is outside subnet %s", spec.IP, s.Network.Subnet)
	}
	if spec.MAC != "" {
		if _, err := ovm.ParseMAC(spec.MAC); err != nil {
			f.Merge("", err)
		}
	}
	if err := f.Err("invalid attachment"); err != nil {
		return ovmnet.Attachment{}, err
	}
	if spec.MAC != "" && versions.LessThan(n.c.api, "1.44") {
		return ovmnet.Attachment{}, ovm.Errorf(ovm.KindUnsupported, "docker host %s: attach %s to %s: engine API %s sets a MAC only on a container's first network at create (per-network MACs need API 1.44)", n.c.name, inst, s.Network.Name, n.c.api)
	}
	c, err := n.container(ctx, inst)
	if err != nil {
		return ovmnet.Attachment{}, err
	}
	atts, err := n.attachments(ctx, s, false)
	if err != nil {
		return ovmnet.Attachment{}, err
	}
	for _, a := range atts {
		switch {
		case a.InstanceID == inst:
			return ovmnet.Attachment{}, ovm.Errorf(ovm.KindConflict, "docker host %s: instance %s is already attached to network %s", n.c.name, inst, s.Network.Name)
		case spec.IP.IsValid() && a.IP == spec.IP:
			return ovmnet.Attachment{}, ovm.Errorf(ovm.KindConflict, "docker host %s: address %s is already attached to network %s (instance %s)", n.c.name, spec.IP, s.Network.Name, a.InstanceID)
		}
	}
	ep := endpointFor(spec.IP, spec.MAC, n.c.api)
	if err := n.c.cli.NetworkConnect(ctx, s.NativeID, c.ID, ep); err != nil {
		return ovmnet.Attachment{}, n.c.engineError(ctx, err, "", "attach %s to network %s", inst, s.Network.Name)
	}
	atts, err = n.attachments(ctx, s, false)
	if err != nil {
		return ovmnet.Attachment{}, err
	}
	for _, a := range atts {
		if a.InstanceID == inst {
			return a, nil
		}
	}
	return ovmnet.Attachment{}, ovm.Errorf(ovm.KindInternal, "docker host %s: attach %s to network %s: the engine does not list it", n.c.name, inst, s.Network.Name)
}

// endpointFor is the endpoint of a NIC with ip and mac.
func endpointFor(ip netip.Addr, mac, api string) *network.EndpointSettings {
	return endpoint(hypervisor.NICAttachment{IP: ip, MAC: mac}, api)
}

// Detach disconnects an instance's container from a segment.
func (n *Networks) Detach(ctx context.Context, networkID, inst ovm.ID) error {
	s, err := n.GetNetwork(ctx, networkID)
	if err != nil {
		return err
	}
	atts, err := n.attachments(ctx, s, false)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(atts, func(a ovmnet.Attachment) bool { return a.InstanceID == inst }) {
		return ovm.Errorf(ovm.KindNotFound, "docker host %s: instance %s is not attached to network %s", n.c.name, inst, s.Network.Name)
	}
	c, err := n.container(ctx, inst)
	if err != nil {
		return err
	}
	err = n.c.cli.NetworkDisconnect(ctx, s.NativeID, c.ID, false)
	return n.c.engineError(ctx, err, "", "detach %s from network %s", inst, s.Network.Name)
}

// Attachments lists the managed containers attached to a segment.
func (n *Networks) Attachments(ctx context.Context, networkID ovm.ID) ([]ovmnet.Attachment, error) {
	s, err := n.GetNetwork(ctx, networkID)
	if err != nil {
		return nil, err
	}
	return n.attachments(ctx, s, false)
}

// attachments lists the containers on segment s; unmanaged ones only when
// all is set (their InstanceID is empty).
func (n *Networks) attachments(ctx context.Context, s ovmnet.Segment, all bool) ([]ovmnet.Attachment, error) {
	sums, err := n.c.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("network", s.NativeID))})
	if err != nil {
		return nil, n.c.engineError(ctx, err, "", "list the containers of network %s", s.Network.Name)
	}
	nativeName := s.NativeID
	out := []ovmnet.Attachment{}
	for _, c := range sums {
		id := ovm.ID(c.Labels[LabelID])
		if id == "" && !all {
			continue
		}
		if c.NetworkSettings == nil {
			continue
		}
		for _, ep := range c.NetworkSettings.Networks {
			if ep == nil || (ep.NetworkID != nativeName && ep.NetworkID != "") {
				continue
			}
			a := ovmnet.Attachment{NetworkID: s.Network.ID, InstanceID: id}
			ip := ep.IPAddress
			if s.Network.Subnet.Addr().Is6() {
				ip = ep.GlobalIPv6Address
			}
			if ip == "" && ep.IPAMConfig != nil {
				ip = ep.IPAMConfig.IPv4Address
				if s.Network.Subnet.Addr().Is6() {
					ip = ep.IPAMConfig.IPv6Address
				}
			}
			if a2, err := netip.ParseAddr(ip); err == nil {
				a.IP = a2
			}
			if mac, err := ovm.ParseMAC(ep.MacAddress); err == nil {
				a.MAC = mac
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// container finds the container of a managed instance.
func (n *Networks) container(ctx context.Context, inst ovm.ID) (container.Summary, error) {
	sums, err := n.c.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", LabelID+"="+string(inst)))})
	if err != nil {
		return container.Summary{}, n.c.engineError(ctx, err, "", "find instance %s", inst)
	}
	if len(sums) == 0 {
		return container.Summary{}, ovm.Errorf(ovm.KindNotFound, "docker host %s: instance %s not found", n.c.name, inst)
	}
	return sums[0], nil
}

// segmentOf converts a Docker network OVM made.
func segmentOf(s network.Summary) ovmnet.Segment {
	net := ovm.Network{ID: ovm.ID(s.Labels[LabelID]), Name: s.Labels[LabelName], CreatedAt: s.Created}
	net.VLAN, _ = strconv.Atoi(s.Labels[labelVLAN])
	net.Subnet, _ = netip.ParsePrefix(s.Labels[labelSubnet])
	net.Gateway, _ = netip.ParseAddr(s.Labels[labelGateway])
	for _, r := range strings.Split(s.Labels[labelRanges], ",") {
		lo, hi, ok := strings.Cut(r, "-")
		if !ok {
			continue
		}
		start, err1 := netip.ParseAddr(lo)
		end, err2 := netip.ParseAddr(hi)
		if err1 == nil && err2 == nil {
			net.Ranges = append(net.Ranges, ovm.AddrRange{Start: start, End: end})
		}
	}
	return ovmnet.Segment{Network: net, NativeID: s.ID, Mode: s.Driver}
}
