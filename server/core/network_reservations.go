package core

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/tasks"
)

// nicMAC is the MAC of NIC i of an instance: the one the spec gives, or,
// on a host whose network driver reserves addresses by MAC
// (network.Capabilities.Reservations), one derived from the instance's id
// and the NIC's index, so that the domain and its DHCP reservation agree
// and a step run again (a resumed create, a migration) chooses the same.
// Elsewhere an empty MAC is left to the host.
func nicMAC(inst ovm.ID, i int, nic ovm.NICSpec, caps network.Capabilities) string {
	if nic.MAC != "" || !caps.Reservations {
		return nic.MAC
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%s/%d", inst, i))
	// 52:54:00 is the prefix QEMU and libvirt give their NICs: locally
	// administered, unicast.
	return fmt.Sprintf("52:54:00:%02x:%02x:%02x", h[0], h[1], h[2])
}

// reserveAddress reserves a NIC's address for its MAC on the segment's
// DHCP service of the instance's host, so that the guest gets the address
// IPAM chose by DHCP. It is idempotent: a reservation of the instance with
// the same MAC and address is kept, one with another MAC or address (a
// NIC changed while the instance was away from the host) is replaced.
// Only one NIC of an instance per network is reserved: the host keys a
// reservation by instance.
func reserveAddress(ctx context.Context, r *tasks.Run, tg target, net ovm.Network, mac string, nic ovm.NICSpec) error {
	inst := tg.inst.ID
	spec := network.AttachSpec{MAC: mac, IP: nic.IP}
	_, err := tg.net.Attach(ctx, net.ID, inst, spec)
	if ovm.KindOf(err) == ovm.KindConflict {
		atts, lerr := tg.net.Attachments(ctx, net.ID)
		if lerr != nil {
			return ovm.Wrap(ovm.KindOf(lerr), lerr, "read the reservations of network %s on host %s", net.Name, tg.host.Name)
		}
		for _, a := range atts {
			if a.InstanceID != inst {
				continue
			}
			if strings.EqualFold(a.MAC, mac) && a.IP == nic.IP {
				return nil // reserved by an earlier run
			}
			if err := ignore(tg.net.Detach(ctx, net.ID, inst), ovm.KindNotFound); err != nil {
				return ovm.Wrap(ovm.KindOf(err), err, "release the old reservation of %s on network %s on host %s", a.IP, net.Name, tg.host.Name)
			}
			_, err = tg.net.Attach(ctx, net.ID, inst, spec)
			break
		}
	}
	if err != nil {
		return ovm.Wrap(ovm.KindOf(err), err, "reserve %s for %s on network %s on host %s", nic.IP, mac, net.Name, tg.host.Name)
	}
	if r != nil {
		r.Logf(slog.LevelInfo, "reserved %s for %s on network %s on host %s", nic.IP, mac, net.Name, tg.host.Name)
	}
	return nil
}

// releaseAddresses removes an instance's DHCP reservations from the
// networks of its NICs on its host; a missing one is success. Hosts whose
// network driver adds NICs rather than reservations have nothing to
// release: their NICs go with the instance.
func releaseAddresses(ctx context.Context, r *tasks.Run, tg target) error {
	if tg.net == nil || !tg.net.Capabilities().Reservations {
		return nil
	}
	var errs []error
	for id, net := range tg.nets {
		err := tg.net.Detach(ctx, id, tg.inst.ID)
		switch {
		case ovm.KindOf(err) == ovm.KindNotFound:
		case err != nil:
			errs = append(errs, ovm.Wrap(ovm.KindOf(err), err, "release the address of instance %s on network %s on host %s", tg.inst.Name, net.Name, tg.host.Name))
		case r != nil:
			r.Logf(slog.LevelInfo, "released the address of instance %s on network %s on host %s", tg.inst.Name, net.Name, tg.host.Name)
		}
	}
	return errors.Join(errs...)
}
