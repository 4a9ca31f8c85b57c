package esxi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// TestDial connects with each way of trusting the host, and refuses what
// must be refused with a clear error of the right kind.
func TestDial(t *testing.T) {
	h := newHost(t)
	cert := h.server.Certificate()
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	closed := closedPort(t)
	for _, tt := range []struct {
		name     string
		cfg      func(Config) Config
		wantKind error // nil: Dial succeeds
		wantText []string
	}{
		{"sha-256 thumbprint", func(c Config) Config { return c }, nil, nil},
		{"sha-1 thumbprint as ESXi shows it", func(c Config) Config {
			c.Thumbprint = soap.ThumbprintSHA1(cert) // upper-case hex with colons
			return c
		}, nil, nil},
		{"ca pool", func(c Config) Config { c.Thumbprint, c.RootCAs = "", pool; return c }, nil, nil},
		{"wrong password", func(c Config) Config { c.Password = "wrong"; return c }, ovm.ErrInvalid,
			[]string{"wrong user name or password for " + h.cfg.Host}},
		{"certificate mismatch", func(c Config) Config { c.Thumbprint = strings.Repeat("ab", 32); return c }, ovm.ErrInvalid,
			[]string{"does not match the pinned thumbprint", strings.Repeat("ab", 32)}},
		{"untrusted certificate", func(c Config) Config { c.Thumbprint = ""; return c }, ovm.ErrInvalid,
			[]string{"cannot verify the host's certificate"}},
		{"unreachable host", func(c Config) Config { c.Host = closed; return c }, ovm.ErrUnavailable,
			[]string{closed, "connection refused"}},
		{"invalid config", func(c Config) Config { c.User = ""; return c }, ovm.ErrInvalid, []string{"user"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			start := time.Now()
			d, err := Dial(ctx, tt.cfg(h.cfg))
			if tt.wantKind == nil {
				require.NoError(t, err, "Dial with %s: got an error, want a driver", tt.name)
				require.NoError(t, d.Ping(ctx), "Ping: got an error, want none")
				require.NoError(t, d.Close(), "Close: got an error, want none")
				return
			}
			require.ErrorIs(t, err, tt.wantKind, "Dial with %s: got %v, want %v", tt.name, err, tt.wantKind)
			for _, s := range tt.wantText {
				assert.Contains(t, err.Error(), s, "Dial with %s: got %q, want it to say %q", tt.name, err, s)
			}
			assert.Less(t, time.Since(start), 10*time.Second, "Dial with %s: took %s, want a prompt refusal", tt.name, time.Since(start))
		})
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// TestDialRefusesVCenter points the driver at a simulated vCenter.
func TestDialRefusesVCenter(t *testing.T) {
	m := simulator.VPX()
	require.NoError(t, m.Create())
	m.Service.TLS = new(tls.Config)
	m.Service.Listen = &url.URL{User: url.UserPassword(simUser, simPassword)}
	s := m.Service.NewServer()
	t.Cleanup(func() { s.Close(); m.Remove() })
	s256, _ := Thumbprints(s.Certificate())
	_, err := Dial(t.Context(), Config{Host: s.URL.Host, User: simUser, Password: simPassword, Thumbprint: s256})
	require.ErrorIs(t, err, ovm.ErrInvalid, "Dial of a vCenter: got %v, want invalid", err)
	assert.Contains(t, err.Error(), `api type "VirtualCenter"`, "Dial of a vCenter: got %q, want the api type named", err)
	assert.Contains(t, err.Error(), "not a standalone ESXi host", "Dial of a vCenter: got %q, want the reason", err)
}

// TestSessionExpires terminates the driver's session on the host (as an
// administrator, or a host restart, would): the next call logs in again and
// succeeds.
func TestSessionExpires(t *testing.T) {
	h := newHost(t)
	d := h.dial(t)
	admin := h.admin(t)
	ctx := t.Context()
	before, err := d.List(ctx)
	require.NoError(t, err, "List: got an error, want none")

	us, err := session.NewManager(d.c.client).UserSession(ctx)
	require.NoError(t, err, "UserSession: got an error, want the driver's session")
	require.NoError(t, session.NewManager(admin).TerminateSession(ctx, []string{us.Key}), "TerminateSession")
	gen := loginCount(d)

	after, err := d.List(ctx)
	require.NoError(t, err, "List after the session was terminated: got an error, want a new login and the list")
	assert.Equal(t, len(before), len(after), "List after the new login: got %d vms, want %d", len(after), len(before))
	assert.Equal(t, gen+1, loginCount(d), "logins: got %d, want one more than %d", loginCount(d), gen)
	again, err := session.NewManager(d.c.client).UserSession(ctx)
	require.NoError(t, err, "UserSession after the new login")
	assert.NotEqual(t, us.Key, again.Key, "session key after the new login: got the old %s, want a new one", us.Key)
}

// TestKeepAliveLogsInAgain: with a short keep-alive, a terminated session is
// renewed by the keep-alive itself, before any call of the driver.
func TestKeepAliveLogsInAgain(t *testing.T) {
	h := newHost(t)
	cfg := h.cfg
	cfg.KeepAlive = 20 * time.Millisecond
	d, err := Dial(t.Context(), cfg)
	require.NoError(t, err, "Dial")
	t.Cleanup(func() { _ = d.Close() })
	us, err := session.NewManager(d.c.client).UserSession(t.Context())
	require.NoError(t, err, "UserSession")
	gen := loginCount(d)
	require.NoError(t, session.NewManager(h.admin(t)).TerminateSession(t.Context(), []string{us.Key}), "TerminateSession")
	require.Eventually(t, func() bool { return loginCount(d) > gen }, 5*time.Second, 10*time.Millisecond,
		"logins after the session was terminated: got %d, want the keep-alive to log in again", loginCount(d))
}

// loginCount reads how many times the driver logged in.
func loginCount(d *Driver) uint64 {
	d.c.relogin.mu.Lock()
	defer d.c.relogin.mu.Unlock()
	return d.c.relogin.gen
}

// TestClosed: calls after Close are unavailable.
func TestClosed(t *testing.T) {
	h := newHost(t)
	d, err := Dial(t.Context(), h.cfg)
	require.NoError(t, err, "Dial")
	require.NoError(t, d.Close(), "Close")
	require.NoError(t, d.Close(), "second Close: got an error, want none")
	_, err = d.List(t.Context())
	assert.ErrorIs(t, err, ovm.ErrUnavailable, "List after Close: got %v, want unavailable", err)
	err = d.Start(t.Context(), hypervisor.ByID(ovm.NewID()))
	assert.ErrorIs(t, err, ovm.ErrUnavailable, "Start after Close: got %v, want unavailable", err)
}
