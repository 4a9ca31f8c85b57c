package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// TestBadInput: what the server refuses names its field; what the CLI
// cannot parse names its flag and exits 2.
func TestBadInput(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")
	h.ok("network", "create", "net1", "--subnet", "10.2.0.0/24")

	tests := []struct {
		name string
		args []string
		code int
		want []string // each in stderr
	}{
		{"invalid network name", []string{"network", "create", "Bad_Name", "--subnet", "10.4.0.0/24"}, 1, []string{"name: must be lower-case", "422"}},
		{"invalid cidr", []string{"network", "create", "n3", "--subnet", "10.4.0.0/33"}, 1, []string{"subnet: must be a CIDR"}},
		{"gateway outside and vlan", []string{"network", "create", "n3", "--subnet", "10.4.0.0/24", "--gateway", "10.5.0.1", "--vlan", "5000"}, 1, []string{"gateway:", "vlan:"}},
		{"bad range", []string{"network", "create", "n3", "--subnet", "10.4.0.0/24", "--range", "x-10.4.0.9"}, 1, []string{"ranges[0].start:"}},
		{"invalid instance name", []string{"instance", "create", "--name", "Web_1", "--image", "busybox", "--cpu", "100m", "--memory", "16Mi"}, 1, []string{"name: must be lower-case"}},
		{"memory too small", []string{"instance", "create", "--name", "i1", "--image", "busybox", "--memory", "1Ki"}, 1, []string{"spec.memoryBytes: must be at least 4MiB"}},
		{"vm cpu not whole", []string{"instance", "create", "--name", "i1", "--image", "d.qcow2", "--cpu", "1500m", "--memory", "1Gi"}, 1, []string{"spec.cpuMilli: must be whole vCPUs"}},
		{"unparsable size", []string{"instance", "create", "--name", "i1", "--image", "busybox", "--memory", "12XB"}, 2, []string{"--memory:", `"12XB" is not a size`, "ovm instance create -h"}},
		{"unparsable cpu", []string{"instance", "create", "--name", "i1", "--image", "busybox", "--cpu", "lots"}, 2, []string{"--cpu:"}},
		{"negative volume size", []string{"volume", "create", "v1", "--size", "-5"}, 2, []string{"--size:"}},
		{"unknown network of a nic", []string{"instance", "create", "--name", "i1", "--image", "busybox", "--network", "nosuch"}, 1, []string{`no network named "nosuch"`}},
		{"no host has room", []string{"instance", "create", "--name", "big", "--image", "busybox", "--cpu", "64"}, 1, []string{`the pool has no room for "big": 64 vCPU`}},
		{"missing flag", []string{"network", "create", "n4"}, 2, []string{"--subnet is required"}},
		{"unknown flag", []string{"network", "list", "--colour", "red"}, 2, []string{"flag provided but not defined: -colour"}},
		{"extra argument", []string{"network", "show", "a", "b"}, 2, []string{"want NAME|ID, got 2"}},
		{"unknown command", []string{"instance", "frobnicate"}, 2, []string{`unknown command "instance frobnicate"`}},
		{"bad output format", []string{"instance", "list", "-o", "xml"}, 2, []string{`-o "xml"`}},
		{"not found by name", []string{"instance", "show", "nosuch"}, 1, []string{`no instance named "nosuch"`}},
		{"not found by id", []string{"instance", "show", string(ovm.NewID())}, 1, []string{"not found", "404"}},
		{"tenant lists hosts", []string{"host", "list"}, 1, []string{"403"}},
		{"unknown host option", []string{"--context", "admin", "host", "register", "h2", "--kind", "fake", "--endpoint", "fake://h2", "--pool", "pool1", "--option", "colour=red"}, 1, []string{"options.colour"}},
		{"bad option syntax", []string{"--context", "admin", "host", "register", "h2", "--kind", "fake", "--endpoint", "fake://h2", "--pool", "pool1", "--option", "colour"}, 2, []string{"want KEY=VALUE"}},
		{"server is not the cli's", []string{"server"}, 2, []string{"ovm server"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.run(tc.args...)
			require.Equal(t, tc.code, r.code, "ovm %s: got %s", strings.Join(tc.args, " "), r)
			for _, w := range tc.want {
				assert.Contains(t, r.stderr, w, "stderr of ovm %s", strings.Join(tc.args, " "))
			}
			assert.Empty(t, r.stdout, "nothing on stdout for a failure")
			assert.Equal(t, 1, strings.Count(r.stderr, "error: "), "one error paragraph: %q", r.stderr)
		})
	}
}

