// Package app assembles the reference server from its parts: the store
// (embedded SQLite in the data directory, or CockroachDB/PostgreSQL), the
// secrets box, the driver registry, the task engine, the service, the
// controllers and the HTTP API. `ovm server` is Main; tests and embedders
// call Start.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/image/convert"
	"github.com/openovm/ovm/image/library"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/api"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/config"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
	"github.com/openovm/ovm/server/logging"
	"github.com/openovm/ovm/server/portal"
	"github.com/openovm/ovm/server/secrets"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/store/sqlstore"
	"github.com/openovm/ovm/server/tasks"
	"github.com/openovm/ovm/server/tlscert"
)

// Version is the server's version, shown in the OpenAPI document.
const Version = "0.1.0"

// Options configure Start.
type Options struct {
	// Config is the server's configuration (config.Load).
	Config config.Config
	// Stdout receives the one-time notice with the administrator's
	// generated password on the first start (default io.Discard).
	Stdout io.Writer
	// Logger receives the server's events; nil builds one from Config's
	// log format and level, writing to LogOutput.
	Logger *slog.Logger
	// LogOutput is where the built logger writes (default io.Discard).
	LogOutput io.Writer
	// Argon2 are the password hash parameters (default auth.DefaultArgon2id).
	Argon2 auth.Argon2idParams
	// Listener, when set, is used instead of listening on Config.Listen.
	Listener net.Listener
	// Fencer, when set, builds the fencer of the hosts that have no BMC
	// from the server's in-memory fake hosts (nil without --fake-hosts);
	// tests fence fake hosts with it. Hosts with a BMC are always fenced
	// through it.
	Fencer func(fakes *drivers.FakeHosts) controllers.Fencer
}

// Server is a running server.
type Server struct {
	cfg      config.Config
	log      *slog.Logger
	st       store.Store
	svc      *core.Service
	fakes    *drivers.FakeHosts
	fencer   func(*drivers.FakeHosts) controllers.Fencer
	reg      *drivers.Registry
	http     *http.Server
	ln       net.Listener
	metrics  *http.Server // on Config.MetricsListen, or nil
	mln      net.Listener
	password string
	// fingerprint is the SHA-256 of the API's certificate ("" on plain HTTP).
	fingerprint string

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errMu  sync.Mutex
	err    error
	done   chan struct{}
	once   sync.Once
}

