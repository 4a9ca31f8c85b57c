package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/app"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/config"
)

var cheap = auth.Argon2idParams{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

func testConfig(t testing.TB, dir string) config.Config {
	t.Helper()
	c, err := config.Load([]string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--fake-hosts"}, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	return c
}

func start(t testing.TB, cfg config.Config, stdout io.Writer) *app.Server {
	t.Helper()
	return startWith(t, app.Options{Config: cfg, Stdout: stdout})
}

// startWith is start with more options.
func startWith(t testing.TB, o app.Options) *app.Server {
	t.Helper()
	o.Argon2 = cheap
	s, err := app.Start(context.Background(), o)
	require.NoError(t, err, "start the server")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

func login(t testing.TB, url, name, password string) (int, string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"name": name, "password": password})
	resp, err := http.Post(url+"/v1/login", "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Token
}

// TestFirstStartAndRestart: the first start creates the administrator and
// prints its password once; the next start on the same data directory
// keeps it (and prints nothing), and the data survives.
func TestFirstStartAndRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg := testConfig(t, dir)
	var out bytes.Buffer
	s := start(t, cfg, &out)
	m := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out.String())
	require.Len(t, m, 2, "first start prints the password: %q", out.String())
	assert.Equal(t, m[1], s.AdminPassword())
	assert.Contains(t, out.String(), s.URL(), "the notice says where to log in")
	assert.Contains(t, out.String(), "ovm login "+s.URL()+" --user admin")

	code, token := login(t, s.URL(), "admin", m[1])
	require.Equal(t, http.StatusOK, code, "login with the printed password")
	req, _ := http.NewRequest("POST", s.URL()+"/v1/datacenters", strings.NewReader(`{"name":"dc1"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	for _, p := range []string{"/healthz", "/readyz", "/openapi.json", "/docs", "/metrics"} {
		req, err := http.NewRequest("GET", s.URL()+p, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))

	out.Reset()
	s2 := start(t, cfg, &out)
	assert.Empty(t, out.String(), "a restart prints no password")
	assert.Empty(t, s2.AdminPassword())
	code, token = login(t, s2.URL(), "admin", m[1])
	require.Equal(t, http.StatusOK, code, "the password survives a restart")
	req, _ = http.NewRequest("GET", s2.URL()+"/v1/datacenters", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(body), `"dc1"`, "the datacenter survives a restart")
}

// TestMainExitCodes: a bad configuration exits 2 naming the setting, -h 0,
// and a signal stops a running server cleanly with 0.
func TestMainExitCodes(t *testing.T) {
	env := func(string) string { return "" }
	var stderr bytes.Buffer
	assert.Equal(t, 2, app.Main(context.Background(), []string{"--workers", "0"}, io.Discard, &stderr, env))
	assert.Contains(t, stderr.String(), "workers")
	assert.Equal(t, 0, app.Main(context.Background(), []string{"-h"}, io.Discard, io.Discard, env))

	stderr.Reset()
	dir := t.TempDir()
	assert.Equal(t, 1, app.Main(context.Background(), []string{"--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "d"), "--secret-key-file", dir}, io.Discard, &stderr, env),
		"a secret key path that is a directory")
	assert.Contains(t, stderr.String(), "key")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out lockedBuffer
	go func() {
		done <- app.Main(ctx, []string{"--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "ok"), "--log-format", "json"}, &out, io.Discard, env)
	}()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "password") }, 30*time.Second, 10*time.Millisecond)
	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, "a stop by signal exits 0")
	case <-time.After(30 * time.Second):
		t.Fatal("Main did not return after its context ended")
	}
}

// TestListenBusy: a port in use is a clear error and leaves nothing
// running.
func TestListenBusy(t *testing.T) {
	s := start(t, testConfig(t, t.TempDir()), io.Discard)
	cfg := testConfig(t, t.TempDir())
	cfg.Listen = strings.TrimPrefix(s.URL(), "http://")
	_, err := app.Start(context.Background(), app.Options{Config: cfg, Argon2: cheap})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listen on "+cfg.Listen)
}

// BenchmarkStart measures a start and stop on a fresh embedded store (the
// first start: migrations and the administrator included), with the
// production password hash.
func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		cfg := testConfig(b, b.TempDir())
		s, err := app.Start(context.Background(), app.Options{Config: cfg})
		require.NoError(b, err)
		require.NoError(b, s.Shutdown(context.Background()))
	}
}

// lockedBuffer is a buffer written by the server and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDataDirInUse: a second server on a data directory in use is refused
// with a clear error, before it listens.
func TestDataDirInUse(t *testing.T) {
	dir := t.TempDir()
	start(t, testConfig(t, dir), io.Discard)
	_, err := app.Start(context.Background(), app.Options{Config: testConfig(t, dir), Argon2: cheap})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "in use by another ovm server")
}
