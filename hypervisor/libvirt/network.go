package libvirt

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	golibvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
)

var _ network.Driver = (*Networks)(nil)

// Networks is the network driver of a libvirt host: each OVM network is a
// libvirt network (UUID = OVM id, name = the network's name, or NAME-<short
// id> when another network of the host has the name, as another VDC's
// network of the same name; it is always looked up by UUID) realised as a
// Linux bridge "ovm<short id>" holding the gateway address, with libvirt's
// dnsmasq serving DHCP. An attachment is a DHCP host reservation (MAC,
// instance id as name, IP) in the network's definition, so that the
// instance gets the address IPAM chose by DHCP.
//
// VLANs: libvirt tags only Open vSwitch and passthrough networks, not Linux
// bridges; a tagged segment needs a bridge on a VLAN interface made on the
// host, which this driver does not make, so VLAN > 0 is ovm.ErrUnsupported.
// IPv6 networks are not offered either (ovm.ErrUnsupported).
type Networks struct {
	d  *Driver
	mu sync.Mutex // serialises read-check-update of a network's reservations
}

// Networks returns the host's network driver.
func (d *Driver) Networks() *Networks { return &Networks{d: d} }

// Capabilities: untagged IPv4 segments; an attachment is a DHCP
// reservation only, applied to running instances at their next DHCP
// request.
func (n *Networks) Capabilities() network.Capabilities {
	return network.Capabilities{HotAttach: true, Reservations: true}
}

// NetworkXML renders an OVM network as a libvirt network.
func NetworkXML(nw ovm.Network, hosts []libvirtxml.NetworkDHCPHost) *libvirtxml.Network {
	return &libvirtxml.Network{
		Name:   nw.Name,
		UUID:   string(nw.ID),
		Bridge: &libvirtxml.NetworkBridge{Name: "ovm" + nw.ID.Short(), STP: "off"},
		IPs: []libvirtxml.NetworkIP{{
			Address: nw.Gateway.String(), Prefix: uint(nw.Subnet.Bits()),
			DHCP: &libvirtxml.NetworkDHCP{Hosts: hosts},
		}},
	}
}

