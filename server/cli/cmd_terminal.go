package cli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// terminalDrain is how long the session stays open for its answer once
// standard input has ended.
const terminalDrain = time.Second

// instanceTerminal joins the terminal to an instance's console or to a
// shell inside it: what is read from standard input is typed into it,
// what it prints goes to standard output, until either ends (a second
// after standard input does).
func (a *app) instanceTerminal(path string, args []string) error {
	f := a.flags(path, "NAME|ID [--mode serial|exec] [--command 'PROGRAM ARGS...']",
		"Open an interactive session on an instance: its serial console (serial, the default for VMs) or a command "+
			"with a terminal inside a container (exec, /bin/sh by default, the default for containers).")
	mode := f.String("mode", "", "serial or exec (default: exec for containers, serial for VMs)")
	command := f.String("command", "", "the command of an exec session, words separated by spaces")
	cl, id, err := f.object(args, "NAME|ID", "instance")
	if err != nil {
		return err
	}
	m := apitypes.TerminalMode(*mode)
	if m == "" {
		inst, err := cl.GetInstance(a.ctx, id)
		if err != nil {
			return err
		}
		m = apitypes.TerminalSerial
		if inst.Spec.Type == ovm.TypeContainer {
			m = apitypes.TerminalExec
		}
	}
	conn, err := cl.Terminal(a.ctx, id, apitypes.TerminalTicketRequest{Mode: m, Command: strings.Fields(*command)})
	if err != nil {
		return err
	}
	defer conn.Close()
	var hungUp atomic.Bool
	go func() {
		// Standard input ended (^D, or a pipe): the session ends once it
		// has answered.
		_, _ = io.Copy(conn, a.env.Stdin)
		time.Sleep(terminalDrain)
		hungUp.Store(true)
		_ = conn.Close()
	}()
	if _, err := io.Copy(a.env.Stdout, conn); err != nil && a.ctx.Err() == nil && !hungUp.Load() && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("terminal: %w", err)
	}
	return nil
}
