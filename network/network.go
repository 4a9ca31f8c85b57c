package network

import (
	"context"
	"net/netip"

	"github.com/openovm/ovm/ovm"
)

// Segment is a network as realised on one host.
type Segment struct {
	Network ovm.Network
	// NativeID is the host's own name or id for it (bridge name, port
	// group name, Docker network id).
	NativeID string
	// Mode is how it is realised: "bridge", "vlan-bridge", "macvlan",
	// "portgroup".
	Mode string
}

// Attachment is an instance's NIC on a segment.
type Attachment struct {
	NetworkID  ovm.ID
	InstanceID ovm.ID
	MAC        string
	IP         netip.Addr
}

// AttachSpec is a NIC to add: an address IPAM chose, and a MAC (the driver
// generates one when empty).
type AttachSpec struct {
	MAC string
	IP  netip.Addr
}

// Driver is the network contract. CreateNetwork is idempotent by the
// network's ID; a missing network or attachment is ovm.ErrNotFound.
type Driver interface {
	Capabilities() Capabilities
	CreateNetwork(ctx context.Context, n ovm.Network) (Segment, error)
	GetNetwork(ctx context.Context, id ovm.ID) (Segment, error)
	ListNetworks(ctx context.Context) ([]Segment, error)
	// DeleteNetwork removes a segment with no attachments; one still in
	// use is ovm.ErrConflict.
	DeleteNetwork(ctx context.Context, id ovm.ID) error

	// Attach connects an instance to a segment; attaching the same instance
	// twice is ovm.ErrConflict, as is an IP already attached on the segment.
	Attach(ctx context.Context, networkID, instanceID ovm.ID, spec AttachSpec) (Attachment, error)
	Detach(ctx context.Context, networkID, instanceID ovm.ID) error
	Attachments(ctx context.Context, networkID ovm.ID) ([]Attachment, error)
}

// Capabilities announces what a network driver supports.
type Capabilities struct {
	// VLAN: segments may carry a VLAN id other than 0.
	VLAN bool
	// IPv6: subnets may be IPv6.
	IPv6 bool
	// HotAttach: Attach works on a running instance; otherwise only
	// before start.
	HotAttach bool
	// Reservations: Attach only reserves the address for the MAC on the
	// segment's DHCP service (the NIC itself is made by the hypervisor
	// driver with the same MAC), so core reserves each NIC's address when
	// it creates the instance and releases it when it deletes it.
	// Otherwise Attach adds a NIC, and the hypervisor driver's create
	// gives the instance its address.
	Reservations bool
}
