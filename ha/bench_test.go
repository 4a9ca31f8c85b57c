package ha_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
)

// BenchmarkDetector ingests one probe round for 10,000 hosts (100 pools of
// 100 hosts in 10 datacenters); one op is one round. "steady": every host
// answers, the monitor's usual round. "flapping": 1% of the hosts fail every
// other round, so each round has 100 state changes to report. Probes come
// in the order of Detector.Hosts, except in "steady-unordered".
func BenchmarkDetector(b *testing.B) {
	const hosts = 10_000
	for _, bc := range []struct {
		name string
		// shuffle gives the probes out of Hosts() order: every one is
		// looked up by id.
		shuffle bool
		fails   func(host, round int) bool
	}{
		{name: "steady", fails: func(int, int) bool { return false }},
		{name: "steady-unordered", shuffle: true, fails: func(int, int) bool { return false }},
		{name: "flapping", fails: func(host, round int) bool { return host%100 == 0 && round%2 == 0 }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d, err := ha.NewDetector(ha.Config{Interval: tick})
			require.NoError(b, err)
			probes := make([]ha.Probe, hosts)
			for i := range hosts {
				id := ovm.ID(fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
				_, err := d.Track(ha.HostSpec{ID: id, PoolID: ovm.ID(fmt.Sprintf("pool-%03d", i/100)),
					DatacenterID: ovm.ID(fmt.Sprintf("dc-%d", i/1000)), Fence: []ha.FenceMethod{ha.FencePowerOff}}, epoch)
				require.NoError(b, err)
				probes[i].Host = id
			}
			if bc.shuffle {
				rand.New(rand.NewPCG(1, 2)).Shuffle(len(probes), func(i, j int) { probes[i], probes[j] = probes[j], probes[i] })
			}
			b.ReportAllocs()
			round := 0
			for b.Loop() {
				round++
				now := epoch.Add(time.Duration(round) * tick)
				for i := range probes {
					probes[i].OK, probes[i].At = !bc.fails(i, round), now
				}
				if _, err := d.Observe(now, probes); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(round), "ns/round")
		})
	}
}