// Start opens the store, creates the administrator on the first start,
// starts the task engine and the controllers, and serves the API. It
// returns once the server accepts connections. Stop it with Shutdown.
func Start(ctx context.Context, o Options) (_ *Server, err error) {
	cfg := o.Config
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	log := o.Logger
	if log == nil {
		if log, err = newLogger(cfg, o.LogOutput); err != nil {
			return nil, err
		}
	}
	began := time.Now()
	if cfg.Restore != "" {
		m, err := restore(cfg)
		if err != nil {
			return nil, err
		}
		log.Info("restored a backup", "file", cfg.Restore, "taken", m.CreatedAt, "by", m.ServerVersion, "dataDir", cfg.DataDir)
	}

	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var cleanup []func()
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()
	cleanup = append(cleanup, func() { _ = st.Close() })

	key, err := secrets.LoadOrCreateKey(cfg.SecretKeyFile)
	if err != nil {
		return nil, fmt.Errorf("the key that encrypts host credentials: %w", err)
	}
	box, err := secrets.New(key)
	if err != nil {
		return nil, err
	}

	metrics := api.NewMetrics()
	eng := tasks.New(st, tasks.Options{
		Owner: cfg.Replica + "-" + ovm.NewID().Short(), Workers: cfg.Workers, PerHost: cfg.PerHost, LeaseTTL: cfg.TaskLease,
		Logger: log.With("component", "tasks"), Observe: metrics.ObserveTask,
	})
	reg := drivers.NewRegistry()
	cleanup = append(cleanup, func() { _ = reg.Close() })
	var fakes *drivers.FakeHosts
	if cfg.FakeHosts {
		fakes = drivers.NewFakeHosts(fake.Options{})
		reg.Register(ovm.HostFake, fakes.Factory())
	}
	registerEngines(reg, log.With("component", "drivers"))

	if err := os.MkdirAll(cfg.ImageLibrary, 0o755); err != nil {
		return nil, fmt.Errorf("the template library: %w", err)
	}
	lib, err := library.New(cfg.ImageLibrary, library.Options{Logger: log.With("component", "library")})
	if err != nil {
		return nil, fmt.Errorf("the template library: %w", err)
	}
	cleanup = append(cleanup, func() { _ = lib.Close() })
	svc, err := core.New(core.Options{
		Store: st, Tasks: eng, Drivers: reg, Secrets: box, Argon2: o.Argon2, Library: lib, LibraryDir: cfg.ImageLibrary,
		Logger: log.With("component", "core"), ObserveDriverCall: metrics.ObserveDriverCall,
		Backup:  backupOf(st, cfg),
		Metrics: core.MetricsRetention{Raw: cfg.MetricsRetentionRaw, Minute: cfg.MetricsRetentionMinute, Hour: cfg.MetricsRetentionHour},
		Convert: convertOptions(cfg),
	})
	if err != nil {
		return nil, err
	}
	metrics.AddInstanceGauges(core.NewSystem(svc).LatestMetrics, 3*cfg.MetricsInterval, api.DefaultMaxInstanceSeries)
	if n, err := core.NewSystem(svc).HoldExisting(ctx); err != nil {
		return nil, fmt.Errorf("record the hosts' allocations: %w", err)
	} else if n > 0 {
		log.Info("recorded the hosts' allocations of existing instances and volumes", "records", n)
	}
	password, created, err := core.NewSystem(svc).EnsureAdmin(ctx, cfg.AdminName)
	if err != nil {
		return nil, fmt.Errorf("the platform administrator: %w", err)
	}

	ln := o.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Server{
		cfg: cfg, log: log, st: st, svc: svc, fakes: fakes, fencer: o.Fencer, reg: reg, ln: ln, cancel: cancel,
		done: make(chan struct{}),
	}
	if created {
		s.password = password
	}
	web, err := portal.New(api.New(svc, api.Options{Logger: log.With("component", "api"), Metrics: metrics, Version: Version}))
	if err != nil {
		cancel()
		return nil, err
	}
	tlsCfg, err := serverTLS(cfg, log)
	if err != nil {
		cancel()
		return nil, err
	}
	s.http = &http.Server{
		TLSConfig:         tlsCfg,
		Handler:           web,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	if cfg.MetricsListen != "" {
		if s.mln, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			cancel()
			return nil, fmt.Errorf("listen on %s for the metrics: %w", cfg.MetricsListen, err)
		}
		cleanup = append(cleanup, func() { _ = s.mln.Close() })
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics.Handler())
		s.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	}

	s.wg.Go(func() { s.fail("task engine", eng.Run(runCtx)) })
	if err := startControllers(runCtx, s); err != nil {
		cancel()
		s.wg.Wait()
		return nil, err
	}

	if tlsCfg != nil {
		s.fingerprint = tlscert.Fingerprint(tlsCfg.Certificates[0].Certificate[0])
	}
	log.Info("ovm server started", "url", s.URL(), "store", st.Engine(), "replica", cfg.Replica,
		"startup", time.Since(began).Round(time.Millisecond).String(), "fakeHosts", cfg.FakeHosts,
		"tlsFingerprint", s.fingerprint)
	if created {
		fmt.Fprintf(o.Stdout, "\nOVM is running at %s (portal at %s/, API docs at %s/docs).\n"+
			"The platform administrator was created; this password is shown only once:\n\n"+
			"    login:    %s\n    password: %s\n\n",
			s.URL(), s.URL(), s.URL(), cfg.AdminName, password)
		if s.fingerprint != "" {
			fmt.Fprintf(o.Stdout, "The server's TLS certificate has the SHA-256 fingerprint\n\n    %s\n\n"+
				"Check that 'ovm login' shows the same before you accept it.\n\n", s.fingerprint)
		}
		fmt.Fprintf(o.Stdout, "Log in with:  ovm login %s --user %s\n\n", s.URL(), cfg.AdminName)
	}
	// Serve once the notice is out: whoever finds the server answering can
	// rely on it having been printed.
	s.wg.Go(func() {
		serve := s.http.Serve
		if s.http.TLSConfig != nil {
			serve = func(ln net.Listener) error { return s.http.ServeTLS(ln, "", "") }
		}
		if err := serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.fail("http server", err)
		}
	})
	if s.metrics != nil {
		s.wg.Go(func() {
			if err := s.metrics.Serve(s.mln); !errors.Is(err, http.ErrServerClosed) {
				s.fail("metrics server", err)
			}
		})
	}
	return s, nil
}

