package core

import (
	"bytes"
	"context"
	"io"
	"sync"
	"time"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// Exec and Console act on the hypervisor but change nothing OVM records:
// they read an instance's output or run a command in it, interactively, so
// they are direct driver calls bounded in time and size, not tasks. A task
// is for a change the platform must see through (resume, roll back).

// The bounds of Exec.
const (
	// DefaultExecTimeout bounds a command when Exec.Timeout is zero.
	DefaultExecTimeout = 30 * time.Second
	// MaxExecTimeout is the longest a command may run.
	MaxExecTimeout = 5 * time.Minute
	// MaxExecOutput is how much of each of stdout and stderr is returned;
	// the rest is dropped and the result says Truncated.
	MaxExecOutput = 1 << 20
	// MaxExecStdin bounds the standard input of a command.
	MaxExecStdin = 512 << 10
	// maxExecArgs and maxExecArg bound the command line.
	maxExecArgs = 256
	maxExecArg  = 16 << 10
)

// Exec is a command to run inside an instance.
type Exec struct {
	Command []string
	Env     map[string]string
	// Stdin is the command's standard input; nil is none.
	Stdin []byte
	// Timeout bounds the command (DefaultExecTimeout when zero, at most
	// MaxExecTimeout).
	Timeout time.Duration
}

// ExecResult is what a command did inside an instance.
type ExecResult = apitypes.ExecResult

func (in Exec) validate() error {
	var f ovm.Fields
	switch {
	case len(in.Command) == 0 || in.Command[0] == "":
		f.Add("command", "must name a program, such as [\"cat\", \"/etc/hostname\"]")
	case len(in.Command) > maxExecArgs:
		f.Addf("command", "must have at most %d arguments", maxExecArgs)
	}
	for i, a := range in.Command {
		if len(a) > maxExecArg || bytes.IndexByte([]byte(a), 0) >= 0 {
			f.Addf("command["+itoa(i)+"]", "must be at most %d bytes without NUL", maxExecArg)
		}
	}
	for k, v := range in.Env {
		if k == "" || len(k) > 256 || bytes.ContainsAny([]byte(k), "=\x00") || bytes.IndexByte([]byte(v), 0) >= 0 {
			f.Add("env."+k, "names must be non-empty, without '=' or NUL, at most 256 bytes; values without NUL")
		}
	}
	if len(in.Stdin) > MaxExecStdin {
		f.Addf("stdin", "must be at most %d bytes", MaxExecStdin)
	}
	if in.Timeout < 0 || in.Timeout > MaxExecTimeout {
		f.Addf("timeoutSeconds", "must be between 1 and %d seconds", int(MaxExecTimeout/time.Second))
	}
	return f.Err("invalid exec")
}

// facet connects to the host of an instance the principal may see and
// returns its driver (the driver itself, so that its facets show) and
// reference. The instance must be ready on a host.
func (s *Service) facet(ctx context.Context, p auth.Principal, id ovm.ID, what string) (hypervisor.Driver, hypervisor.Ref, instanceRecord, error) {
	var inst instanceRecord
	var host hostRecord
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getVisible(ctx, tx, p, store.KindInstance, id)
		if err != nil {
			return err
		}
		if inst, err = decode[instanceRecord](r); err != nil {
			return err
		}
		if inst.Status.Phase != ovm.PhaseReady || inst.Status.HostID == "" {
			return conflictf("cannot %s instance %s: it is %s", what, inst.Name, inst.Status.Phase)
		}
		host, _, err = getAs[hostRecord](ctx, tx, store.KindHost, inst.Status.HostID)
		return err
	})
	if err != nil {
		return nil, hypervisor.Ref{}, inst, err
	}
	conn, err := s.connect(ctx, host)
	if err != nil {
		return nil, hypervisor.Ref{}, inst, hostError(host.Host, err)
	}
	return conn.Hypervisor, ref(inst), inst, nil
}