// TestTaskWatch: task watch follows a running task with a line per change
// and ends with its final state; a failing task exits 1 with its log tail.
func TestTaskWatch(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")
	fh := h.srv.Host(t, "fake://h1")
	fh.Hypervisor.SetLatency(100 * time.Millisecond) // so that the watch sees the task run

	var it apitypes.InstanceTask
	r := h.ok("instance", "create", "--name", "web", "--image", "busybox:1", "--cpu", "100m", "--memory", "16Mi", "--start", "-o", "json")
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &it))
	require.NotNil(t, it.Task, "create answers with its task: %s", r.stdout)

	r = h.ok("task", "watch", string(it.Task.ID))
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.GreaterOrEqual(t, len(lines), 2, "a line per change: %q", r.stdout)
	assert.Contains(t, r.stdout, " step ", "progress lines name the step: %q", r.stdout)
	assert.Equal(t, "task "+it.Task.ID.Short()+" instance.create: succeeded 100%", lines[len(lines)-1], "the last line is the final state")

	// A short id prefix finds the task too; show lists its steps.
	show := h.ok("task", "show", it.Task.ID.Short()).stdout
	assert.Regexp(t, `STEP\s+STATE`, show)
	assert.Contains(t, show, "succeeded")

	// The next create on the host fails: the task rolls back, watch exits 1
	// and prints the hypervisor's own error and the log tail.
	fh.Hypervisor.SetLatency(0)
	fh.Hypervisor.FailNext(fake.MethodCreate, ovm.Errorf(ovm.KindUnavailable, "disk controller on fire"))
	r = h.run("instance", "create", "--name", "doomed", "--image", "busybox:1", "--cpu", "100m", "--memory", "16Mi", "--wait")
	require.Equal(t, 1, r.code, "create --wait of a failing task: %s", r)
	assert.Contains(t, r.stderr, "rolled-back")
	assert.Contains(t, r.stderr, "disk controller on fire", "the hypervisor's text")
	assert.Contains(t, r.stderr, "log lines of task", "the log tail")

	// With -o json, watch prints the final task as JSON on stdout.
	r = h.ok("task", "watch", string(it.Task.ID), "-o", "json")
	var final ovm.Task
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &final))
	assert.Equal(t, ovm.TaskSucceeded, final.State)
}

