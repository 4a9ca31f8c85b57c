package esxi

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
)

// Network is the network driver of one ESXi host: each OVM network is a
// port group with its VLAN id on a standard vSwitch (Config.VSwitch), and an
// attachment is a VM NIC on that port group, with its address recorded in
// the VM's extraConfig (ovm.net.<network id>). A port group cannot hold the
// network's subnet, gateway and ranges, so they are kept in
// .ovm/networks/<id>.json on the host's default datastore. Its methods are
// safe for concurrent use.
type Network struct {
	c *conn
}

var _ network.Driver = (*Network)(nil)

// netMetaDir is where network definitions live on the default datastore.
const netMetaDir = ".ovm/networks"

// DefaultVSwitch is the standard vSwitch port groups go on when
// Config.VSwitch is empty.
const DefaultVSwitch = "vSwitch0"

// Capabilities: VLAN ids on port groups, IPv6 (the subnet is OVM's
// bookkeeping; the port group is L2), NICs added to running VMs.
func (n *Network) Capabilities() network.Capabilities {
	return network.Capabilities{VLAN: true, IPv6: true, HotAttach: true}
}

func (c *conn) vswitch() string { return cmp.Or(c.cfg.VSwitch, DefaultVSwitch) }

// portGroups reads the host's port groups by name.
func (c *conn) portGroups(ctx context.Context) (map[string]types.HostPortGroupSpec, error) {
	var ns mo.HostNetworkSystem
	if err := property.DefaultCollector(c.client).RetrieveOne(ctx, c.netSystem, []string{"networkInfo.portgroup"}, &ns); err != nil {
		return nil, c.wrap(err, "read the port groups")
	}
	out := map[string]types.HostPortGroupSpec{}
	if ns.NetworkInfo != nil {
		for _, pg := range ns.NetworkInfo.Portgroup {
			out[pg.Spec.Name] = pg.Spec
		}
	}
	return out, nil
}

// netDef is the recorded definition of a network: the network and the name
// of its port group.
type netDef struct {
	ovm.Network
	// PortGroup is the port group's name: the network's name, or NAME-<short
	// id> when another OVM network (another VDC's) had the name. Empty in
	// definitions written before it was recorded: the network's name.
	PortGroup string `json:"portGroup,omitempty"`
}

// portGroup is the name of the network's port group.
func (d netDef) portGroup() string { return cmp.Or(d.PortGroup, d.Name) }

// readNet reads the definition of network id; ovm.ErrNotFound when there is none.
func (c *conn) readNet(ctx context.Context, id ovm.ID) (netDef, error) {
	b, err := c.download(ctx, c.defaultDS, fmt.Sprintf("%s/%s.json", netMetaDir, id))
	if err != nil {
		if strings.Contains(err.Error(), "404 Not Found") || kindOf(err) == ovm.KindNotFound {
			return netDef{}, ovm.Errorf(ovm.KindNotFound, "esxi %s: network %s not found", c.host, id)
		}
		return netDef{}, c.wrap(err, "read network %s", id)
	}
	var n netDef
	if err := json.Unmarshal(b, &n); err != nil {
		return netDef{}, ovm.Errorf(ovm.KindInternal, "esxi %s: network %s: bad definition: %w", c.host, id, err)
	}
	return n, nil
}

// netDefs reads the definitions of every OVM network of the host.
func (c *conn) netDefs(ctx context.Context) ([]netDef, error) {
	var dss []mo.Datastore
	if err := c.collect(ctx, c.dsFolder, "Datastore", []string{"name", "browser"}, &dss); err != nil {
		return nil, c.wrap(err, "list networks: read the datastores")
	}
	i := slices.IndexFunc(dss, func(ds mo.Datastore) bool { return ds.Name == c.defaultDS })
	if i < 0 {
		return nil, ovm.Errorf(ovm.KindUnavailable, "esxi %s: list networks: the datastore %s that holds their definitions is gone", c.host, c.defaultDS)
	}
	res, err := c.search(ctx, dss[i].Browser, dsPath(c.defaultDS, netMetaDir), false, nil, "*.json")
	if err != nil {
		if kindOf(err) == ovm.KindNotFound {
			return nil, nil
		}
		return nil, c.wrap(err, "list networks")
	}
	var out []netDef
	for _, r := range res {
		for _, f := range r.File {
			id := ovm.ID(strings.TrimSuffix(f.GetFileInfo().Path, ".json"))
			if !id.Valid() {
				continue
			}
			n, err := c.readNet(ctx, id)
			if err != nil {
				if kindOf(err) == ovm.KindNotFound {
					continue
				}
				return nil, err
			}
			out = append(out, n)
		}
	}
	return out, nil
}

