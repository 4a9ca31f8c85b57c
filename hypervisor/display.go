package hypervisor

import "context"

// Display is where an instance's graphical display is served: a VNC
// server (RFB) at Address (host:port) on its host.
type Display struct {
	Protocol string // "vnc"
	Address  string
}

// Displayer is the graphical display facet (KVM guests: the domain's VNC
// display).
type Displayer interface {
	Display(ctx context.Context, ref Ref) (Display, error)
}
