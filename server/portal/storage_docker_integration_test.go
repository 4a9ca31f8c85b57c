//go:build integration

package portal_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPortalContainerStorageDocker: on the real Docker engine a tenant
// makes a volume in the portal; attaching it to a running container and
// taking a snapshot of the container are refused, and the portal shows the
// API's reason in words (a container's volumes are mounted at create; the
// engine takes no snapshot); the volume is deleted from the engine.
func TestPortalContainerStorageDocker(t *testing.T) {
	check := newViewCheck(t)
	image := testEnv(t, "OVM_TEST_DOCKER_IMAGE")
	d := newDockerTenant(t)
	s := d.s
	var it struct {
		Instance idName    `json:"instance"`
		Task     taskState `json:"task"`
	}
	s.must(t, http.StatusAccepted, "POST", "/v1/instances", d.tenant, map[string]any{"name": "app", "start": true,
		"spec": map[string]any{"type": "container", "cpuMilli": 100, "memoryBytes": 32 << 20, "image": map[string]string{"format": "oci", "name": image},
			"command": []string{"sleep", "600"}}}, &it)
	require.Equal(t, "succeeded", s.waitTask(t, d.tenant, it.Task.ID, 3*time.Minute).State)

	tb := newBrowser(t)
	tb.login(s.url, "ann", "tenant-password-1")
	tb.goTo("/volumes")
	vrow := `table.volumes tr[data-name="cache"]`
	tb.do(fill("#vol-name", "cache"), fill("#vol-size", "16"), click(`form[aria-labelledby="vol-create"] button[type="submit"]`))
	tb.doFor(2*time.Minute, visible(vrow+`[data-phase="ready"]`))
	var vols struct {
		Items []struct {
			ID       string `json:"id"`
			NativeID string `json:"nativeId"`
		}
	}
	s.must(t, http.StatusOK, "GET", "/v1/volumes", s.admin, nil, &vols)
	require.Len(t, vols.Items, 1)
	_, err := d.dc.VolumeInspect(t.Context(), vols.Items[0].NativeID)
	require.NoError(t, err, "the volume on the engine")

	tb.do(choose(vrow+" select.attach-target", it.Instance.ID), click(vrow+" button.attach"), visible("main .problem"))
	assert.NotEmpty(t, tb.text("main .problem .problem-detail"), "the API's reason for refusing the attach")
	tb.shot("tenant-volumes-container-refused-en")
	check.accessible(tb, "en volumes with a refusal")

	tb.goTo("/instances")
	tb.do(click(`tr[data-name="app"] a`), visible("#inst-snapshots"), fill("#isnap-name", "s1"),
		click(`section[aria-labelledby="inst-snapshots"] button[type="submit"]`), visible(`section[aria-labelledby="inst-snapshots"] .problem`))
	assert.NotEmpty(t, tb.text(`section[aria-labelledby="inst-snapshots"] .problem-detail`), "the API's reason for refusing the snapshot")
	noneOf(t, "instance", tb.html(), d.secrets...)
	tb.shot("tenant-instance-container-snapshot-refused-en")
	tb.setLang("zh")
	tb.do(reload(), visible(`html[lang="zh-CN"] #inst-snapshots`))
	tb.shot("tenant-instance-container-zh")
	check.accessible(tb, "zh container instance")

	tb.goTo("/volumes")
	tb.do(click(vrow + " button.danger"))
	tb.doFor(2*time.Minute, gone(vrow))
	_, err = d.dc.VolumeInspect(t.Context(), vols.Items[0].NativeID)
	assert.Error(t, err, "the volume is gone from the engine")
	for _, r := range tb.responses() {
		noneOf(t, "the response of "+r.url, r.body, d.secrets...)
	}
}
