package core

import (
	"context"

	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// CreateNetwork is the input of a new network: the shape of ovm.Network.
type CreateNetwork struct {
	VDCID          ovm.ID
	Network        ovm.Network // ID, VDCID and CreatedAt are set by the service
	IdempotencyKey string
}

// CreateNetwork records a network in a VDC, counted against its networks
// quota. VDC administrators and platform administrators create networks.
func (s *Service) CreateNetwork(ctx context.Context, p auth.Principal, in CreateNetwork) (ovm.Network, error) {
	vdc, err := resolveVDC(p, in.VDCID, true)
	if err != nil {
		return ovm.Network{}, err
	}
	if err := manageVDC(p, vdc, "creating networks"); err != nil {
		return ovm.Network{}, err
	}
	n := in.Network
	n.ID, n.VDCID, n.CreatedAt = ovm.NewID(), vdc, s.now()
	// Without a gateway, the subnet's first address is the gateway, as the
	// hypervisors' own networks (a Docker bridge, a libvirt network) take
	// it; IPAM then never hands it to an instance.
	if !n.Gateway.IsValid() && n.Subnet.IsValid() && n.Subnet.Bits() < n.Subnet.Addr().BitLen()-1 {
		n.Gateway = n.Subnet.Masked().Addr().Next()
	}
	if err := n.Validate(); err != nil {
		return ovm.Network{}, err
	}
	var out ovm.Network
	err = s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return idempotent(ctx, tx, p, "network.create", in.IdempotencyKey, in, &out, func() error {
			if _, err := getVisible(ctx, tx, p, store.KindVDC, vdc); err != nil {
				return err
			}
			if err := tx.Reserve(ctx, vdc, ovm.Usage{Networks: 1}); err != nil {
				return err
			}
			rec := store.Record{Kind: store.KindNetwork, ID: n.ID, VDCID: vdc, Name: n.Name}
			if err := setData(&rec, n); err != nil {
				return err
			}
			out = n
			return tx.Insert(ctx, &rec)
		})
	})
	return out, err
}

// GetNetwork returns a network the principal may see and its version.
func (s *Service) GetNetwork(ctx context.Context, p auth.Principal, id ovm.ID) (ovm.Network, int64, error) {
	return getVisibleAs[ovm.Network](ctx, s, p, store.KindNetwork, id)
}

// ListNetworks lists the networks of the principal's VDC (or any, for an
// administrator).
func (s *Service) ListNetworks(ctx context.Context, p auth.Principal, o ListOptions) (Page[ovm.Network], error) {
	return listVisible[ovm.Network](ctx, s, p, store.KindNetwork, o, nil)
}

// DeleteNetwork removes a network no instance uses and releases its quota.
func (s *Service) DeleteNetwork(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) error {
	return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getVisible(ctx, tx, p, store.KindNetwork, id)
		if err != nil {
			return err
		}
		if err := manageVDC(p, r.VDCID, "deleting networks"); err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		as, err := tx.Allocations(ctx, id)
		if err != nil {
			return err
		}
		if len(as) > 0 {
			return conflictf("network %s still has %d addresses allocated", r.Name, len(as))
		}
		if err := tx.Delete(ctx, store.KindNetwork, id, r.Version); err != nil {
			return err
		}
		if err := tx.Reserve(ctx, r.VDCID, ovm.Usage{Networks: -1}); err != nil {
			return err
		}
		// The segments the network became on hosts go in a task of their
		// own; the network is gone for the tenant at once.
		n, err := decode[ovm.Network](r)
		if err != nil {
			return err
		}
		vdc, _, err := getAs[ovm.VDC](ctx, tx, store.KindVDC, r.VDCID)
		if err != nil {
			return err
		}
		hosts, err := poolHosts(ctx, tx, vdc.PoolID)
		if err != nil || len(hosts) == 0 {
			return err
		}
		_, err = s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskNetworkDelete, VDCID: r.VDCID, TargetID: id,
			Input: networkDeleteInput{Network: n, Hosts: hosts}})
		return err
	})
}

