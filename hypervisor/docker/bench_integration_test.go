//go:build integration

package docker_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/ovm"
)

// minContainers is the fewest containers each side of the benchmark makes.
const minContainers = 30

// BenchmarkCreateStart compares create+start of one container through the
// OVM driver (via=ovm: Create, then Start by the returned reference) with
// the same two calls made directly with the Docker client (via=docker:
// ContainerCreate with the config the driver sends, then ContainerStart).
//
// The machine is shared and its load drifts, so the two sides are
// interleaved: each of max(b.N, 30) rounds makes one container each way,
// the side that goes first alternating. It reports the median per container
// of each side, their ratio (target: ovm/docker <= 1.15) and the median of
// the rounds' own ratios (paired-ovm/docker). ns/op is one
// round, both sides. The containers are removed after the timing.
func BenchmarkCreateStart(b *testing.B) {
	e := environment(b)
	d := connect(b, e.host)
	c := raw(b, e.host)
	var ids []string
	b.Cleanup(func() {
		for _, id := range ids {
			removeContainer(b, c, id)
		}
	})
	ctx := context.Background()
	sides := map[string]func(name string) (string, error){
		"ovm": func(name string) (string, error) {
			inst, err := d.Create(ctx, smallSpec(e, name))
			if err != nil {
				return "", err
			}
			return inst.NativeID, d.Start(ctx, hypervisor.RefOf(inst))
		},
		"docker": func(name string) (string, error) {
			spec := smallSpec(e, name)
			mem := int64(spec.Spec.Memory)
			resp, err := c.ContainerCreate(ctx, &container.Config{
				Image: e.image, Cmd: spec.Spec.Command, OpenStdin: true,
				Labels: map[string]string{docker.LabelID: string(spec.ID), docker.LabelVDC: string(spec.VDCID)},
			}, &container.HostConfig{
				Resources:     container.Resources{NanoCPUs: int64(spec.Spec.CPU) * 1e6, Memory: mem, MemorySwap: mem},
				RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
			}, nil, nil, name)
			if err != nil {
				return "", err
			}
			return resp.ID, c.ContainerStart(ctx, resp.ID, container.StartOptions{})
		},
	}
	times := map[string][]time.Duration{}
	n := max(b.N, minContainers)
	b.ResetTimer()
	for i := range n {
		order := []string{"ovm", "docker"}
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, via := range order {
			start := time.Now()
			id, err := sides[via](ovm.NewID().Short() + "-ovmbench")
			times[via] = append(times[via], time.Since(start))
			if id != "" {
				ids = append(ids, id)
			}
			if err != nil {
				b.Fatalf("via=%s create+start #%d: %v", via, i, err)
			}
		}
	}
	b.StopTimer()
	median := func(ts []time.Duration) time.Duration {
		s := slices.Clone(ts)
		slices.Sort(s)
		return s[len(s)/2]
	}
	mo, md := median(times["ovm"]), median(times["docker"])
	ratio := float64(mo) / float64(md)
	// The median of each round's own ratio: the two containers of a round
	// see the same load.
	paired := make([]time.Duration, n)
	for i := range n {
		paired[i] = time.Duration(float64(time.Second) * float64(times["ovm"][i]) / float64(times["docker"][i]))
	}
	pr := median(paired).Seconds()
	b.ReportMetric(pr, "paired-ovm/docker")
	b.ReportMetric(float64(mo.Microseconds())/1000, "via=ovm-median-ms")
	b.ReportMetric(float64(md.Microseconds())/1000, "via=docker-median-ms")
	b.ReportMetric(ratio, "ovm/docker")
	b.ReportMetric(float64(n), "containers/side")
	b.Logf("%d containers each way: median create+start via=ovm %s, via=docker %s, ratio %.3f, median of paired ratios %.3f (target <= 1.15)", n, mo, md, ratio, pr)
}