// TestVAppsVolumesAndAdmin covers vApp files, volumes, tokens, users and
// host maintenance through the CLI.
func TestVAppsVolumesAndAdmin(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")

	doc := `name: shop
members:
  - name: shop-web
    spec: {type: container, cpuMilli: 100, memoryBytes: 16777216, image: {format: oci, name: "nginx:1"}}
    startGroup: 2
  - name: shop-db
    spec: {type: container, cpuMilli: 100, memoryBytes: 16777216, image: {format: oci, name: "postgres:17"}}
    startGroup: 1
`
	r := h.okIn(doc, "vapp", "create", "-f", "-", "--wait")
	assert.Regexp(t, `shop-web\s+2\s+[0-9a-f-]{36}\s+ready\s+running`, r.stdout, "members after --wait: started once all are made")
	assert.Regexp(t, `Phase:?\s+ready`, r.stdout, "the vApp's phase")
	r = h.ok("vapp", "stop", "shop", "--wait")
	assert.Regexp(t, `shop-db\s+1\s+[0-9a-f-]{36}\s+ready\s+stopped`, r.stdout, "members after vapp stop")
	r = h.ok("vapp", "start", "shop", "--wait")
	assert.Regexp(t, `shop-db\s+1\s+[0-9a-f-]{36}\s+ready\s+running`, r.stdout, "members after vapp start")
	assert.Regexp(t, `shop\s+[0-9a-f-]{36}\s+2\s+2\s+0`, h.ok("vapp", "list").stdout, "vapp list: members, ready, failed")
	bad := h.runIn("name: shop2\ncolour: red\nmembers: []\n", "vapp", "create", "-f", "-")
	assert.Equal(t, 1, bad.code, "unknown field: %s", bad)
	assert.Contains(t, bad.stderr, "colour", "the unknown field is named")
	h.ok("vapp", "delete", "shop", "--wait")

	h.ok("volume", "create", "data", "--size", "1Gi", "--wait")
	h.ok("volume", "resize", "data", "--size", "2Gi", "--wait")
	assert.Regexp(t, `data\s+[0-9a-f-]{36}\s+2GiB\s+ready`, h.ok("volume", "list").stdout)
	h.ok("volume", "delete", "data", "--wait")

	// A personal token works as --token and can be revoked.
	var tok apitypes.NewToken
	require.NoError(t, json.Unmarshal([]byte(h.ok("token", "create", "ci", "-o", "json").stdout), &tok))
	require.NotEmpty(t, tok.Token)
	r = h.ok("--server", h.srv.URL, "--token", tok.Token, "context", "show")
	assert.Contains(t, r.stdout, "acme-admin")
	h.ok("token", "revoke", "ci")
	h.fail(1, []string{"401"}, "--server", h.srv.URL, "--token", tok.Token, "instance", "list")

	// A VDC admin makes a member with a generated password, shown once.
	r = h.ok("user", "create", "bob", "--role", "vdc-member")
	assert.Regexp(t, `Password:\s+\S{12,}`, r.stdout)
	h.ok("user", "disable", "bob")
	assert.Regexp(t, `bob\s+[0-9a-f-]{36}\s+vdc-member\s+[0-9a-f-]{36}\s+disabled`, h.ok("user", "list").stdout)

	// Maintenance, sync and the discovered list, as the administrator.
	assert.Contains(t, h.ok("--context", "admin", "host", "maintenance", "h1", "on").stdout, "maintenance")
	assert.Contains(t, h.ok("--context", "admin", "host", "maintenance", "h1", "off").stdout, "is up")
	fh := h.srv.Host(t, "fake://h1")
	_, err := fh.Hypervisor.AddUnmanaged("legacy", ovm.InstanceSpec{Type: ovm.TypeVM, CPU: 1000, Memory: ovm.GiB, Image: ovm.Template("old.qcow2")}, true)
	require.NoError(t, err)
	assert.Contains(t, h.ok("--context", "admin", "host", "sync", "h1").stdout, "legacy")
	assert.Contains(t, h.ok("--context", "admin", "discovered", "list").stdout, "legacy")
	r = h.ok("--context", "admin", "discovered", "import", "legacy", "--vdc", "acme")
	assert.Regexp(t, `Name:\s+legacy`, r.stdout)
	assert.Contains(t, h.ok("instance", "list").stdout, "legacy", "the tenant sees the imported instance")
}

// TestHelp: help and -h print usage and exit 0.
func TestHelp(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"no arguments", nil, []string{"Usage: ovm", "instance", "datacenter", "--context"}},
		{"help", []string{"help"}, []string{"Commands:", "login"}},
		{"help of a group", []string{"help", "instance"}, []string{"Usage: ovm instance COMMAND", "resize"}},
		{"help of a leaf", []string{"help", "instance", "create"}, []string{"--image", "--network NAME|ID[=IP]"}},
		{"-h of a leaf", []string{"network", "create", "-h"}, []string{"Usage: ovm network create NAME --subnet CIDR", "--vlan"}},
		{"-h of a group", []string{"host", "-h"}, []string{"register", "maintenance"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(t.Context(), tc.args, Env{Stdout: &out, Stderr: &errb, ConfigDir: t.TempDir()})
			assert.Equal(t, 0, code, "exit code; stderr %q", errb.String())
			for _, w := range tc.want {
				assert.Contains(t, out.String(), w)
			}
		})
	}
	var out, errb bytes.Buffer
	assert.Equal(t, 2, Run(t.Context(), []string{"instance"}, Env{Stdout: &out, Stderr: &errb, ConfigDir: t.TempDir()}), "a group without a subcommand")
	assert.Contains(t, errb.String(), "needs a subcommand")
}
