package libvirt

import (
	"context"
	"fmt"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// statsTypes are the groups of the bulk domain stats Stats reads.
const statsTypes = golibvirt.DomainStatsState | golibvirt.DomainStatsVCPU | golibvirt.DomainStatsBalloon |
	golibvirt.DomainStatsInterface | golibvirt.DomainStatsBlock

// domainSample is one reading of a domain's bulk stats: its typed
// parameters by field, and the instant libvirt read them, taken as the
// middle of the call (the call's latency is the reading's uncertainty).
type domainSample struct {
	params map[string]any
	at     time.Time
}

// Stats samples a running instance's bulk domain stats twice, 250ms apart.
// CPUPercent counts the guest's vCPUs only: the growth of each vCPU's
// thread time ("vcpu.N.time") over the time between the two readings. The
// domain's "cpu.time" is not used: it also counts QEMU's own threads (I/O,
// emulation, the monitor), which a busy host runs beside the vCPUs, so it
// may exceed 100 per vCPU. Memory, block and network counters come from
// the second reading.
func (d *Driver) Stats(ctx context.Context, ref hypervisor.Ref) (hypervisor.Stats, error) {
	f, err := d.lookup(ctx, ref)
	if err != nil {
		return hypervisor.Stats{}, err
	}
	sample := func() (domainSample, error) {
		before := d.cfg.Now()
		recs, err := rpc(ctx, func() ([]golibvirt.DomainStatsRecord, error) {
			return d.l.ConnectGetAllDomainStats([]golibvirt.Domain{f.dom}, uint32(statsTypes), 0)
		})
		after := d.cfg.Now()
		if err != nil {
			return domainSample{}, wrap(err, "libvirt: stats of domain %s", f.dom.Name)
		}
		out := domainSample{params: map[string]any{}, at: before.Add(after.Sub(before) / 2)}
		for _, r := range recs {
			for _, p := range r.Params {
				out.params[p.Field] = p.Value.I
			}
		}
		return out, nil
	}
	a, err := sample()
	if err != nil {
		return hypervisor.Stats{}, err
	}
	if err := sleep(ctx, 250*time.Millisecond); err != nil {
		return hypervisor.Stats{}, err
	}
	b, err := sample()
	if err != nil {
		return hypervisor.Stats{}, err
	}
	return statsOf(a, b, memoryBytes(f.def.Memory)), nil
}

// statsOf computes a sample from two readings of a domain's bulk stats.
//
//	CPUPercent = Σ over vCPUs of min(Δ vcpu.N.time / Δt, 1) × 100
//
// Each vCPU is one thread, which cannot run longer than the wall clock: a
// share above 100 is the uncertainty of the two readings' instants (the
// latency of the calls), so each vCPU's share is capped at 100, and the
// sum never passes 100 per vCPU. A vCPU missing from either reading (hot
// plugged in between) counts from the reading that has it. defMemory is
// the domain's configured memory, the limit when the balloon reports none.
func statsOf(a, b domainSample, defMemory ovm.Bytes) hypervisor.Stats {
	s := hypervisor.Stats{Time: b.at}
	if dt := b.at.Sub(a.at); dt > 0 {
		for i := range num(b.params["vcpu.maximum"]) {
			key := fmt.Sprintf("vcpu.%d.time", i)
			t1, ok := b.params[key]
			if !ok {
				continue
			}
			t0 := num(a.params[key])
			if num(t1) < t0 {
				continue // the domain restarted between the readings
			}
			s.CPUPercent += min(float64(num(t1)-t0)/float64(dt.Nanoseconds()), 1) * 100
		}
	}
	s.MemoryLimit = ovm.Bytes(num(b.params["balloon.maximum"])) * ovm.KiB
	if s.MemoryLimit == 0 {
		s.MemoryLimit = defMemory
	}
	used := ovm.Bytes(num(b.params["balloon.rss"])) * ovm.KiB
	if avail, unused := num(b.params["balloon.available"]), num(b.params["balloon.unused"]); avail > 0 {
		used = ovm.Bytes(avail-unused) * ovm.KiB
	}
	s.MemoryUsed = min(used, s.MemoryLimit)
	for i := range num(b.params["net.count"]) {
		s.NetRxBytes += num(b.params[fmt.Sprintf("net.%d.rx.bytes", i)])
		s.NetTxBytes += num(b.params[fmt.Sprintf("net.%d.tx.bytes", i)])
	}
	for i := range num(b.params["block.count"]) {
		s.DiskRead += num(b.params[fmt.Sprintf("block.%d.rd.bytes", i)])
		s.DiskWrite += num(b.params[fmt.Sprintf("block.%d.wr.bytes", i)])
		s.DiskReadOps += num(b.params[fmt.Sprintf("block.%d.rd.reqs", i)])
		s.DiskWriteOps += num(b.params[fmt.Sprintf("block.%d.wr.reqs", i)])
	}
	return s
}
