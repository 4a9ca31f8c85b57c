//go:build integration

package portal_test

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/libvirthost"
	"github.com/openovm/ovm/ovm"
)

// kvmHosts is a server with the two test libvirtds registered in one pool,
// a tenant (ann) and a running VM of hers made on the first host.
type kvmHosts struct {
	s         *server
	tenant    string
	h1, h2    idName
	lh1, lh2  *libvirthost.Host
	uri, uri2 string
	vm        idName
	domain    string
	sharedDir string
}

func newKVMHosts(t *testing.T) *kvmHosts {
	t.Helper()
	k := &kvmHosts{uri: testEnv(t, "OVM_TEST_LIBVIRT_URI"), uri2: testEnv(t, "OVM_TEST_LIBVIRT_URI2"), sharedDir: testEnv(t, "OVM_TEST_LIBVIRT_SHARED")}
	template := testEnv(t, "OVM_TEST_LIBVIRT_TEMPLATE")
	opts := map[string]string{
		"templates": filepath.Dir(template), "disks": k.sharedDir,
		"kernel": testEnv(t, "OVM_TEST_LIBVIRT_KERNEL"), "initrd": testEnv(t, "OVM_TEST_LIBVIRT_INITRD"),
		"cmdline": "console=ttyS0 quiet", "virtType": "qemu", "sharedStorage": k.sharedDir,
	}
	k.lh1, k.lh2 = libvirthost.Dial(t, k.uri, opts), libvirthost.Dial(t, k.uri2, opts)
	s := startServer(t)
	k.s = s
	pool, _ := s.platform(t, "ann", "tenant-password-1")
	// Guests are 1 vCPU; the machine has 2 cores: overcommit CPU.
	s.must(t, http.StatusOK, "PATCH", "/v1/pools/"+pool, s.admin, map[string]any{"overcommit": map[string]any{"cpu": 8}}, nil)
	short := string(ovm.NewID().Short())
	s.must(t, http.StatusCreated, "POST", "/v1/hosts", s.admin, map[string]any{"name": "pkvm1-" + short, "kind": "kvm", "endpoint": k.uri, "poolId": pool, "options": opts}, &k.h1)
	s.must(t, http.StatusCreated, "POST", "/v1/hosts", s.admin, map[string]any{"name": "pkvm2-" + short, "kind": "kvm", "endpoint": k.uri2, "poolId": pool, "options": opts}, &k.h2)
	k.tenant = s.login(t, "ann", "tenant-password-1")

	// The VM on kvm1 (kvm2 in maintenance while it is made): live
	// migrations here go from kvm1 to kvm2.
	maint := "/v1/hosts/" + k.h2.ID + "/maintenance"
	s.must(t, http.StatusOK, "PUT", maint, s.admin, map[string]any{"enabled": true}, nil)
	var it struct {
		Instance idName    `json:"instance"`
		Task     taskState `json:"task"`
	}
	s.must(t, http.StatusAccepted, "POST", "/v1/instances", k.tenant, map[string]any{"name": "vm1", "start": true,
		"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 128 << 20,
			"image": map[string]string{"format": "qcow2", "name": filepath.Base(template)}}}, &it)
	k.vm = it.Instance
	id, err := ovm.ParseID(it.Instance.ID)
	require.NoError(t, err)
	k.domain = "vm1-" + string(id.Short())
	t.Cleanup(func() {
		for _, lh := range []*libvirthost.Host{k.lh1, k.lh2} {
			lh.RemoveDomain(k.domain)
			lh.RemoveVolumes(id)
		}
	})
	done := s.waitTask(t, k.tenant, it.Task.ID, 5*time.Minute)
	require.Equal(t, "succeeded", done.State, "create vm1: %+v", done)
	s.must(t, http.StatusOK, "PUT", maint, s.admin, map[string]any{"enabled": false}, nil)
	require.Equal(t, k.h1.ID, k.hostOf(t), "vm1 is made on kvm1")
	k.waitBooted(t)
	return k
}

// waitBooted waits until the guest's init prints its counter on the
// console: a guest still booting does not release a hot-plugged disk.
func (k *kvmHosts) waitBooted(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		req, err := http.NewRequest("GET", k.s.url+"/v1/instances/"+k.vm.ID+"/console?maxSeconds=5", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+k.tenant)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), "OVM-TICK")
	}, 4*time.Minute, time.Second, "vm1's console shows its counter")
}

