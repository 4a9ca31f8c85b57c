//go:build integration

package portal_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPortalTaskLive: the task view follows a running task through the
// API's event stream: it shows the task while it runs and then its end,
// with no reload and no polling of its own.
func TestPortalTaskLive(t *testing.T) {
	s := startServer(t)
	pool, _ := s.platform(t, "ann", "tenant-password-1")
	s.must(t, http.StatusCreated, "POST", "/v1/hosts", s.admin, map[string]any{"name": "slow1", "kind": "fake", "endpoint": "fake://slow1", "poolId": pool}, nil)
	fh, err := s.FakeHosts().Host("fake://slow1")
	require.NoError(t, err)
	fh.Hypervisor.SetLatency(700 * time.Millisecond) // every call to the host: the task runs for seconds

	b := newBrowser(t)
	b.login(s.url, "ann", "tenant-password-1")
	b.goTo("/instances")
	b.do(click(".page-head button.primary"), visible("#inst-name"),
		fill("#inst-name", "slow"), fill("#inst-image", "busybox:1"), fill("#inst-cpu", "0.1"), fill("#inst-memory", "16"),
		click(`form[aria-labelledby="create-title"] button[type="submit"]`), visible(".notice a"), click(".notice a"),
		visible(".task[data-state] .live"))
	state := run(b, jsValue[string](`document.querySelector(".task").dataset.state`))
	assert.Contains(t, []string{"pending", "running"}, state, "the page shows the task while it runs")
	b.shot("tenant-task-live-en")
	b.doFor(2*time.Minute, visible(`.task[data-state="succeeded"]`), gone(".task .live"))
	assert.Equal(t, "100%", b.text(".task .pct"))
	// The page read the task once, then only its event stream (a fetch
	// enters the resource timings when its answer ends).
	paths := run(b, jsValue[[]string](`performance.getEntriesByType("resource").map(e => new URL(e.name).pathname).filter(p => p.startsWith("/v1/tasks/"))`))
	require.Len(t, paths, 2, "requests for the task: %v", paths)
	assert.NotContains(t, paths[0], "/events")
	assert.Equal(t, paths[0]+"/events", paths[1])
	var seen bool
	for _, r := range b.responses() {
		if len(r.url) > 7 && r.url[len(r.url)-7:] == "/events" {
			seen = true
		}
	}
	assert.True(t, seen, "the page read the task's event stream")
}
