//go:build integration

package portal_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/portal"
)

// TestPortalFirstLoadAndAccessibility measures the first load of the
// portal (bytes of its script and stylesheet, gzipped as served, and the
// time until a cold load of the instance list shows its first page in
// headless Chromium on loopback, with 50 and with bigList (5,000) instances
// in the VDC; reported, not asserted), then runs
// axe-core on every view of a tenant and an administrator, in English and
// Chinese: no serious or critical violation.
func TestPortalFirstLoadAndAccessibility(t *testing.T) {
	axeSrc, err := os.ReadFile(filepath.Join(nodeModules(t), "axe-core", "axe.min.js"))
	require.NoError(t, err, "axe-core from the portal's npm packages")
	h, err := portal.New(http.NotFoundHandler())
	require.NoError(t, err)
	raw, gz := h.Size()
	t.Logf("first load: JS+CSS %d bytes, %d gzipped", raw, gz)

	s := startServer(t)
	pool, vdc := s.platform(t, "ann", "tenant-password-1")
	s.must(t, http.StatusCreated, "POST", "/v1/hosts", s.admin, map[string]any{"name": "rack1", "kind": "fake", "endpoint": "fake://rack1", "poolId": pool}, nil)
	tenant := s.login(t, "ann", "tenant-password-1")
	s.must(t, http.StatusOK, "PUT", "/v1/vdcs/"+vdc+"/quota", s.admin, map[string]any{"quota": map[string]any{
		"cpuMilli": 100_000, "memoryBytes": 64 << 30, "diskBytes": 100 << 30, "instances": 6000, "networks": 4}}, nil)
	made := 0
	grow := func(to int) {
		t.Helper()
		var wg sync.WaitGroup
		next := make(chan int)
		for range 4 {
			wg.Go(func() {
				for i := range next {
					s.must(t, http.StatusAccepted, "POST", "/v1/instances", tenant, map[string]any{"name": fmt.Sprintf("app%04d", i),
						"spec": map[string]any{"type": "container", "cpuMilli": 1, "memoryBytes": 4 << 20, "image": map[string]string{"format": "oci", "name": "busybox:1"}}}, nil)
				}
			})
		}
		for ; made < to; made++ {
			next <- made
		}
		close(next)
		wg.Wait()
	}

	b := newBrowser(t)
	b.login(s.url, "ann", "tenant-password-1")
	// A cold load of the instance list: empty cache, the whole app fetched
	// again, then the API's first page rendered (the list shows 50 a page).
	clearCache := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.ClearBrowserCache, cdp.Empty{})
		return err
	})
	listReady := func(n int) float64 {
		t.Helper()
		b.do(clearCache, navigate(s.url+"/instances"))
		ms := run(b, chromedp.Poll[float64](`document.querySelectorAll("table.instances tbody tr").length === 50 && performance.now()`))
		t.Logf("first load: instance list of a VDC with %d instances usable %.0f ms after navigation start (cold cache, loopback)", n, ms)
		return ms
	}
	grow(50)
	assert.Positive(t, listReady(50))
	b.shot("tenant-instances-50-en")
	began := time.Now()
	grow(bigList)
	t.Logf("made %d more instances through the API in %s", bigList-50, time.Since(began).Round(time.Second))
	assert.Positive(t, listReady(bigList))
	b.do(visible(".pager button:last-child:not([disabled])"))

	views := map[string][]string{
		"tenant": {"/dashboard", "/instances", "/vapps", "/networks", "/images", "/registries", "/tasks", "/tokens", "/volumes", "/snapshots", "/scaling", "/metric-alerts", "/chef", "/audit"},
		"admin":  {"/admin/hosts", "/admin/pools", "/admin/vdcs", "/admin/discovered", "/admin/users", "/admin/alerts", "/metric-alerts", "/tasks", "/admin/storage", "/admin/chef", "/images", "/registries", "/volumes", "/audit"},
	}
	check := func(where string) {
		t.Helper()
		for _, v := range b.axe(string(axeSrc)) {
			assert.Failf(t, "accessibility", "%s: %s (%s) %s at %v", where, v.ID, v.Impact, v.Help, v.Nodes)
		}
	}
	for _, lang := range []string{"en", "zh"} {
		b.setLang(lang)
		for _, v := range views["tenant"] {
			b.goTo(v)
			check(lang + " " + v)
		}
		b.goTo("/instances")
		b.do(click(".page-head button.primary"), visible("#inst-name"), click(`form[aria-labelledby="create-title"] button[type="submit"]`), visible(".field-error"))
		check(lang + " instance create form with errors")
	}
	b.do(click(".top button"), visible("#login-name")) // log out
	check("login")

	// The check sees a violation when there is one: an unlabelled field.
	b.do(js(`document.querySelector("main").insertAdjacentHTML("beforeend", '<input id="unlabelled">')`))
	found := b.axe(string(axeSrc))
	require.NotEmpty(t, found, "axe-core finds an input without a label")
	assert.Equal(t, "label", found[0].ID)
	b.do(js(`document.getElementById("unlabelled").remove()`))

	b.login(s.url, "admin", s.AdminPassword())
	for _, lang := range []string{"en", "zh"} {
		b.setLang(lang)
		for _, v := range views["admin"] {
			b.goTo(v)
			check(lang + " " + v)
		}
	}
}
