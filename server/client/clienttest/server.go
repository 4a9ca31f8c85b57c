// Package clienttest runs the real OVM API in process for tests of its
// clients: a SQLite store in a temporary directory, the task engine, the
// core service with fake hosts, and an httptest server, all removed when
// the test ends.
package clienttest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/image/library"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/api"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/backup"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
	"github.com/openovm/ovm/server/secrets"
	"github.com/openovm/ovm/server/store/sqlstore"
	"github.com/openovm/ovm/server/tasks"
)

// cheap keeps password hashing fast in tests.
var cheap = auth.Argon2idParams{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

// Server is a running API.
type Server struct {
	// URL is the server's base URL.
	URL string
	// AdminName and AdminPassword log in as the platform administrator.
	AdminName, AdminPassword string
	// Fakes are the fake hosts behind "fake://NAME" endpoints.
	Fakes *drivers.FakeHosts
	// Service is the core service behind the API.
	Service *core.Service
	// Fingerprint is the hex SHA-256 of the server's self-signed
	// certificate when it serves HTTPS (Options.TLS), else "".
	Fingerprint string
	// CertPEM is that certificate in PEM (its own CA), else nil.
	CertPEM []byte

	mu    sync.Mutex
	creds map[string]drivers.Credentials
}

// Credentials returns the credentials the server last handed the driver of
// the fake host at endpoint (decrypted, as a driver gets them), and whether
// it connected to that host at all.
func (s *Server) Credentials(endpoint string) (drivers.Credentials, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[endpoint]
	return c, ok
}

// Options configure StartWith.
type Options struct {
	// TLS serves HTTPS with a self-signed certificate.
	TLS bool
}

// Start runs an API on plain HTTP until t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith runs an API as o says until t ends.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	ctx := context.Background()
	dataDir := filepath.Join(t.TempDir(), "db")
	st, err := sqlstore.OpenSQLite(ctx, dataDir)
	require.NoError(t, err, "open sqlite")
	t.Cleanup(func() { _ = st.Close() })
	m := api.NewMetrics()
	eng := tasks.New(st, tasks.Options{PollInterval: 20 * time.Millisecond, LeaseTTL: 10 * time.Second, Workers: 8, PerHost: 4, Observe: m.ObserveTask})
	reg := drivers.NewRegistry()
	fakes := drivers.NewFakeHosts(fake.Options{})
	out := &Server{Fakes: fakes, creds: map[string]drivers.Credentials{}}
	factory := fakes.Factory()
	reg.Register(ovm.HostFake, func(ctx context.Context, h ovm.Host, c drivers.Credentials) (drivers.Conn, error) {
		out.mu.Lock()
		out.creds[h.Endpoint] = c
		out.mu.Unlock()
		return factory(ctx, h, c)
	})
	key := make([]byte, secrets.KeySize)
	_, _ = rand.Read(key)
	box, err := secrets.New(key)
	require.NoError(t, err, "secrets")
	keyFile := filepath.Join(dataDir, "secret.key")
	require.NoError(t, os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)), 0o600), "secret key file")
	src := backup.Source{Store: st, DataDir: dataDir, SecretKeyFile: keyFile, ServerVersion: "test"}
	libDir := filepath.Join(t.TempDir(), "images")
	require.NoError(t, os.MkdirAll(libDir, 0o755), "template library")
	lib, err := library.New(libDir, library.Options{})
	require.NoError(t, err, "template library")
	t.Cleanup(func() { _ = lib.Close() })
	svc, err := core.New(core.Options{Store: st, Tasks: eng, Drivers: reg, Secrets: box, Argon2: cheap, ObserveDriverCall: m.ObserveDriverCall,
		Backup:  func(ctx context.Context) (core.Snapshot, error) { return backup.Take(ctx, src) },
		Library: lib, LibraryDir: libDir})
	require.NoError(t, err, "core service")
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = eng.Run(runCtx) })
	srv := httptest.NewUnstartedServer(api.New(svc, api.Options{Metrics: m}))
	if o.TLS {
		srv.StartTLS()
		sum := sha256.Sum256(srv.Certificate().Raw)
		out.Fingerprint = hex.EncodeToString(sum[:])
		out.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	} else {
		srv.Start()
	}
	// Cleanups run last-in first-out: the HTTP server closes (ending open
	// event streams) before the engine stops and the store closes.
	t.Cleanup(func() { cancel(); wg.Wait() })
	t.Cleanup(srv.Close)
	pw, created, err := core.NewSystem(svc).EnsureAdmin(ctx, "admin")
	require.NoError(t, err, "ensure admin")
	require.True(t, created, "EnsureAdmin on an empty store: created false, want true")
	out.URL, out.AdminName, out.AdminPassword, out.Service = srv.URL, "admin", pw, svc
	return out
}

// Host returns the fake host behind endpoint ("fake://h1"), to add latency
// or faults.
func (s *Server) Host(t testing.TB, endpoint string) *drivers.FakeHost {
	t.Helper()
	h, err := s.Fakes.Host(endpoint)
	require.NoError(t, err, "fake host %s", endpoint)
	return h
}
