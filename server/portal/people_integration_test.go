//go:build integration

package portal_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPortalUsersAndVApps: an administrator makes a user (a bad name
// first: the API's message shows beside the field), changes its role,
// disables it and sees the alerts view; a tenant deploys a vApp of two
// containers on a fake host (a bad name first), sees each member's state
// resizes a member on its page (too little memory first) and deletes the
// vApp as a unit. Screenshots in both languages.
func TestPortalUsersAndVApps(t *testing.T) {
	s := startServer(t)
	pool, vdc := s.platform(t, "ann", "tenant-password-1")
	s.must(t, http.StatusCreated, "POST", "/v1/hosts", s.admin, map[string]any{"name": "rack1", "kind": "fake", "endpoint": "fake://rack1", "poolId": pool}, nil)

	b := newBrowser(t)
	b.login(s.url, "admin", s.AdminPassword())
	b.goTo("/admin/users")
	b.do(fill("#user-name", "Bad Name!"), click(`form[aria-labelledby="user-create"] button[type="submit"]`), visible(`.field-error[data-field="user-name"]`))
	assert.NotEmpty(t, b.text(`.field-error[data-field="user-name"]`), "the API's message beside the field")
	b.do(fill("#user-name", "bob"), fill("#user-password", "bob-password-1"), choose("#user-role", "vdc-member"),
		click(`form[aria-labelledby="user-create"] button[type="submit"]`), visible(`tr[data-name="bob"]`))
	b.do(choose(`tr[data-name="bob"] select`, "vdc-admin"), waitFor(`document.querySelector('tr[data-name="bob"] select').value === "vdc-admin"`))
	b.do(click(`tr[data-name="bob"] td.actions button`), visible(`tr[data-name="bob"] .badge-disabled`))
	b.shot("admin-users-en")
	var users struct {
		Items []struct {
			Name, Role, VDCID string
			Disabled          bool
		}
	}
	s.must(t, http.StatusOK, "GET", "/v1/users", s.admin, nil, &users)
	found := false
	for _, u := range users.Items {
		if u.Name == "bob" {
			found = true
			assert.Equal(t, "vdc-admin", u.Role, "the role the browser chose")
			assert.Equal(t, vdc, u.VDCID)
			assert.True(t, u.Disabled, "disabled in the browser")
		}
	}
	require.True(t, found, "bob made in the browser")
	b.goTo("/admin/alerts")
	b.do(visible(`main .empty`))
	b.shot("admin-alerts-en")
	b.setLang("zh")
	b.goTo("/admin/users")
	b.do(visible(`tr[data-name="bob"]`))
	b.shot("admin-users-zh")
	b.setLang("en")
	b.do(click(".top button"), visible("#login-name"))

	b.login(s.url, "ann", "tenant-password-1")
	b.goTo("/vapps")
	b.do(fill("#vapp-name", "Bad Name!"), fill("#vapp-image", "busybox:1"), click(`form[aria-labelledby="vapp-create"] button[type="submit"]`),
		visible(`.field-error[data-field="vapp-name"]`))
	assert.NotEmpty(t, b.text(`.field-error[data-field="vapp-name"]`))
	b.do(fill("#vapp-name", "shop"), click("#vapp-sequential"), click(`form[aria-labelledby="vapp-create"] button[type="submit"]`), visible(`tr[data-name="shop"]`))
	require.Eventually(t, func() bool {
		b.goTo("/vapps")
		b.do(visible(`tr[data-name="shop"]`))
		return run(b, jsValue[int](`document.querySelectorAll('tr[data-name="shop"] .badge-running').length`)) == 2
	}, time.Minute, 500*time.Millisecond, "both members shown running")
	assert.Contains(t, b.text(`tr[data-name="shop"]`), "shop-1")
	assert.Contains(t, b.text(`tr[data-name="shop"]`), "shop-2")
	b.shot("tenant-vapps-en")

	// A member resized on its page: too little memory first.
	b.do(click(`tr[data-name="shop"] a`), visible("#resize-memory"))
	b.do(fill("#resize-memory", "1"), click(`form[aria-labelledby="resize"] button[type="submit"]`), visible(`.field-error[data-field="resize-memory"]`))
	assert.NotEmpty(t, b.text(`.field-error[data-field="resize-memory"]`), "the API's message beside the field")
	b.do(fill("#resize-memory", "96"), fill("#resize-cpu", "0.2"), click(`form[aria-labelledby="resize"] button[type="submit"]`),
		gone(`.field-error[data-field="resize-memory"]`))
	var members struct {
		Items []struct {
			Name string
			Spec struct {
				CPUMilli    int64 `json:"cpuMilli"`
				MemoryBytes int64 `json:"memoryBytes"`
			}
			Status struct{ Phase string }
		}
	}
	require.Eventually(t, func() bool {
		s.must(t, http.StatusOK, "GET", "/v1/instances?vdcId="+vdc, s.admin, nil, &members)
		for _, m := range members.Items {
			if m.Name == "shop-1" {
				return m.Spec.MemoryBytes == 96<<20 && m.Spec.CPUMilli == 200 && m.Status.Phase == "ready"
			}
		}
		return false
	}, time.Minute, 200*time.Millisecond, "shop-1 resized to 0.2 vCPU and 96 MiB")
	b.shot("tenant-resize-en")
	// Stopped as a unit, the last start group first.
	b.goTo("/vapps")
	b.do(visible(`tr[data-name="shop"] .badge-ready`))
	assert.Contains(t, b.text(`tr[data-name="shop"]`), "group 2", "each member's start group")
	b.do(click(`button[aria-label="Stop vApp shop"]`))
	require.Eventually(t, func() bool {
		b.goTo("/vapps")
		b.do(visible(`tr[data-name="shop"]`))
		return run(b, jsValue[int](`document.querySelectorAll('tr[data-name="shop"] .badge-stopped').length`)) == 2
	}, time.Minute, 500*time.Millisecond, "both members shown stopped")
	b.setLang("zh")
	b.shot("tenant-vapps-zh")
	b.do(js(`window.confirm = () => true`), click(`tr[data-name="shop"] button.danger`))
	var apps struct{ Items []struct{ Name string } }
	require.Eventually(t, func() bool {
		s.must(t, http.StatusOK, "GET", "/v1/vapps", s.admin, nil, &apps)
		return len(apps.Items) == 0
	}, time.Minute, 200*time.Millisecond, "the vApp deleted as a unit")
}
