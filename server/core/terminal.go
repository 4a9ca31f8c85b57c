package core

import (
	"context"
	"io"
	"net"
	"time"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
)

// A terminal is an interactive session with an instance, the browser's
// console: its serial console (VMs; a container's attached streams) or a
// shell run inside it (containers). Like Exec and Console it changes
// nothing OVM records, so it is a direct driver call, bounded in time.

// TerminalMode says what a terminal session reaches.
type TerminalMode = apitypes.TerminalMode

// The modes of a terminal session.
const (
	TerminalSerial = apitypes.TerminalSerial
	TerminalExec   = apitypes.TerminalExec
	TerminalVNC    = apitypes.TerminalVNC
)

// MaxTerminalDuration bounds a terminal session.
const MaxTerminalDuration = 8 * time.Hour

// DefaultTerminalCommand is the command of an exec session without one.
var DefaultTerminalCommand = []string{"/bin/sh"}

// TerminalRequest is a terminal session to open.
type TerminalRequest struct {
	Mode TerminalMode
	// Command runs in exec mode (DefaultTerminalCommand when empty).
	Command []string
	// Cols and Rows are the terminal's first size (zero: the engine's).
	Cols, Rows uint
}

func (r TerminalRequest) validate() error {
	var f ovm.Fields
	switch r.Mode {
	case TerminalSerial, TerminalVNC:
		if len(r.Command) > 0 {
			f.Add("command", "is for exec sessions only; a console or a display runs no command")
		}
	case TerminalExec:
		if err := (Exec{Command: r.command()}).validate(); err != nil {
			return err
		}
	default:
		f.Add("mode", "must be serial, exec or vnc")
	}
	if r.Cols > 1000 || r.Rows > 1000 {
		f.Add("cols", "cols and rows must be at most 1000")
	}
	return f.Err("invalid terminal")
}

func (r TerminalRequest) command() []string {
	if len(r.Command) == 0 {
		return DefaultTerminalCommand
	}
	return r.Command
}

// CheckTerminal says whether the principal may open a terminal of mode on
// an instance now, without opening it: the instance is one the principal
// sees (ovm.ErrNotFound otherwise), it is ready and running (conflict),
// and its type has the mode (unsupported: exec in a VM).
func (s *Service) CheckTerminal(ctx context.Context, p auth.Principal, id ovm.ID, req TerminalRequest) (ovm.Instance, error) {
	if err := req.validate(); err != nil {
		return ovm.Instance{}, err
	}
	inst, _, err := s.GetInstance(ctx, p, id)
	if err != nil {
		return ovm.Instance{}, err
	}
	if inst.Status.Phase != ovm.PhaseReady || inst.Status.Power != ovm.PowerRunning {
		state := string(inst.Status.Phase)
		if inst.Status.Phase == ovm.PhaseReady {
			state = string(inst.Status.Power)
		}
		return inst, conflictf("cannot open a terminal of instance %s: it is %s", inst.Name, state)
	}
	if req.Mode == TerminalExec && inst.Spec.Type != ovm.TypeContainer {
		return inst, ovm.Errorf(ovm.KindUnsupported, "cannot exec in instance %s: only containers run commands in a terminal; use its serial console", inst.Name)
	}
	if req.Mode == TerminalVNC && inst.Spec.Type != ovm.TypeVM {
		return inst, ovm.Errorf(ovm.KindUnsupported, "cannot show the display of instance %s: only VMs have a graphical display; use its console", inst.Name)
	}
	return inst, nil
}

// OpenTerminal opens a terminal session on an instance through its
// driver: the Consoler facet for serial, the Terminaler facet for exec,
// and for vnc a connection to the display the Displayer facet names (the
// RFB stream as it is).
// The session ends when ctx ends, after MaxTerminalDuration, or when the
// caller closes it. Writes to a console that takes no input (libvirt's
// serial console here) fail with ovm.ErrUnsupported.
func (s *Service) OpenTerminal(ctx context.Context, p auth.Principal, id ovm.ID, req TerminalRequest) (hypervisor.Terminal, error) {
	if _, err := s.CheckTerminal(ctx, p, id, req); err != nil {
		return nil, err
	}
	octx, ocancel := context.WithTimeout(ctx, s.o.DriverTimeout)
	defer ocancel()
	hv, r, inst, err := s.facet(octx, p, id, "open a terminal of")
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, MaxTerminalDuration)
	start := time.Now()
	switch req.Mode {
	case TerminalVNC:
		dp, ok := hv.(hypervisor.Displayer)
		if !ok {
			cancel()
			return nil, ovm.Errorf(ovm.KindUnsupported, "cannot show the display of instance %s: the host kind has no display (%s)", inst.Name, hv.Kind())
		}
		disp, err := dp.Display(octx, r)
		s.observe(hv.Kind(), "Display", err, start)
		if err != nil {
			cancel()
			return nil, err
		}
		var dl net.Dialer
		conn, err := dl.DialContext(octx, "tcp", disp.Address)
		if err != nil {
			cancel()
			return nil, ovm.Wrap(ovm.KindUnavailable, err, "cannot reach the display of instance %s", inst.Name)
		}
		stop := context.AfterFunc(sctx, func() { _ = conn.Close() })
		return &boundTerminal{Terminal: serialTerminal{conn}, cancel: func() { stop(); cancel() }}, nil
	case TerminalExec:
		tm, ok := hv.(hypervisor.Terminaler)
		if !ok || !hv.Capabilities().Exec {
			cancel()
			return nil, ovm.Errorf(ovm.KindUnsupported, "cannot exec in instance %s: the host kind runs no terminal (%s)", inst.Name, hv.Kind())
		}
		t, err := tm.Terminal(sctx, r, hypervisor.TerminalSpec{Command: req.command(), Cols: req.Cols, Rows: req.Rows})
		s.observe(hv.Kind(), "Terminal", err, start)
		if err != nil {
			cancel()
			return nil, err
		}
		return &boundTerminal{Terminal: t, cancel: cancel}, nil
	default:
		c, ok := hv.(hypervisor.Consoler)
		if !ok || !hv.Capabilities().Console {
			cancel()
			return nil, ovm.Errorf(ovm.KindUnsupported, "cannot open the console of instance %s: the host kind has no console (%s)", inst.Name, hv.Kind())
		}
		rwc, err := c.Console(sctx, r)
		s.observe(hv.Kind(), "Console", err, start)
		if err != nil {
			cancel()
			return nil, err
		}
		return &boundTerminal{Terminal: serialTerminal{rwc}, cancel: cancel}, nil
	}
}

// serialTerminal is a console as a terminal: a serial line has no size to
// set.
type serialTerminal struct{ io.ReadWriteCloser }

func (serialTerminal) Resize(context.Context, uint, uint) error { return nil }

// boundTerminal ends its session's context when closed.
type boundTerminal struct {
	hypervisor.Terminal
	cancel context.CancelFunc
}

func (b *boundTerminal) Close() error {
	err := b.Terminal.Close()
	b.cancel()
	return err
}
