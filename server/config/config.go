// Package config reads the server's configuration from, in increasing
// precedence, built-in defaults, an optional YAML file, the environment
// (OVM_* variables) and command-line flags.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the server's configuration.
type Config struct {
	// Listen is the API's address.
	Listen string `yaml:"listen"`
	// MetricsListen, when set, serves /metrics on an address of its own
	// without a token (for a scraper on a private network); on the API's
	// address /metrics always needs an administrator's token.
	MetricsListen string `yaml:"metricsListen"`
	// DataDir holds the embedded store and the secret key.
	DataDir string `yaml:"dataDir"`
	// Database is a postgres:// URL of CockroachDB or PostgreSQL; empty
	// means the embedded store in DataDir.
	Database string `yaml:"database"`
	// ImageLibrary is the directory of the image catalog's VM templates;
	// default DataDir/images. Replicas share it (an NFS mount).
	ImageLibrary string `yaml:"imageLibrary"`
	// SecretKeyFile holds the key that encrypts host credentials; default
	// DataDir/secret.key.
	SecretKeyFile string `yaml:"secretKeyFile"`
	// AdminName is the platform administrator created on first start.
	AdminName string `yaml:"adminName"`
	// LogFormat is auto, text or json; LogLevel debug, info, warn or error.
	LogFormat string `yaml:"logFormat"`
	LogLevel  string `yaml:"logLevel"`
	// Task engine: workers in all, tasks at once per host.
	Workers int `yaml:"workers"`
	PerHost int `yaml:"perHost"`
	// MonitorInterval is how often the host monitor probes every host;
	// SyncInterval how often inventory sync lists every host.
	MonitorInterval time.Duration `yaml:"monitorInterval"`
	// TaskLease is how long a task claimed by a replica that stopped
	// answering waits before another replica (or this one, restarted)
	// resumes it.
	TaskLease    time.Duration `yaml:"taskLease"`
	SyncInterval time.Duration `yaml:"syncInterval"`
	// MetricsInterval is how often the metrics collector samples every
	// running instance; the retentions say how long full-resolution
	// samples, minute rollups and hour rollups are kept.
	MetricsInterval        time.Duration `yaml:"metricsInterval"`
	MetricsRetentionRaw    time.Duration `yaml:"metricsRetentionRaw"`
	MetricsRetentionMinute time.Duration `yaml:"metricsRetentionMinute"`
	MetricsRetentionHour   time.Duration `yaml:"metricsRetentionHour"`
	// Replica names this server among several on one database; default the
	// host name and process id.
	Replica string `yaml:"replica"`
	// FakeHosts lets administrators register in-memory hosts of kind
	// "fake" (endpoint fake://NAME), for demonstrations and tests; they
	// vanish when the server stops.
	FakeHosts bool `yaml:"fakeHosts"`
	// TLSCert and TLSKey are PEM files of the API's certificate (with its
	// chain) and private key. When neither is given and Listen is beyond
	// loopback, the server serves HTTPS with a self-signed certificate it
	// generates on the first start and keeps in DataDir.
	TLSCert string `yaml:"tlsCert"`
	TLSKey  string `yaml:"tlsKey"`
	// AllowPlainHTTP serves plain HTTP on an address beyond loopback (behind
	// a proxy that terminates TLS); without it plain HTTP is loopback only.
	AllowPlainHTTP bool `yaml:"allowPlainHTTP"`
	// ConvertKernel is the guest kernel (bzImage, with ext4 built in)
	// disks converted from container images boot; without it conversions
	// to templates are refused. ConvertModules are kernel modules (.ko,
	// uncompressed) their initramfs loads, in order, to reach the root
	// disk (virtio_blk and what it needs, for a kernel that builds them as
	// modules). ConvertBusybox is a statically linked busybox (Debian's
	// busybox-static installs /bin/busybox).
	ConvertKernel  string `yaml:"convertKernel"`
	ConvertModules string `yaml:"convertModules"`
	ConvertBusybox string `yaml:"convertBusybox"`
	// Restore is a backup archive (ovm admin backup) to restore into an
	// empty data directory before the server starts; a flag only, as it
	// applies once.
	Restore string `yaml:"-"`
}

