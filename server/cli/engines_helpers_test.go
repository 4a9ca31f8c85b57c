package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/app"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/cli"
	"github.com/openovm/ovm/server/config"
)

// The end-to-end tests of the CLI against the real engines (files
// engines_*_test.go) start the assembled server (server/app, which
// registers the Docker, KVM and ESXi drivers) and drive it only through
// cli.Run, as an administrator and a tenant would from a shell.

// engineArgon2 keeps the password hashes cheap in tests.
var engineArgon2 = auth.Argon2idParams{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

// engineTenantPassword is the tenant user's password.
const engineTenantPassword = "engine-tenant-pw-1"

// engineCLI is the assembled server and the CLI's configuration directory.
type engineCLI struct {
	t   *testing.T
	srv *app.Server
	dir string // the CLI's contexts.yaml lives here
}

// newEngineCLI starts the reference server on a fresh data directory (the
// embedded store) on a loopback port; it is shut down when t ends, after
// the cleanups registered later (which remove what the test made on the
// engines) have run.
func newEngineCLI(t *testing.T) *engineCLI {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	cfg, err := config.Load([]string{"--listen", "127.0.0.1:0", "--data-dir", data}, func(string) string { return "" }, io.Discard)
	require.NoError(t, err, "server configuration")
	srv, err := app.Start(t.Context(), app.Options{Config: cfg, Stdout: io.Discard, Argon2: engineArgon2})
	require.NoError(t, err, "start the server")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shut the server down: %v", err)
		}
	})
	require.NotEmpty(t, srv.AdminPassword(), "the first start creates the administrator")
	return &engineCLI{t: t, srv: srv, dir: t.TempDir()}
}

// engineResult is one run of the CLI.
type engineResult struct {
	code           int
	stdout, stderr string
}

func (r engineResult) String() string {
	return "exit " + strconv.Itoa(r.code) + "\nstdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

// runIn runs `ovm ARGS...` with stdin; a run may take up to five minutes
// (a VM's create --wait under emulation).
func (e *engineCLI) runIn(stdin string, args ...string) engineResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 5*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := cli.Run(ctx, args, cli.Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, ConfigDir: e.dir})
	return engineResult{code: code, stdout: out.String(), stderr: errb.String()}
}

func (e *engineCLI) run(args ...string) engineResult {
	e.t.Helper()
	return e.runIn("", args...)
}

// ok runs the CLI and requires exit 0.
func (e *engineCLI) ok(args ...string) engineResult {
	e.t.Helper()
	return e.okIn("", args...)
}

func (e *engineCLI) okIn(stdin string, args ...string) engineResult {
	e.t.Helper()
	r := e.runIn(stdin, args...)
	require.Equal(e.t, 0, r.code, "ovm %s: got %s, want exit 0", strings.Join(args, " "), r)
	return r
}

// fail runs the CLI with stdin and requires exit code and that stderr
// holds each of want.
func (e *engineCLI) failIn(stdin string, code int, want []string, args ...string) engineResult {
	e.t.Helper()
	r := e.runIn(stdin, args...)
	require.Equal(e.t, code, r.code, "ovm %s: got %s, want exit %d", strings.Join(args, " "), r, code)
	for _, w := range want {
		require.Contains(e.t, r.stderr, w, "ovm %s: stderr", strings.Join(args, " "))
	}
	return r
}

// json runs the CLI with -o json and decodes its output into out.
func (e *engineCLI) json(out any, args ...string) {
	e.t.Helper()
	r := e.ok(append(args, "-o", "json")...)
	require.NoError(e.t, json.Unmarshal([]byte(r.stdout), out), "ovm %s -o json: %s", strings.Join(args, " "), r.stdout)
}

// setupAdmin logs the administrator in (context "admin") and creates the
// datacenter dc1 and the pool pool1.
func (e *engineCLI) setupAdmin() {
	e.t.Helper()
	e.okIn(e.srv.AdminPassword()+"\n", "login", e.srv.URL(), "--user", "admin", "--password-stdin", "--context", "admin")
	e.ok("--context", "admin", "datacenter", "create", "dc1", "--description", "engines")
	e.ok("--context", "admin", "pool", "create", "pool1", "--datacenter", "dc1", "--policy", "performance")
}

// addTenant creates the VDC name in pool1 with a quota, its vdc-admin
// user NAME-admin, and logs that user in as the context name (which
// becomes the current one).
func (e *engineCLI) addTenant(name string) {
	e.t.Helper()
	r := e.ok("--context", "admin", "vdc", "create", name, "--pool", "pool1", "--cpu", "8", "--memory", "8Gi", "--disk", "100Gi",
		"--instances", "10", "--networks", "2")
	require.Regexp(e.t, `instances\s+0\s+10`, r.stdout, "the VDC's quota")
	e.okIn(engineTenantPassword+"\n", "--context", "admin", "user", "create", name+"-admin", "--role", "vdc-admin", "--vdc", name, "--password-stdin")
	e.okIn(engineTenantPassword+"\n", "login", e.srv.URL(), "--user", name+"-admin", "--password-stdin", "--context", name)
}

// hosts lists the hosts as the administrator.
func (e *engineCLI) hosts() []ovm.Host {
	e.t.Helper()
	var pg apitypes.Page[ovm.Host]
	e.json(&pg, "--context", "admin", "host", "list")
	return pg.Items
}

// sync runs `host sync NAME` and returns the discovered object whose
// native id is native, after checking that `discovered list` shows it too.
func (e *engineCLI) sync(host string, match func(apitypes.Discovered) bool) apitypes.Discovered {
	e.t.Helper()
	var synced []apitypes.Discovered
	e.json(&synced, "--context", "admin", "host", "sync", host)
	var found *apitypes.Discovered
	for i := range synced {
		if match(synced[i]) {
			found = &synced[i]
		}
	}
	require.NotNil(e.t, found, "host sync %s shows the object among %+v", host, synced)
	var listed apitypes.Page[apitypes.Discovered]
	e.json(&listed, "--context", "admin", "discovered", "list")
	var again *apitypes.Discovered
	for i := range listed.Items {
		if listed.Items[i].ID == found.ID {
			again = &listed.Items[i]
		}
	}
	require.NotNil(e.t, again, "discovered list shows %s (%s): %+v", found.Name, found.ID, listed.Items)
	require.Equal(e.t, found.NativeID, again.NativeID)
	table := e.ok("--context", "admin", "discovered", "list").stdout
	require.Contains(e.t, table, string(found.ID), "the table shows the discovered object")
	return *found
}

// instance shows an instance as JSON in the context ctx.
func (e *engineCLI) instance(ctx, name string) ovm.Instance {
	e.t.Helper()
	var i ovm.Instance
	e.json(&i, "--context", ctx, "instance", "show", name)
	return i
}

// instances lists the instances of the context ctx.
func (e *engineCLI) instances(ctx string) []ovm.Instance {
	e.t.Helper()
	var pg apitypes.Page[ovm.Instance]
	e.json(&pg, "--context", ctx, "instance", "list")
	return pg.Items
}

// vdcID returns the id of the VDC name, as the administrator sees it.
func (e *engineCLI) vdcID(name string) ovm.ID {
	e.t.Helper()
	var v ovm.VDC
	e.json(&v, "--context", "admin", "vdc", "show", name)
	return v.ID
}
