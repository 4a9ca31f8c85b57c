package libvirt

import (
	"context"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

var _ hypervisor.HostStatser = (*Driver)(nil)

// HostStats reads the node's CPU time (kernel, user, idle and iowait
// nanoseconds over every CPU) and memory (total less free, buffers and
// page cache), as virsh nodecpustats and nodememstats show them.
func (d *Driver) HostStats(ctx context.Context) (hypervisor.HostStats, error) {
	if err := ctx.Err(); err != nil {
		return hypervisor.HostStats{}, err
	}
	_, _, cpus, _, _, _, _, _, err := d.l.NodeGetInfo()
	if err != nil {
		return hypervisor.HostStats{}, wrap(err, "libvirt: node info")
	}
	all := int32(golibvirt.NodeCPUStatsAllCpus)
	// The first call counts the parameters, the second reads them.
	_, n, err := d.l.NodeGetCPUStats(all, 0, 0)
	if err != nil {
		return hypervisor.HostStats{}, wrap(err, "libvirt: node CPU statistics")
	}
	cs, _, err := d.l.NodeGetCPUStats(all, n, 0)
	if err != nil {
		return hypervisor.HostStats{}, wrap(err, "libvirt: node CPU statistics")
	}
	st := hypervisor.HostStats{Time: time.Now(), CPUs: int(cpus)}
	for _, p := range cs {
		switch p.Field {
		case "kernel", "user":
			st.CPUBusy += time.Duration(p.Value)
			st.CPUTime += time.Duration(p.Value)
		case "idle", "iowait":
			st.CPUTime += time.Duration(p.Value)
		}
	}
	cells := int32(golibvirt.NodeMemoryStatsAllCells)
	_, n, err = d.l.NodeGetMemoryStats(0, cells, 0)
	if err != nil {
		return hypervisor.HostStats{}, wrap(err, "libvirt: node memory statistics")
	}
	ms, _, err := d.l.NodeGetMemoryStats(n, cells, 0)
	if err != nil {
		return hypervisor.HostStats{}, wrap(err, "libvirt: node memory statistics")
	}
	var total, free uint64
	for _, p := range ms {
		switch p.Field {
		case "total":
			total = p.Value
		case "free", "buffers", "cached":
			free += p.Value
		}
	}
	st.MemoryTotal = ovm.Bytes(total) * ovm.KiB
	if total > free {
		st.MemoryUsed = ovm.Bytes(total-free) * ovm.KiB
	}
	return st, nil
}