// hostOf is the host vm1 is on, as the administrator reads it.
func (k *kvmHosts) hostOf(t *testing.T) string {
	t.Helper()
	var inst struct {
		Status struct {
			HostID string `json:"hostId"`
		} `json:"status"`
	}
	k.s.must(t, http.StatusOK, "GET", "/v1/instances/"+k.vm.ID, k.s.admin, nil, &inst)
	return inst.Status.HostID
}

// secrets are what a tenant's pages must not show.
func (k *kvmHosts) secrets() []string {
	return []string{k.h1.ID, k.h2.ID, k.h1.Name, k.h2.Name, k.uri, k.uri2}
}

// domainXML is vm1's definition on a host.
func domainXML(t *testing.T, lh *libvirthost.Host, name string) string {
	t.Helper()
	dom, err := lh.L.DomainLookupByName(name)
	require.NoError(t, err, "domain %s", name)
	x, err := lh.L.DomainGetXMLDesc(dom, 0)
	require.NoError(t, err)
	return x
}

// removeStoragePool removes a libvirt pool named by an OVM id from a host,
// with its volumes.
func removeStoragePool(lh *libvirthost.Host, id string) {
	b, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
	if err != nil || len(b) != 16 {
		return
	}
	var u golibvirt.UUID
	copy(u[:], b)
	p, err := lh.L.StoragePoolLookupByUUID(u)
	if err != nil {
		return
	}
	if vols, _, err := lh.L.StoragePoolListAllVolumes(p, 1, 0); err == nil {
		for _, v := range vols {
			_ = lh.L.StorageVolDelete(v, 0)
		}
	}
	_ = lh.L.StoragePoolDestroy(p)
	_ = lh.L.StoragePoolUndefine(p)
}

type storagePoolRow struct {
	ID                    string   `json:"id"`
	Name                  string   `json:"name"`
	Phase                 string   `json:"phase"`
	HostIDs               []string `json:"hostIds"`
	TemplateLibrary       bool     `json:"templateLibrary"`
	DeclaredCapacityBytes int64    `json:"declaredCapacityBytes"`
}

type volumeRow struct {
	ID         string `json:"id"`
	NativeID   string `json:"nativeId"`
	AttachedTo string `json:"attachedTo"`
	SizeBytes  int64  `json:"sizeBytes"`
	Phase      string `json:"phase"`
}

