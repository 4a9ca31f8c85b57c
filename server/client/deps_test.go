package client_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxClientDeps bounds the packages outside the standard library that the
// client pulls in.
const maxClientDeps = 40

// forbiddenPackages are the server's internals and the SDK's drivers: no
// client dependency may be one or lie under one.
var forbiddenPackages = []string{
	"server/core", "server/store", "server/drivers", "server/tasks", "server/api", "server/secrets", "server/auth",
	"hypervisor", "storage", "network", "placement",
}

// forbiddenDeps are parts of import paths of the HTTP framework and the
// database and engine libraries.
var forbiddenDeps = []string{"huma", "pgx", "sqlite", "govmomi", "docker", "libvirt"}

// TestDependencies: the client is light. `go list -deps` lists at most
// maxClientDeps packages outside the standard library, none of them a
// driver, store, framework or database package.
func TestDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.CommandContext(t.Context(), goBin, "list", "-deps", "-f", "{{.Standard}} {{.ImportPath}}", "github.com/openovm/ovm/server/client").CombinedOutput()
	require.NoError(t, err, "go list: %s", out)
	var all, nonStd []string
	for line := range strings.Lines(string(out)) {
		std, path, ok := strings.Cut(strings.TrimSpace(line), " ")
		require.True(t, ok, "go list line %q", line)
		all = append(all, path)
		if std == "false" {
			nonStd = append(nonStd, path)
		}
	}
	t.Logf("go list -deps ./server/client: %d packages, %d outside the standard library: %v", len(all), len(nonStd), nonStd)
	assert.Contains(t, nonStd, "github.com/openovm/ovm/server/apitypes", "the client's types")
	assert.Less(t, len(nonStd), maxClientDeps, "packages outside the standard library: %v", nonStd)
	for _, p := range nonStd {
		for _, bad := range forbiddenDeps {
			assert.NotContains(t, p, bad, "the client depends on %s", p)
		}
		for _, bad := range forbiddenPackages {
			bad = "github.com/openovm/ovm/" + bad
			assert.False(t, p == bad || strings.HasPrefix(p, bad+"/"), "the client depends on %s", p)
		}
	}
}
