//go:build integration

package portal_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDistUpToDate rebuilds the portal from web/ and the API's OpenAPI
// document into a temporary directory and fails when the result differs
// from the committed dist/ (or the generated API types from
// web/src/schema.d.ts): run make portal and commit.
func TestDistUpToDate(t *testing.T) {
	nodeModules(t)
	out := t.TempDir()
	cmd := exec.Command("node", filepath.Join("web", "build.mjs"), "--out", out, "--check")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "build: %s", b)

	built := files(t, out)
	committed := files(t, "dist")
	for p := range committed {
		_, ok := built[p]
		assert.True(t, ok, "dist/%s is committed but the build makes no such file: run make portal", p)
	}
	for p, body := range built {
		got, ok := committed[p]
		if assert.True(t, ok, "the build makes %s, missing from the committed dist: run make portal", p) {
			assert.True(t, string(got) == string(body), "dist/%s differs from the build: run make portal", p)
		}
	}
}

func files(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = b
		return nil
	}))
	return out
}
