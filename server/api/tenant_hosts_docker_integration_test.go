//go:build integration

package api

import (
	"net/http"
	"testing"

	"github.com/docker/docker/client"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/drivers"
)

// TestTenantNeverSeesDockerHosts runs the tenant scenario on the test's
// real Docker engines: the failing create asks for an image the hosts lack
// and no registry has, so the engine's own error (which names the host)
// is in the task log the administrator reads and not in the tenant's.
func TestTenantNeverSeesDockerHosts(t *testing.T) {
	image := testEnvVar(t, "OVM_TEST_DOCKER_IMAGE")
	registry := testEnvVar(t, "OVM_TEST_REGISTRY")
	endpoints := []string{testEnvVar(t, "DOCKER_HOST"), testEnvVar(t, "OVM_TEST_DOCKER_HOST2")}
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	suffix := string(ovm.NewID().Short())
	var hosts []ovm.Host
	for i, ep := range endpoints {
		var h ovm.Host
		e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "dockerhost" + string(rune('a'+i)) + "-" + suffix,
			"kind": "docker", "endpoint": ep, "poolId": pl.pool}).decode(t, &h)
		hosts = append(hosts, h) // a host without the image pulls it from the test registry
	}
	clients := []*client.Client{dockerClient(t, endpoints[0]), dockerClient(t, endpoints[1])}
	spec := func() map[string]any {
		return map[string]any{"type": "container", "cpuMilli": 100, "memoryBytes": 32 << 20,
			"image": map[string]string{"format": "oci", "name": image}, "command": bootCommand}
	}
	runTenantScenario(t, e, scenario{
		hosts: hosts, pool: pl.pool, spec: spec,
		failing: func() map[string]any {
			s := spec()
			s["image"] = map[string]string{"format": "oci", "name": registry + "/ovm-tenant-missing-" + suffix + ":1"}
			return s
		},
		cleanups: func(id ovm.ID) {
			for _, c := range clients {
				removeLabelled(t, c, id)
			}
		},
	})
}
