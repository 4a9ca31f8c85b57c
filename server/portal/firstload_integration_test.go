//go:build integration

package portal_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/portal"
)

// TestPortalFirstLoadAndAccessibility measures the first load of the
// portal (bytes of its script and stylesheet, gzipped as served, and the
// time until a cold load of the instance list shows a VDC's 50 instances
// in headless Chromium on loopback; reported, not asserted), then runs
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
	const n = 50
	for i := range n {
		s.must(t, http.StatusAccepted, "POST", "/v1/instances", tenant, map[string]any{"name": fmt.Sprintf("app%02d", i), "vdcId": vdc,
			"spec": map[string]any{"type": "container", "cpuMilli": 100, "memoryBytes": 32 << 20, "image": map[string]string{"format": "oci", "name": "busybox:1"}}}, nil)
	}

	b := newBrowser(t)
	b.login(s.url, "ann", "tenant-password-1")
	// A cold load of the instance list: empty cache, the whole app fetched
	// again, then the API's first page rendered.
	clearCache := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.ClearBrowserCache, cdp.Empty{})
		return err
	})
	b.do(clearCache, navigate(s.url+"/instances"))
	ready := run(b, chromedp.Poll[float64](fmt.Sprintf(`document.querySelectorAll("table.instances tbody tr").length === %d && performance.now()`, n)))
	t.Logf("first load: instance list with %d instances usable %.0f ms after navigation start (cold cache, loopback)", n, ready)
	assert.Positive(t, ready)
	b.shot("tenant-instances-50-en")

	views := map[string][]string{
		"tenant": {"/dashboard", "/instances", "/networks", "/tasks", "/tokens"},
		"admin":  {"/admin/hosts", "/admin/pools", "/admin/vdcs", "/admin/discovered", "/tasks"},
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
