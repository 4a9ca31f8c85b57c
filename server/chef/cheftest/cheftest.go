// Package cheftest helps tests use a real Chef server (goiardi, started by
// scripts/testenv.d/50-chef.sh): its address and admin key from the
// environment, uploads of test cookbooks whose recipes are shell scripts,
// roles and environments, and the converge stand-in (package
// convergeagent) built for container images.
package cheftest

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // the Chef protocol names files by MD5
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	gochef "github.com/go-chef/chef"
	"github.com/stretchr/testify/require"
)

// Server is the test Chef server and its administrator client.
type Server struct {
	URL        string
	ClientName string
	Key        []byte
	Admin      *gochef.Client
}

// FromEnv returns the Chef server of .testenv (OVM_TEST_CHEF_URL,
// OVM_TEST_CHEF_CLIENT, OVM_TEST_CHEF_KEY); a missing one fails the test.
func FromEnv(t testing.TB) Server {
	t.Helper()
	get := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			t.Fatalf("%s is not set: run `make testenv` and `. ./.testenv` first", name)
		}
		return v
	}
	s := Server{URL: get("OVM_TEST_CHEF_URL"), ClientName: get("OVM_TEST_CHEF_CLIENT")}
	key, err := os.ReadFile(get("OVM_TEST_CHEF_KEY"))
	require.NoError(t, err, "read the chef admin key")
	s.Key = key
	s.Admin, err = gochef.NewClient(&gochef.Config{Name: s.ClientName, Key: string(key), BaseURL: s.URL, Timeout: 30})
	require.NoError(t, err)
	return s
}

// UploadCookbook uploads version of cookbook name with recipes (recipe
// name → its text) and removes it when the test ends.
func (s Server) UploadCookbook(t testing.TB, name, version string, recipes map[string]string) {
	t.Helper()
	require.NoError(t, Upload(t.Context(), s.Admin, name, version, recipes))
	t.Cleanup(func() { _ = s.Admin.Cookbooks.Delete(name, version) })
}

// Upload uploads a cookbook version through the sandbox protocol.
func Upload(_ context.Context, c *gochef.Client, name, version string, recipes map[string]string) error {
	sums := map[string][]byte{}
	var items []map[string]string
	var meta = map[string]string{}
	for r, text := range recipes {
		h := md5.Sum([]byte(text)) //nolint:gosec // the protocol's checksum
		sum := hex.EncodeToString(h[:])
		sums[sum] = []byte(text)
		items = append(items, map[string]string{"name": r + ".rb", "path": "recipes/" + r + ".rb", "checksum": sum, "specificity": "default"})
		meta[name+"::"+r] = ""
	}
	list := make([]string, 0, len(sums))
	for k := range sums {
		list = append(list, k)
	}
	box, err := c.Sandboxes.Post(list)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	for sum, item := range box.Checksums {
		if !item.Upload {
			continue
		}
		req, err := c.NewRequest(http.MethodPut, item.Url, bytes.NewReader(sums[sum]))
		if err != nil {
			return err
		}
		raw, _ := hex.DecodeString(sum)
		req.Header.Set("Content-Type", "application/x-binary")
		req.Header.Set("Content-MD5", base64.StdEncoding.EncodeToString(raw))
		res, err := c.Do(req, nil)
		if err != nil {
			return fmt.Errorf("upload %s: %w", sum, err)
		}
		res.Body.Close()
	}
	if _, err := c.Sandboxes.Put(box.ID); err != nil {
		return fmt.Errorf("commit sandbox: %w", err)
	}
	cb := map[string]any{
		"name": name + "-" + version, "cookbook_name": name, "version": version,
		"chef_type": "cookbook_version", "json_class": "Chef::CookbookVersion", "frozen?": false,
		"metadata": map[string]any{"name": name, "version": version, "recipes": meta, "dependencies": map[string]string{}},
		"recipes":  items,
	}
	body, err := gochef.JSONReader(cb)
	if err != nil {
		return err
	}
	req, err := c.NewRequest(http.MethodPut, "cookbooks/"+name+"/"+version, body)
	if err != nil {
		return err
	}
	res, err := c.Do(req, nil)
	if err != nil {
		return fmt.Errorf("put cookbook %s %s: %w", name, version, err)
	}
	return res.Body.Close()
}

// CreateRole makes a role with runList and removes it when the test ends.
func (s Server) CreateRole(t testing.TB, name string, runList ...string) {
	t.Helper()
	_, err := s.Admin.Roles.Create(&gochef.Role{Name: name, Description: "test role " + name, RunList: runList,
		ChefType: "role", JsonClass: "Chef::Role"})
	require.NoError(t, err, "create role %s", name)
	t.Cleanup(func() { _ = s.Admin.Roles.Delete(name) })
}

// CreateEnvironment makes an environment and removes it when the test ends.
func (s Server) CreateEnvironment(t testing.TB, name string) {
	t.Helper()
	_, err := s.Admin.Environments.Create(&gochef.Environment{Name: name, Description: "test environment " + name,
		ChefType: "environment", JsonClass: "Chef::Environment", CookbookVersions: map[string]string{}})
	require.NoError(t, err, "create environment %s", name)
	t.Cleanup(func() { _, _ = s.Admin.Environments.Delete(name) })
}

// BuildAgent builds the converge stand-in as a static binary and returns
// its path.
func BuildAgent(t testing.TB) string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	out := filepath.Join(t.TempDir(), "ovm-test-converge")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", out, "./convergeagent")
	cmd.Dir = filepath.Dir(here)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "build the converge stand-in: %s", b)
	return out
}