// segment realises n with its port group; the port group's VLAN is the truth.
func segment(d netDef, pg types.HostPortGroupSpec) network.Segment {
	n := d.Network
	n.VLAN = int(pg.VlanId)
	return network.Segment{Network: n, NativeID: pg.Name, Mode: "portgroup"}
}

// CreateNetwork adds a port group named after the network, with its VLAN id,
// and records its definition; or returns the segment of the same id. When
// another OVM network's port group has the name (another VDC's network of
// the same name), the port group is named NAME-<short id>. A name taken by a
// port group that is no OVM network's, or the same id with another shape,
// is ovm.ErrConflict.
func (nd *Network) CreateNetwork(ctx context.Context, n ovm.Network) (network.Segment, error) {
	c := nd.c
	if err := c.ready(ctx, "create network"); err != nil {
		return network.Segment{}, err
	}
	var f ovm.Fields
	if !n.ID.Valid() {
		f.Add("id", "must be an OVM id (a lower-case UUID)")
	}
	f.Merge("", n.Validate())
	if err := f.Err("invalid network"); err != nil {
		return network.Segment{}, err
	}
	if err := c.writable(ctx, "create network "+n.Name); err != nil {
		return network.Segment{}, err
	}
	c.netMu.Lock()
	defer c.netMu.Unlock()
	pgs, err := c.portGroups(ctx)
	if err != nil {
		return network.Segment{}, err
	}
	def := netDef{Network: n, PortGroup: n.Name}
	old, err := c.readNet(ctx, n.ID)
	switch {
	case err == nil:
		if old.Name != n.Name || old.Subnet != n.Subnet || old.Gateway != n.Gateway || old.VLAN != n.VLAN {
			return network.Segment{}, ovm.Errorf(ovm.KindConflict, "esxi %s: network %s exists as %q %s gateway %s VLAN %d",
				c.host, n.ID, old.Name, old.Subnet, old.Gateway, old.VLAN)
		}
		if pg, ok := pgs[old.portGroup()]; ok {
			return segment(old, pg), nil
		}
		def.PortGroup = old.portGroup()
	case kindOf(err) != ovm.KindNotFound:
		return network.Segment{}, err
	default:
		if _, ok := pgs[n.Name]; ok {
			if def.PortGroup, err = c.freePortGroup(ctx, n, pgs); err != nil {
				return network.Segment{}, err
			}
		}
	}
	spec := types.HostPortGroupSpec{Name: def.PortGroup, VlanId: int32(n.VLAN), VswitchName: c.vswitch(), Policy: types.HostNetworkPolicy{}}
	if err := object.NewHostNetworkSystem(c.client, c.netSystem).AddPortGroup(ctx, spec); err != nil {
		return network.Segment{}, c.wrap(err, "add port group %s to %s", def.PortGroup, c.vswitch())
	}
	b, _ := json.Marshal(def)
	err = c.mkdir(ctx, dsPath(c.defaultDS, netMetaDir))
	if err == nil {
		err = c.upload(ctx, c.defaultDS, fmt.Sprintf("%s/%s.json", netMetaDir, n.ID), b)
	}
	if err != nil {
		_ = object.NewHostNetworkSystem(c.client, c.netSystem).RemovePortGroup(context.WithoutCancel(ctx), def.PortGroup)
		return network.Segment{}, c.wrap(err, "record network %s", n.Name)
	}
	return segment(def, spec), nil
}

// freePortGroup names the port group of n when a port group has n's name:
// NAME-<short id> when that port group is another OVM network's; a port
// group that is no OVM network's (the operator's) is not taken over, and
// its name is ovm.ErrConflict.
func (c *conn) freePortGroup(ctx context.Context, n ovm.Network, pgs map[string]types.HostPortGroupSpec) (string, error) {
	taken := func(name, reason string) error {
		return &ovm.Error{Kind: ovm.KindConflict,
			Message: fmt.Sprintf("esxi %s: a port group named %q exists", c.host, name),
			Fields:  []ovm.FieldError{{Field: "name", Reason: reason, Value: n.Name}}}
	}
	defs, err := c.netDefs(ctx)
	if err != nil {
		return "", err
	}
	if !slices.ContainsFunc(defs, func(d netDef) bool { return d.ID != n.ID && d.portGroup() == n.Name }) {
		return "", taken(n.Name, "is taken by a port group on the host")
	}
	name := n.Name + "-" + n.ID.Short()
	if _, ok := pgs[name]; ok {
		return "", taken(name, "is taken by another network's port group, and "+name+" by a port group on the host")
	}
	return name, nil
}