// ipams allocates addresses of several networks within one transaction.
type ipams struct {
	tx   store.Tx
	vdc  ovm.ID
	nets map[ovm.ID]*network.IPAM
	objs map[ovm.ID]ovm.Network
}

func newIPAMs(tx store.Tx, vdc ovm.ID) *ipams {
	return &ipams{tx: tx, vdc: vdc, nets: map[ovm.ID]*network.IPAM{}, objs: map[ovm.ID]ovm.Network{}}
}

// get returns the IPAM of a network of the VDC, rebuilt from the store's
// allocations; a network of another VDC is not found.
func (m *ipams) get(ctx context.Context, id ovm.ID) (*network.IPAM, error) {
	if a, ok := m.nets[id]; ok {
		return a, nil
	}
	if !id.Valid() {
		return nil, ovm.NotFound("network", id)
	}
	n, r, err := getAs[ovm.Network](ctx, m.tx, store.KindNetwork, id)
	if err != nil {
		return nil, err
	}
	if r.VDCID != "" && r.VDCID != m.vdc {
		return nil, ovm.NotFound("network", id)
	}
	stored, err := m.tx.Allocations(ctx, id)
	if err != nil {
		return nil, err
	}
	allocs := make([]network.Allocation, len(stored))
	for i, a := range stored {
		allocs[i] = network.Allocation{IP: a.IP, Owner: a.Owner}
	}
	a, err := network.NewIPAM(n, allocs)
	if err != nil {
		return nil, err
	}
	m.nets[id], m.objs[id] = a, n
	return a, nil
}

// allocateNICs gives every NIC of spec an address (the one asked for, or
// the lowest free one) owned by owner, records the allocations and returns
// the addresses. Errors name the NIC.
func allocateNICs(ctx context.Context, m *ipams, owner ovm.ID, spec *ovm.InstanceSpec, prefix string) error {
	var f ovm.Fields
	for i := range spec.NICs {
		nic := &spec.NICs[i]
		field := prefix + "nics[" + itoa(i) + "]"
		a, err := m.get(ctx, nic.NetworkID)
		if err != nil {
			if ovm.KindOf(err) == ovm.KindNotFound {
				f.Add(field+".networkId", err.Error())
				continue
			}
			return err
		}
		if nic.IP.IsValid() {
			if err := a.Reserve(nic.IP, owner); err != nil {
				if k := ovm.KindOf(err); k == ovm.KindInvalid || k == ovm.KindConflict {
					f.Add(field+".ip", err.Error())
					continue
				}
				return err
			}
		} else {
			ip, err := a.Allocate(owner)
			if err != nil {
				if ovm.KindOf(err) == ovm.KindConflict {
					return ovm.Wrap(ovm.KindConflict, err, "%s.networkId", field)
				}
				return err
			}
			nic.IP = ip
		}
		if err := m.tx.Allocate(ctx, store.IPAllocation{NetworkID: nic.NetworkID, IP: nic.IP, Owner: owner}); err != nil {
			return err
		}
	}
	return f.Err("invalid nics")
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// getVisibleAs reads a VDC-scoped object the principal may see.
func getVisibleAs[T any](ctx context.Context, s *Service, p auth.Principal, kind store.Kind, id ovm.ID) (T, int64, error) {
	var out T
	var ver int64
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getVisible(ctx, tx, p, kind, id)
		if err != nil {
			return err
		}
		out, err = decode[T](r)
		ver = r.Version
		return err
	})
	return out, ver, err
}

// listVisible lists VDC-scoped objects of the principal's VDC (or of the
// VDC an administrator names, or all), converted by conv when set.
func listVisible[T any](ctx context.Context, s *Service, p auth.Principal, kind store.Kind, o ListOptions, conv func(store.Record) (T, error)) (Page[T], error) {
	vdc, err := resolveVDC(p, o.VDCID, false)
	if err != nil {
		return Page[T]{}, err
	}
	if conv == nil {
		conv = decode[T]
	}
	var out Page[T]
	err = s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		out, err = listPage(ctx, tx, vdcFilter(kind, vdc), o, conv)
		return err
	})
	return out, err
}
