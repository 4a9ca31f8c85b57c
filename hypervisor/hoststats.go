package hypervisor

import (
	"context"
	"time"

	"github.com/openovm/ovm/ovm"
)

// HostStats are a host's own counters as its engine reports them: what the
// whole host uses, the instances OVM knows of and everything else.
type HostStats struct {
	Time time.Time
	// CPUs is the host's count of logical CPUs.
	CPUs int
	// CPUBusy and CPUTime are the CPU time the host spent busy and in all
	// since it booted, summed over its CPUs: the share in use between two
	// samples is the ratio of their growths. A zero CPUTime means the
	// engine gives the share itself, in CPUPercent.
	CPUBusy, CPUTime time.Duration
	// CPUPercent is the host's CPU use as its engine reports it, 100 per
	// busy CPU (set when CPUTime is zero).
	CPUPercent  float64
	MemoryUsed  ovm.Bytes
	MemoryTotal ovm.Bytes
}

// HostStatser is the facet of a driver that reads its host's own counters
// (libvirt's node statistics, the quick statistics of an ESXi host). A
// driver without it (Docker: the engine reports no use of its machine) has
// its host sampled as the sum of its instances.
type HostStatser interface {
	HostStats(ctx context.Context) (HostStats, error)
}
