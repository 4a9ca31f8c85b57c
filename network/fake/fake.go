package fake

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
)

// The method names FailNext accepts: those of network.Driver that can fail.
const (
	MethodCreateNetwork = "CreateNetwork"
	MethodGetNetwork    = "GetNetwork"
	MethodListNetworks  = "ListNetworks"
	MethodDeleteNetwork = "DeleteNetwork"
	MethodAttach        = "Attach"
	MethodDetach        = "Detach"
	MethodAttachments   = "Attachments"
)

var _ network.Driver = (*Driver)(nil)

// Driver is an in-memory network driver, safe for concurrent use. The zero
// value is not usable; call New.
type Driver struct {
	caps network.Capabilities

	mu          sync.Mutex
	unreachable bool
	failNext    map[string][]error
	nets        map[ovm.ID]*segment
	// macSeq numbers the MACs the driver generates.
	macSeq uint32
}

// segment is one network and its attachments by instance.
type segment struct {
	seg  network.Segment
	atts map[ovm.ID]network.Attachment
}

// Options configures a Driver. The zero value announces every capability.
type Options struct {
	// NoVLAN drops Capabilities.VLAN: a tagged network is then
	// ovm.ErrUnsupported.
	NoVLAN bool
	// NoIPv6 drops Capabilities.IPv6: an IPv6 subnet is then
	// ovm.ErrUnsupported.
	NoIPv6 bool
	// NoHotAttach drops Capabilities.HotAttach (announced only: the fake
	// knows nothing of instances' power states).
	NoHotAttach bool
}

// New returns an empty driver configured by opts.
func New(opts Options) *Driver {
	return &Driver{
		caps:     network.Capabilities{VLAN: !opts.NoVLAN, IPv6: !opts.NoIPv6, HotAttach: !opts.NoHotAttach},
		failNext: map[string][]error{},
		nets:     map[ovm.ID]*segment{},
	}
}

// SetUnreachable makes every call fail with ovm.ErrUnavailable, as a host
// that stopped answering, until it is called again with false. State is
// kept.
func (d *Driver) SetUnreachable(unreachable bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.unreachable = unreachable
}

// FailNext makes the next call of method (one of the Method constants) fail
// with err and change nothing; calls queue up, one failure per call. It
// panics on an unknown method or a nil err, mistakes in the test itself.
func (d *Driver) FailNext(method string, err error) {
	switch method {
	case MethodCreateNetwork, MethodGetNetwork, MethodListNetworks, MethodDeleteNetwork, MethodAttach, MethodDetach, MethodAttachments:
	default:
		panic(fmt.Sprintf("fake.FailNext: unknown method %q", method))
	}
	if err == nil {
		panic("fake.FailNext: nil error")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failNext[method] = append(d.failNext[method], err)
}

// enter starts a call of method with d.mu held: a done context, an
// unreachable host or a queued failure ends it.
func (d *Driver) enter(ctx context.Context, method string) error {
	if err := ctx.Err(); err != nil {
		return ovm.Wrap(ovm.KindUnavailable, err, "fake network %s", method)
	}
	if d.unreachable {
		return ovm.Errorf(ovm.KindUnavailable, "fake network %s: host unreachable", method)
	}
	if q := d.failNext[method]; len(q) > 0 {
		d.failNext[method] = q[1:]
		return q[0]
	}
	return nil
}

// Capabilities returns what the driver was built to announce.
func (d *Driver) Capabilities() network.Capabilities { return d.caps }

// CreateNetwork makes a segment for n, or returns the one of the same id.
// The same id with another name, subnet, gateway or VLAN, or the name of
// another network, is ovm.ErrConflict.
func (d *Driver) CreateNetwork(ctx context.Context, n ovm.Network) (network.Segment, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodCreateNetwork); err != nil {
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
	if n.VLAN != 0 && !d.caps.VLAN {
		return network.Segment{}, ovm.Errorf(ovm.KindUnsupported, "network %s: VLAN %d: this driver has no VLAN support", n.Name, n.VLAN)
	}
	if n.Subnet.Addr().Is6() && !d.caps.IPv6 {
		return network.Segment{}, ovm.Errorf(ovm.KindUnsupported, "network %s: subnet %s: this driver has no IPv6 support", n.Name, n.Subnet)
	}
	if s, ok := d.nets[n.ID]; ok {
		o := s.seg.Network
		if o.Name != n.Name || o.Subnet != n.Subnet || o.Gateway != n.Gateway || o.VLAN != n.VLAN {
			return network.Segment{}, ovm.Errorf(ovm.KindConflict, "network %s exists as %q %s gateway %s VLAN %d", n.ID, o.Name, o.Subnet, o.Gateway, o.VLAN)
		}
		return clone(s.seg), nil
	}
	for _, s := range d.nets {
		if s.seg.Network.Name == n.Name {
			return network.Segment{}, &ovm.Error{
				Kind:    ovm.KindConflict,
				Message: fmt.Sprintf("network name %q is taken", n.Name),
				Fields:  []ovm.FieldError{{Field: "name", Reason: "already names network " + string(s.seg.Network.ID), Value: n.Name}},
			}
		}
	}
	mode := "bridge"
	if n.VLAN != 0 {
		mode = "vlan-bridge"
	}
	seg := network.Segment{Network: n, NativeID: "fake-" + string(n.ID), Mode: mode}
	d.nets[n.ID] = &segment{seg: clone(seg), atts: map[ovm.ID]network.Attachment{}}
	return seg, nil
}

// GetNetwork returns the segment of network id.
func (d *Driver) GetNetwork(ctx context.Context, id ovm.ID) (network.Segment, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodGetNetwork); err != nil {
		return network.Segment{}, err
	}
	s, ok := d.nets[id]
	if !ok {
		return network.Segment{}, ovm.NotFound("network", id)
	}
	return clone(s.seg), nil
}

