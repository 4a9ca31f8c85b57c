//go:build integration

package portal_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/chef/cheftest"
)

// setValue sets the value of a field as pasting does (one input event).
func setValue(sel, value string) void {
	return chromedp.Steps(visible(sel), js(fmt.Sprintf(`const e = document.querySelector(%q); e.value = %q; e.dispatchEvent(new Event("input", {bubbles: true}))`, sel, value)))
}

// TestPortalChefDocker drives the Chef views against the real Chef server
// (goiardi) and real containers running the converge stand-in
// (cheftest/convergeagent; chef-client cannot be installed here): an
// administrator registers the server (a malformed URL shows the API's
// message beside the field; an unreachable server shows the connection
// check's error) and removes a spare one; the tenant reads the catalog,
// enrols three containers (an unknown cookbook refused beside the field),
// installs X on two of them (the recipe's file is in those two only),
// updates all with one made to fail (its output shown), retries the
// failed one after fixing it, and cancels a slow run. Both languages are
// screenshotted and checked by axe-core; no tenant page or response names
// the host.
func TestPortalChefDocker(t *testing.T) {
	check := newViewCheck(t)
	base := testEnv(t, "OVM_TEST_DOCKER_IMAGE")
	d := newDockerTenant(t)
	s := d.s
	srv := cheftest.FromEnv(t)
	suffix := strings.ToLower(string(ovm.NewID().Short()))
	image := cheftest.AgentImage(t, d.dc, base, "ovm-chef-agent:"+suffix)
	book, role := "pbook"+suffix, "prole"+suffix
	srv.UploadCookbook(t, book, "1.0.0", map[string]string{
		"default": "echo installed-by-chef > /tmp/ovm-chef-x\necho X installed\n",
		"update":  "if [ -e /tmp/ovm-fail ]; then echo \"update broken: $(cat /tmp/ovm-fail)\" >&2; exit 3; fi\necho updated\n",
		"slow":    "sleep 30\necho slow done\n",
	})
	srv.CreateRole(t, role, "recipe["+book+"]")
	relay := cheftest.Forward(t, cheftest.BridgeGateway(t, d.dc), strings.TrimSuffix(strings.TrimPrefix(srv.URL, "http://"), "/"))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + l.Addr().String() + "/"
	require.NoError(t, l.Close())

	// The administrator registers the server.
	b := newBrowser(t)
	b.login(s.url, "admin", s.AdminPassword())
	b.goTo("/admin/chef")
	submit := `form[aria-labelledby="chef-create"] button[type="submit"]`
	b.do(fill("#chef-name", "chef1"), fill("#chef-url", "ftp://chef"), fill("#chef-client", srv.ClientName), setValue("#chef-key", string(srv.Key)),
		click(submit), visible(`.field-error[data-field="chef-url"]`))
	assert.NotEmpty(t, b.text(`.field-error[data-field="chef-url"]`), "the API's message beside the URL")
	b.shot("admin-chef-bad-input-en")
	check.accessible(b, "en chef servers with a field error")
	b.do(fill("#chef-url", closed), click(submit), gone(`.field-error[data-field="chef-url"]`), visible(`form[aria-labelledby="chef-create"] .problem`))
	assert.Contains(t, b.text(`form[aria-labelledby="chef-create"] .problem`), "connection refused", "the connection check's own error")
	b.shot("admin-chef-unreachable-en")
	b.do(fill("#chef-url", srv.URL), fill("#chef-guest", "http://"+relay.Addr()+"/"), fill("#chef-command", cheftest.AgentPath),
		click(submit), visible(`table.chef-servers tr[data-name="chef1"]`))
	b.do(fill("#chef-name", "chef-spare"), fill("#chef-guest", ""), setValue("#chef-key", string(srv.Key)), click(submit), visible(`table.chef-servers tr[data-name="chef-spare"]`))
	b.do(click(`table.chef-servers tr[data-name="chef-spare"] button.danger`), gone(`table.chef-servers tr[data-name="chef-spare"]`))
	assert.NotContains(t, b.html(), "PRIVATE KEY-----\n", "the key is not shown back")
	b.shot("admin-chef-en")
	check.accessible(b, "en chef servers")
	b.setLang("zh")
	b.do(reload(), visible(`html[lang="zh-CN"] table.chef-servers`))
	b.shot("admin-chef-zh")
	check.accessible(b, "zh chef servers")

	// Three containers of the agent image.
	ids := map[string]string{}
	for _, name := range []string{"chef-a", "chef-b", "chef-c"} {
		var it struct {
			Instance idName    `json:"instance"`
			Task     taskState `json:"task"`
		}
		s.must(t, http.StatusAccepted, "POST", "/v1/instances", d.tenant, map[string]any{"name": name, "start": true,
			"spec": map[string]any{"type": "container", "cpuMilli": 100, "memoryBytes": 32 << 20, "image": map[string]string{"format": "oci", "name": image},
				"command": []string{"/bin/sh", "-c", `trap "exit 0" TERM; while :; do sleep 1; done`}}}, &it)
		require.Equal(t, "succeeded", s.waitTask(t, d.tenant, it.Task.ID, 5*time.Minute).State, "create %s", name)
		ids[name] = it.Instance.ID
		id := it.Instance.ID
		t.Cleanup(func() { _ = srv.Admin.Nodes.Delete(id); _ = srv.Admin.Clients.Delete(id) })
	}
	sh := func(name, script string) (int, string) {
		t.Helper()
		var res struct {
			ExitCode       int
			Stdout, Stderr string
		}
		s.must(t, http.StatusOK, "POST", "/v1/instances/"+ids[name]+"/exec", d.tenant, map[string]any{"command": []string{"/bin/sh", "-c", script}}, &res)
		return res.ExitCode, res.Stdout + res.Stderr
	}

	tb := newBrowser(t)
	tb.login(s.url, "ann", "tenant-password-1")
	tb.goTo("/chef")
	tb.do(visible(fmt.Sprintf(`ul.cookbooks li[data-name=%q]`, book)), visible(fmt.Sprintf(`ul.roles li[data-name=%q]`, role)))
	assert.Contains(t, tb.text(fmt.Sprintf(`ul.cookbooks li[data-name=%q]`, book)), "slow", "the cookbook's recipes")
	enrol := `form[aria-labelledby="enrol-title"]`
	tb.do(chooseText("#enrol-inst", "chef-a"), fill("#enrol-runlist", "nosuchbook"+suffix), click(enrol+` button[type="submit"]`), visible(`.field-error[data-field="enrol-runlist"]`))
	assert.NotEmpty(t, tb.text(`.field-error[data-field="enrol-runlist"]`), "an unknown cookbook is refused beside the field")
	tb.shot("tenant-chef-bad-input-en")
	check.accessible(tb, "en chef with a field error")
	for _, e := range []struct{ name, runList string }{{"chef-a", ""}, {"chef-b", ""}, {"chef-c", book + "::update"}} {
		tb.do(chooseText("#enrol-inst", e.name), fill("#enrol-runlist", e.runList), click(enrol+` button[type="submit"]`))
		tb.doFor(3*time.Minute, visible(fmt.Sprintf(`ul.enrolled li[data-name=%q] .badge-enrolled`, e.name)))
	}
	node, err := srv.Admin.Nodes.Get(ids["chef-c"])
	require.NoError(t, err, "the node on the Chef server")
	assert.Equal(t, []string{"recipe[" + book + "::update]"}, node.RunList)

	// Install X on chef-a and chef-b.
	install := `form[aria-labelledby="install-title"]`
	runCard := func(state string, n int) {
		t.Helper()
		tb.doFor(3*time.Minute, waitFor(fmt.Sprintf(`document.querySelectorAll("article.run").length === %d && document.querySelector("article.run").dataset.state === %q`, n, state)))
	}
	tb.do(fill("#install-runlist", book), click(fmt.Sprintf(`input.install-on[value=%q]`, ids["chef-a"])), click(fmt.Sprintf(`input.install-on[value=%q]`, ids["chef-b"])),
		click(install+` button[type="submit"]`))
	runCard("succeeded", 1)
	first := `article.run:first-of-type`
	for _, n := range []string{"chef-a", "chef-b"} {
		tb.do(visible(fmt.Sprintf(`%s tr[data-name=%q][data-outcome="succeeded"]`, first, n)))
	}
	for name, want := range map[string]int{"chef-a": 0, "chef-b": 0, "chef-c": 1} {
		code, _ := sh(name, "test -f /tmp/ovm-chef-x")
		assert.Equal(t, want, code, "the recipe's file in %s", name)
	}
	tb.shot("tenant-chef-en")
	check.accessible(tb, "en chef with a run")

	// Update all, chef-c made to fail.
	code, _ := sh("chef-c", "echo disk full > /tmp/ovm-fail")
	require.Zero(t, code)
	tb.do(click(install + " button.update-all"))
	runCard("failed", 2)
	tb.do(visible(first+` tr[data-name="chef-a"][data-outcome="succeeded"]`), visible(first+` tr[data-name="chef-c"][data-outcome="failed"]`))
	tb.do(click(first+` tr[data-name="chef-c"] summary`), visible(first+` tr[data-name="chef-c"] pre.output`))
	assert.Contains(t, tb.text(first+` tr[data-name="chef-c"] pre.output`), "update broken: disk full", "the failed converge's output")
	tb.shot("tenant-chef-failed-en")
	code, _ = sh("chef-c", "rm /tmp/ovm-fail")
	require.Zero(t, code)
	tb.do(click(first + " button.retry"))
	runCard("succeeded", 3)
	rows := run(tb, jsValue[[]string](`[...document.querySelectorAll("article.run:first-of-type tbody tr")].map(r => r.dataset.name + ":" + r.dataset.outcome)`))
	assert.Equal(t, []string{"chef-c:succeeded"}, rows, "the retry converges the failed one only")

	// A slow run, cancelled.
	tb.do(fill("#install-runlist", book+"::slow"), click(fmt.Sprintf(`input.install-on[value=%q]`, ids["chef-a"])), click(install+` button[type="submit"]`))
	tb.do(waitFor(`document.querySelectorAll("article.run").length === 4`), visible(first+" button.cancel-run"), click(first+" button.cancel-run"))
	runCard("cancelled", 4)
	tb.shot("tenant-chef-cancelled-en")

	tb.setLang("zh")
	tb.do(reload(), visible(`html[lang="zh-CN"] ul.cookbooks`), visible("article.run"))
	tb.shot("tenant-chef-zh")
	check.accessible(tb, "zh chef")
	noneOf(t, "chef", tb.html(), d.secrets...)
	for _, r := range tb.responses() {
		noneOf(t, "the response of "+r.url, r.body, append(d.secrets, string(srv.Key))...)
	}
}
