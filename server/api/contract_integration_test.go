//go:build integration

package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

// contractDir holds the committed inputs of the contract test.
const contractDir = "testdata/contract"

// contractTools returns the directory of the npm tools that
// scripts/testenv.d/40-contract.sh installs; they must be there.
func contractTools(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("OVM_TEST_CONTRACT_TOOLS")
	require.NotEmpty(t, dir, "OVM_TEST_CONTRACT_TOOLS is not set: run make testenv and source .testenv")
	for _, tool := range []string{"spectral", "openapi-typescript", "tsc"} {
		_, err := os.Stat(filepath.Join(dir, tool))
		require.NoError(t, err, "the contract tool %s is missing from %s: run make testenv", tool, dir)
	}
	_, err := exec.LookPath("node")
	require.NoError(t, err, "node is not on PATH")
	return dir
}

// run runs a command in dir and fails t with its output when it fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s %s: %s", filepath.Base(name), strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out.String())
	return out.Bytes()
}

// copyFiles copies the named files of src into dst.
func copyFiles(t *testing.T, src, dst string, names ...string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dst, 0o755))
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(src, n))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, n), b, 0o644))
	}
}

// TestContractGenerators takes the OpenAPI document a running server serves
// and checks that clients can be generated from it and trusted: spectral
// (spectral:oas) finds nothing, openapi-typescript's types compile with a
// usage file, and the Go client oapi-codegen generates compiles and carries
// a tenant's whole scenario against the server.
func TestContractGenerators(t *testing.T) {
	tools := contractTools(t)
	src, err := filepath.Abs(contractDir)
	require.NoError(t, err)
	e := newEnv(t, openSQLite(t))
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)

	res, err := http.Get(srv.URL + "/openapi.json")
	require.NoError(t, err)
	doc, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	work := t.TempDir()
	docPath := filepath.Join(work, "openapi.json")
	require.NoError(t, os.WriteFile(docPath, doc, 0o644))

	t.Run("spectral", func(t *testing.T) {
		report := filepath.Join(work, "spectral.json")
		// spectral exits 1 on errors; the report says what, so read it first.
		cmd := exec.CommandContext(t.Context(), filepath.Join(tools, "spectral"), "lint", docPath,
			"--ruleset", filepath.Join(src, ".spectral.yaml"), "--format", "json", "--output", report, "--quiet")
		out, runErr := cmd.CombinedOutput()
		b, err := os.ReadFile(report)
		require.NoError(t, err, "spectral wrote no report (%v):\n%s", runErr, out)
		var results []struct {
			Code     string   `json:"code"`
			Message  string   `json:"message"`
			Path     []string `json:"path"`
			Severity int      `json:"severity"` // 0 error, 1 warning, 2 info, 3 hint
		}
		require.NoError(t, json.Unmarshal(b, &results), "spectral's report: %s", b)
		counts := map[string]int{}
		for _, r := range results {
			name := [...]string{"error", "warning", "info", "hint"}[min(max(r.Severity, 0), 3)]
			counts[name]++
			if r.Severity <= 1 {
				t.Errorf("spectral %s %s at %s: %s", name, r.Code, strings.Join(r.Path, "."), r.Message)
			}
		}
		t.Logf("spectral (spectral:oas): %d errors, %d warnings, %d infos, %d hints",
			counts["error"], counts["warning"], counts["info"], counts["hint"])
		assert.NoError(t, runErr, "spectral failed:\n%s", out)
	})

	t.Run("typescript", func(t *testing.T) {
		ts := filepath.Join(work, "ts")
		copyFiles(t, filepath.Join(src, "ts"), ts, "usage.ts", "tsconfig.json")
		run(t, ts, nil, filepath.Join(tools, "openapi-typescript"), docPath, "--output", filepath.Join(ts, "ovm-api.d.ts"))
		run(t, ts, nil, filepath.Join(tools, "tsc"), "--noEmit", "-p", ts)
	})

	t.Run("go client", func(t *testing.T) {
		p := e.setupPlatform(2)
		tn := e.newTenant("acme", p.pool, quota)
		gc := filepath.Join(work, "goclient")
		copyFiles(t, filepath.Join(src, "goclient"), gc, "go.mod", "go.sum", "main.go", "oapi-codegen.yaml")
		goEnv := []string{"GOWORK=off", "GOFLAGS=-mod=readonly"}
		run(t, gc, goEnv, "go", "tool", "oapi-codegen", "-config", "oapi-codegen.yaml", docPath)
		gen, err := os.ReadFile(filepath.Join(gc, "ovmapi", "ovmapi.gen.go"))
		require.NoError(t, err, "oapi-codegen wrote no client")
		require.Contains(t, string(gen), "oapi-codegen/v2 version v2.8.1", "the pinned oapi-codegen generated the client")
		bin := filepath.Join(work, "scenario")
		run(t, gc, goEnv, "go", "build", "-o", bin, ".")
		run(t, gc, goEnv, "go", "vet", ".")
		out := run(t, gc, nil, bin, "-server", srv.URL, "-user", "acme-admin", "-password", "tenant-password-1", "-timeout", "90s")
		assert.Contains(t, string(out), "scenario: ok")

		// The server agrees: the tenant's instance and network are gone.
		var insts, nets struct {
			Items []json.RawMessage `json:"items"`
		}
		e.must(http.StatusOK, "GET", "/v1/instances", tn.token, nil).decode(t, &insts)
		assert.Empty(t, insts.Items, "instances left after the scenario")
		e.must(http.StatusOK, "GET", "/v1/networks", tn.token, nil).decode(t, &nets)
		assert.Empty(t, nets.Items, "networks left after the scenario")
		var tasks struct {
			Items []ovm.Task `json:"items"`
		}
		e.must(http.StatusOK, "GET", "/v1/tasks", tn.token, nil).decode(t, &tasks)
		var kinds []string
		for _, tk := range tasks.Items {
			kinds = append(kinds, tk.Kind)
			assert.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, tk.ID).State, "task %s", tk.Kind)
		}
		assert.ElementsMatch(t, []string{"instance.create", "instance.delete", "network.delete"}, kinds, "the scenario's tasks")
	})
}
