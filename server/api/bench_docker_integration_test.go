//go:build integration

package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	ctr "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// BenchmarkDockerCreateStartServer compares a container's create+start
// through the whole server (via=server: POST /v1/instances with start, the
// quota and placement transaction, the task engine claiming the task, the
// driver's create and start, until the task is final) with the same two
// calls made directly with the Docker client (via=docker). The sides are
// interleaved, the first alternating, over max(b.N, 30) rounds; it reports
// each side's median and their ratio.
func BenchmarkDockerCreateStartServer(b *testing.B) {
	host := testEnvVar(b, "DOCKER_HOST")
	image := testEnvVar(b, "OVM_TEST_DOCKER_IMAGE")
	dc := dockerClient(b, host)
	e := newEnv(b, openSQLite(b))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: b.TempDir()})
	pl := e.setupPlatform(0)
	// 30 containers of 0.1 vCPU on a 2-core host: let the pool overcommit.
	e.must(http.StatusOK, "PATCH", "/v1/pools/"+string(pl.pool), e.admin, map[string]any{"overcommit": map[string]float64{"cpu": 16, "memory": 4}})
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "docker1", "kind": "docker", "endpoint": host, "poolId": pl.pool})
	q := quota
	q.Instances, q.CPU, q.Memory = 1000, ovm.CPUs(1000), 1000*ovm.GiB
	tn := e.newTenant("bench", pl.pool, q)
	ctx := context.Background()
	b.Cleanup(func() {
		list, _ := dc.ContainerList(ctx, ctr.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", docker.LabelVDC+"="+string(tn.vdc)))})
		for _, c := range list {
			removeDockerContainer(b, dc, c.ID)
		}
	})
	var direct []string
	b.Cleanup(func() {
		for _, id := range direct {
			removeDockerContainer(b, dc, id)
		}
	})
	cmd := []string{"sleep", "600"}
	sides := map[string]func(i int) error{
		"server": func(i int) error {
			var it core.InstanceTask
			r := e.do("POST", "/v1/instances", tn.token, map[string]any{"name": fmt.Sprintf("s%d", i), "start": true,
				"spec": map[string]any{"type": "container", "cpuMilli": 100, "memoryBytes": 32 << 20,
					"image": map[string]string{"format": "oci", "name": image}, "command": cmd}})
			if r.status != http.StatusAccepted {
				return fmt.Errorf("create: %s", r)
			}
			r.decode(b, &it)
			t, err := core.NewSystem(e.svc).Tasks().Wait(ctx, it.Task.ID)
			if err != nil {
				return err
			}
			if t.State != ovm.TaskSucceeded {
				return fmt.Errorf("task %s: %s", t.State, t.Error)
			}
			return nil
		},
		"docker": func(i int) error {
			mem := int64(32 << 20)
			resp, err := dc.ContainerCreate(ctx, &ctr.Config{Image: image, Cmd: cmd, OpenStdin: true,
				Labels: map[string]string{docker.LabelID: string(ovm.NewID()), docker.LabelVDC: "bench-direct"}},
				&ctr.HostConfig{Resources: ctr.Resources{NanoCPUs: 100 * 1e6, Memory: mem, MemorySwap: mem}}, nil, nil, fmt.Sprintf("ovmbench-d%d-%s", i, ovm.NewID().Short()))
			if err != nil {
				return err
			}
			direct = append(direct, resp.ID)
			return dc.ContainerStart(ctx, resp.ID, ctr.StartOptions{})
		},
	}
	n := max(b.N, 30)
	times := map[string][]time.Duration{}
	b.ResetTimer()
	for i := range n {
		order := []string{"server", "docker"}
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, via := range order {
			start := time.Now()
			err := sides[via](i)
			times[via] = append(times[via], time.Since(start))
			require.NoError(b, err, "via=%s round %d", via, i)
		}
	}
	b.StopTimer()
	median := func(ts []time.Duration) time.Duration {
		s := slices.Clone(ts)
		slices.Sort(s)
		return s[len(s)/2]
	}
	ms, md := median(times["server"]), median(times["docker"])
	b.ReportMetric(float64(ms.Microseconds())/1000, "via=server-median-ms")
	b.ReportMetric(float64(md.Microseconds())/1000, "via=docker-median-ms")
	b.ReportMetric(float64(ms)/float64(md), "server/docker")
	b.Logf("%d containers each way: median create+start via=server %s, via=docker %s, ratio %.3f", n, ms, md, float64(ms)/float64(md))
}
