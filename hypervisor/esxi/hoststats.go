package esxi

import (
	"context"
	"time"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

var _ hypervisor.HostStatser = (*Driver)(nil)

// HostStats reads the host's quick statistics: its CPU use in MHz against
// one core's clock, and the memory it uses.
func (d *Driver) HostStats(ctx context.Context) (hypervisor.HostStats, error) {
	if err := d.c.ready(ctx, "host statistics"); err != nil {
		return hypervisor.HostStats{}, err
	}
	var h mo.HostSystem
	err := property.DefaultCollector(d.c.client).RetrieveOne(ctx, d.c.hostSys.Reference(),
		[]string{"summary.hardware", "summary.quickStats"}, &h)
	if err != nil {
		return hypervisor.HostStats{}, d.c.wrap(err, "host statistics")
	}
	st := hypervisor.HostStats{Time: time.Now()}
	q := h.Summary.QuickStats
	st.MemoryUsed = ovm.Bytes(q.OverallMemoryUsage) * ovm.MiB
	if hw := h.Summary.Hardware; hw != nil {
		st.CPUs = int(hw.NumCpuThreads)
		if st.CPUs == 0 {
			st.CPUs = int(hw.NumCpuCores)
		}
		st.MemoryTotal = ovm.Bytes(hw.MemorySize)
		if hw.CpuMhz > 0 {
			st.CPUPercent = float64(q.OverallCpuUsage) / float64(hw.CpuMhz) * 100
		}
	}
	return st, nil
}
