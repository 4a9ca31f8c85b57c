//go:build integration

package portal_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	ctr "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/ovm"
)

// TestPortalTenantDocker: a tenant logs in, makes a network (a bad subnet
// first: the API's message shows beside the field), creates a container on
// the real Docker engine (a bad name first), watches its task finish live,
// stops and deletes it, and makes an API token; every view is
// screenshotted in both languages, and neither the DOM of any view nor any
// API response the portal received names the host.
func TestPortalTenantDocker(t *testing.T) {
	endpoint := testEnv(t, "DOCKER_HOST")
	image := testEnv(t, "OVM_TEST_DOCKER_IMAGE")
	dc, err := client.NewClientWithOpts(client.WithHost(endpoint), client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	t.Cleanup(func() { _ = dc.Close() })

	s := startServer(t)
	pool, vdc := s.platform(t, "ann", "tenant-password-1")
	suffix := string(ovm.NewID().Short())
	hostName := "hv-docker-" + suffix
	var host idName
	s.must(t, http.StatusCreated, "POST", "/v1/hosts", s.admin, map[string]any{"name": hostName, "kind": "docker", "endpoint": endpoint, "poolId": pool}, &host)
	netName := "pnet-" + suffix
	cleanupDocker(t, dc, vdc, netName)
	onEngine := func() []ctr.Summary {
		list, err := dc.ContainerList(t.Context(), ctr.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", docker.LabelVDC+"="+vdc))})
		require.NoError(t, err)
		return list
	}

	// Whatever the tenant's pages show must not name the host.
	secrets := []string{host.ID, hostName, endpoint}
	noHost := func(where, text string) {
		t.Helper()
		for _, s := range secrets {
			assert.NotContains(t, text, s, "%s shows the host", where)
		}
	}

	b := newBrowser(t)
	b.do(navigate(s.url+"/login"), visible("#login-name"))
	b.shot("tenant-login-en")
	b.login(s.url, "ann", "tenant-password-1")
	b.do(visible("#quota-title"), gone(".loading"))
	noHost("dashboard", b.html())
	b.shot("tenant-dashboard-empty-en")

	// A network: a bad subnet, then a good one.
	b.goTo("/networks")
	submitNet := `form[aria-labelledby="net-create"] button[type="submit"]`
	b.do(fill("#net-name", netName), fill("#net-subnet", "10.1.2.300/24"), click(submitNet), visible(`.field-error[data-field="net-subnet"]`))
	assert.NotEmpty(t, b.text(`.field-error[data-field="net-subnet"]`), "the API's message beside the subnet")
	b.shot("tenant-networks-bad-input-en")
	subnet := fmt.Sprintf("10.%d.%d.0/24", 100+rand.IntN(100), rand.IntN(250))
	b.do(fill("#net-subnet", subnet), click(submitNet), visible(fmt.Sprintf(`tr[data-name=%q]`, netName)))
	noHost("networks", b.html())
	b.shot("tenant-networks-en")

	// A container: a bad name first.
	b.goTo("/instances")
	submitInst := `form[aria-labelledby="create-title"] button[type="submit"]`
	b.do(click(".page-head button.primary"), visible("#inst-name"),
		fill("#inst-name", "Web 1!"), fill("#inst-image", image), fill("#inst-cpu", "0.1"), fill("#inst-memory", "64"),
		chooseText("#inst-network", netName), fill("#inst-command", "sleep 600"),
		click(submitInst), visible(`.field-error[data-field="inst-name"]`))
	assert.NotEmpty(t, b.text(`.field-error[data-field="inst-name"]`), "the API's message beside the name")
	b.shot("tenant-instances-bad-input-en")
	b.do(fill("#inst-name", "web1"), click(submitInst), visible(".notice a"), click(".notice a"), visible(".task[data-state]"))
	b.doFor(3*time.Minute, visible(`.task[data-state="succeeded"]`))
	assert.Equal(t, "100%", b.text(".task .pct"))
	noHost("create task", b.html())
	b.shot("tenant-task-en")
	list := onEngine()
	require.Len(t, list, 1, "the container on the engine")
	assert.Equal(t, "running", list[0].State)

	b.goTo("/instances")
	b.do(visible(`tr[data-name="web1"] .badge-running`))
	noHost("instances", b.html())
	b.shot("tenant-instances-en")
	b.do(click(`tr[data-name="web1"] a`), visible(".details"))
	assert.Contains(t, b.text(".details"), image)
	noHost("instance details", b.html())
	b.shot("tenant-instance-en")

	// Stop, then delete, each followed to the end of its task.
	b.goTo("/instances")
	b.do(click(`tr[data-name="web1"] button[aria-label="Stop web1"]`), visible(".notice a"), click(".notice a"))
	b.doFor(2*time.Minute, visible(`.task[data-state="succeeded"]`))
	list = onEngine()
	require.Len(t, list, 1)
	assert.Equal(t, "exited", list[0].State, "the engine stopped the container")
	b.goTo("/instances")
	b.do(visible(`tr[data-name="web1"] .badge-stopped`))
	b.do(click(`tr[data-name="web1"] button[aria-label="Delete web1"]`), visible(".notice a"), click(".notice a"))
	b.doFor(2*time.Minute, visible(`.task[data-state="succeeded"]`))
	assert.Empty(t, onEngine(), "the engine has no container left")
	b.goTo("/instances")
	b.do(visible(".empty"))

	// An API token, shown once.
	b.goTo("/tokens")
	b.do(fill("#tok-name", "ci"), click(`form[aria-labelledby="tok-create"] button[type="submit"]`), visible(".secret"))
	tok := b.text(".secret")
	require.NotEmpty(t, tok)
	s.must(t, http.StatusOK, "GET", "/v1/me", tok, nil, nil)
	b.shot("tenant-tokens-en")

	b.goTo("/tasks")
	noHost("tasks", b.html())
	b.shot("tenant-tasks-en")
	b.goTo("/dashboard")
	b.do(visible("ul.states, .empty"))
	noHost("dashboard", b.html())
	b.shot("tenant-dashboard-en")

	// Chinese, remembered across a reload.
	b.setLang("zh")
	b.do(reload(), visible(`html[lang="zh-CN"] nav.side`))
	assert.Equal(t, "实例", b.text(`nav.side a[href="/instances"]`))
	for _, v := range []string{"/dashboard", "/instances", "/networks", "/images", "/registries", "/tasks", "/tokens"} {
		b.goTo(v)
		noHost(v, b.html())
		b.shot("tenant" + shotName(v) + "-zh")
	}
	b.goTo("/instances")
	b.do(click(".page-head button.primary"), visible("#inst-name"), fill("#inst-name", "坏 名字"), click(submitInst),
		visible(`.field-error[data-field="inst-name"]`), visible(".problem"))
	b.shot("tenant-instances-bad-input-zh")

	// The network goes the same way.
	b.goTo("/networks")
	b.do(click(fmt.Sprintf(`tr[data-name=%q] button.danger`, netName)), gone(fmt.Sprintf(`tr[data-name=%q]`, netName)))

	// Every API response the tenant's pages received.
	resps := b.responses()
	seen := map[string]bool{}
	for _, r := range resps {
		noHost("the response of "+r.url, r.body)
		for _, p := range []string{"/v1/instances", "/v1/tasks/", "/v1/networks", "/v1/vdcs/"} {
			if strings.Contains(r.url, p) {
				seen[p] = true
			}
		}
	}
	assert.Len(t, seen, 4, "the scan read the responses of instances, tasks, networks and usage: %v", seen)
	t.Logf("scanned %d API responses and %d views for the host's name, id and endpoint", len(resps), 14)
}
