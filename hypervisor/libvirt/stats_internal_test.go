package libvirt

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// TestStatsOf: CPUPercent counts the vCPUs' thread time, not the domain's
// cpu.time (which adds QEMU's own threads), each vCPU at most 100.
func TestStatsOf(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := func(n int64) uint64 { return uint64(n * int64(time.Millisecond)) }
	read := func(at time.Duration, p map[string]any) domainSample {
		return domainSample{params: p, at: t0.Add(at)}
	}
	tests := []struct {
		name string
		a, b domainSample
		want float64
	}{{
		// 250 ms apart; the vCPU ran 200 ms (80%), QEMU's threads 90 ms
		// more: cpu.time says 116%, the guest used 80%.
		name: "qemu threads not counted",
		a:    read(0, map[string]any{"vcpu.maximum": uint32(1), "vcpu.0.time": ms(1000), "cpu.time": ms(1500)}),
		b:    read(250*time.Millisecond, map[string]any{"vcpu.maximum": uint32(1), "vcpu.0.time": ms(1200), "cpu.time": ms(1790)}),
		want: 80,
	}, {
		// Two vCPUs: 250 ms and 50 ms over 250 ms: 100 + 20.
		name: "two vcpus summed",
		a:    read(0, map[string]any{"vcpu.maximum": uint32(2), "vcpu.0.time": ms(0), "vcpu.1.time": ms(0)}),
		b:    read(250*time.Millisecond, map[string]any{"vcpu.maximum": uint32(2), "vcpu.0.time": ms(250), "vcpu.1.time": ms(50)}),
		want: 120,
	}, {
		// The readings' instants are off by the calls' latency: 260 ms of
		// thread time over 250 ms measured is the clock's error, capped.
		name: "busy vcpu capped at 100",
		a:    read(0, map[string]any{"vcpu.maximum": uint32(1), "vcpu.0.time": ms(0)}),
		b:    read(250*time.Millisecond, map[string]any{"vcpu.maximum": uint32(1), "vcpu.0.time": ms(260)}),
		want: 100,
	}, {
		name: "restarted between the readings",
		a:    read(0, map[string]any{"vcpu.maximum": uint32(1), "vcpu.0.time": ms(900)}),
		b:    read(250*time.Millisecond, map[string]any{"vcpu.maximum": uint32(1), "vcpu.0.time": ms(10)}),
		want: 0,
	}, {
		name: "vcpu plugged between the readings",
		a:    read(0, map[string]any{"vcpu.maximum": uint32(2), "vcpu.0.time": ms(0)}),
		b:    read(250*time.Millisecond, map[string]any{"vcpu.maximum": uint32(2), "vcpu.0.time": ms(25), "vcpu.1.time": ms(50)}),
		want: 30, // 10 + 20
	}, {
		name: "no time between the readings",
		a:    read(0, map[string]any{"vcpu.maximum": uint32(1), "vcpu.0.time": ms(0)}),
		b:    read(0, map[string]any{"vcpu.maximum": uint32(1), "vcpu.0.time": ms(5)}),
		want: 0,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.InDelta(t, tt.want, statsOf(tt.a, tt.b, ovm.GiB).CPUPercent, 1e-9)
		})
	}
}

// TestStatsOfCounters: memory from the balloon, the block and network
// counters (bytes and requests) summed over devices from the second reading.
func TestStatsOfCounters(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := domainSample{at: at, params: map[string]any{
		"balloon.maximum": uint64(262144), "balloon.available": uint64(200000), "balloon.unused": uint64(100000),
		"net.count": uint32(2), "net.0.rx.bytes": uint64(10), "net.0.tx.bytes": uint64(20), "net.1.rx.bytes": uint64(1), "net.1.tx.bytes": uint64(2),
		"block.count": uint32(2), "block.0.rd.bytes": uint64(4096), "block.0.wr.bytes": uint64(512), "block.0.rd.reqs": uint64(3), "block.0.wr.reqs": uint64(1),
		"block.1.rd.bytes": uint64(1024), "block.1.wr.bytes": uint64(0), "block.1.rd.reqs": uint64(2), "block.1.wr.reqs": uint64(0),
	}}
	assert.Equal(t, hypervisor.Stats{
		Time:        at,
		MemoryUsed:  100000 * ovm.KiB, // available - unused
		MemoryLimit: 256 * ovm.MiB,    // 262144 KiB
		NetRxBytes:  11, NetTxBytes: 22,
		DiskRead: 5120, DiskWrite: 512, DiskReadOps: 5, DiskWriteOps: 1,
	}, statsOf(domainSample{at: at.Add(-time.Second), params: map[string]any{}}, b, ovm.GiB))

	// No balloon: the configured memory is the limit, rss bounded by it.
	none := domainSample{at: at, params: map[string]any{"balloon.rss": uint64(2 << 20)}}
	got := statsOf(none, none, 512*ovm.MiB)
	assert.Equal(t, 512*ovm.MiB, got.MemoryLimit)
	assert.Equal(t, 512*ovm.MiB, got.MemoryUsed)
}