// GetNetwork returns the segment of network id.
func (nd *Network) GetNetwork(ctx context.Context, id ovm.ID) (network.Segment, error) {
	c := nd.c
	if err := c.ready(ctx, "get network"); err != nil {
		return network.Segment{}, err
	}
	n, err := c.readNet(ctx, id)
	if err != nil {
		return network.Segment{}, err
	}
	pgs, err := c.portGroups(ctx)
	if err != nil {
		return network.Segment{}, err
	}
	pg, ok := pgs[n.portGroup()]
	if !ok {
		return network.Segment{}, ovm.Errorf(ovm.KindNotFound, "esxi %s: network %s: its port group %q is gone", c.host, id, n.portGroup())
	}
	return segment(n, pg), nil
}

// ListNetworks returns every OVM network whose port group exists, by name.
func (nd *Network) ListNetworks(ctx context.Context) ([]network.Segment, error) {
	c := nd.c
	if err := c.ready(ctx, "list networks"); err != nil {
		return nil, err
	}
	pgs, err := c.portGroups(ctx)
	if err != nil {
		return nil, err
	}
	defs, err := c.netDefs(ctx)
	if err != nil {
		return nil, err
	}
	out := []network.Segment{}
	for _, n := range defs {
		if pg, ok := pgs[n.portGroup()]; ok {
			out = append(out, segment(n, pg))
		}
	}
	slices.SortFunc(out, func(a, b network.Segment) int { return cmp.Compare(a.Network.Name, b.Network.Name) })
	return out, nil
}

// nicVM is a VM with a NIC on a port group.
type nicVM struct {
	vm  mo.VirtualMachine
	nic types.BaseVirtualEthernetCard
}

// onPortGroup lists the VMs with a NIC on port group pg.
func (c *conn) onPortGroup(ctx context.Context, pg string) ([]nicVM, error) {
	vms, err := c.allVMs(ctx, []string{"name", "config.extraConfig", "config.hardware.device"})
	if err != nil {
		return nil, c.wrap(err, "read the vms")
	}
	var out []nicVM
	for _, vm := range vms {
		if vm.Config == nil {
			continue
		}
		for _, dev := range vm.Config.Hardware.Device {
			card, ok := dev.(types.BaseVirtualEthernetCard)
			if !ok {
				continue
			}
			if b, ok := card.GetVirtualEthernetCard().Backing.(*types.VirtualEthernetCardNetworkBackingInfo); ok && b.DeviceName == pg {
				out = append(out, nicVM{vm: vm, nic: card})
			}
		}
	}
	return out, nil
}

// attachment converts a NIC of a managed VM.
func attachment(netID ovm.ID, v nicVM) network.Attachment {
	x := extra(v.vm)
	a := network.Attachment{NetworkID: netID, InstanceID: ovm.ID(x[KeyID]), MAC: strings.ToLower(v.nic.GetVirtualEthernetCard().MacAddress)}
	if ip, err := netip.ParseAddr(x[KeyNetPrefix+string(netID)]); err == nil {
		a.IP = ip
	}
	return a
}

// DeleteNetwork removes the port group and the network's definition; one
// that a VM still has a NIC on is ovm.ErrConflict.
func (nd *Network) DeleteNetwork(ctx context.Context, id ovm.ID) error {
	c := nd.c
	if err := c.writable(ctx, "delete network "+string(id)); err != nil {
		return err
	}
	c.netMu.Lock()
	defer c.netMu.Unlock()
	n, err := c.readNet(ctx, id)
	if err != nil {
		return err
	}
	users, err := c.onPortGroup(ctx, n.portGroup())
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return ovm.Errorf(ovm.KindConflict, "esxi %s: network %s (port group %q) is in use by %d vms, such as %q",
			c.host, id, n.portGroup(), len(users), users[0].vm.Name)
	}
	err = object.NewHostNetworkSystem(c.client, c.netSystem).RemovePortGroup(ctx, n.portGroup())
	if err != nil && kindOf(err) != ovm.KindNotFound {
		return c.wrap(err, "remove port group %s", n.portGroup())
	}
	return c.wrap(c.remove(ctx, dsPath(c.defaultDS, fmt.Sprintf("%s/%s.json", netMetaDir, id))), "delete the definition of network %s", id)
}