// Exec runs a command inside a running instance through its driver's
// Executor facet (see execFacet). A host kind without the facet is
// ovm.ErrUnsupported; a stopped instance ovm.ErrConflict. A command that
// runs and fails is a result with its exit code, not an error.
func (s *Service) Exec(ctx context.Context, p auth.Principal, id ovm.ID, in Exec) (ExecResult, error) {
	if err := in.validate(); err != nil {
		return ExecResult{}, err
	}
	timeout := in.Timeout
	if timeout == 0 {
		timeout = DefaultExecTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hv, r, inst, err := s.facet(ctx, p, id, "exec in")
	if err != nil {
		return ExecResult{}, err
	}
	ex, err := s.execFacet(hv, inst.Name)
	if err != nil {
		return ExecResult{}, err
	}
	spec := hypervisor.ExecSpec{Command: in.Command, Env: in.Env}
	if in.Stdin != nil {
		spec.Stdin = bytes.NewReader(in.Stdin)
	}
	res, err := ex.Exec(ctx, r, spec)
	if err != nil {
		if ctx.Err() != nil && ovm.KindOf(err) == ovm.KindInternal {
			return ExecResult{}, ovm.Wrap(ovm.KindUnavailable, err, "exec in instance %s did not finish within %s", inst.Name, timeout)
		}
		return ExecResult{}, err
	}
	out := ExecResult{ExitCode: res.ExitCode}
	var cut bool
	out.Stdout, cut = clip(res.Stdout)
	out.Truncated = cut
	out.Stderr, cut = clip(res.Stderr)
	out.Truncated = out.Truncated || cut
	return out, nil
}

// clip returns at most MaxExecOutput bytes of b as text.
func clip(b []byte) (string, bool) {
	if len(b) > MaxExecOutput {
		return string(b[:MaxExecOutput]), true
	}
	return string(b), false
}

// The bounds of Console.
const (
	// DefaultConsoleDuration bounds a console read when
	// ConsoleOptions.Duration is zero.
	DefaultConsoleDuration = 10 * time.Second
	// MaxConsoleDuration is the longest a console read may last.
	MaxConsoleDuration = 10 * time.Minute
	// DefaultConsoleBytes bounds a console read when MaxBytes is zero.
	DefaultConsoleBytes = 256 << 10
	// MaxConsoleBytes is the most a console read may return.
	MaxConsoleBytes = 16 << 20
	// ConsoleIdle ends a console read without Follow once the instance
	// printed nothing for this long.
	ConsoleIdle = time.Second
)

// ConsoleOptions bound a console read.
type ConsoleOptions struct {
	// Follow keeps reading until Duration or MaxBytes is reached or the
	// console ends; without it the read ends once the instance has been
	// quiet for ConsoleIdle (what it printed so far: the attached output of
	// a container from its start, what a VM prints now).
	Follow bool
	// Duration bounds the read (DefaultConsoleDuration when zero, at most
	// MaxConsoleDuration).
	Duration time.Duration
	// MaxBytes bounds the bytes returned (DefaultConsoleBytes when zero, at
	// most MaxConsoleBytes).
	MaxBytes int64
}

func (o ConsoleOptions) validate() error {
	var f ovm.Fields
	if o.Duration < 0 || o.Duration > MaxConsoleDuration {
		f.Addf("query.maxSeconds", "must be between 1 and %d", int(MaxConsoleDuration/time.Second))
	}
	if o.MaxBytes < 0 || o.MaxBytes > MaxConsoleBytes {
		f.Addf("query.maxBytes", "must be between 1 and %d", MaxConsoleBytes)
	}
	return f.Err("invalid console read")
}

// Console opens an instance's console through its driver's Consoler facet
// (a VM's serial console, a container's attached output) and returns its
// output, bounded by o. The caller reads until io.EOF and closes it, which
// detaches (the instance keeps running). A host kind without the facet is
// ovm.ErrUnsupported. Nothing is written to the console.
func (s *Service) Console(ctx context.Context, p auth.Principal, id ovm.ID, o ConsoleOptions) (io.ReadCloser, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Duration == 0 {
		o.Duration = DefaultConsoleDuration
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultConsoleBytes
	}
	octx, ocancel := context.WithTimeout(ctx, s.o.DriverTimeout)
	defer ocancel()
	hv, r, inst, err := s.facet(octx, p, id, "open the console of")
	if err != nil {
		return nil, err
	}
	c, ok := hv.(hypervisor.Consoler)
	if !ok || !hv.Capabilities().Console {
		return nil, ovm.Errorf(ovm.KindUnsupported, "cannot open the console of instance %s: the host kind has no console (%s)", inst.Name, hv.Kind())
	}
	// The stream lives past this call: bound it by the read's duration,
	// under the caller's context.
	sctx, cancel := context.WithTimeout(ctx, o.Duration)
	start := time.Now()
	rwc, err := c.Console(sctx, r)
	s.observe(hv.Kind(), "Console", err, start)
	if err != nil {
		cancel()
		return nil, err
	}
	cs := &consoleStream{ch: make(chan []byte, 16), left: o.MaxBytes, ctx: sctx, cancel: cancel, con: rwc}
	if !o.Follow {
		cs.idle = ConsoleIdle
	}
	go cs.pump()
	return cs, nil
}

// consoleStream is a console read bounded in time, bytes and (without
// follow) quiet time.
type consoleStream struct {
	ch      chan []byte
	pending []byte
	left    int64
	idle    time.Duration
	ctx     context.Context
	cancel  context.CancelFunc
	con     io.ReadWriteCloser
	once    sync.Once
}

// pump copies the console into ch until it ends or the read is over.
func (c *consoleStream) pump() {
	defer close(c.ch)
	for {
		buf := make([]byte, 4096)
		n, err := c.con.Read(buf)
		if n > 0 {
			select {
			case c.ch <- buf[:n]:
			case <-c.ctx.Done():
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Read returns console output; io.EOF when the console ended, the read's
// duration or byte budget is spent, or (without follow) it was quiet.
func (c *consoleStream) Read(p []byte) (int, error) {
	if len(c.pending) == 0 {
		if c.left <= 0 {
			return 0, io.EOF
		}
		var idle <-chan time.Time
		if c.idle > 0 {
			t := time.NewTimer(c.idle)
			defer t.Stop()
			idle = t.C
		}
		select {
		case b, ok := <-c.ch:
			if !ok {
				return 0, io.EOF
			}
			if int64(len(b)) > c.left {
				b = b[:c.left]
			}
			c.left -= int64(len(b))
			c.pending = b
		case <-c.ctx.Done():
			return 0, io.EOF
		case <-idle:
			return 0, io.EOF
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// Close detaches from the console.
func (c *consoleStream) Close() error {
	var err error
	c.once.Do(func() {
		c.cancel()
		err = c.con.Close()
	})
	return err
}
