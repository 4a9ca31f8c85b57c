package libvirt

import (
	"context"
	"net"
	"strconv"

	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// daemonHost is the address OVM reaches the daemon by, loopback for a
// local one: where a display listening on every address is reached.
// Displays listen where the host's qemu.conf says (vnc_listen, loopback by
// default; a remote host's must be set to its management address, the
// display having no password).
func (d *Driver) daemonHost() string {
	if d.ep.Transport == TransportUnix || d.ep.Host == "" {
		return "127.0.0.1"
	}
	return d.ep.Host
}

// Display returns the VNC display of a running domain: the address and
// the port libvirt gave it. A domain defined without a display is
// ovm.ErrUnsupported.
func (d *Driver) Display(ctx context.Context, ref hypervisor.Ref) (hypervisor.Display, error) {
	f, err := d.lookup(ctx, ref)
	if err != nil {
		return hypervisor.Display{}, err
	}
	if f.power != ovm.PowerRunning && f.power != ovm.PowerPaused {
		return hypervisor.Display{}, hypervisor.ErrPower(ref, "open the display of", f.power)
	}
	x, err := d.l.DomainGetXMLDesc(f.dom, 0)
	if err != nil {
		return hypervisor.Display{}, wrap(err, "libvirt: display of %s", f.dom.Name)
	}
	var dom libvirtxml.Domain
	if err := dom.Unmarshal(x); err != nil {
		return hypervisor.Display{}, ovm.Wrap(ovm.KindInternal, err, "libvirt: display of %s: parse its XML", f.dom.Name)
	}
	if dom.Devices != nil {
		for _, g := range dom.Devices.Graphics {
			if g.VNC == nil || g.VNC.Port <= 0 {
				continue
			}
			host := g.VNC.Listen
			for _, l := range g.VNC.Listeners {
				if l.Address != nil && l.Address.Address != "" {
					host = l.Address.Address
				}
			}
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = d.daemonHost()
			}
			return hypervisor.Display{Protocol: "vnc", Address: net.JoinHostPort(host, strconv.Itoa(g.VNC.Port))}, nil
		}
	}
	return hypervisor.Display{}, ovm.Errorf(ovm.KindUnsupported, "libvirt: domain %s has no VNC display (it was defined without one)", f.dom.Name)
}