// Attach adds a NIC on the network's port group to VM instanceID (running
// or not), with spec.MAC when set, and records spec.IP.
func (nd *Network) Attach(ctx context.Context, networkID, instanceID ovm.ID, spec network.AttachSpec) (network.Attachment, error) {
	c := nd.c
	if err := c.writable(ctx, "attach"); err != nil {
		return network.Attachment{}, err
	}
	mac := ""
	var f ovm.Fields
	if spec.MAC != "" {
		m, err := ovm.ParseMAC(spec.MAC)
		if err != nil {
			f.Add("mac", "must be a unicast EUI-48 address like 00:50:56:12:34:56")
		}
		mac = m
	}
	c.netMu.Lock()
	defer c.netMu.Unlock()
	n, err := c.readNet(ctx, networkID)
	if err != nil {
		return network.Attachment{}, err
	}
	if spec.IP.IsValid() && !n.Subnet.Contains(spec.IP) {
		f.Addf("ip", "%s is outside subnet %s", spec.IP, n.Subnet)
	}
	if err := f.Err("invalid attachment"); err != nil {
		return network.Attachment{}, err
	}
	users, err := c.onPortGroup(ctx, n.portGroup())
	if err != nil {
		return network.Attachment{}, err
	}
	for _, u := range users {
		a := attachment(networkID, u)
		switch {
		case a.InstanceID == instanceID:
			return network.Attachment{}, ovm.Errorf(ovm.KindConflict, "esxi %s: instance %s already has a NIC on network %s", c.host, instanceID, n.Name)
		case spec.IP.IsValid() && a.IP == spec.IP:
			return network.Attachment{}, ovm.Errorf(ovm.KindConflict, "esxi %s: %s is attached to instance %s on network %s", c.host, spec.IP, a.InstanceID, n.Name)
		case mac != "" && a.MAC == mac:
			return network.Attachment{}, ovm.Errorf(ovm.KindConflict, "esxi %s: MAC %s is in use on network %s", c.host, mac, n.Name)
		}
	}
	vm, err := c.lookup(ctx, hypervisor.ByID(instanceID), []string{"name"})
	if err != nil {
		return network.Attachment{}, err
	}
	cs := types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{&types.VirtualDeviceConfigSpec{
		Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: nic(-1, n.portGroup(), mac)}}}
	if spec.IP.IsValid() {
		cs.ExtraConfig = []types.BaseOptionValue{&types.OptionValue{Key: KeyNetPrefix + string(networkID), Value: spec.IP.String()}}
	}
	o := object.NewVirtualMachine(c.client, vm.Self)
	if err := c.runTask(ctx, func(ctx context.Context) (*object.Task, error) { return o.Reconfigure(ctx, cs) }); err != nil {
		return network.Attachment{}, c.wrap(err, "attach instance %s to %s", instanceID, n.Name)
	}
	users, err = c.onPortGroup(ctx, n.portGroup())
	if err != nil {
		return network.Attachment{}, err
	}
	for _, u := range users {
		if a := attachment(networkID, u); a.InstanceID == instanceID {
			return a, nil
		}
	}
	return network.Attachment{}, ovm.Errorf(ovm.KindInternal, "esxi %s: the NIC of instance %s on %s did not appear", c.host, instanceID, n.Name)
}

// Detach removes the instance's NIC from the network's port group.
func (nd *Network) Detach(ctx context.Context, networkID, instanceID ovm.ID) error {
	c := nd.c
	if err := c.writable(ctx, "detach"); err != nil {
		return err
	}
	c.netMu.Lock()
	defer c.netMu.Unlock()
	n, err := c.readNet(ctx, networkID)
	if err != nil {
		return err
	}
	users, err := c.onPortGroup(ctx, n.portGroup())
	if err != nil {
		return err
	}
	for _, u := range users {
		if ovm.ID(extra(u.vm)[KeyID]) != instanceID {
			continue
		}
		cs := types.VirtualMachineConfigSpec{
			DeviceChange: []types.BaseVirtualDeviceConfigSpec{&types.VirtualDeviceConfigSpec{
				Operation: types.VirtualDeviceConfigSpecOperationRemove, Device: u.nic.(types.BaseVirtualDevice)}},
			ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: KeyNetPrefix + string(networkID), Value: ""}},
		}
		o := object.NewVirtualMachine(c.client, u.vm.Self)
		return c.wrap(c.runTask(ctx, func(ctx context.Context) (*object.Task, error) { return o.Reconfigure(ctx, cs) }),
			"detach instance %s from %s", instanceID, n.Name)
	}
	return ovm.Errorf(ovm.KindNotFound, "esxi %s: instance %s is not attached to network %s", c.host, instanceID, n.Name)
}

// Attachments lists the NICs of OVM instances on the network's port group.
func (nd *Network) Attachments(ctx context.Context, networkID ovm.ID) ([]network.Attachment, error) {
	c := nd.c
	if err := c.ready(ctx, "attachments"); err != nil {
		return nil, err
	}
	n, err := c.readNet(ctx, networkID)
	if err != nil {
		return nil, err
	}
	users, err := c.onPortGroup(ctx, n.portGroup())
	if err != nil {
		return nil, err
	}
	out := []network.Attachment{}
	for _, u := range users {
		if a := attachment(networkID, u); a.InstanceID != "" {
			out = append(out, a)
		}
	}
	return out, nil
}
