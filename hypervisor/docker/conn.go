package docker

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"sync"
	"time"

	"github.com/docker/docker/client"

	"github.com/openovm/ovm/ovm"
)

// Options says how to reach one Docker engine.
type Options struct {
	// Host is the engine's endpoint: "unix:///var/run/docker.sock",
	// "tcp://10.0.0.5:2376" or "ssh://user@host[:port]". Empty means the
	// environment's (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH),
	// then the default socket.
	Host string
	// TLS, for tcp://, verifies the engine against a CA and presents a
	// client certificate (files in PEM). Without it tcp:// is plain HTTP.
	TLS *TLSFiles
	// SSH configures ssh:// hosts.
	SSH SSHOptions
	// Name is how errors name the host; empty means Host.
	Name string
}

// TLSFiles names the PEM files of a TLS client: the CA that signed the
// engine's certificate, and the client's certificate and key.
type TLSFiles struct {
	CA, Cert, Key string
}

// SSHOptions configures ssh:// hosts. The driver runs
// `ssh [-p PORT] [-l USER] ARGS... -- HOST docker system dial-stdio` and
// speaks the Engine API over its standard input and output, as the docker
// CLI does; the remote host needs the docker CLI and the user access to the
// engine's socket.
type SSHOptions struct {
	// Command is the ssh program and its first arguments; empty means
	// "ssh".
	Command []string
	// Args are added before "--", such as "-i", "/path/key" or
	// "-o", "StrictHostKeyChecking=yes".
	Args []string
	// RemoteCommand runs on the host; empty means
	// "docker system dial-stdio".
	RemoteCommand []string
}

// conn is one connection to an engine, shared by the instance, storage,
// network and image drivers of a host.
type conn struct {
	cli  *client.Client
	name string
	// Host facts read once at Connect: they bound what Create and
	// Reconfigure accept.
	ncpu     int
	memTotal ovm.Bytes
	hostname string
	version  string
	api      string
	locks    keyedMutex
}

// dial builds the client for opts and negotiates the API version with the
// engine within ctx, so that no later call waits on a negotiation.
func dial(ctx context.Context, opts Options) (*conn, error) {
	clientOpts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	name := opts.Name
	if opts.Host != "" {
		u, err := url.Parse(opts.Host)
		if err != nil || u.Scheme == "" {
			return nil, ovm.Invalid("invalid docker host", ovm.FieldError{Field: "host", Reason: "must be unix://PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]", Value: opts.Host})
		}
		switch u.Scheme {
		case "unix", "npipe":
			clientOpts = append(clientOpts, client.WithHost(opts.Host))
		case "tcp":
			clientOpts = append(clientOpts, client.WithHost(opts.Host))
			if opts.TLS != nil {
				clientOpts = append(clientOpts, client.WithTLSClientConfig(opts.TLS.CA, opts.TLS.Cert, opts.TLS.Key))
			}
		case "ssh":
			argv, err := sshArgv(u, opts.SSH)
			if err != nil {
				return nil, err
			}
			clientOpts = append(clientOpts,
				client.WithHost("http://docker.ssh"),
				client.WithDialContext(func(ctx context.Context, _, _ string) (net.Conn, error) { return dialCommand(ctx, argv) }))
		default:
			return nil, ovm.Invalid("invalid docker host", ovm.FieldError{Field: "host", Reason: "scheme must be unix, tcp or ssh", Value: opts.Host})
		}
		if name == "" {
			name = opts.Host
		}
	}
	cli, err := client.NewClientWithOpts(clientOpts...)
	if err != nil {
		return nil, ovm.Wrap(ovm.KindInvalid, err, "docker host %s", opts.Host)
	}
	if name == "" {
		name = cli.DaemonHost()
	}
	c := &conn{cli: cli, name: name}
	if err := c.ctxErr(ctx, "connect"); err != nil {
		_ = cli.Close()
		return nil, err
	}
	// Negotiate now, bounded by ctx: the client's lazy negotiation would
	// hold a lock across a ping bounded by some later call's context.
	ping, err := cli.Ping(ctx)
	if err != nil {
		_ = cli.Close()
		return nil, c.engineError(ctx, err, "", "connect")
	}
	cli.NegotiateAPIVersionPing(ping)
	info, err := cli.Info(ctx)
	if err != nil {
		_ = cli.Close()
		return nil, c.engineError(ctx, err, "", "info")
	}
	c.ncpu, c.memTotal, c.hostname, c.version = info.NCPU, ovm.Bytes(info.MemTotal), info.Name, info.ServerVersion
	c.api = cli.ClientVersion()
	return c, nil
}

// sshArgv builds the ssh command line for an ssh:// URL.
func sshArgv(u *url.URL, o SSHOptions) ([]string, error) {
	if u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, ovm.Invalid("invalid docker host", ovm.FieldError{Field: "host", Reason: "must be ssh://[USER@]HOST[:PORT], without a path or query", Value: u.String()})
	}
	argv := append([]string(nil), o.Command...)
	if len(argv) == 0 {
		argv = []string{"ssh"}
	}
	if p := u.Port(); p != "" {
		argv = append(argv, "-p", p)
	}
	if u.User != nil && u.User.Username() != "" {
		argv = append(argv, "-l", u.User.Username())
	}
	argv = append(argv, o.Args...)
	argv = append(argv, "--", u.Hostname())
	remote := o.RemoteCommand
	if len(remote) == 0 {
		remote = []string{"docker", "system", "dial-stdio"}
	}
	return append(argv, remote...), nil
}

// cmdConn is a net.Conn over a command's standard input and output.
type cmdConn struct {
	cmd *exec.Cmd
	r   interface{ Read([]byte) (int, error) }
	w   interface {
		Write([]byte) (int, error)
		Close() error
	}
	once sync.Once
}

// dialCommand starts argv and returns its standard streams as a
// connection. The command lives as long as the connection (not as long as
// ctx, which bounds only the dial); Close kills it.
func dialCommand(ctx context.Context, argv []string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	return &cmdConn{cmd: cmd, r: stdout, w: stdin}, nil
}

func (c *cmdConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *cmdConn) Write(p []byte) (int, error) { return c.w.Write(p) }

// CloseWrite closes the command's standard input (half-close, for hijacked
// exec and attach streams).
func (c *cmdConn) CloseWrite() error { return c.w.Close() }

// Close kills the command and reaps it.
func (c *cmdConn) Close() error {
	c.once.Do(func() {
		_ = c.w.Close()
		if c.cmd.Process != nil {
			_ = c.cmd.Process.Kill()
		}
		_ = c.cmd.Wait()
	})
	return nil
}

func (c *cmdConn) LocalAddr() net.Addr  { return cmdAddr{} }
func (c *cmdConn) RemoteAddr() net.Addr { return cmdAddr{} }

// Deadlines are not supported on a pipe; the HTTP transport bounds calls
// by closing the connection when their context ends.
func (c *cmdConn) SetDeadline(time.Time) error      { return nil }
func (c *cmdConn) SetReadDeadline(time.Time) error  { return nil }
func (c *cmdConn) SetWriteDeadline(time.Time) error { return nil }

type cmdAddr struct{}

func (cmdAddr) Network() string { return "cmd" }
func (cmdAddr) String() string  { return "cmd" }

// keyedMutex serialises work on one key (an OVM id) within this process;
// waiting is bounded by the caller's context.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	ch   chan struct{}
	refs int
}

// lock takes key's lock and returns its release, or ctx's error.
func (k *keyedMutex) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyLock{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	drop := func() {
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; drop() }, nil
	case <-ctx.Done():
		drop()
		return nil, ctx.Err()
	}
}