// CreateNetwork defines and starts the network, or returns the one with
// the same id. When another libvirt network has the name, this one is
// named NAME-<short id>.
func (n *Networks) CreateNetwork(ctx context.Context, nw ovm.Network) (network.Segment, error) {
	var f ovm.Fields
	if !nw.ID.Valid() {
		f.Add("id", "must be an OVM id (a lower-case UUID)")
	}
	f.Merge("", nw.Validate())
	if err := f.Err("invalid network"); err != nil {
		return network.Segment{}, err
	}
	if nw.VLAN > 0 {
		return network.Segment{}, ovm.Errorf(ovm.KindUnsupported, "libvirt: VLAN %d: libvirt networks on Linux bridges carry no VLAN tag", nw.VLAN)
	}
	if !nw.Subnet.Addr().Is4() {
		return network.Segment{}, ovm.Errorf(ovm.KindUnsupported, "libvirt: IPv6 network %s is not supported by this driver", nw.Subnet)
	}
	if !nw.Gateway.IsValid() {
		return network.Segment{}, ovm.Invalid("invalid network", ovm.FieldError{Field: "gateway", Reason: "is required: the bridge holds it"})
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if s, err := n.GetNetwork(ctx, nw.ID); err == nil {
		return s, nil
	} else if ovm.KindOf(err) != ovm.KindNotFound {
		return network.Segment{}, err
	}
	def := NetworkXML(nw, nil)
	net, err := n.define(ctx, def)
	if err != nil && n.nameTaken(ctx, nw) {
		def.Name = nativeName(nw.Name, nw.ID)
		net, err = n.define(ctx, def)
	}
	if err != nil {
		return network.Segment{}, wrap(err, "libvirt: define network %s", def.Name)
	}
	// Another driver may have defined and started it meanwhile: already
	// active is fine.
	if err := do(ctx, func() error { return n.d.l.NetworkCreate(net) }); err != nil && !isCode(err, golibvirt.ErrOperationInvalid) {
		_ = n.d.l.NetworkUndefine(net)
		return network.Segment{}, wrap(err, "libvirt: start network %s", nw.Name)
	}
	_ = do(ctx, func() error { return n.d.l.NetworkSetAutostart(net, 1) })
	return n.GetNetwork(ctx, nw.ID)
}

// define defines a network.
func (n *Networks) define(ctx context.Context, def *libvirtxml.Network) (golibvirt.Network, error) {
	x, err := def.Marshal()
	if err != nil {
		return golibvirt.Network{}, err
	}
	return rpc(ctx, func() (golibvirt.Network, error) { return n.d.l.NetworkDefineXML(x) })
}

// nameTaken tells whether a network of another UUID has nw's name.
func (n *Networks) nameTaken(ctx context.Context, nw ovm.Network) bool {
	net, err := rpc(ctx, func() (golibvirt.Network, error) { return n.d.l.NetworkLookupByName(nw.Name) })
	return err == nil && ovm.ID(uuidString(net.UUID)) != nw.ID
}

// nativeName is the libvirt name of network id named name when another
// network has the name.
func nativeName(name string, id ovm.ID) string { return name + "-" + id.Short() }

// lookup finds a network and reads its definition.
func (n *Networks) lookup(ctx context.Context, id ovm.ID) (golibvirt.Network, libvirtxml.Network, error) {
	var def libvirtxml.Network
	u, ok := parseUUID(string(id))
	if !ok {
		return golibvirt.Network{}, def, ovm.NotFound("network", id)
	}
	net, err := rpc(ctx, func() (golibvirt.Network, error) { return n.d.l.NetworkLookupByUUID(u) })
	if isCode(err, golibvirt.ErrNoNetwork) {
		return net, def, ovm.Errorf(ovm.KindNotFound, "network %s not found: %w", id, err)
	}
	if err != nil {
		return net, def, wrap(err, "libvirt: look up network %s", id)
	}
	x, err := rpc(ctx, func() (string, error) { return n.d.l.NetworkGetXMLDesc(net, 0) })
	if err != nil {
		return net, def, wrap(err, "libvirt: read network %s", net.Name)
	}
	if err := def.Unmarshal(x); err != nil {
		return net, def, fmt.Errorf("libvirt: parse network %s: %w", net.Name, err)
	}
	return net, def, nil
}

// segment turns a libvirt network into a segment.
func segment(net golibvirt.Network, def libvirtxml.Network) network.Segment {
	id := ovm.ID(uuidString(net.UUID))
	// The network's name, less the id suffix of a name another network had.
	nw := ovm.Network{ID: id, Name: strings.TrimSuffix(net.Name, "-"+id.Short())}
	for _, ip := range def.IPs {
		if a, err := netip.ParseAddr(ip.Address); err == nil && a.Is4() {
			nw.Gateway = a
			nw.Subnet = netip.PrefixFrom(a, int(ip.Prefix)).Masked()
		}
	}
	s := network.Segment{Network: nw, Mode: "bridge"}
	if def.Bridge != nil {
		s.NativeID = def.Bridge.Name
	}
	return s
}

// GetNetwork returns a network's segment.
func (n *Networks) GetNetwork(ctx context.Context, id ovm.ID) (network.Segment, error) {
	net, def, err := n.lookup(ctx, id)
	if err != nil {
		return network.Segment{}, err
	}
	return segment(net, def), nil
}

// ListNetworks lists the OVM networks of the host (bridges named ovm...).
func (n *Networks) ListNetworks(ctx context.Context) ([]network.Segment, error) {
	nets, err := rpc(ctx, func() ([]golibvirt.Network, error) {
		x, _, err := n.d.l.ConnectListAllNetworks(1, 0)
		return x, err
	})
	if err != nil {
		return nil, wrap(err, "libvirt: list networks")
	}
	var out []network.Segment
	for _, net := range nets {
		_, def, err := n.lookup(ctx, ovm.ID(uuidString(net.UUID)))
		if ovm.KindOf(err) == ovm.KindNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		if def.Bridge != nil && strings.HasPrefix(def.Bridge.Name, "ovm") {
			out = append(out, segment(net, def))
		}
	}
	return out, nil
}

// hosts returns the DHCP reservations of a network definition.
func hosts(def libvirtxml.Network) []libvirtxml.NetworkDHCPHost {
	var out []libvirtxml.NetworkDHCPHost
	for _, ip := range def.IPs {
		if ip.DHCP != nil {
			out = append(out, ip.DHCP.Hosts...)
		}
	}
	return out
}

// DeleteNetwork stops and undefines a network without attachments.
func (n *Networks) DeleteNetwork(ctx context.Context, id ovm.ID) error {
	net, def, err := n.lookup(ctx, id)
	if err != nil {
		return err
	}
	if h := hosts(def); len(h) > 0 {
		return ovm.Errorf(ovm.KindConflict, "network %s has %d attachments", net.Name, len(h))
	}
	if err := do(ctx, func() error { return n.d.l.NetworkDestroy(net) }); err != nil && !isCode(err, golibvirt.ErrOperationInvalid) {
		return wrap(err, "libvirt: stop network %s", net.Name)
	}
	return wrap(do(ctx, func() error { return n.d.l.NetworkUndefine(net) }), "libvirt: undefine network %s", net.Name)
}

// macOf derives a locally administered MAC from an instance id.
func macOf(id ovm.ID) string {
	h := strings.ReplaceAll(string(id), "-", "")
	return fmt.Sprintf("52:54:%s:%s:%s:%s", h[0:2], h[2:4], h[4:6], h[6:8])
}

// Attach reserves ip (and mac) for the instance on the network.
func (n *Networks) Attach(ctx context.Context, networkID, instanceID ovm.ID, spec network.AttachSpec) (network.Attachment, error) {
	net, def, err := n.lookup(ctx, networkID)
	if err != nil {
		return network.Attachment{}, err
	}
	seg := segment(net, def)
	var f ovm.Fields
	if !spec.IP.IsValid() || !seg.Network.Subnet.Contains(spec.IP) {
		f.Addf("ip", "must be an address of %s", seg.Network.Subnet)
	}
	mac := macOf(instanceID)
	if spec.MAC != "" {
		m, err := ovm.ParseMAC(spec.MAC)
		if err != nil {
			f.Merge("", err)
		}
		mac = m
	}
	if err := f.Err("invalid attachment"); err != nil {
		return network.Attachment{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, def, err = n.lookup(ctx, networkID); err != nil {
		return network.Attachment{}, err
	}
	for _, h := range hosts(def) {
		switch {
		case h.Name == string(instanceID):
			return network.Attachment{}, ovm.Errorf(ovm.KindConflict, "instance %s is already attached to network %s", instanceID, net.Name)
		case h.IP == spec.IP.String():
			return network.Attachment{}, ovm.Errorf(ovm.KindConflict, "address %s is attached to %s on network %s", spec.IP, h.Name, net.Name)
		case strings.EqualFold(h.MAC, mac):
			return network.Attachment{}, ovm.Errorf(ovm.KindConflict, "MAC %s is attached to %s on network %s", mac, h.Name, net.Name)
		}
	}
	x, err := (&libvirtxml.NetworkDHCPHost{MAC: mac, Name: string(instanceID), IP: spec.IP.String()}).Marshal()
	if err != nil {
		return network.Attachment{}, err
	}
	if err := do(ctx, func() error {
		return n.d.l.NetworkUpdateCompat(net, golibvirt.NetworkUpdateCommandAddLast, golibvirt.NetworkSectionIPDhcpHost, -1, x,
			golibvirt.NetworkUpdateAffectLive|golibvirt.NetworkUpdateAffectConfig)
	}); err != nil {
		return network.Attachment{}, wrap(err, "libvirt: reserve %s on network %s", spec.IP, net.Name)
	}
	return network.Attachment{NetworkID: networkID, InstanceID: instanceID, MAC: mac, IP: spec.IP}, nil
}

// Detach removes the instance's reservation.
func (n *Networks) Detach(ctx context.Context, networkID, instanceID ovm.ID) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	net, def, err := n.lookup(ctx, networkID)
	if err != nil {
		return err
	}
	for _, h := range hosts(def) {
		if h.Name != string(instanceID) {
			continue
		}
		x, err := (&h).Marshal()
		if err != nil {
			return err
		}
		return wrap(do(ctx, func() error {
			return n.d.l.NetworkUpdateCompat(net, golibvirt.NetworkUpdateCommandDelete, golibvirt.NetworkSectionIPDhcpHost, -1, x,
				golibvirt.NetworkUpdateAffectLive|golibvirt.NetworkUpdateAffectConfig)
		}), "libvirt: release %s on network %s", h.IP, net.Name)
	}
	return ovm.NotFound("attachment of instance "+string(instanceID)+" to network", networkID)
}

// Attachments lists the network's reservations.
func (n *Networks) Attachments(ctx context.Context, networkID ovm.ID) ([]network.Attachment, error) {
	_, def, err := n.lookup(ctx, networkID)
	if err != nil {
		return nil, err
	}
	out := []network.Attachment{}
	for _, h := range hosts(def) {
		ip, _ := netip.ParseAddr(h.IP)
		out = append(out, network.Attachment{NetworkID: networkID, InstanceID: ovm.ID(h.Name), MAC: strings.ToLower(h.MAC), IP: ip})
	}
	return out, nil
}
