//go:build integration

package portal_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/image/convert/converttest"
)

// TestPortalCommitInstanceDocker: on the real Docker engine and registry a
// tenant commits a running container from its page (an empty repository
// named beside the field first); the task is followed to its end, the
// image is in the registry under the VDC's namespace and in the tenant's
// image view, and no page or response names the host.
func TestPortalCommitInstanceDocker(t *testing.T) {
	check := newViewCheck(t)
	address := testEnv(t, "OVM_TEST_REGISTRY")
	image := testEnv(t, "OVM_TEST_DOCKER_IMAGE")
	d := newDockerTenant(t)
	s := d.s
	s.must(t, http.StatusCreated, "POST", "/v1/registries", s.admin, map[string]any{"name": "local", "address": address}, nil)
	var it struct {
		Instance idName    `json:"instance"`
		Task     taskState `json:"task"`
	}
	s.must(t, http.StatusAccepted, "POST", "/v1/instances", d.tenant, map[string]any{"name": "app", "start": true,
		"spec": map[string]any{"type": "container", "cpuMilli": 100, "memoryBytes": 32 << 20, "image": map[string]string{"format": "oci", "name": image},
			"command": []string{"sh", "-c", "echo committed > /marker; sleep 600"}}}, &it)
	require.Equal(t, "succeeded", s.waitTask(t, d.tenant, it.Task.ID, 3*time.Minute).State)

	repo := fmt.Sprintf("commit-%x", time.Now().UnixNano())
	want := address + "/vdc-" + d.vdc[:8] + "/" + repo + ":v1"
	t.Cleanup(func() { converttest.DeleteImage(want) })
	tb := newBrowser(t)
	tb.login(s.url, "ann", "tenant-password-1")
	tb.goTo("/instances")
	submit := `form#commit-form button[type="submit"]`
	tb.do(click(`tr[data-name="app"] a`), visible("#inst-commit"), fill("#commit-repo", " "), click(submit),
		visible(`.field-error[data-field="commit-repo"]`))
	assert.NotEmpty(t, tb.text(`.field-error[data-field="commit-repo"]`), "the API's message beside the repository")
	tb.do(fill("#commit-repo", repo), fill("#commit-tag", "v1"), click(submit))
	tb.doFor(3*time.Minute, visible(`section[aria-labelledby="inst-commit"] .followed[data-kind="instance.commit"][data-state="succeeded"]`))
	assert.Equal(t, want, tb.text(`section[aria-labelledby="inst-commit"] code.reference`))
	tb.shot("tenant-instance-commit-en")
	check.accessible(tb, "en instance with a commit")
	ref, err := name.NewTag(want)
	require.NoError(t, err)
	_, err = remote.Head(ref, remote.WithContext(t.Context()))
	require.NoError(t, err, "the committed image is in the registry")

	tb.goTo("/images")
	row := fmt.Sprintf(`table.images tr[data-name=%q][data-kind="container"]`, want)
	tb.doFor(time.Minute, visible(row))
	assert.True(t, strings.Contains(tb.text(row), "Private"), "the VDC's own image")
	tb.setLang("zh")
	tb.do(visible(`html[lang="zh-CN"] ` + row))
	tb.shot("tenant-images-committed-zh")
	noneOf(t, "the tenant's image view", tb.html(), d.secrets...)
	for _, r := range tb.responses() {
		noneOf(t, "the response of "+r.url, r.body, d.secrets...)
	}
}
