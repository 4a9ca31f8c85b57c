package docker

import (
	"context"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// Terminal runs an interactive command with a terminal inside a running
// container (docker exec -it): reads give its terminal's output, writes go
// to its input. The session lives until ctx ends or it is closed.
func (d *Driver) Terminal(ctx context.Context, ref hypervisor.Ref, spec hypervisor.TerminalSpec) (hypervisor.Terminal, error) {
	if len(spec.Command) == 0 || spec.Command[0] == "" {
		return nil, ovm.Invalid("invalid terminal", ovm.FieldError{Field: "command", Reason: "must name a program"})
	}
	c, err := d.inspect(ctx, ref, "terminal")
	if err != nil {
		return nil, err
	}
	if p := powerOf(c.State.Status); p != ovm.PowerRunning {
		return nil, ovm.Errorf(ovm.KindConflict, "docker host %s: cannot open a terminal in instance %s: it is %s", d.c.name, ref, p)
	}
	opts := container.ExecOptions{Cmd: spec.Command, Tty: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
		Env: []string{"TERM=xterm-256color"}}
	if spec.Cols > 0 && spec.Rows > 0 {
		opts.ConsoleSize = &[2]uint{spec.Rows, spec.Cols}
	}
	created, err := d.c.cli.ContainerExecCreate(ctx, c.ID, opts)
	if err != nil {
		return nil, d.c.engineError(ctx, err, "command", "terminal in %s", ref)
	}
	hj, err := d.c.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{Tty: true, ConsoleSize: opts.ConsoleSize})
	if err != nil {
		return nil, d.c.engineError(ctx, err, "", "terminal in %s: attach", ref)
	}
	return &terminal{d: d, id: created.ID, ref: ref, hj: &hj, stop: closeOnDone(ctx, &hj)}, nil
}

// terminal is an attached exec session with a terminal: its output is raw
// (a terminal merges stdout and stderr).
type terminal struct {
	d    *Driver
	id   string
	ref  hypervisor.Ref
	hj   *types.HijackedResponse
	stop func()
}

func (t *terminal) Read(p []byte) (int, error)  { return t.hj.Reader.Read(p) }
func (t *terminal) Write(p []byte) (int, error) { return t.hj.Conn.Write(p) }

// Resize changes the terminal's size.
func (t *terminal) Resize(ctx context.Context, cols, rows uint) error {
	if err := t.d.c.cli.ContainerExecResize(ctx, t.id, container.ResizeOptions{Width: cols, Height: rows}); err != nil {
		return t.d.c.engineError(ctx, err, "", "terminal in %s: resize", t.ref)
	}
	return nil
}

// Close ends the session: the connection closes and the shell sees its
// terminal hang up.
func (t *terminal) Close() error {
	t.stop()
	return nil
}
