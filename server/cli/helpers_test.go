package cli

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/client/clienttest"
)

// harness runs the CLI against an in-process API with its own
// configuration directory.
type harness struct {
	t   *testing.T
	srv *clienttest.Server
	dir string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return &harness{t: t, srv: clienttest.Start(t), dir: t.TempDir()}
}

// result is one run of the CLI.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\nstdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

// run runs the CLI with stdin.
func (h *harness) runIn(stdin string, args ...string) result {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := Run(ctx, args, Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, ConfigDir: h.dir})
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func (h *harness) run(args ...string) result {
	h.t.Helper()
	return h.runIn("", args...)
}

// ok runs the CLI and requires exit 0.
func (h *harness) ok(args ...string) result {
	h.t.Helper()
	return h.okIn("", args...)
}

func (h *harness) okIn(stdin string, args ...string) result {
	h.t.Helper()
	r := h.runIn(stdin, args...)
	require.Equal(h.t, 0, r.code, "ovm %s: got %s, want exit 0", strings.Join(args, " "), r)
	return r
}

// fail runs the CLI and requires the exit code and that stderr says each
// of want.
func (h *harness) fail(code int, want []string, args ...string) result {
	h.t.Helper()
	return h.failIn("", code, want, args...)
}

const tenantPassword = "tenant-password-1"

// setupPlatform logs in as admin (context "admin"), creates dc1, pool1,
// the fake host h1 and a VDC with a vdc-admin user, and logs that user in
// (context NAME, current).
func (h *harness) setupPlatform(tenants ...string) {
	h.t.Helper()
	h.okIn(h.srv.AdminPassword+"\n", "login", h.srv.URL, "--user", "admin", "--password-stdin", "--context", "admin")
	h.ok("datacenter", "create", "dc1", "--description", "first site")
	h.ok("pool", "create", "pool1", "--datacenter", "dc1", "--policy", "performance")
	h.okIn("root-secret\n", "host", "register", "h1", "--kind", "fake", "--endpoint", "fake://h1", "--pool", "pool1", "--username", "root", "--password-stdin")
	for _, tn := range tenants {
		h.ok("--context", "admin", "vdc", "create", tn, "--pool", "pool1", "--cpu", "16", "--memory", "32Gi", "--disk", "1Ti", "--instances", "50", "--networks", "5")
		h.okIn(tenantPassword+"\n", "--context", "admin", "user", "create", tn+"-admin", "--role", "vdc-admin", "--vdc", tn, "--password-stdin")
		h.okIn(tenantPassword+"\n", "login", h.srv.URL, "--user", tn+"-admin", "--password-stdin", "--context", tn)
	}
}

// failIn runs the CLI with stdin and requires the exit code and that
// stderr says each of want.
func (h *harness) failIn(stdin string, code int, want []string, args ...string) result {
	h.t.Helper()
	r := h.runIn(stdin, args...)
	require.Equal(h.t, code, r.code, "ovm %s: got %s, want exit %d", strings.Join(args, " "), r, code)
	for _, w := range want {
		require.Contains(h.t, r.stderr, w, "ovm %s: stderr", strings.Join(args, " "))
	}
	return r
}
