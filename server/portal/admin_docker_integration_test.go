//go:build integration

package portal_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	ctr "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

// TestPortalAdminDocker: an administrator registers the real Docker
// engine as a host (a bad name and then an engine that does not answer
// first: the API's field message shows beside the field, the failed
// connection check above the form), puts it in maintenance and takes it
// out, and imports a container made on the engine beside OVM into a VDC
// (without the CPU and memory it has no limits for first: the API's
// messages show beside those fields).
func TestPortalAdminDocker(t *testing.T) {
	endpoint := testEnv(t, "DOCKER_HOST")
	image := testEnv(t, "OVM_TEST_DOCKER_IMAGE")
	axeSrc := axeSource(t)
	dc, err := client.NewClientWithOpts(client.WithHost(endpoint), client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	t.Cleanup(func() { _ = dc.Close() })

	// A container made on the engine before OVM knew it, without limits:
	// the import asks for the CPU and memory it may use.
	legacy := "legacy-" + string(ovm.NewID().Short())
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	made, err := dc.ContainerCreate(ctx, &ctr.Config{Image: image, Cmd: []string{"sleep", "600"}}, nil, nil, nil, legacy)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dc.ContainerRemove(ctx, made.ID, ctr.RemoveOptions{Force: true}); err != nil && !client.IsErrNotFound(err) {
			t.Errorf("cleanup: remove %s: %v", legacy, err)
		}
	})
	require.NoError(t, dc.ContainerStart(ctx, made.ID, ctr.StartOptions{}))

	s := startServer(t)
	_, vdc := s.platform(t, "ann", "tenant-password-1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "tcp://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	b := newBrowser(t)
	b.login(s.url, "admin", s.AdminPassword())
	b.goTo("/admin/hosts")
	submit := `form[aria-labelledby="host-create"] button[type="submit"]`
	b.do(choose("#host-kind", "docker"), fill("#host-name", "Bad Name!"), fill("#host-endpoint", endpoint), click(submit),
		visible(`.field-error[data-field="host-name"]`))
	assert.NotEmpty(t, b.text(`.field-error[data-field="host-name"]`), "the API's message beside the name")
	b.shot("admin-docker-hosts-bad-input-en")
	// The connection check: an engine that does not answer is refused.
	b.do(fill("#host-name", "docker1"), fill("#host-endpoint", closed), click(submit), visible(".problem"))
	assert.Contains(t, b.text(".problem"), strings.TrimPrefix(closed, "tcp://"), "the problem names the endpoint that does not answer")
	b.shot("admin-docker-hosts-unreachable-en")
	assert.Empty(t, b.axe(axeSrc), "axe on the hosts with a problem")
	b.do(fill("#host-endpoint", endpoint), click(submit), visible(`tr[data-name="docker1"] .badge-up`))
	b.shot("admin-docker-hosts-en")

	b.do(click(`tr[data-name="docker1"] button.maintenance`), visible(`tr[data-name="docker1"] .badge-maintenance`))
	var hosts struct {
		Items []struct{ ID, Name, State string }
	}
	s.must(t, http.StatusOK, "GET", "/v1/hosts", s.admin, nil, &hosts)
	require.Len(t, hosts.Items, 1)
	assert.Equal(t, "maintenance", hosts.Items[0].State)
	b.shot("admin-docker-hosts-maintenance-en")
	b.do(click(`tr[data-name="docker1"] button.maintenance`), visible(`tr[data-name="docker1"] .badge-up`))
	s.must(t, http.StatusOK, "GET", "/v1/hosts", s.admin, nil, &hosts)
	assert.Equal(t, "up", hosts.Items[0].State)

	b.do(click(`tr[data-name="docker1"] button.sync`), visible(".notice"))
	b.goTo("/admin/discovered")
	row := fmt.Sprintf(`tr[data-name=%q]`, legacy)
	b.do(visible(row), waitFor(fmt.Sprintf(`document.querySelector(%q).textContent.includes("docker1")`, row)))
	b.shot("admin-docker-discovered-en")
	assert.Empty(t, b.axe(axeSrc), "axe on the discovered objects")
	b.do(click(row+" button"), visible(row+` .field-error[data-field$="-cpu"]`), visible(row+` .field-error[data-field$="-memory"]`))
	assert.Contains(t, b.text(row+` .field-error[data-field$="-cpu"]`), "no CPU limit", "the API's message beside the CPU")
	b.shot("admin-docker-discovered-bad-input-en")
	assert.Empty(t, b.axe(axeSrc), "axe on the import with its messages")
	b.do(fill(row+` input[id$="-cpu"]`, "0.5"), fill(row+` input[id$="-memory"]`, "64"), click(row+" button"), visible(".notice"))
	var insts struct {
		Items []struct {
			Name   string
			VDCID  string `json:"vdcId"`
			Status struct{ Power string }
			Spec   struct {
				CPUMilli    int64 `json:"cpuMilli"`
				MemoryBytes int64 `json:"memoryBytes"`
			}
		}
	}
	s.must(t, http.StatusOK, "GET", "/v1/instances", s.admin, nil, &insts)
	require.Len(t, insts.Items, 1, "the imported container")
	assert.Equal(t, legacy, insts.Items[0].Name)
	assert.Equal(t, vdc, insts.Items[0].VDCID)
	assert.Equal(t, "running", insts.Items[0].Status.Power)
	assert.EqualValues(t, 500, insts.Items[0].Spec.CPUMilli, "the CPU given in the form")
	assert.EqualValues(t, 64<<20, insts.Items[0].Spec.MemoryBytes, "the memory given in the form")
	info, err := dc.ContainerInspect(t.Context(), made.ID)
	require.NoError(t, err)
	assert.True(t, info.State.Running, "the container still runs on the engine")

	b.setLang("zh")
	b.do(reload(), visible(`html[lang="zh-CN"] nav.side`))
	for _, v := range []string{"/admin/hosts", "/admin/discovered"} {
		b.goTo(v)
		b.shot("admin-docker" + shotName(v) + "-zh")
	}
	b.goTo("/admin/hosts")
	b.do(fill("#host-name", "坏 名字"), fill("#host-endpoint", endpoint), click(submit), visible(`.field-error[data-field="host-name"]`))
	b.shot("admin-docker-hosts-bad-input-zh")
}