// MetricsURL is the URL of /metrics on Config.MetricsListen, or "" when
// the metrics are only on the API's address.
func (s *Server) MetricsURL() string {
	if s.mln == nil {
		return ""
	}
	return "http://" + s.mln.Addr().String() + "/metrics"
}

// URL is the API's base URL.
func (s *Server) URL() string {
	addr := s.ln.Addr().String()
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
	}
	if s.fingerprint != "" || s.cfg.TLSCert != "" {
		return "https://" + addr
	}
	return "http://" + addr
}

// TLSFingerprint is the hex SHA-256 of the API's certificate, or "" when
// the API is served on plain HTTP.
func (s *Server) TLSFingerprint() string { return s.fingerprint }

// Service is the server's service layer.
func (s *Server) Service() *core.Service { return s.svc }

// Store is the server's store.
func (s *Server) Store() store.Store { return s.st }

// FakeHosts returns the in-memory hosts (nil unless Config.FakeHosts).
func (s *Server) FakeHosts() *drivers.FakeHosts { return s.fakes }

// AdminPassword is the administrator's generated password when this start
// created it, else "".
func (s *Server) AdminPassword() string { return s.password }

// Done is closed when a part of the server failed; Err says why.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err is the first failure of a part of the server, or nil.
func (s *Server) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

func (s *Server) fail(what string, err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	s.errMu.Lock()
	if s.err == nil {
		s.err = fmt.Errorf("%s: %w", what, err)
	}
	s.errMu.Unlock()
	s.once.Do(func() { close(s.done) })
}

// Shutdown stops accepting requests, lets the requests in flight finish
// (until ctx ends), stops the task engine and the controllers (tasks in
// flight keep their leases and resume on the next start or on another
// replica), and closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	herr := s.http.Shutdown(ctx)
	if herr != nil {
		herr = errors.Join(herr, s.http.Close())
	}
	if s.metrics != nil {
		herr = errors.Join(herr, s.metrics.Close())
	}
	s.cancel()
	s.wg.Wait()
	rerr := s.reg.Close()
	serr := s.st.Close()
	s.log.Info("ovm server stopped")
	return errors.Join(herr, rerr, serr)
}

func newLogger(cfg config.Config, w io.Writer) (*slog.Logger, error) {
	if w == nil {
		w = io.Discard
	}
	level, err := logging.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	return logging.New(w, logging.Format(cfg.LogFormat), level)
}

func openStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	if cfg.Database != "" {
		st, err := sqlstore.OpenPostgres(ctx, cfg.Database)
		if err != nil {
			return nil, fmt.Errorf("open the database: %w", err)
		}
		return st, nil
	}
	st, err := sqlstore.OpenSQLite(ctx, cfg.DataDir, sqlstore.WithExclusive())
	if err != nil {
		return nil, fmt.Errorf("open the embedded store in %s: %w", cfg.DataDir, err)
	}
	return st, nil
}

// convertOptions configures image conversions: the boot files of the
// configuration and scratch space in the data directory.
func convertOptions(cfg config.Config) core.ConvertOptions {
	o := core.ConvertOptions{
		Boot:    convert.Boot{Kernel: cfg.ConvertKernel, Modules: cfg.ConvertModuleList(), Busybox: cfg.ConvertBusybox},
		Scratch: filepath.Join(cfg.DataDir, "convert"),
	}
	_ = os.MkdirAll(o.Scratch, 0o755) // a conversion that cannot write there fails with the reason
	return o
}
