//go:build integration

package portal_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPortalAudit: an administrator reads the audit trail in the portal,
// filters it by outcome, user, object and VDC (a malformed object id first:
// the API's message shows beside the field); a tenant reads its VDC's
// events only, with no host in its pages or in any response; both
// languages are screenshotted and checked with axe-core.
func TestPortalAudit(t *testing.T) {
	check := newViewCheck(t)
	s := startServer(t)
	pool, vdc := s.platform(t, "ann", "tenant-password-1")
	var host idName
	s.must(t, http.StatusCreated, "POST", "/v1/hosts", s.admin, map[string]any{"name": "rack-secret", "kind": "fake", "endpoint": "fake://rack-secret", "poolId": pool}, &host)
	tenant := s.login(t, "ann", "tenant-password-1")
	var network idName
	s.must(t, http.StatusCreated, "POST", "/v1/networks", tenant, map[string]any{"name": "net1", "vlan": 10, "subnet": "10.1.0.0/24", "gateway": "10.1.0.1"}, &network)
	s.must(t, http.StatusUnauthorized, "POST", "/v1/login", "", map[string]string{"name": "ann", "password": "wrong-password-9"}, nil)

	b := newBrowser(t)
	b.login(s.url, "admin", s.AdminPassword())
	b.goTo("/audit")
	b.do(visible(`table.audit tr[data-operation="register-host"]`), visible(`table.audit tr[data-operation="create-network"]`))
	assert.Contains(t, b.text(`table.audit tr[data-operation="register-host"]`), "rack-secret", "administrators see the host they registered")
	b.shot("admin-audit-en")
	check.accessible(b, "en admin audit")

	submit := `form[aria-labelledby="audit-filter"] button[type="submit"]`
	rows := func() (ops, outcomes []string) {
		t.Helper()
		b.do(gone(".loading"))
		ops = run(b, jsValue[[]string](`[...document.querySelectorAll("table.audit tbody tr")].map(r => r.dataset.operation)`))
		outcomes = run(b, jsValue[[]string](`[...document.querySelectorAll("table.audit tbody tr")].map(r => r.dataset.outcome)`))
		return ops, outcomes
	}

	// Failures only: the wrong password is there, nothing succeeded.
	b.do(choose("#audit-outcome", "failed"), click(submit), waitFor(`document.querySelectorAll("table.audit tbody tr").length > 0 && [...document.querySelectorAll("table.audit tbody tr")].every(r => r.dataset.outcome === "failed")`))
	ops, outcomes := rows()
	assert.Contains(t, ops, "login", "the failed login")
	for _, o := range outcomes {
		assert.Equal(t, "failed", o)
	}
	b.shot("admin-audit-failed-en")

	// A malformed object id: the API's message beside the field.
	b.do(choose("#audit-outcome", ""), fill("#audit-object", "not-an-id"), click(submit), visible(`.field-error[data-field="audit-object"]`))
	assert.NotEmpty(t, b.text(`.field-error[data-field="audit-object"]`), "the API's message beside the object id")
	b.shot("admin-audit-bad-input-en")
	check.accessible(b, "en admin audit with a field error")

	// The network's events only.
	b.do(fill("#audit-object", network.ID), click(submit), gone(`.field-error[data-field="audit-object"]`), visible(`table.audit tr[data-operation="create-network"]`))
	ops, _ = rows()
	assert.Equal(t, []string{"create-network"}, ops)

	// One user's, in one VDC.
	b.do(fill("#audit-object", ""), fill("#audit-user", "ann"), chooseText("#audit-vdc", "acme"), click(submit),
		waitFor(`[...document.querySelectorAll("table.audit tbody tr")].every(r => r.dataset.operation !== "register-host")`), visible(`table.audit tr[data-operation="create-network"]`))
	ops, _ = rows()
	assert.NotContains(t, ops, "register-host")
	assert.NotContains(t, ops, "create-vdc", "the administrator's changes are not ann's")

	b.setLang("zh")
	b.do(reload(), visible(`html[lang="zh-CN"] nav.side`))
	assert.Equal(t, "审计记录", b.text(`nav.side a[href="/audit"]`))
	b.goTo("/audit")
	b.do(visible(`table.audit tr[data-operation="register-host"]`))
	b.shot("admin-audit-zh")
	check.accessible(b, "zh admin audit")

	// The tenant: its VDC's events, no host anywhere.
	tb := newBrowser(t)
	tb.login(s.url, "ann", "tenant-password-1")
	tb.goTo("/audit")
	tb.do(visible(`table.audit tr[data-operation="create-network"]`))
	html := tb.html()
	assert.NotContains(t, html, `data-operation="register-host"`, "a tenant reads no infrastructure change")
	assert.NotContains(t, html, `data-operation="create-pool"`)
	noneOf(t, "tenant audit", html, host.ID, "rack-secret", pool)
	tb.shot("tenant-audit-en")
	check.accessible(tb, "en tenant audit")
	tb.do(choose("#audit-outcome", "succeeded"), click(submit), waitFor(`[...document.querySelectorAll("table.audit tbody tr")].every(r => r.dataset.outcome === "succeeded")`))
	tb.setLang("zh")
	tb.do(reload(), visible(`html[lang="zh-CN"] nav.side`))
	tb.goTo("/audit")
	tb.do(visible(`table.audit tr[data-operation="create-network"]`))
	tb.shot("tenant-audit-zh")
	check.accessible(tb, "zh tenant audit")
	seen := 0
	for _, r := range tb.responses() {
		noneOf(t, "the response of "+r.url, r.body, host.ID, "rack-secret", pool)
		if strings.Contains(r.url, "/v1/audit-events") {
			seen++
			assert.NotContains(t, r.body, fmt.Sprintf("%q", "register-host"))
		}
	}
	require.Positive(t, seen, "the tenant's pages read the audit trail")
	_ = vdc
}
