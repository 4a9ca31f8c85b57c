package docker

import (
	"bytes"
	"context"
	"io"
	"maps"
	"slices"
	"sync"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// Exec runs a command in a running container and returns its exit code and
// output. A stopped container is ovm.ErrConflict.
func (d *Driver) Exec(ctx context.Context, ref hypervisor.Ref, spec hypervisor.ExecSpec) (hypervisor.ExecResult, error) {
	if len(spec.Command) == 0 {
		return hypervisor.ExecResult{}, ovm.Invalid("invalid exec", ovm.FieldError{Field: "command", Reason: "must not be empty"})
	}
	c, err := d.inspect(ctx, ref, "exec")
	if err != nil {
		return hypervisor.ExecResult{}, err
	}
	if p := powerOf(c.State.Status); p != ovm.PowerRunning {
		return hypervisor.ExecResult{}, ovm.Errorf(ovm.KindConflict, "docker host %s: cannot exec in instance %s: it is %s", d.c.name, ref, p)
	}
	opts := container.ExecOptions{Cmd: spec.Command, AttachStdout: true, AttachStderr: true, AttachStdin: spec.Stdin != nil}
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		opts.Env = append(opts.Env, k+"="+spec.Env[k])
	}
	created, err := d.c.cli.ContainerExecCreate(ctx, c.ID, opts)
	if err != nil {
		return hypervisor.ExecResult{}, d.c.engineError(ctx, err, "command", "exec in %s", ref)
	}
	hj, err := d.c.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return hypervisor.ExecResult{}, d.c.engineError(ctx, err, "", "exec in %s: attach", ref)
	}
	stop := closeOnDone(ctx, &hj)
	defer stop()
	if spec.Stdin != nil {
		go func() {
			_, _ = io.Copy(hj.Conn, spec.Stdin)
			_ = hj.CloseWrite()
		}()
	}
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, hj.Reader); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return hypervisor.ExecResult{}, d.c.engineError(ctx, err, "", "exec in %s: read output", ref)
	}
	insp, err := d.c.cli.ContainerExecInspect(ctx, created.ID)
	if err != nil {
		return hypervisor.ExecResult{}, d.c.engineError(ctx, err, "", "exec in %s: exit code", ref)
	}
	return hypervisor.ExecResult{ExitCode: insp.ExitCode, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}, nil
}

// closeOnDone closes a hijacked connection when ctx ends, so that reads on
// it are bounded by ctx too; the returned stop ends the watch and closes
// the connection.
func closeOnDone(ctx context.Context, hj *types.HijackedResponse) (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	go func() {
		select {
		case <-ctx.Done():
			hj.Close()
		case <-done:
		}
	}()
	return func() {
		once.Do(func() {
			close(done)
			hj.Close()
		})
	}
}

// Console attaches to a container's standard streams: reads give what it
// printed since it started (its logs) and then what it prints, stdout and
// stderr merged; writes go to its standard input. The stream ends when it
// is closed or ctx ends.
func (d *Driver) Console(ctx context.Context, ref hypervisor.Ref) (io.ReadWriteCloser, error) {
	c, err := d.inspect(ctx, ref, "console")
	if err != nil {
		return nil, err
	}
	hj, err := d.c.cli.ContainerAttach(ctx, c.ID, container.AttachOptions{
		Stream: true, Stdin: true, Stdout: true, Stderr: true, Logs: true,
	})
	if err != nil {
		return nil, d.c.engineError(ctx, err, "", "console of %s", ref)
	}
	stop := closeOnDone(ctx, &hj)
	pr, pw := io.Pipe()
	tty := c.Config != nil && c.Config.Tty
	go func() {
		var err error
		if tty {
			_, err = io.Copy(pw, hj.Reader)
		} else {
			_, err = stdcopy.StdCopy(pw, pw, hj.Reader)
		}
		pw.CloseWithError(err)
	}()
	return &console{r: pr, hj: &hj, stop: stop}, nil
}

// console is an attached container's stream.
type console struct {
	r    *io.PipeReader
	hj   *types.HijackedResponse
	stop func()
}

func (c *console) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *console) Write(p []byte) (int, error) { return c.hj.Conn.Write(p) }

// Close detaches from the container; the container keeps running.
func (c *console) Close() error {
	c.stop()
	return c.r.Close()
}