// Defaults returns the built-in configuration.
func Defaults() Config {
	return Config{
		Listen:          "127.0.0.1:8080",
		DataDir:         "ovm-data",
		AdminName:       "admin",
		LogFormat:       "auto",
		LogLevel:        "info",
		Workers:         8,
		PerHost:         4,
		MonitorInterval: 10 * time.Second,
		SyncInterval:    60 * time.Second,
		TaskLease:       30 * time.Second,
		ConvertBusybox:  "/bin/busybox",

		MetricsInterval:        15 * time.Second,
		MetricsRetentionRaw:    6 * time.Hour,
		MetricsRetentionMinute: 24 * time.Hour,
		MetricsRetentionHour:   30 * 24 * time.Hour,
	}
}

// Load builds the configuration of `ovm server` from args (without the
// command name) and the environment. -h prints the flags to out and
// returns flag.ErrHelp.
func Load(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	c := Defaults()
	fs := flag.NewFlagSet("ovm server", flag.ContinueOnError)
	fs.SetOutput(out)
	file := fs.String("config", getenv("OVM_CONFIG"), "YAML configuration `file` (env OVM_CONFIG)")
	// The flags are declared against a scratch copy first, only to find the
	// config file; they are applied after the file and the environment.
	scratch := Defaults()
	bind(fs, &scratch)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *file != "" {
		if err := loadFile(*file, &c); err != nil {
			return Config{}, err
		}
	}
	if err := loadEnv(getenv, &c); err != nil {
		return Config{}, err
	}
	// Apply the flags that were set on the command line.
	final := flag.NewFlagSet("ovm server", flag.ContinueOnError)
	final.SetOutput(io.Discard)
	final.String("config", "", "")
	bind(final, &c)
	if err := final.Parse(args); err != nil {
		return Config{}, err
	}
	if c.SecretKeyFile == "" {
		c.SecretKeyFile = filepath.Join(c.DataDir, "secret.key")
	}
	if c.ImageLibrary == "" {
		c.ImageLibrary = filepath.Join(c.DataDir, "images")
	}
	if c.Replica == "" {
		h, _ := os.Hostname()
		c.Replica = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	return c, c.Validate()
}

// bind declares the flags on c's fields, with c's current values as the
// defaults (so that unset flags keep what the file and environment said).
func bind(fs *flag.FlagSet, c *Config) {
	d := *c
	fs.StringVar(&c.Listen, "listen", d.Listen, "API `address` (env OVM_LISTEN)")
	fs.StringVar(&c.MetricsListen, "metrics-listen", d.MetricsListen, "`address` serving /metrics without a token; empty: only on the API's address, for administrators (env OVM_METRICS_LISTEN)")
	fs.StringVar(&c.DataDir, "data-dir", d.DataDir, "`directory` of the embedded store and the secret key (env OVM_DATA_DIR)")
	fs.StringVar(&c.Database, "database", d.Database, "postgres:// `URL` of CockroachDB or PostgreSQL; empty: embedded store (env OVM_DATABASE)")
	fs.StringVar(&c.ImageLibrary, "image-library", d.ImageLibrary, "`directory` of the image catalog's VM templates, shared by replicas (default DATA-DIR/images; env OVM_IMAGE_LIBRARY)")
	fs.StringVar(&c.SecretKeyFile, "secret-key-file", d.SecretKeyFile, "`file` of the key encrypting host credentials (default DATA-DIR/secret.key; env OVM_SECRET_KEY_FILE)")
	fs.StringVar(&c.AdminName, "admin-name", d.AdminName, "platform administrator created on first start (env OVM_ADMIN_NAME)")
	fs.StringVar(&c.LogFormat, "log-format", d.LogFormat, "auto, text or json (env OVM_LOG_FORMAT)")
	fs.StringVar(&c.LogLevel, "log-level", d.LogLevel, "debug, info, warn or error (env OVM_LOG_LEVEL)")
	fs.IntVar(&c.Workers, "workers", d.Workers, "tasks run at once (env OVM_WORKERS)")
	fs.IntVar(&c.PerHost, "per-host", d.PerHost, "tasks run at once on one host (env OVM_PER_HOST)")
	fs.DurationVar(&c.MonitorInterval, "monitor-interval", d.MonitorInterval, "host probe `interval` (env OVM_MONITOR_INTERVAL)")
	fs.DurationVar(&c.SyncInterval, "sync-interval", d.SyncInterval, "inventory sync `interval` (env OVM_SYNC_INTERVAL)")
	fs.DurationVar(&c.MetricsInterval, "metrics-interval", d.MetricsInterval, "how often every running instance is sampled (env OVM_METRICS_INTERVAL)")
	fs.DurationVar(&c.MetricsRetentionRaw, "metrics-retention-raw", d.MetricsRetentionRaw, "how long full-resolution samples are kept (env OVM_METRICS_RETENTION_RAW)")
	fs.DurationVar(&c.MetricsRetentionMinute, "metrics-retention-minute", d.MetricsRetentionMinute, "how long minute rollups are kept (env OVM_METRICS_RETENTION_MINUTE)")
	fs.DurationVar(&c.MetricsRetentionHour, "metrics-retention-hour", d.MetricsRetentionHour, "how long hour rollups are kept (env OVM_METRICS_RETENTION_HOUR)")
	fs.DurationVar(&c.TaskLease, "task-lease", d.TaskLease, "how long a dead replica's task waits before it is resumed (env OVM_TASK_LEASE)")
	fs.StringVar(&c.Replica, "replica", d.Replica, "this server's `name` among replicas (env OVM_REPLICA)")
	fs.StringVar(&c.TLSCert, "tls-cert", d.TLSCert, "PEM `file` of the API's certificate and chain (with --tls-key; env OVM_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", d.TLSKey, "PEM `file` of the API certificate's private key (env OVM_TLS_KEY)")
	fs.BoolVar(&c.AllowPlainHTTP, "allow-plain-http", d.AllowPlainHTTP, "serve plain HTTP beyond loopback, behind a proxy terminating TLS (env OVM_ALLOW_PLAIN_HTTP=true)")
	fs.StringVar(&c.Restore, "restore", d.Restore, "restore the backup archive `file` (ovm admin backup) into the empty data directory, then start")
	fs.StringVar(&c.ConvertKernel, "convert-kernel", d.ConvertKernel, "guest kernel `file` that disks converted from container images boot (env OVM_CONVERT_KERNEL)")
	fs.StringVar(&c.ConvertModules, "convert-modules", d.ConvertModules, "comma-separated kernel module `files` the converted disks' initramfs loads, in order (env OVM_CONVERT_MODULES)")
	fs.StringVar(&c.ConvertBusybox, "convert-busybox", d.ConvertBusybox, "static busybox `file` for converted disks (env OVM_CONVERT_BUSYBOX)")
	fs.BoolVar(&c.FakeHosts, "fake-hosts", d.FakeHosts, "allow in-memory hosts of kind fake (fake://NAME) for demonstrations (env OVM_FAKE_HOSTS=true)")
}

func loadFile(path string, c *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

func loadEnv(getenv func(string) string, c *Config) error {
	str := map[string]*string{
		"OVM_LISTEN": &c.Listen, "OVM_METRICS_LISTEN": &c.MetricsListen, "OVM_DATA_DIR": &c.DataDir, "OVM_DATABASE": &c.Database,
		"OVM_SECRET_KEY_FILE": &c.SecretKeyFile, "OVM_ADMIN_NAME": &c.AdminName,
		"OVM_LOG_FORMAT": &c.LogFormat, "OVM_LOG_LEVEL": &c.LogLevel, "OVM_REPLICA": &c.Replica,
		"OVM_TLS_CERT": &c.TLSCert, "OVM_TLS_KEY": &c.TLSKey, "OVM_IMAGE_LIBRARY": &c.ImageLibrary,
		"OVM_CONVERT_KERNEL": &c.ConvertKernel, "OVM_CONVERT_MODULES": &c.ConvertModules, "OVM_CONVERT_BUSYBOX": &c.ConvertBusybox,
	}
	for k, p := range str {
		if v := getenv(k); v != "" {
			*p = v
		}
	}
	for k, p := range map[string]*int{"OVM_WORKERS": &c.Workers, "OVM_PER_HOST": &c.PerHost} {
		if v := getenv(k); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%s=%q: not a number", k, v)
			}
			*p = n
		}
	}
	for k, p := range map[string]*bool{"OVM_FAKE_HOSTS": &c.FakeHosts, "OVM_ALLOW_PLAIN_HTTP": &c.AllowPlainHTTP} {
		if v := getenv(k); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%s=%q: want true or false", k, v)
			}
			*p = b
		}
	}
	for k, p := range map[string]*time.Duration{"OVM_MONITOR_INTERVAL": &c.MonitorInterval, "OVM_SYNC_INTERVAL": &c.SyncInterval, "OVM_TASK_LEASE": &c.TaskLease,
		"OVM_METRICS_INTERVAL": &c.MetricsInterval, "OVM_METRICS_RETENTION_RAW": &c.MetricsRetentionRaw,
		"OVM_METRICS_RETENTION_MINUTE": &c.MetricsRetentionMinute, "OVM_METRICS_RETENTION_HOUR": &c.MetricsRetentionHour} {
		if v := getenv(k); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s=%q: not a duration like 10s", k, v)
			}
			*p = d
		}
	}
	return nil
}

