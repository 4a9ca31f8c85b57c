//go:build integration

package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/chef/cheftest"
)

// TestEnginesChefCLI: through the ovm CLI only, an administrator registers
// the test Chef server (goiardi; refused when it does not answer), a tenant
// reads its catalog, enrols a container, installs a recipe on it (an
// unknown cookbook is refused), updates every enrolled instance and
// unenrols it. The guest's converge command is the test stand-in (see
// package cheftest/convergeagent): chef-client cannot be installed here.
func TestEnginesChefCLI(t *testing.T) {
	host := engineEnv(t, "DOCKER_HOST")
	base := engineEnv(t, "OVM_TEST_DOCKER_IMAGE")
	dc := newEngineDocker(t, host)
	srv := cheftest.FromEnv(t)
	e := newEngineCLI(t)
	e.setupAdmin()
	suffix := strings.ToLower(string(ovm.NewID().Short()))
	image := cheftest.AgentImage(t, dc.c, base, "ovm-chef-cli:"+suffix)
	book := "ovmcli" + suffix
	srv.UploadCookbook(t, book, "0.1.0", map[string]string{"default": "echo cli-installed > /tmp/ovm-cli-x\n"})
	relay := cheftest.Forward(t, cheftest.BridgeGateway(t, dc.c), strings.TrimSuffix(strings.TrimPrefix(srv.URL, "http://"), "/"))
	keyFile := filepath.Join(t.TempDir(), "admin.pem")
	require.NoError(t, os.WriteFile(keyFile, srv.Key, 0o600))

	e.ok("--context", "admin", "host", "register", "docker1", "--kind", "docker", "--endpoint", host, "--pool", "pool1")
	e.failIn("", 1, []string{"connection refused"}, "--context", "admin", "chef", "server", "register", "chef-bad",
		"--url", "http://127.0.0.1:1/", "--client", srv.ClientName, "--key-file", keyFile)
	r := e.ok("--context", "admin", "chef", "server", "register", "chef1", "--url", srv.URL, "--client", srv.ClientName,
		"--key-file", keyFile, "--guest-url", "http://"+relay.Addr()+"/", "--converge-command", cheftest.AgentPath)
	assert.Regexp(t, `Converge:\s+`+cheftest.AgentPath, r.stdout)
	assert.NotContains(t, r.stdout, "PRIVATE KEY")
	e.addTenant("acme")
	vdc := e.vdcID("acme")
	t.Cleanup(func() { dc.removeLabelled(t, docker.LabelVDC, string(vdc)) })

	assert.Regexp(t, `cookbook\s+`+book+`\s+0.1.0\s+default`, e.ok("--context", "acme", "chef", "catalog", "chef1").stdout)
	e.ok("--context", "acme", "instance", "create", "--name", "web", "--image", image, "--cpu", "100m", "--memory", "32Mi",
		"--start", "--wait", "--", "/bin/sh", "-c", engineBootScript)
	web := e.instance("acme", "web")
	t.Cleanup(func() { _ = srv.Admin.Nodes.Delete(string(web.ID)); _ = srv.Admin.Clients.Delete(string(web.ID)) })

	r = e.ok("--context", "acme", "chef", "enrol", "web", "--chef", "chef1", "--wait")
	assert.Regexp(t, `State:\s+enrolled`, r.stdout)
	assert.Regexp(t, `Node:\s+`+string(web.ID), r.stdout)

	e.failIn("", 1, []string{"runList[0]", "no cookbook"}, "--context", "acme", "chef", "install", "recipe[nonesuch"+suffix+"]", "--on", "web")
	r = e.ok("--context", "acme", "chef", "install", "recipe["+book+"]", "--on", "web", "--wait")
	assert.Contains(t, r.stdout, "1 succeeded, 0 failed")
	assert.Equal(t, "cli-installed\n", e.ok("--context", "acme", "instance", "exec", "web", "--", "cat", "/tmp/ovm-cli-x").stdout)
	node, err := srv.Admin.Nodes.Get(string(web.ID))
	require.NoError(t, err)
	assert.Equal(t, []string{"recipe[" + book + "]"}, node.RunList, "the run list on goiardi")

	r = e.ok("--context", "acme", "chef", "update", "--all", "--wait")
	assert.Contains(t, r.stdout, "1 succeeded, 0 failed")
	var runs apitypes.Page[apitypes.ChefRun]
	e.json(&runs, "--context", "acme", "chef", "run", "list")
	assert.Len(t, runs.Items, 2)
	var n apitypes.ChefNode
	e.json(&n, "--context", "acme", "chef", "node", "web")
	require.NotNil(t, n.LastConverge)
	assert.Equal(t, apitypes.ChefSucceeded, n.LastConverge.Outcome)

	e.ok("--context", "acme", "chef", "unenrol", "web", "--wait")
	_, err = srv.Admin.Nodes.Get(string(web.ID))
	assert.Error(t, err, "the node is gone from goiardi")
	e.ok("--context", "admin", "chef", "server", "delete", "chef1")
}