// ListNetworks returns every segment, ordered by name.
func (d *Driver) ListNetworks(ctx context.Context) ([]network.Segment, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodListNetworks); err != nil {
		return nil, err
	}
	out := make([]network.Segment, 0, len(d.nets))
	for _, s := range d.nets {
		out = append(out, clone(s.seg))
	}
	slices.SortFunc(out, func(a, b network.Segment) int { return cmp.Compare(a.Network.Name, b.Network.Name) })
	return out, nil
}

// DeleteNetwork removes the segment of network id, which must have no
// attachments (ovm.ErrConflict).
func (d *Driver) DeleteNetwork(ctx context.Context, id ovm.ID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodDeleteNetwork); err != nil {
		return err
	}
	s, ok := d.nets[id]
	if !ok {
		return ovm.NotFound("network", id)
	}
	if n := len(s.atts); n > 0 {
		return ovm.Errorf(ovm.KindConflict, "network %s is in use by %d attachments, first %s", id, n, slices.Sorted(maps.Keys(s.atts))[0])
	}
	delete(d.nets, id)
	return nil
}

// Attach connects instance to network networkID with spec's address and
// MAC, generating a MAC (52:54:00:...) when spec has none. The address must
// be inside the subnet; an attached instance, address or MAC is
// ovm.ErrConflict.
func (d *Driver) Attach(ctx context.Context, networkID, instanceID ovm.ID, spec network.AttachSpec) (network.Attachment, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodAttach); err != nil {
		return network.Attachment{}, err
	}
	s, ok := d.nets[networkID]
	if !ok {
		return network.Attachment{}, ovm.NotFound("network", networkID)
	}
	var f ovm.Fields
	if instanceID.IsZero() {
		f.Add("instanceId", "must not be empty")
	}
	if spec.IP.IsValid() && !s.seg.Network.Subnet.Contains(spec.IP) {
		f.Addf("ip", "%s is outside subnet %s", spec.IP, s.seg.Network.Subnet)
	}
	mac := spec.MAC
	if mac != "" {
		var err error
		if mac, err = ovm.ParseMAC(mac); err != nil {
			f.Merge("", err)
		}
	}
	if err := f.Err("invalid attachment"); err != nil {
		return network.Attachment{}, err
	}

	if _, ok := s.atts[instanceID]; ok {
		return network.Attachment{}, ovm.Errorf(ovm.KindConflict, "instance %s is already attached to network %s", instanceID, networkID)
	}
	for _, a := range s.atts {
		if spec.IP.IsValid() && a.IP == spec.IP {
			return network.Attachment{}, &ovm.Error{
				Kind: ovm.KindConflict, Message: fmt.Sprintf("address %s is taken on network %s", spec.IP, networkID),
				Fields: []ovm.FieldError{{Field: "ip", Reason: "attached to instance " + string(a.InstanceID), Value: spec.IP.String()}},
			}
		}
		if mac != "" && a.MAC == mac {
			return network.Attachment{}, &ovm.Error{
				Kind: ovm.KindConflict, Message: fmt.Sprintf("MAC %s is taken on network %s", mac, networkID),
				Fields: []ovm.FieldError{{Field: "mac", Reason: "attached to instance " + string(a.InstanceID), Value: mac}},
			}
		}
	}
	if mac == "" {
		mac = d.newMAC(s)
	}
	a := network.Attachment{NetworkID: networkID, InstanceID: instanceID, MAC: mac, IP: spec.IP}
	s.atts[instanceID] = a
	return a, nil
}

// newMAC returns a MAC no attachment of s has.
func (d *Driver) newMAC(s *segment) string {
	for {
		d.macSeq++
		mac := fmt.Sprintf("52:54:00:%02x:%02x:%02x", byte(d.macSeq>>16), byte(d.macSeq>>8), byte(d.macSeq))
		taken := false
		for _, a := range s.atts {
			taken = taken || a.MAC == mac
		}
		if !taken {
			return mac
		}
	}
}

// Detach disconnects instance from network networkID.
func (d *Driver) Detach(ctx context.Context, networkID, instanceID ovm.ID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodDetach); err != nil {
		return err
	}
	s, ok := d.nets[networkID]
	if !ok {
		return ovm.NotFound("network", networkID)
	}
	if _, ok := s.atts[instanceID]; !ok {
		return ovm.Errorf(ovm.KindNotFound, "instance %s is not attached to network %s", instanceID, networkID)
	}
	delete(s.atts, instanceID)
	return nil
}

// Attachments returns the attachments of network networkID, ordered by
// instance id.
func (d *Driver) Attachments(ctx context.Context, networkID ovm.ID) ([]network.Attachment, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodAttachments); err != nil {
		return nil, err
	}
	s, ok := d.nets[networkID]
	if !ok {
		return nil, ovm.NotFound("network", networkID)
	}
	out := make([]network.Attachment, 0, len(s.atts))
	for _, id := range slices.Sorted(maps.Keys(s.atts)) {
		out = append(out, s.atts[id])
	}
	return out, nil
}

// clone copies s so that callers and the driver share no slices.
func clone(s network.Segment) network.Segment {
	s.Network.Ranges = slices.Clone(s.Network.Ranges)
	s.Network.DNS = slices.Clone(s.Network.DNS)
	return s
}
