package libvirt

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/openovm/ovm/ovm"
)

// Transport is how a libvirt URI reaches its daemon.
type Transport string

// The transports a URI may name.
const (
	TransportUnix Transport = "unix" // qemu:///system, qemu+unix:///system
	TransportTCP  Transport = "tcp"  // qemu+tcp://host[:port]/system (no auth, tests and trusted networks)
	TransportTLS  Transport = "tls"  // qemu+tls://host[:port]/system (x509, pkipath= or /etc/pki)
	TransportSSH  Transport = "ssh"  // qemu+ssh://user@host[:port]/system (keyfile=, known_hosts=)
)

// DefaultSocket is the system libvirtd's socket.
const DefaultSocket = "/var/run/libvirt/libvirt-sock"

// Endpoint is a parsed libvirt URI.
type Endpoint struct {
	// URI is the URI as given.
	URI       string
	Transport Transport
	// Driver is the URI's hypervisor driver ("qemu") and Path its path
	// ("/system"); together they are what the daemon is asked to open.
	Driver string
	Path   string
	Host   string
	Port   string
	User   string
	// Socket is the local socket (unix), or the remote socket (ssh).
	Socket string
	// PKIPath is the directory of the client certificate, key and CA (tls).
	PKIPath string
	// NoVerify skips the server certificate check (tls, no_verify=1).
	NoVerify bool
	// KeyFile and KnownHosts are the ssh identity and known hosts files.
	KeyFile    string
	KnownHosts string
}

// RemoteURI is the URI the daemon opens: scheme without transport, and path.
func (e Endpoint) RemoteURI() string { return e.Driver + "://" + e.Path }

// ParseURI parses a libvirt connection URI. Only the qemu driver is
// accepted; unknown transports and query parameters that do not fit the
// transport are ovm.ErrInvalid naming the field "uri".
func ParseURI(s string) (Endpoint, error) {
	bad := func(reason string) (Endpoint, error) {
		return Endpoint{}, ovm.Invalid("invalid libvirt uri", ovm.FieldError{Field: "uri", Reason: reason, Value: s})
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad(err.Error())
	}
	driver, transport, _ := strings.Cut(u.Scheme, "+")
	if driver != "qemu" {
		return bad(fmt.Sprintf("driver %q is not qemu", driver))
	}
	e := Endpoint{URI: s, Driver: driver, Path: u.Path, Host: u.Hostname(), Port: u.Port(), User: u.User.Username()}
	if e.Path != "/system" && e.Path != "/session" {
		return bad("path must be /system or /session")
	}
	q := u.Query()
	switch transport {
	case "", "unix":
		if transport == "" && e.Host != "" {
			e.Transport = TransportTLS
			break
		}
		if e.Host != "" {
			return bad("a unix socket URI names no host")
		}
		e.Transport = TransportUnix
		e.Socket = q.Get("socket")
		if e.Socket == "" {
			e.Socket = DefaultSocket
		}
	case "tcp":
		e.Transport = TransportTCP
	case "tls":
		e.Transport = TransportTLS
	case "ssh", "libssh", "libssh2":
		e.Transport = TransportSSH
		e.Socket = q.Get("socket")
		e.KeyFile = q.Get("keyfile")
		e.KnownHosts = q.Get("known_hosts")
	default:
		return bad(fmt.Sprintf("transport %q is not unix, tcp, tls or ssh", transport))
	}
	if e.Transport == TransportTLS {
		e.PKIPath = q.Get("pkipath")
		e.NoVerify = q.Get("no_verify") == "1"
	}
	if e.Transport != TransportUnix && e.Host == "" {
		return bad(fmt.Sprintf("a %s URI needs a host", e.Transport))
	}
	return e, nil
}

// ctxDialer dials a unix or tcp endpoint within a context.
type ctxDialer struct {
	ctx     context.Context
	network string
	addr    string
}

func (d ctxDialer) Dial() (net.Conn, error) {
	var nd net.Dialer
	return nd.DialContext(d.ctx, d.network, d.addr)
}

// tlsCtxDialer wraps go-libvirt's TLS dialer so that the handshake is
// bounded by the context's deadline.
type tlsCtxDialer struct {
	ctx   context.Context
	inner socket.Dialer
}

func (d tlsCtxDialer) Dial() (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := d.inner.Dial()
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-d.ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				_ = r.c.Close()
			}
		}()
		return nil, d.ctx.Err()
	}
}

// dialer returns the socket dialer for e, bounded by ctx.
func (e Endpoint) dialer(ctx context.Context) socket.Dialer {
	switch e.Transport {
	case TransportUnix:
		return ctxDialer{ctx, "unix", e.Socket}
	case TransportTCP:
		port := e.Port
		if port == "" {
			port = "16509"
		}
		return ctxDialer{ctx, "tcp", net.JoinHostPort(e.Host, port)}
	case TransportTLS:
		var opts []dialers.TLSOption
		if e.Port != "" {
			opts = append(opts, dialers.UseTLSPort(e.Port))
		}
		if e.PKIPath != "" {
			opts = append(opts, dialers.UsePKIPath(e.PKIPath))
		}
		if e.NoVerify {
			opts = append(opts, dialers.WithInsecureNoVerify())
		}
		return tlsCtxDialer{ctx, dialers.NewTLS(e.Host, opts...)}
	default: // TransportSSH
		var opts []dialers.SSHOption
		if e.Port != "" {
			opts = append(opts, dialers.UseSSHPort(e.Port))
		}
		if e.User != "" {
			opts = append(opts, dialers.UseSSHUsername(e.User))
		}
		if e.KeyFile != "" {
			opts = append(opts, dialers.UseKeyFile(e.KeyFile))
		}
		if e.KnownHosts != "" {
			opts = append(opts, dialers.UseKnownHostsFile(e.KnownHosts))
		}
		if e.Socket != "" {
			opts = append(opts, dialers.WithRemoteSocket(e.Socket))
		}
		return tlsCtxDialer{ctx, dialers.NewSSH(e.Host, opts...)}
	}
}

// connect opens an RPC connection to e within ctx. A daemon that does not
// answer is ovm.ErrUnavailable, keeping the dialer's text.
func connect(ctx context.Context, e Endpoint) (*golibvirt.Libvirt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l := golibvirt.NewWithDialer(e.dialer(ctx))
	done := make(chan error, 1)
	go func() { done <- l.ConnectToURI(golibvirt.ConnectURI(e.RemoteURI())) }()
	select {
	case err := <-done:
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, ovm.Errorf(ovm.KindUnavailable, "libvirt %s does not answer: %w", e.URI, err)
		}
		return l, nil
	case <-ctx.Done():
		go func() {
			if <-done == nil {
				_ = l.Disconnect()
			}
		}()
		return nil, ctx.Err()
	}
}
