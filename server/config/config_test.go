package config_test

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ovm.yaml")
	require.NoError(t, os.WriteFile(file, []byte("listen: 127.0.0.1:9000\nworkers: 6\nlogLevel: warn\nsyncInterval: 30s\n"), 0o600))
	c, err := config.Load([]string{"--config", file, "--workers", "3"}, env(map[string]string{"OVM_LISTEN": "127.0.0.1:9100", "OVM_PER_HOST": "2"}), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9100", c.Listen, "env beats file")
	assert.Equal(t, 3, c.Workers, "flag beats file")
	assert.Equal(t, 2, c.PerHost, "env beats default")
	assert.Equal(t, "warn", c.LogLevel, "file beats default")
	assert.Equal(t, 30*time.Second, c.SyncInterval)
	assert.Equal(t, filepath.Join("ovm-data", "secret.key"), c.SecretKeyFile)
	assert.NotEmpty(t, c.Replica)
	assert.False(t, c.FakeHosts, "no fake hosts unless asked")
	c, err = config.Load([]string{"--fake-hosts"}, env(nil), io.Discard)
	require.NoError(t, err)
	assert.True(t, c.FakeHosts, "--fake-hosts")
	c, err = config.Load(nil, env(map[string]string{"OVM_FAKE_HOSTS": "true"}), io.Discard)
	require.NoError(t, err)
	assert.True(t, c.FakeHosts, "OVM_FAKE_HOSTS=true")
	assert.Empty(t, c.MetricsListen, "metrics only on the API's address unless asked")
	c, err = config.Load([]string{"--metrics-listen", "127.0.0.1:9200"}, env(map[string]string{"OVM_METRICS_LISTEN": "127.0.0.1:9300"}), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9200", c.MetricsListen, "--metrics-listen beats the env")
	require.NoError(t, os.WriteFile(file, []byte("metricsListen: 127.0.0.1:9400\n"), 0o600))
	c, err = config.Load([]string{"--config", file}, env(nil), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9400", c.MetricsListen, "metricsListen in the file")
}

func TestDefaultsAreValid(t *testing.T) {
	c, err := config.Load(nil, env(nil), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8080", c.Listen)
	assert.Empty(t, c.Database, "embedded store by default")
	assert.Equal(t, filepath.Join("ovm-data", "images"), c.ImageLibrary, "the template library in the data directory by default")
}

func TestImageLibrary(t *testing.T) {
	c, err := config.Load([]string{"--data-dir", "d"}, env(nil), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join("d", "images"), c.ImageLibrary, "default: DATA-DIR/images")
	c, err = config.Load([]string{"--image-library", "/srv/lib"}, env(map[string]string{"OVM_IMAGE_LIBRARY": "/env/lib"}), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "/srv/lib", c.ImageLibrary, "--image-library beats the env")
	c, err = config.Load(nil, env(map[string]string{"OVM_IMAGE_LIBRARY": "/env/lib"}), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "/env/lib", c.ImageLibrary, "OVM_IMAGE_LIBRARY")
}

// TestConvertSettings: the boot files of conversions come from flags
// before the environment, with busybox-static's /bin/busybox by default
// and no kernel unless one is given.
func TestConvertSettings(t *testing.T) {
	c, err := config.Load(nil, env(nil), io.Discard)
	require.NoError(t, err)
	assert.Empty(t, c.ConvertKernel, "no kernel by default")
	assert.Equal(t, "/bin/busybox", c.ConvertBusybox)
	assert.Empty(t, c.ConvertModuleList())
	c, err = config.Load([]string{"--convert-kernel", "/k", "--convert-modules", "/m/a.ko, /m/b.ko,"},
		env(map[string]string{"OVM_CONVERT_KERNEL": "/env/k", "OVM_CONVERT_BUSYBOX": "/env/busybox"}), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "/k", c.ConvertKernel, "--convert-kernel beats the env")
	assert.Equal(t, "/env/busybox", c.ConvertBusybox, "OVM_CONVERT_BUSYBOX")
	assert.Equal(t, []string{"/m/a.ko", "/m/b.ko"}, c.ConvertModuleList(), "modules in order, blanks dropped")
	c, err = config.Load(nil, env(map[string]string{"OVM_CONVERT_MODULES": "/e/v.ko"}), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []string{"/e/v.ko"}, c.ConvertModuleList(), "OVM_CONVERT_MODULES")
}

func TestBadSettings(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string
		want string
	}{
		{"bad listen", []string{"--listen", "8080"}, nil, "", "listen"},
		{"bad database", []string{"--database", "mysql://x"}, nil, "", "database"},
		{"zero workers", []string{"--workers", "0"}, nil, "", "workers"},
		{"per-host above workers", []string{"--workers", "2", "--per-host", "3"}, nil, "", "per-host"},
		{"tiny interval", []string{"--monitor-interval", "1ms"}, nil, "", "monitor-interval"},
		{"bad env number", nil, map[string]string{"OVM_WORKERS": "many"}, "", "OVM_WORKERS"},
		{"bad env bool", nil, map[string]string{"OVM_FAKE_HOSTS": "maybe"}, "", "OVM_FAKE_HOSTS"},
		{"short task lease", []string{"--task-lease", "10ms"}, nil, "", "task-lease"},
		{"bad env duration", nil, map[string]string{"OVM_SYNC_INTERVAL": "soon"}, "", "OVM_SYNC_INTERVAL"},
		{"unknown file key", nil, nil, "listn: x\n", "listn"},
		{"bad log format", []string{"--log-format", "xml"}, nil, "", "log-format"},
		{"stray argument", []string{"extra"}, nil, "", "extra"},
		{"bad metrics address", []string{"--metrics-listen", "9100"}, nil, "", "metrics-listen"},
		{"metrics on the api address", []string{"--listen", "127.0.0.1:9100"}, map[string]string{"OVM_METRICS_LISTEN": "127.0.0.1:9100"}, "", "metrics-listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				f := filepath.Join(t.TempDir(), "c.yaml")
				require.NoError(t, os.WriteFile(f, []byte(tt.file), 0o600))
				args = append([]string{"--config", f}, args...)
			}
			_, err := config.Load(args, env(tt.env), io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := config.Load([]string{"-h"}, env(nil), io.Discard)
	assert.ErrorIs(t, err, flag.ErrHelp)
}

func TestTLSSettings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ovm.yaml")
	require.NoError(t, os.WriteFile(file, []byte("listen: 0.0.0.0:8443\ntlsCert: /etc/ovm/file.crt\ntlsKey: /etc/ovm/file.key\n"), 0o600))
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantCert  string
		wantPlain bool
		wantErr   string
	}{
		{name: "loopback default is plain", wantPlain: true},
		{name: "beyond loopback is TLS", args: []string{"--listen", "0.0.0.0:8443"}},
		{name: "host name is beyond loopback", args: []string{"--listen", "ovm.example.com:8443"}},
		{name: "ipv6 loopback is plain", args: []string{"--listen", "[::1]:8080"}, wantPlain: true},
		{name: "plain allowed by flag", args: []string{"--listen", ":8080", "--allow-plain-http"}, wantPlain: true},
		{name: "plain allowed by env", args: []string{"--listen", ":8080"}, env: map[string]string{"OVM_ALLOW_PLAIN_HTTP": "true"}, wantPlain: true},
		{name: "flags", args: []string{"--tls-cert", "a.crt", "--tls-key", "a.key"}, wantCert: "a.crt"},
		{name: "env", env: map[string]string{"OVM_TLS_CERT": "b.crt", "OVM_TLS_KEY": "b.key"}, wantCert: "b.crt"},
		{name: "file", args: []string{"--config", file}, wantCert: "/etc/ovm/file.crt"},
		{name: "flag beats file", args: []string{"--config", file, "--tls-cert", "c.crt"}, wantCert: "c.crt"},
		{name: "cert without key", args: []string{"--tls-cert", "a.crt"}, wantErr: "tls-cert, tls-key"},
		{name: "cert and plain", args: []string{"--tls-cert", "a.crt", "--tls-key", "a.key", "--allow-plain-http"}, wantErr: "allow-plain-http"},
		{name: "bad env bool", env: map[string]string{"OVM_ALLOW_PLAIN_HTTP": "maybe"}, wantErr: "OVM_ALLOW_PLAIN_HTTP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(tt.args, env(tt.env), io.Discard)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantCert, c.TLSCert, "TLSCert")
			assert.Equal(t, tt.wantPlain, c.PlainHTTP(), "PlainHTTP")
		})
	}
}

func TestRestoreSetting(t *testing.T) {
	c, err := config.Load([]string{"--restore", "b.tar.gz"}, env(nil), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "b.tar.gz", c.Restore)
	_, err = config.Load([]string{"--restore", "b.tar.gz", "--database", "postgres://db/ovm"}, env(nil), io.Discard)
	require.ErrorContains(t, err, "restore: for the embedded store")
	file := filepath.Join(t.TempDir(), "ovm.yaml")
	require.NoError(t, os.WriteFile(file, []byte("restore: b.tar.gz\n"), 0o600))
	_, err = config.Load([]string{"--config", file}, env(nil), io.Discard)
	require.Error(t, err, "restore applies once: a flag, not a file setting")
}
