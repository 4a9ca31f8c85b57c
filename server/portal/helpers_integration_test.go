//go:build integration

package portal_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// testEnv reads a variable of .testenv; a missing one fails the test.
func testEnv(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	require.NotEmpty(t, v, "%s is not set: run make testenv and . ./.testenv first", name)
	return v
}

// nodeModules returns the portal's npm packages (scripts/testenv.d/45-portal.sh)
// and links web/node_modules to them when the link is missing, removing the
// link it made when the test ends.
func nodeModules(t *testing.T) string {
	t.Helper()
	dir := testEnv(t, "OVM_TEST_PORTAL_NODE_MODULES")
	link := filepath.Join("web", "node_modules")
	if _, err := os.Lstat(link); os.IsNotExist(err) {
		require.NoError(t, os.Symlink(dir, link))
		t.Cleanup(func() { _ = os.Remove(link) })
	}
	return dir
}
