//go:build integration

package portal_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	ctr "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/internal/libvirthost"
	"github.com/openovm/ovm/ovm"
)

// termText is the text the console's terminal shows.
const termText = `(document.querySelector(".terminal .xterm-rows")?.textContent ?? "")`

// TestPortalConsoleWizard: a tenant makes a network, then a container on
// the real Docker engine and a VM on the real libvirtd through the create
// wizard (bad input first: the API's message shows beside the field, on
// its step), watches their tasks finish, types into a shell in the
// container through the browser's console and reads the answer, sees the
// VM's serial console and its display (noVNC), then stops and deletes both. The wizard and the
// console are screenshotted in both languages and checked with axe-core.
func TestPortalConsoleWizard(t *testing.T) {
	endpoint := testEnv(t, "DOCKER_HOST")
	image := testEnv(t, "OVM_TEST_DOCKER_IMAGE")
	uri := testEnv(t, "OVM_TEST_LIBVIRT_URI")
	template := testEnv(t, "OVM_TEST_LIBVIRT_TEMPLATE")
	shared := testEnv(t, "OVM_TEST_LIBVIRT_SHARED")
	kvmOpts := map[string]string{
		"templates": filepath.Dir(template), "disks": shared,
		"kernel": testEnv(t, "OVM_TEST_LIBVIRT_KERNEL"), "initrd": testEnv(t, "OVM_TEST_LIBVIRT_INITRD"),
		"cmdline": "console=ttyS0 quiet", "virtType": "qemu", "sharedStorage": shared,
	}
	axeSrc := axeSource(t)
	dc, err := client.NewClientWithOpts(client.WithHost(endpoint), client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	t.Cleanup(func() { _ = dc.Close() })
	lh := libvirthost.Dial(t, uri, kvmOpts)

	s := startServer(t)
	pool, vdc := s.platform(t, "ann", "tenant-password-1")
	suffix := string(ovm.NewID().Short())
	var dockerHost, kvmHost idName
	s.must(t, http.StatusCreated, "POST", "/v1/hosts", s.admin, map[string]any{"name": "hv-docker-" + suffix, "kind": "docker", "endpoint": endpoint, "poolId": pool}, &dockerHost)
	s.must(t, http.StatusCreated, "POST", "/v1/hosts", s.admin, map[string]any{"name": "hv-kvm-" + suffix, "kind": "kvm", "endpoint": uri, "poolId": pool, "options": kvmOpts}, &kvmHost)
	// Whatever the tenant's pages show must not name a host.
	noHost := func(where, text string) {
		t.Helper()
		for _, s := range []string{dockerHost.ID, dockerHost.Name, kvmHost.ID, kvmHost.Name, endpoint, uri} {
			assert.NotContains(t, text, s, "%s shows a host", where)
		}
	}
	netName := "cnet-" + suffix
	var vmID ovm.ID
	cleanupDocker(t, dc, vdc, netName)
	t.Cleanup(func() {
		if vmID != "" {
			lh.RemoveDomain("vm1-" + string(vmID.Short()))
			lh.RemoveVolumes(vmID)
		}
	})

	b := newBrowser(t)
	b.login(s.url, "ann", "tenant-password-1")
	b.goTo("/networks")
	subnet := fmt.Sprintf("10.%d.%d.0/24", 100+rand.IntN(100), rand.IntN(250))
	b.do(fill("#net-name", netName), fill("#net-subnet", subnet), click(`form[aria-labelledby="net-create"] button[type="submit"]`),
		visible(fmt.Sprintf(`tr[data-name=%q]`, netName)))

	// wizard walks the create wizard from the instance list to its review.
	next := `form.wizard button[type="submit"]`
	toStep := func(n int) void {
		return chromedp.Steps(click(fmt.Sprintf(`ol.steps li:nth-child(%d) button`, n)), visible(fmt.Sprintf(`ol.steps li:nth-child(%d) button[aria-current="step"]`, n)))
	}
	openWizard := func() {
		b.goTo("/instances")
		b.do(click("a.wizard-link"), visible("#wiz-name"), gone(".loading"))
	}

	// The container: a bad name first, shown beside the name on the first
	// step once the API refuses it.
	openWizard()
	b.shot("tenant-wizard-source-en")
	assert.Empty(t, b.axe(axeSrc), "axe on the wizard")
	b.do(choose("#wiz-type", "container"), fill("#wiz-name", "Shell 1!"), fill("#wiz-image", image), click(next),
		visible(`input[name="wiz-size"][value="small"]`))
	b.do(click(`input[name="wiz-size"][value="custom"]`), fill("#wiz-cpu", "0.1"), fill("#wiz-memory", "64"))
	b.shot("tenant-wizard-size-en")
	b.do(click(next), chooseText("#wiz-network", netName))
	b.shot("tenant-wizard-network-en")
	b.do(click(next), fill("#wiz-command", "sleep 3600"))
	b.shot("tenant-wizard-access-en")
	b.do(click(next), visible("dl.review"))
	b.shot("tenant-wizard-review-en")
	noHost("the wizard", b.html())
	b.do(click(next), visible(`.field-error[data-field="wiz-name"]`))
	assert.NotEmpty(t, b.text(`.field-error[data-field="wiz-name"]`), "the API's message beside the name")
	b.shot("tenant-wizard-bad-input-en")
	assert.Empty(t, b.axe(axeSrc), "axe on the wizard with a message")
	b.do(fill("#wiz-name", "shell1"), toStep(5), click(next), visible(".task[data-state]"))
	b.doFor(3*time.Minute, visible(`.task[data-state="succeeded"]`))

	// Its console: a shell in the container answers what is typed.
	var insts struct{ Items []struct{ ID, Name string } }
	s.must(t, http.StatusOK, "GET", "/v1/instances", s.login(t, "ann", "tenant-password-1"), nil, &insts)
	require.Len(t, insts.Items, 1)
	shellID := insts.Items[0].ID
	b.do(navigate(s.url+"/instances/"+shellID), visible(".details"), click("a.console-link"),
		visible(`.console-state[data-state="open"]`))
	b.do(chromedp.SendKeys(chromedp.CSS(".terminal textarea"), "echo answer-$((6*7))\r"))
	b.doFor(30*time.Second, waitFor(termText+`.includes("answer-42")`))
	assert.Contains(t, run(b, jsValue[string](termText)), "answer-42")
	b.shot("tenant-console-exec-en")
	noHost("the container's console", b.html())
	assert.Empty(t, b.axe(axeSrc), "axe on the console")

	// The VM: from the test template, with a disk, a key and user data.
	openWizard()
	b.do(fill("#wiz-name", "vm1"), fill("#wiz-image", filepath.Base(template)), click(next),
		click(`input[name="wiz-size"][value="custom"]`), fill("#wiz-cpu", "1"), fill("#wiz-memory", "128"), click(next),
		click("button.add-disk"), fill("#wiz-disk-0-size", "1"), click(next),
		fill("#wiz-keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOvmTestKeyOnlyForTheBrowserTest0000000000 ann@portal"),
		fill("#wiz-userdata", "#cloud-config\nhostname: vm1\n"), click(next), visible("dl.review"))
	assert.Contains(t, b.text("dl.review"), "data1 1 GiB")
	b.do(click(next), visible(".task[data-state]"))
	b.doFor(5*time.Minute, visible(`.task[data-state="succeeded"]`))
	s.must(t, http.StatusOK, "GET", "/v1/instances", s.admin, nil, &insts)
	for _, i := range insts.Items {
		if i.Name == "vm1" {
			vmID = ovm.ID(i.ID)
		}
	}
	require.NotEmpty(t, vmID, "the VM the wizard made")
	st, ok := lh.State(t, "vm1-"+string(vmID.Short()))
	require.True(t, ok, "the domain on libvirtd")
	assert.EqualValues(t, 1, st, "the domain runs")

	// Its serial console shows what the guest prints.
	b.do(navigate(s.url+"/instances/"+string(vmID)+"/console"), visible(`.console-state[data-state="open"]`))
	assert.Equal(t, "serial", run(b, jsValue[string](`document.querySelector("#console-mode").value`)))
	b.doFor(3*time.Minute, waitFor(termText+`.includes("OVM-TICK")`))
	b.shot("tenant-console-serial-en")
	noHost("the VM's console", b.html())

	// Its display: noVNC through the server's proxy to the domain's VNC
	// server draws the guest's screen on a canvas.
	b.do(choose("#console-mode", "vnc"), visible(`section[aria-labelledby="console-vnc"] .console-state[data-state="open"]`))
	b.doFor(30*time.Second, waitFor(`(() => { const c = document.querySelector(".display canvas"); return !!c && c.width > 0 && c.height > 0 })()`))
	b.shot("tenant-console-vnc-en")
	noHost("the VM's display", b.html())
	assert.Empty(t, b.axe(axeSrc), "axe on the display")

	// Chinese.
	b.setLang("zh")
	b.do(reload(), visible(`html[lang="zh-CN"] .console-state[data-state="open"]`))
	b.shot("tenant-console-serial-zh")
	b.do(choose("#console-mode", "vnc"), visible(`section[aria-labelledby="console-vnc"] .console-state[data-state="open"]`))
	b.shot("tenant-console-vnc-zh")
	b.do(navigate(s.url+"/instances/"+shellID+"/console"), visible(`.console-state[data-state="open"]`), js(`window.confirm = () => true`))
	b.do(chromedp.SendKeys(chromedp.CSS(".terminal textarea"), "echo 你好-$((6*7))\r"))
	b.doFor(30*time.Second, waitFor(termText+`.includes("你好-42")`))
	b.shot("tenant-console-exec-zh")
	b.do(navigate(s.url+"/instances/new"), visible("#wiz-name"), js(`window.confirm = () => true`))
	b.shot("tenant-wizard-source-zh")
	for n, step := range []string{"size", "network", "access", "review"} {
		b.do(toStep(n + 2))
		b.shot("tenant-wizard-" + step + "-zh")
	}
	b.do(toStep(1))
	b.do(fill("#wiz-name", "坏 名字"), toStep(5), click(next), visible(`.field-error[data-field="wiz-name"]`))
	b.shot("tenant-wizard-bad-input-zh")
	assert.Empty(t, b.axe(axeSrc), "axe on the wizard in Chinese")
	b.setLang("en")

	// Stop and delete both, each followed to the end of its task.
	for _, name := range []string{"shell1", "vm1"} {
		b.goTo("/instances")
		b.do(click(fmt.Sprintf(`tr[data-name=%q] button[aria-label="Stop %s"]`, name, name)), visible(".notice a"), click(".notice a"))
		b.doFor(3*time.Minute, visible(`.task[data-state="succeeded"]`))
		b.goTo("/instances")
		b.do(visible(fmt.Sprintf(`tr[data-name=%q] .badge-stopped`, name)),
			click(fmt.Sprintf(`tr[data-name=%q] button[aria-label="Delete %s"]`, name, name)), visible(".notice a"), click(".notice a"))
		b.doFor(3*time.Minute, visible(`.task[data-state="succeeded"]`))
	}
	list, err := dc.ContainerList(t.Context(), ctr.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", docker.LabelVDC+"="+vdc))})
	require.NoError(t, err)
	assert.Empty(t, list, "the engine has no container left")
	_, ok = lh.State(t, "vm1-"+string(vmID.Short()))
	assert.False(t, ok, "the domain is gone from libvirtd")
	b.goTo("/networks")
	b.do(click(fmt.Sprintf(`tr[data-name=%q] button.danger`, netName)), gone(fmt.Sprintf(`tr[data-name=%q]`, netName)))

	// Every API response the tenant's pages received, the terminal tickets
	// among them.
	tickets := 0
	for _, r := range b.responses() {
		noHost("the response of "+r.url, r.body)
		if strings.HasSuffix(r.url, "/terminal-tickets") {
			tickets++
		}
	}
	assert.GreaterOrEqual(t, tickets, 3, "the scan read the terminal tickets of exec, serial and vnc")
}

// axeSource is axe-core's script from the portal's npm packages.
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(nodeModules(t), "axe-core", "axe.min.js"))
	require.NoError(t, err)
	return string(b)
}

// cleanupDocker removes from the engine, when the test ends, the
// containers of a VDC and the network named netName.
func cleanupDocker(t *testing.T, dc *client.Client, vdc, netName string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		list, _ := dc.ContainerList(ctx, ctr.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", docker.LabelVDC+"="+vdc))})
		for _, c := range list {
			_ = dc.ContainerRemove(ctx, c.ID, ctr.RemoveOptions{Force: true, RemoveVolumes: true})
		}
		if err := dc.NetworkRemove(ctx, netName); err != nil && !client.IsErrNotFound(err) {
			t.Errorf("cleanup: remove network %s: %v", netName, err)
		}
	})
}