// Loopback reports whether Listen is a loopback address only (localhost,
// 127.0.0.0/8 or ::1); an empty or unspecified host listens beyond it.
func (c Config) Loopback() bool {
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// PlainHTTP reports whether the API is served without TLS: no certificate
// given and the address is loopback, or plain HTTP explicitly allowed.
func (c Config) PlainHTTP() bool {
	return c.TLSCert == "" && (c.Loopback() || c.AllowPlainHTTP)
}

// Validate checks the configuration and names every bad setting.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen %q: want HOST:PORT", c.Listen))
	}
	if c.MetricsListen != "" {
		if _, port, err := net.SplitHostPort(c.MetricsListen); err != nil {
			errs = append(errs, fmt.Errorf("metrics-listen %q: want HOST:PORT", c.MetricsListen))
		} else if c.MetricsListen == c.Listen && port != "0" {
			errs = append(errs, fmt.Errorf("metrics-listen %q: want an address other than listen", c.MetricsListen))
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tls-cert, tls-key: give both or neither"))
	}
	if c.TLSCert != "" && c.AllowPlainHTTP {
		errs = append(errs, errors.New("allow-plain-http: not with tls-cert"))
	}
	if c.Restore != "" && c.Database != "" {
		errs = append(errs, errors.New("restore: for the embedded store; restore a database with its own tools"))
	}
	if c.Database == "" && c.DataDir == "" {
		errs = append(errs, errors.New("data-dir: required for the embedded store"))
	}
	if c.Database != "" && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		errs = append(errs, fmt.Errorf("database: want a postgres:// URL"))
	}
	if c.Workers < 1 || c.Workers > 1024 {
		errs = append(errs, fmt.Errorf("workers %d: want 1 to 1024", c.Workers))
	}
	if c.PerHost < 1 || c.PerHost > c.Workers {
		errs = append(errs, fmt.Errorf("per-host %d: want 1 to workers (%d)", c.PerHost, c.Workers))
	}
	if c.MonitorInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("monitor-interval %s: want at least 100ms", c.MonitorInterval))
	}
	if c.SyncInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("sync-interval %s: want at least 100ms", c.SyncInterval))
	}
	if c.MetricsInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("metrics-interval %s: want at least 100ms", c.MetricsInterval))
	}
	for _, r := range []struct {
		name string
		v    time.Duration
	}{{"metrics-retention-raw", c.MetricsRetentionRaw}, {"metrics-retention-minute", c.MetricsRetentionMinute},
		{"metrics-retention-hour", c.MetricsRetentionHour}} {
		if r.v < time.Minute {
			errs = append(errs, fmt.Errorf("%s %s: want at least 1m", r.name, r.v))
		}
	}
	if c.TaskLease < time.Second || c.TaskLease > time.Hour {
		errs = append(errs, fmt.Errorf("task-lease %s: want 1s to 1h", c.TaskLease))
	}
	switch c.LogFormat {
	case "auto", "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log-format %q: want auto, text or json", c.LogFormat))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// ConvertModuleList is ConvertModules split at its commas.
func (c Config) ConvertModuleList() []string {
	var out []string
	for _, m := range strings.Split(c.ConvertModules, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}
