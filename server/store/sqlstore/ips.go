package sqlstore

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// Allocations returns the network's allocations in address order.
func (t *tx) Allocations(ctx context.Context, networkID ovm.ID) ([]store.IPAllocation, error) {
	out, err := collect(ctx, t, func(r rowScanner) (store.IPAllocation, error) {
		var ip, owner string
		if err := r.Scan(&ip, &owner); err != nil {
			return store.IPAllocation{}, err
		}
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			return store.IPAllocation{}, fmt.Errorf("stored address %q: %w", ip, err)
		}
		return store.IPAllocation{NetworkID: networkID, IP: addr, Owner: ovm.ID(owner)}, nil
	}, `SELECT ip, owner_id FROM ip_allocations WHERE network_id = $1`, string(networkID))
	if err != nil {
		return nil, fmt.Errorf("store: list the addresses of network %s: %w", networkID, err)
	}
	slices.SortFunc(out, func(a, b store.IPAllocation) int { return a.IP.Compare(b.IP) })
	return out, nil
}

// Allocate records that a.Owner holds a.IP on a.NetworkID. An address held
// by another owner is ovm.ErrConflict naming that owner; allocating an
// address its owner already holds changes nothing, so a retried step is
// harmless.
func (t *tx) Allocate(ctx context.Context, a store.IPAllocation) error {
	var f ovm.Fields
	if !a.NetworkID.Valid() {
		f.Add("networkId", "must be a lower-case UUID")
	}
	if !a.IP.IsValid() || a.IP.Zone() != "" {
		f.Add("ip", "must be an IP address without a zone")
	}
	if a.Owner.IsZero() {
		f.Add("owner", "must not be empty")
	}
	if err := f.Err("invalid address allocation"); err != nil {
		return err
	}
	n, err := t.exec(ctx, `INSERT INTO ip_allocations (network_id, ip, owner_id, created_at)
		VALUES ($1, $2, $3, {now}) ON CONFLICT DO NOTHING`, string(a.NetworkID), a.IP.String(), string(a.Owner))
	if err != nil {
		return fmt.Errorf("store: allocate %s on network %s: %w", a.IP, a.NetworkID, err)
	}
	if n == 1 {
		return nil
	}
	var owner string
	err = t.scan(ctx, `SELECT owner_id FROM ip_allocations WHERE network_id = $1 AND ip = $2`,
		[]any{string(a.NetworkID), a.IP.String()}, &owner)
	if err != nil {
		return fmt.Errorf("store: read the owner of %s on network %s: %w", a.IP, a.NetworkID, err)
	}
	if ovm.ID(owner) == a.Owner {
		return nil
	}
	return &ovm.Error{
		Kind:    ovm.KindConflict,
		Message: fmt.Sprintf("address %s of network %s is taken", a.IP, a.NetworkID),
		Fields:  []ovm.FieldError{{Field: "ip", Reason: "already allocated to " + owner, Value: a.IP.String()}},
	}
}

// ReleaseIP frees one address; an address not allocated is
// ovm.ErrNotFound.
func (t *tx) ReleaseIP(ctx context.Context, networkID ovm.ID, ip netip.Addr) error {
	n, err := t.exec(ctx, `DELETE FROM ip_allocations WHERE network_id = $1 AND ip = $2`, string(networkID), ip.String())
	if err != nil {
		return fmt.Errorf("store: release %s on network %s: %w", ip, networkID, err)
	}
	if n == 0 {
		return withKind(ovm.KindNotFound, nil, "address %s of network %s not found", ip, networkID)
	}
	return nil
}

// ReleaseOwner frees every address owner holds, on every network; none is
// not an error.
func (t *tx) ReleaseOwner(ctx context.Context, owner ovm.ID) error {
	if _, err := t.exec(ctx, `DELETE FROM ip_allocations WHERE owner_id = $1`, string(owner)); err != nil {
		return fmt.Errorf("store: release the addresses of %s: %w", owner, err)
	}
	return nil
}