// TestPortalStorageLibvirt drives the storage views on the two real
// libvirtds: an administrator registers a shared storage pool on both
// hosts (a bad name first: the API's message beside the field), flags it
// a template library and back, sets its capacity, and makes a volume in it
// for the tenant's VDC; the tenant (a bad size first) attaches it to her
// running VM (the domain on the host gets the disk), detaches, resizes,
// snapshots and reverts the volume, snapshots and reverts the VM, starts
// a migration and cancels it (the VM stays); the administrator migrates
// the VM to the host it chooses, and puts that host into maintenance (it
// shows "entering maintenance" with the reason) and back. Every view is
// screenshotted in both languages and checked by axe-core; the tenant's
// pages and responses never name a host.
func TestPortalStorageLibvirt(t *testing.T) {
	check := newViewCheck(t)
	k := newKVMHosts(t)
	s := k.s
	short := string(ovm.NewID().Short())
	spName := "pshared-" + short
	dir := filepath.Join(k.sharedDir, "portal-"+short)
	var sp storagePoolRow
	t.Cleanup(func() {
		if sp.ID != "" {
			removeStoragePool(k.lh1, sp.ID)
			removeStoragePool(k.lh2, sp.ID)
		}
		_ = os.RemoveAll(dir)
	})
	poolByName := func() storagePoolRow {
		t.Helper()
		var pg struct{ Items []storagePoolRow }
		s.must(t, http.StatusOK, "GET", "/v1/storage-pools?limit=1000", s.admin, nil, &pg)
		for _, p := range pg.Items {
			if p.Name == spName {
				return p
			}
		}
		return storagePoolRow{}
	}

	// The administrator registers the shared pool on both hosts.
	b := newBrowser(t)
	b.login(s.url, "admin", s.AdminPassword())
	b.goTo("/admin/storage")
	row := fmt.Sprintf(`table.storage-pools tr[data-name=%q]`, spName)
	submitSP := `form[aria-labelledby="sp-create"] button[type="submit"]`
	b.do(fill("#sp-name", "Bad Name!"), choose("#sp-kind", "shared"), fill("#sp-path", dir), click(submitSP), visible(`.field-error[data-field="sp-name"]`))
	assert.NotEmpty(t, b.text(`.field-error[data-field="sp-name"]`), "the API's message beside the name")
	b.shot("admin-storage-bad-input-en")
	check.accessible(b, "en storage pools with a field error")
	// On kvm1 first, then kvm2 added to it.
	b.do(fill("#sp-name", spName), click(fmt.Sprintf(`input.sp-host[value=%q]`, k.h1.ID)),
		fill("#sp-capacity", "1"), click(submitSP), gone(`.field-error[data-field="sp-name"]`))
	b.doFor(3*time.Minute, visible(row+`[data-phase="ready"]`))
	sp = poolByName()
	require.NotEmpty(t, sp.ID, "the pool the browser registered")
	assert.Equal(t, []string{k.h1.ID}, sp.HostIDs)
	b.do(choose(row+" select.add-host", k.h2.ID), click(row+" button.add-host"))
	b.doFor(3*time.Minute, visible(`.followed[data-kind="storagepool.ensure"][data-state="succeeded"]`),
		waitFor(fmt.Sprintf(`document.querySelector(%q).textContent.includes(%q)`, row+" td.pool-hosts", k.h2.Name)))
	sp = poolByName()
	assert.ElementsMatch(t, []string{k.h1.ID, k.h2.ID}, sp.HostIDs)
	for _, lh := range []*libvirthost.Host{k.lh1, k.lh2} {
		raw, _ := hex.DecodeString(strings.ReplaceAll(sp.ID, "-", ""))
		var u golibvirt.UUID
		copy(u[:], raw)
		p, err := lh.L.StoragePoolLookupByUUID(u)
		require.NoError(t, err, "the libvirt pool on each host")
		x, err := lh.L.StoragePoolGetXMLDesc(p, 0)
		require.NoError(t, err)
		assert.Contains(t, x, "<path>"+dir+"</path>")
	}
	assert.Contains(t, b.text(row), k.h1.Name)
	assert.Contains(t, b.text(row), k.h2.Name)
	b.do(click(row+" button.library-toggle"), visible(row+" li.library"))
	assert.True(t, poolByName().TemplateLibrary, "flagged a template library")
	b.do(click(row+" button.library-toggle"), gone(row+" li.library"))
	assert.False(t, poolByName().TemplateLibrary)
	b.do(fill(row+" input.capacity-input", "2"), click(row+` .inline-form button[type="submit"]`), waitFor(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent?.includes("2 GiB")`, row+" .declared")))
	assert.Equal(t, int64(2<<30), poolByName().DeclaredCapacityBytes)
	b.shot("admin-storage-en")
	check.accessible(b, "en storage pools")

	// A volume for the tenant's VDC in that pool.
	b.goTo("/volumes")
	b.do(fill("#vol-name", "data"), fill("#vol-size", "64"), chooseText("#vol-vdc", "acme"), chooseText("#vol-pool", spName),
		click(`form[aria-labelledby="vol-create"] button[type="submit"]`))
	b.doFor(2*time.Minute, visible(`table.volumes tr[data-name="data"][data-phase="ready"]`))
	b.shot("admin-volumes-en")
	check.accessible(b, "en admin volumes")
	var vols struct{ Items []volumeRow }
	s.must(t, http.StatusOK, "GET", "/v1/volumes", s.admin, nil, &vols)
	require.Len(t, vols.Items, 1)
	vol := vols.Items[0]
	require.True(t, strings.HasPrefix(vol.NativeID, dir+"/"), "the volume %s is in the pool's directory", vol.NativeID)
	volume := func() volumeRow {
		var v volumeRow
		s.must(t, http.StatusOK, "GET", "/v1/volumes/"+vol.ID, s.admin, nil, &v)
		return v
	}

	// The tenant attaches, detaches and resizes it.
	tb := newBrowser(t)
	tb.login(s.url, "ann", "tenant-password-1")
	tb.goTo("/volumes")
	vrow := `table.volumes tr[data-name="data"]`
	tb.do(fill("#vol-name", "scratch"), fill("#vol-size", "0"), click(`form[aria-labelledby="vol-create"] button[type="submit"]`), visible(`.field-error[data-field="vol-size"]`))
	assert.NotEmpty(t, tb.text(`.field-error[data-field="vol-size"]`), "the API's message beside the size")
	tb.shot("tenant-volumes-bad-input-en")
	followed := func(b *browser, scope, kind, state string) {
		t.Helper()
		b.doFor(3*time.Minute, visible(fmt.Sprintf(`%s .followed[data-kind=%q][data-state=%q]`, scope, kind, state)))
	}
	tb.do(choose(vrow+" select.attach-target", k.vm.ID), click(vrow+" button.attach"))
	followed(tb, "main", "volume.attach", "succeeded")
	tb.do(visible(vrow + " td.attached a"))
	assert.Equal(t, "vm1", tb.text(vrow+" td.attached a"))
	assert.Equal(t, k.vm.ID, volume().AttachedTo)
	assert.Contains(t, domainXML(t, k.lh1, k.domain), vol.NativeID, "the running guest's domain has the disk")
	tb.shot("tenant-volumes-en")
	check.accessible(tb, "en tenant volumes")
	tb.do(click(vrow + " button.detach"))
	followed(tb, "main", "volume.detach", "succeeded")
	tb.do(gone(vrow + " td.attached a"))
	assert.NotContains(t, domainXML(t, k.lh1, k.domain), vol.NativeID, "the guest released the disk")
	tb.do(fill(vrow+" input.size-input", "96"), click(vrow+" button.resize"))
	followed(tb, "main", "volume.resize", "succeeded")
	tb.do(waitFor(fmt.Sprintf(`document.querySelector(%q).textContent.includes("96 MiB")`, vrow)))
	assert.Equal(t, int64(96<<20), volume().SizeBytes)

	// A snapshot of the volume: a missing name first.
	tb.goTo("/snapshots")
	submitSnap := `form[aria-labelledby="snap-create"] button[type="submit"]`
	tb.do(chooseText("#snap-of", "data"), click(submitSnap), visible(`.field-error[data-field="snap-name"]`))
	tb.shot("tenant-snapshots-bad-input-en")
	tb.do(fill("#snap-name", "v1"), click(submitSnap))
	followed(tb, "main", "snapshot.create", "succeeded")
	srow := `table.snapshots tr[data-name="v1"]`
	tb.do(visible(srow + `[data-phase="ready"]`))
	assert.Contains(t, tb.text(srow), "data", "the snapshot names its volume")
	tb.shot("tenant-snapshots-en")
	check.accessible(tb, "en tenant snapshots")
	tb.do(click(srow + " button.revert"))
	followed(tb, "main", "snapshot.revert", "succeeded")
	tb.do(click(srow + " button.danger"))
	followed(tb, "main", "snapshot.delete", "succeeded")
	tb.do(gone(srow))
	tb.goTo("/volumes")
	tb.do(click(vrow + " button.danger"))
	followed(tb, "main", "volume.delete", "succeeded")
	tb.do(gone(vrow))
	_, err := os.Stat(vol.NativeID)
	assert.True(t, os.IsNotExist(err), "the volume's file is gone: %v", err)

	// The VM's own snapshot, from its page.
	tb.goTo("/instances")
	tb.do(click(`tr[data-name="vm1"] a`), visible("#inst-snapshots"))
	isnap := `section[aria-labelledby="inst-snapshots"]`
	tb.do(fill("#isnap-name", "before"), click(isnap+` button[type="submit"]`))
	followed(tb, isnap, "snapshot.create", "succeeded")
	tb.do(visible(isnap + ` tr[data-name="before"][data-phase="ready"]`))
	snaps, err := k.lh1.L.DomainSnapshotNum(mustDomain(t, k.lh1, k.domain), 0)
	require.NoError(t, err)
	assert.Equal(t, int32(1), snaps, "libvirt has the VM's snapshot")
	tb.do(click(isnap + ` tr[data-name="before"] button.revert`))
	followed(tb, isnap, "snapshot.revert", "succeeded")
	tb.shot("tenant-instance-snapshots-en")
	check.accessible(tb, "en tenant instance with snapshots")
	tb.do(click(isnap + ` tr[data-name="before"] button.danger`))
	followed(tb, isnap, "snapshot.delete", "succeeded")
	tb.do(gone(isnap + ` tr[data-name="before"]`))

	// A migration the tenant starts (placement chooses) and cancels: it
	// is held to 1 MiB/s so that it is still under way.
	dom := mustDomain(t, k.lh1, k.domain)
	speed, err := k.lh1.L.DomainMigrateGetMaxSpeed(dom, 0)
	require.NoError(t, err)
	require.NoError(t, k.lh1.L.DomainMigrateSetMaxSpeed(dom, 1, 0), "hold the migration to 1 MiB/s")
	tb.do(click(`form[aria-labelledby="migrate-title"] button[type="submit"]`), visible(".migrate button.cancel-migration"),
		waitFor(`(() => { const p = document.querySelector(".migrate .followed .pct"); return p && p.textContent !== "0%" })()`))
	tb.shot("tenant-instance-migrating-en")
	tb.do(click(".migrate button.cancel-migration"))
	followed(tb, ".migrate", "instance.migrate", "rolled-back")
	assert.Contains(t, tb.text(".migrate .followed"), "cancelled by ann")
	assert.Equal(t, k.h1.ID, k.hostOf(t), "vm1 stays on kvm1 after the cancel")
	st, _ := k.lh1.State(t, k.domain)
	assert.Equal(t, golibvirt.DomainRunning, st, "the domain runs on kvm1, by libvirt's word")
	require.NoError(t, k.lh1.L.DomainMigrateSetMaxSpeed(mustDomain(t, k.lh1, k.domain), speed, 0))
	tb.shot("tenant-instance-en")
	check.accessible(tb, "en tenant instance")

	// The administrator migrates it to the host of their choice.
	b.do(navigate(s.url+"/instances/"+k.vm.ID), visible("#migrate-title"), js(`window.confirm = () => true`))
	b.do(waitFor(fmt.Sprintf(`(document.querySelector(".current-host") || {}).textContent?.includes(%q)`, k.h1.Name)))
	b.do(chooseText("#mig-host", k.h2.Name), click(`form[aria-labelledby="migrate-title"] button[type="submit"]`))
	followed(b, ".migrate", "instance.migrate", "succeeded")
	assert.Equal(t, k.h2.ID, k.hostOf(t), "vm1 on the host the administrator chose")
	b.do(waitFor(fmt.Sprintf(`(document.querySelector(".current-host") || {}).textContent?.includes(%q)`, k.h2.Name)))
	b.shot("admin-instance-migrated-en")
	check.accessible(b, "en admin instance")

	// Maintenance of the host vm1 is on: "entering maintenance" with the
	// reason while it is drained.
	b.goTo("/admin/hosts")
	hrow := fmt.Sprintf(`tr[data-name=%q]`, k.h2.Name)
	b.do(click(hrow+" button.maintenance"), visible(hrow+" .badge-entering-maintenance"))
	assert.NotEmpty(t, b.text(hrow+" .reason"), "the reason beside the state")
	b.shot("admin-hosts-entering-maintenance-en")
	check.accessible(b, "en hosts entering maintenance")
	type hostRow struct {
		State       string `json:"state"`
		StateReason string `json:"stateReason"`
	}
	var h hostRow
	require.Eventually(t, func() bool {
		s.must(t, http.StatusOK, "GET", "/v1/hosts/"+k.h2.ID, s.admin, nil, &h)
		return h.State == "maintenance" || h.StateReason != "moving its instances away"
	}, 4*time.Minute, time.Second, "the drain of kvm2 ends or stops on a reason")
	b.do(reload(), visible(hrow+" .badge-"+h.State))
	if h.StateReason != "" {
		assert.Contains(t, b.text(hrow+" .reason"), h.StateReason, "the view shows the API's reason")
	}
	t.Logf("kvm2 after the drain: %s (%s)", h.State, h.StateReason)
	b.shot("admin-hosts-maintenance-en")
	b.do(click(hrow+" button.maintenance"), visible(hrow+" .badge-up"))

	// Chinese.
	b.setLang("zh")
	b.do(reload(), visible(`html[lang="zh-CN"] nav.side`))
	for _, v := range []string{"/admin/storage", "/volumes", "/admin/hosts"} {
		b.goTo(v)
		b.shot("admin" + shotName(v) + "-zh")
		check.accessible(b, "zh "+v)
	}
	tb.setLang("zh")
	tb.do(reload(), visible(`html[lang="zh-CN"] nav.side`))
	for _, v := range []string{"/volumes", "/snapshots"} {
		tb.goTo(v)
		tb.shot("tenant" + shotName(v) + "-zh")
		check.accessible(tb, "zh tenant "+v)
		noneOf(t, v, tb.html(), k.secrets()...)
	}
	tb.goTo("/instances")
	tb.do(click(`tr[data-name="vm1"] a`), visible("#inst-snapshots"), gone(".loading"))
	tb.shot("tenant-instance-zh")
	check.accessible(tb, "zh tenant instance")
	noneOf(t, "instance", tb.html(), append(k.secrets(), sp.ID)...)

	n := 0
	for _, r := range tb.responses() {
		noneOf(t, "the response of "+r.url, r.body, append(k.secrets(), sp.ID, spName)...)
		n++
	}
	require.Positive(t, n)
	t.Logf("scanned %d API responses of the tenant's pages", n)
}

func mustDomain(t *testing.T, lh *libvirthost.Host, name string) golibvirt.Domain {
	t.Helper()
	d, err := lh.L.DomainLookupByName(name)
	require.NoError(t, err, "domain %s", name)
	return d
}
