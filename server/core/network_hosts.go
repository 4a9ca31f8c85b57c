package core

import (
	"context"
	"log/slog"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// realiseNetworks makes each network of an instance's NICs exist on the
// instance's host (a Docker network, a Linux bridge on the segment's VLAN,
// a port group), idempotently by the network's id, and returns the NICs to
// create with the host-side name of each segment. Where the host's network
// driver reserves addresses by MAC (KVM: libvirt's dnsmasq), it reserves
// each NIC's address for the MAC the NIC is made with (nicMAC), so that
// the guest gets IPAM's address by DHCP. A host whose kind has no network
// driver cannot take NICs: ovm.ErrUnsupported.
func (s *Service) realiseNetworks(ctx context.Context, r *tasks.Run, tg target) ([]hypervisor.NICAttachment, error) {
	var out []hypervisor.NICAttachment
	reserved := map[ovm.ID]bool{}
	for i, n := range tg.inst.Spec.NICs {
		net := tg.nets[n.NetworkID]
		if tg.net == nil {
			return nil, ovm.Errorf(ovm.KindUnsupported, "host %s (%s) cannot attach networks: spec.nics[%d]", tg.host.Name, tg.host.Kind, i)
		}
		if net.VLAN != 0 && !tg.net.Capabilities().VLAN {
			return nil, ovm.Errorf(ovm.KindUnsupported, "host %s cannot carry VLAN %d of network %s (no VLAN uplink configured)", tg.host.Name, net.VLAN, net.Name)
		}
		seg, err := tg.net.CreateNetwork(ctx, net)
		if err != nil {
			return nil, ovm.Wrap(ovm.KindOf(err), err, "network %s on host %s", net.Name, tg.host.Name)
		}
		if r != nil {
			r.Logf(slog.LevelInfo, "network %s is %s %q on host %s", net.Name, seg.Mode, seg.NativeID, tg.host.Name)
		}
		mac := nicMAC(tg.inst.ID, i, n, tg.net.Capabilities())
		if tg.net.Capabilities().Reservations && !reserved[n.NetworkID] {
			reserved[n.NetworkID] = true
			if err := reserveAddress(ctx, r, tg, net, mac, n); err != nil {
				return nil, err
			}
		}
		out = append(out, hypervisor.NICAttachment{Network: net, Bridge: seg.NativeID, MAC: mac, IP: n.IP})
	}
	return out, nil
}

// TaskNetworkDelete removes a deleted network's segments from the hosts of
// its VDC's pool.
const TaskNetworkDelete = "network.delete"

// networkDeleteInput is the input of a network.delete task: the network as
// it was, and the hosts to clean.
type networkDeleteInput struct {
	Network ovm.Network `json:"network"`
	Hosts   []ovm.ID    `json:"hosts"`
}

// networkDeleteHandler is the network.delete task kind: one step per host,
// each deleting the segment (a missing one is success). A host that is not
// up is skipped with a line in the log: its segment stays until the network
// is deleted there by hand.
type networkDeleteHandler struct{ s *Service }

// Steps returns the steps of a network.delete task (tasks.Handler).
func (h networkDeleteHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[networkDeleteInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	steps := make([]tasks.Step, 0, len(in.Hosts))
	for _, id := range in.Hosts {
		steps = append(steps, tasks.Step{
			Name: "remove from host " + id.Short(),
			Do: func(ctx context.Context, r *tasks.Run) error {
				var hr hostRecord
				err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
					var err error
					hr, _, err = getAs[hostRecord](ctx, tx, store.KindHost, id)
					return err
				})
				switch {
				case ovm.KindOf(err) == ovm.KindNotFound:
					return nil
				case err != nil:
					return err
				}
				if hr.State != ovm.HostUp {
					r.Logf(slog.LevelWarn, "host %s is %s: network %s left on it", hr.Name, hr.State, in.Network.Name)
					return nil
				}
				conn, err := s.connect(ctx, hr)
				if err != nil {
					return hostError(hr.Host, err)
				}
				if conn.Network == nil {
					return nil
				}
				if err := ignore(conn.Network.DeleteNetwork(ctx, in.Network.ID), ovm.KindNotFound); err != nil {
					return ovm.Wrap(ovm.KindOf(err), err, "network %s on host %s", in.Network.Name, hr.Name)
				}
				r.Logf(slog.LevelInfo, "network %s is gone from host %s", in.Network.Name, hr.Name)
				return nil
			},
		})
	}
	return steps, nil
}

// poolHosts lists the ids of a pool's hosts.
func poolHosts(ctx context.Context, tx store.Tx, poolID ovm.ID) ([]ovm.ID, error) {
	if poolID == "" {
		return nil, nil
	}
	rs, err := listAll(ctx, tx, store.Filter{Kind: store.KindHost, ParentID: poolID})
	if err != nil {
		return nil, err
	}
	ids := make([]ovm.ID, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids, nil
}
