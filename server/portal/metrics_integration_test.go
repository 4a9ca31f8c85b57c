//go:build integration

package portal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
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

// dockerTenant is a server sampling metrics every second with the real
// Docker engine registered as a host, and a tenant (ann).
type dockerTenant struct {
	dc       *client.Client
	s        *server
	host     idName
	vdc      string
	tenant   string
	onEngine func() []ctr.Summary
	secrets  []string
}

func newDockerTenant(t *testing.T) *dockerTenant {
	t.Helper()
	endpoint := testEnv(t, "DOCKER_HOST")
	dc, err := client.NewClientWithOpts(client.WithHost(endpoint), client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	t.Cleanup(func() { _ = dc.Close() })
	s := startServer(t, "--metrics-interval", "1s")
	pool, vdc := s.platform(t, "ann", "tenant-password-1")
	d := &dockerTenant{dc: dc, s: s, vdc: vdc}
	name := "hv-docker-" + string(ovm.NewID().Short())
	s.must(t, http.StatusCreated, "POST", "/v1/hosts", s.admin, map[string]any{"name": name, "kind": "docker", "endpoint": endpoint, "poolId": pool}, &d.host)
	d.secrets = []string{d.host.ID, name, endpoint}
	d.tenant = s.login(t, "ann", "tenant-password-1")
	list := func(ctx context.Context) ([]ctr.Summary, error) {
		return dc.ContainerList(ctx, ctr.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", docker.LabelVDC+"="+vdc))})
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cs, _ := list(ctx)
		for _, c := range cs {
			_ = dc.ContainerRemove(ctx, c.ID, ctr.RemoveOptions{Force: true, RemoveVolumes: true})
		}
	})
	d.onEngine = func() []ctr.Summary {
		cs, err := list(t.Context())
		require.NoError(t, err)
		return cs
	}
	return d
}

// points is how many points of metric a series of the API has.
func (d *dockerTenant) points(t *testing.T, token, path string, metric string) int {
	t.Helper()
	var out struct {
		Series []struct {
			Metric string
			Points []struct{ Value float64 }
		}
	}
	q := url.Values{"from": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, "metrics": {metric}}
	d.s.must(t, http.StatusOK, "GET", path+"?"+q.Encode(), token, nil, &out)
	n := 0
	for _, s := range out.Series {
		if s.Metric == metric {
			n += len(s.Points)
		}
	}
	return n
}

// TestPortalScalingAndMetricsDocker: a tenant makes a scaling group of
// busybox containers on the real Docker engine in the portal (a bad name
// first: the API's message beside the field); the scaler brings it to its
// minimum, its decision shows with its cause; the member's page draws its
// CPU, memory, disk and network from the collected samples, the dashboard
// the VDC's usage over time, and an administrator's host page the host's
// series; deleting the group removes its member from the engine. Both
// languages are screenshotted and checked by axe-core, and no tenant page
// or response names the host.
func TestPortalScalingAndMetricsDocker(t *testing.T) {
	check := newViewCheck(t)
	image := testEnv(t, "OVM_TEST_DOCKER_IMAGE")
	d := newDockerTenant(t)
	s := d.s

	tb := newBrowser(t)
	tb.login(s.url, "ann", "tenant-password-1")
	tb.goTo("/scaling")
	tb.do(visible(".empty"))
	submit := `form[aria-labelledby="sg-create"] button[type="submit"]`
	tb.do(click(".page-head button.primary"), visible("#sg-name"), fill("#sg-name", "Web Group!"), fill("#sg-image", image),
		fill("#sg-command", "sleep 600"), fill("#sg-min", "1"), fill("#sg-max", "2"), click(submit), visible(`.field-error[data-field="sg-name"]`))
	assert.NotEmpty(t, tb.text(`.field-error[data-field="sg-name"]`), "the API's message beside the name")
	tb.shot("tenant-scaling-bad-input-en")
	check.accessible(tb, "en scaling form with a field error")
	// A scheduled count beside the metric rule: every minute, two members.
	tb.do(fill("#sg-name", "web"), fill("#sg-cron", "* * * * *"), fill("#sg-desired", "2"), click(submit), visible(`table.groups tr[data-name="web"]`))
	var groups struct {
		Items []struct {
			ID      string   `json:"id"`
			Members []string `json:"members"`
		}
	}
	s.must(t, http.StatusOK, "GET", "/v1/scaling-groups", d.tenant, nil, &groups)
	require.Len(t, groups.Items, 1)
	group := groups.Items[0].ID
	tb.shot("tenant-scaling-en")
	check.accessible(tb, "en scaling groups")

	// The scaler brings the group to its minimum, then the schedule to
	// two members, through the create path.
	var members []string
	var decisions []struct{ Kind, Cause string }
	require.Eventually(t, func() bool {
		var g struct{ Members []string }
		s.must(t, http.StatusOK, "GET", "/v1/scaling-groups/"+group, d.tenant, nil, &g)
		members = g.Members
		s.must(t, http.StatusOK, "GET", "/v1/scaling-groups/"+group+"/decisions", d.tenant, nil, &decisions)
		running := 0
		for _, c := range d.onEngine() {
			if c.State == "running" {
				running++
			}
		}
		return len(g.Members) == 2 && running == 2 && len(decisions) > 0
	}, 3*time.Minute, time.Second, "two running members and the schedule's decision")
	tb.do(click(`table.groups tr[data-name="web"] a`), visible("#decisions-title"), visible(`dd.members[data-count="2"]`),
		visible(fmt.Sprintf(`table.decisions tr[data-kind=%q]`, decisions[0].Kind)))
	assert.Contains(t, tb.text("table.decisions"), decisions[0].Cause, "the decision's cause")
	tb.shot("tenant-scaling-group-en")
	check.accessible(tb, "en scaling group")

	// The member's charts, once the collector has samples of it.
	member := members[0]
	require.Eventually(t, func() bool { return d.points(t, d.tenant, "/v1/instances/"+member+"/metrics", "cpuPercent") >= 2 },
		time.Minute, time.Second, "samples of the member")
	tb.do(click(fmt.Sprintf(`a.member[href="/instances/%s"]`, member)), visible("#metrics-title"), click(`section.metrics .actions button`),
		waitFor(`(() => { const f = document.querySelector('figure.chart[data-chart="cpu"]'); return f && +f.dataset.points >= 2 })()`))
	for _, c := range []string{"cpu", "memory", "disk", "network"} {
		tb.do(visible(fmt.Sprintf(`figure.chart[data-chart=%q] svg`, c)))
	}
	n := run(tb, jsValue[int](`document.querySelectorAll('figure.chart[data-chart="memory"] polyline, figure.chart[data-chart="memory"] circle').length`))
	assert.Equal(t, 2, n, "memory used and its limit")
	assert.NotEqual(t, "—", tb.text(`figure.chart[data-chart="memory"] .last`), "the last memory value")
	tb.do(choose("#metrics-range", "1h"), waitFor(`(() => { const f = document.querySelector('figure.chart[data-chart="cpu"]'); return f && +f.dataset.points >= 2 })()`))
	noneOf(t, "instance", tb.html(), d.secrets...)
	tb.shot("tenant-instance-metrics-en")
	check.accessible(tb, "en instance metrics")

	require.Eventually(t, func() bool { return d.points(t, d.tenant, "/v1/vdcs/"+d.vdc+"/metrics", "cpuPercent") >= 1 },
		time.Minute, time.Second, "the VDC's series")
	tb.goTo("/dashboard")
	tb.do(waitFor(`(() => { const f = document.querySelector('figure.chart[data-chart="cpu"]'); return f && +f.dataset.points >= 1 })()`))
	noneOf(t, "dashboard", tb.html(), d.secrets...)
	tb.shot("tenant-dashboard-metrics-en")
	check.accessible(tb, "en dashboard with usage over time")

	// Chinese.
	tb.setLang("zh")
	tb.do(reload(), visible(`html[lang="zh-CN"] nav.side`))
	tb.do(waitFor(`(() => { const f = document.querySelector('figure.chart[data-chart="cpu"]'); return f && +f.dataset.points >= 1 })()`))
	tb.shot("tenant-dashboard-metrics-zh")
	check.accessible(tb, "zh dashboard")
	tb.goTo("/scaling")
	tb.shot("tenant-scaling-zh")
	check.accessible(tb, "zh scaling groups")
	tb.do(click(`table.groups tr[data-name="web"] a`), visible(`dd.members[data-count="2"]`))
	tb.shot("tenant-scaling-group-zh")
	tb.do(click(fmt.Sprintf(`a.member[href="/instances/%s"]`, member)), visible("#metrics-title"), waitFor(`(() => { const f = document.querySelector('figure.chart[data-chart="cpu"]'); return f && +f.dataset.points >= 1 })()`))
	tb.shot("tenant-instance-metrics-zh")
	check.accessible(tb, "zh instance metrics")

	// The administrator's host series.
	b := newBrowser(t)
	b.login(s.url, "admin", s.AdminPassword())
	require.Eventually(t, func() bool { return d.points(t, s.admin, "/v1/hosts/"+d.host.ID+"/metrics", "cpuPercent") >= 1 },
		time.Minute, time.Second, "the host's series")
	b.do(click(fmt.Sprintf(`tr[data-name=%q] a.host-metrics`, d.host.Name)), visible("#metrics-title"),
		waitFor(`(() => { const f = document.querySelector('figure.chart[data-chart="cpu"]'); return f && +f.dataset.points >= 1 })()`))
	assert.Equal(t, d.host.Name, b.text("#page-title"))
	b.shot("admin-host-metrics-en")
	check.accessible(b, "en host metrics")
	b.setLang("zh")
	b.do(reload(), visible(`html[lang="zh-CN"] #metrics-title`))
	b.shot("admin-host-metrics-zh")
	check.accessible(b, "zh host metrics")

	// Deleting the group deletes its member.
	tb.goTo("/scaling")
	tb.do(click(`table.groups tr[data-name="web"] a`), visible(`dd.members`), click(".page-head .actions button.danger"),
		visible(`nav.side a[href="/scaling"][aria-current="page"]`), gone(`table.groups tr[data-name="web"]`))
	require.Eventually(t, func() bool { return len(d.onEngine()) == 0 }, 2*time.Minute, time.Second, "the member removed from the engine")

	seen := 0
	for _, r := range tb.responses() {
		noneOf(t, "the response of "+r.url, r.body, d.secrets...)
		seen++
	}
	t.Logf("scanned %d API responses of the tenant's pages", seen)
}
