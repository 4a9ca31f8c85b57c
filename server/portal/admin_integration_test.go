//go:build integration

package portal_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

// TestPortalAdmin: an administrator makes a datacenter, a pool and a VDC
// with its quota, registers a host (a wrong field first: the API's message
// shows beside it), sees it with its capacity, puts it in maintenance and
// imports a container found on it; every view in both languages is
// screenshotted.
func TestPortalAdmin(t *testing.T) {
	s := startServer(t)
	// A container made on the host before OVM knew it.
	fh, err := s.FakeHosts().Host("fake://rack1")
	require.NoError(t, err)
	_, err = fh.Hypervisor.AddUnmanaged("legacy-app", ovm.InstanceSpec{Type: ovm.TypeContainer}, true)
	require.NoError(t, err)

	b := newBrowser(t)
	b.login(s.url, "admin", s.AdminPassword())
	b.shot("admin-hosts-empty-en")
	// A tenant's page is not an administrator's: it leads to the hosts.
	b.do(navigate(s.url+"/dashboard"), visible(`nav.side a[href="/admin/hosts"][aria-current="page"]`), js(`window.confirm = () => true`))
	assert.NotContains(t, b.html(), `id="quota-title"`)

	b.goTo("/admin/pools")
	b.do(fill("#dc-name", "Bad Name!"), click(`form[aria-labelledby="dc-create"] button[type="submit"]`), visible(`.field-error[data-field="dc-name"]`))
	assert.NotEmpty(t, b.text(`.field-error[data-field="dc-name"]`), "the API's message beside the field")
	b.shot("admin-pools-bad-input-en")
	b.do(fill("#dc-name", "dc-east"), click(`form[aria-labelledby="dc-create"] button[type="submit"]`), gone(`.field-error[data-field="dc-name"]`))
	b.do(chooseText("#pool-dc", "dc-east"), fill("#pool-name", "gold"), click(`form[aria-labelledby="pool-create"] button[type="submit"]`), visible(`tr[data-name="gold"]`))
	b.shot("admin-pools-en")

	b.goTo("/admin/vdcs")
	b.do(fill("#vdc-name", "acme"), chooseText("#vdc-pool", "gold"), fill("#vdc-q-instances", "-1"),
		click(`form[aria-labelledby="vdc-create"] button[type="submit"]`), visible(`.field-error[data-field="vdc-q-instances"]`))
	assert.NotEmpty(t, b.text(`.field-error[data-field="vdc-q-instances"]`))
	b.do(fill("#vdc-q-instances", "20"), click(`form[aria-labelledby="vdc-create"] button[type="submit"]`), visible(`section.vdc[data-name="acme"]`))
	b.shot("admin-vdcs-en")

	b.goTo("/admin/hosts")
	b.do(choose("#host-kind", "fake"), chooseText("#host-pool", "gold"), fill("#host-endpoint", "fake://rack1"),
		click(`form[aria-labelledby="host-create"] button[type="submit"]`), visible(`.field-error[data-field="host-name"]`))
	msg := b.text(`.field-error[data-field="host-name"]`)
	assert.NotEmpty(t, msg, "a host needs a name: the API says so beside the field")
	b.shot("admin-hosts-bad-input-en")
	b.do(fill("#host-name", "rack1"), click(`form[aria-labelledby="host-create"] button[type="submit"]`), visible(`tr[data-name="rack1"]`))
	assert.Contains(t, b.text(`tr[data-name="rack1"]`), "fake://rack1")
	var hosts struct {
		Items []struct {
			ID, Name string
			State    string
		}
	}
	s.must(t, http.StatusOK, "GET", "/v1/hosts", s.admin, nil, &hosts)
	require.Len(t, hosts.Items, 1, "the host the browser registered")
	assert.Equal(t, "rack1", hosts.Items[0].Name)
	b.shot("admin-hosts-en")

	b.do(click(`tr[data-name="rack1"] button.maintenance`), visible(`tr[data-name="rack1"] .badge-maintenance`))
	s.must(t, http.StatusOK, "GET", "/v1/hosts", s.admin, nil, &hosts)
	assert.Equal(t, "maintenance", hosts.Items[0].State)
	b.do(click(`tr[data-name="rack1"] button.maintenance`), visible(`tr[data-name="rack1"] .badge-up`))
	b.do(click(`tr[data-name="rack1"] button.sync`), visible(`.notice`))
	assert.Contains(t, b.text(`.notice`), "1", "the container made beside OVM")

	b.goTo("/admin/discovered")
	b.do(visible(`tr[data-name="legacy-app"]`))
	assert.Contains(t, b.text(`tr[data-name="legacy-app"]`), "rack1", "administrators see where it was found")
	b.shot("admin-discovered-en")
	b.do(click(`tr[data-name="legacy-app"] button`), visible(`.notice`))
	var insts struct{ Items []struct{ Name string } }
	s.must(t, http.StatusOK, "GET", "/v1/instances", s.admin, nil, &insts)
	require.Len(t, insts.Items, 1, "the imported instance")
	assert.Equal(t, "legacy-app", insts.Items[0].Name)

	// The same views in Chinese; the choice survives a reload.
	b.setLang("zh")
	b.do(reload(), visible(`html[lang="zh-CN"] nav.side`))
	assert.Equal(t, "主机", b.text(`nav.side a[href="/admin/hosts"]`))
	for _, v := range []string{"/admin/hosts", "/admin/pools", "/admin/vdcs", "/admin/discovered", "/tasks"} {
		b.goTo(v)
		b.shot("admin" + shotName(v) + "-zh")
	}
}
