package cli

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/drivers"
)

// TestHostRegisterHelpListsEveryKind: host register -h lists each kind's
// options as the server's driver factories know them.
func TestHostRegisterHelpListsEveryKind(t *testing.T) {
	var out, errb bytes.Buffer
	code := Run(t.Context(), []string{"host", "register", "-h"}, Env{Stdout: &out, Stderr: &errb, ConfigDir: t.TempDir()})
	require.Equal(t, 0, code, "exit code; stderr %q", errb.String())
	help := out.String()
	kinds := drivers.KindOptions()
	require.Len(t, kinds, 3, "the engines' kinds")
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		section, ok := strings.CutPrefix(help[strings.Index(help, "  "+string(k)+":\n"):], "  "+string(k)+":\n")
		require.True(t, ok, "a section of kind %s in %s", k, help)
		for key, meaning := range kinds[k] {
			assert.Regexp(t, `(?m)^    `+key+` +`+regexpQuote(meaning[:20]), section, "kind %s: option %s with its meaning", k, key)
		}
	}
	for _, key := range []string{"vswitch", "imageLibrary", "datastore", "templates", "disks", "sharedStorage", "uplink"} {
		assert.Contains(t, help, "    "+key+" ", "option %s", key)
	}
	assert.Contains(t, help, "  "+string(ovm.HostFake)+": none")
}

// regexpQuote quotes s for a regular expression.
func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteRune('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// TestVDCFlagOnEveryLeaf: every show, delete and action on an object of a
// VDC takes --vdc like list does, so an administrator names one of
// same-named objects of two VDCs; delete says in words what happened.
func TestVDCFlagOnEveryLeaf(t *testing.T) {
	for _, leaf := range [][]string{
		{"instance", "show"}, {"instance", "delete"}, {"instance", "start"}, {"instance", "stop"}, {"instance", "reboot"},
		{"instance", "resize"}, {"instance", "exec"}, {"instance", "console"},
		{"network", "show"}, {"network", "delete"},
		{"volume", "show"}, {"volume", "delete"}, {"volume", "resize"},
		{"vapp", "show"}, {"vapp", "delete"},
		{"task", "show"}, {"task", "watch"},
	} {
		var out, errb bytes.Buffer
		code := Run(t.Context(), append(leaf, "-h"), Env{Stdout: &out, Stderr: &errb, ConfigDir: t.TempDir()})
		require.Equal(t, 0, code, "%s -h: stderr %q", leaf, errb.String())
		assert.Contains(t, out.String(), "[--vdc VDC]", "ovm %s -h: synopsis", strings.Join(leaf, " "))
		assert.Regexp(t, `\n  --vdc VDC +look the \w+ up in this VDC`, out.String(), "ovm %s -h: flag", strings.Join(leaf, " "))
	}

	h := newHarness(t)
	h.setupPlatform("acme", "beta")
	ids := map[string]string{}
	for _, tn := range []string{"acme", "beta"} {
		h.ok("--context", tn, "network", "create", "net1", "--subnet", "10.7.0.0/24")
		h.ok("--context", tn, "instance", "create", "--name", "web", "--type", "container", "--image", "busybox:1", "--cpu", "100m",
			"--memory", "16Mi", "--wait")
		var n ovm.Network
		h.json(&n, "--context", tn, "network", "show", "net1")
		ids[tn] = string(n.ID)
	}

	h.fail(1, []string{`2 networks are named "net1"`}, "--context", "admin", "network", "show", "net1")
	var n ovm.Network
	h.json(&n, "--context", "admin", "network", "show", "net1", "--vdc", "beta")
	assert.Equal(t, ids["beta"], string(n.ID), "network show --vdc beta")
	h.json(&n, "--context", "admin", "network", "show", "--vdc", "acme", "net1")
	assert.Equal(t, ids["acme"], string(n.ID), "network show --vdc acme")

	r := h.ok("--context", "admin", "network", "delete", "net1", "--vdc", "beta")
	assert.Equal(t, "Network net1 ("+ids["beta"]+") deleted.\n", r.stdout)
	h.json(&n, "--context", "acme", "network", "show", "net1")
	assert.Equal(t, ids["acme"], string(n.ID), "acme's network is kept")

	h.fail(1, []string{`2 instances are named "web"`}, "--context", "admin", "instance", "show", "web")
	var inst ovm.Instance
	h.json(&inst, "--context", "admin", "instance", "show", "web", "--vdc", "acme")
	r = h.ok("--context", "admin", "instance", "delete", "web", "--vdc", "acme")
	assert.Regexp(t, `^Instance web \(`+inst.ID+`\) is being deleted\.\nTask [0-9a-f-]+ \w+; follow it with 'ovm task watch [0-9a-f-]+'\.\n$`, r.stdout)
	var beta ovm.Instance
	h.json(&beta, "--context", "beta", "instance", "show", "web")
	r = h.ok("--context", "admin", "instance", "delete", "web", "--vdc", "beta", "--wait")
	assert.Contains(t, r.stdout, "Instance web ("+string(beta.ID)+") deleted", "delete --wait")
	assert.NotContains(t, r.stdout, "being deleted")
}

// json runs a command with -o json and decodes its output into out.
func (h *harness) json(out any, args ...string) {
	h.t.Helper()
	r := h.ok(append(args, "-o", "json")...)
	require.NoError(h.t, json.Unmarshal([]byte(r.stdout), out), "ovm %s -o json: %s", strings.Join(args, " "), r.stdout)
}
