package controllers

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// LeaseMetrics is the lease of the metrics collector.
const LeaseMetrics = "controllers.metrics"

// MetricsPlatform is what the metrics collector needs of the platform;
// core.System implements it.
type MetricsPlatform interface {
	// MetricTargets returns the hosts to sample with their running instances.
	MetricTargets(ctx context.Context) ([]core.MetricHost, error)
	// SampleInstance reads an instance's statistics through its driver.
	SampleInstance(ctx context.Context, h core.MetricHost, inst core.MetricInstance) (hypervisor.Stats, error)
	// SampleHost reads a host's own counters through its driver (ok false:
	// the driver has none).
	SampleHost(ctx context.Context, h core.MetricHost) (st hypervisor.HostStats, ok bool, err error)
	// RecordMetrics stores a round of samples.
	RecordMetrics(ctx context.Context, samples []store.MetricSample, guard core.Guard) error
	// PruneMetrics drops the history older than the retention.
	PruneMetrics(ctx context.Context, guard core.Guard) (int64, error)
}

var _ MetricsPlatform = (*core.System)(nil)

// AlertsPlatform evaluates the threshold rules on the samples after each
// round of the collector; core.System implements it.
type AlertsPlatform interface {
	EvaluateMetricAlerts(ctx context.Context, interval time.Duration, guard core.Guard) (core.AlertRound, error)
}

var _ AlertsPlatform = (*core.System)(nil)

// Collector samples every running instance of every host that is not
// failed, through the drivers' Stats, all hosts at once and at most
// PerHost instances of one host at a time, and stores one sample per
// instance, per host and per VDC a round. A VDC's samples are the sums of
// its instances'; so are a host's, except its CPU and memory where its
// driver reads the host's own (the host's whole use, not only what OVM
// runs there). Counters (network, disk) are stored as
// what grew since the instance's previous sample, which the collector
// keeps in memory: the first round after it starts (or after an
// instance's counters went back, a restart) records no growth.
type Collector struct {
	Platform MetricsPlatform
	// PerHost bounds the samples in flight on one host (default 4).
	PerHost int
	// Timeout bounds one instance's sample (default 10s).
	Timeout time.Duration
	// Now is the clock of the rounds (default time.Now).
	Now func() time.Time

	mu        sync.Mutex
	prev      map[ovm.ID]hypervisor.Stats
	prevHost  map[ovm.ID]hypervisor.HostStats
	lastRound time.Time
}

// RoundReport is what one round did.
type RoundReport struct {
	Hosts, Sampled, Failed int
	// Errors are the failed samples' errors, by instance.
	Errors map[ovm.ID]error
}

// hostSampled is one host's own counters in a round.
type hostSampled struct {
	stats hypervisor.HostStats
	ok    bool
	err   error
}

// sampled is one instance's outcome in a round.
type sampled struct {
	host  core.MetricHost
	inst  core.MetricInstance
	stats hypervisor.Stats
	err   error
}

// Round samples every target once and records the samples under guard.
func (c *Collector) Round(ctx context.Context, guard core.Guard) (RoundReport, error) {
	now := c.now()
	hosts, err := c.Platform.MetricTargets(ctx)
	if err != nil {
		return RoundReport{}, err
	}
	results := make([][]sampled, len(hosts))
	own := make([]hostSampled, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { results[i] = c.sampleHost(ctx, h) })
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, c.timeout())
			defer cancel()
			st, ok, err := c.Platform.SampleHost(sctx, h)
			own[i] = hostSampled{stats: st, ok: ok, err: err}
		})
	}
	wg.Wait()
	rep := RoundReport{Hosts: len(hosts), Errors: map[ovm.ID]error{}}
	samples := c.samples(now, hosts, results, own, &rep)
	return rep, c.Platform.RecordMetrics(ctx, samples, guard)
}

// sampleHost samples the instances of one host, PerHost at a time.
func (c *Collector) sampleHost(ctx context.Context, h core.MetricHost) []sampled {
	out := make([]sampled, len(h.Instances))
	sem := make(chan struct{}, max(c.PerHost, 1))
	timeout := c.timeout()
	var wg sync.WaitGroup
	for i, inst := range h.Instances {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			out[i] = sampled{host: h, inst: inst, err: ctx.Err()}
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			sctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			st, err := c.Platform.SampleInstance(sctx, h, inst)
			out[i] = sampled{host: h, inst: inst, stats: st, err: err}
		})
	}
	wg.Wait()
	return out
}

// samples turns a round's statistics into samples of the instances, their
// hosts and their VDCs, and keeps each instance's counters for the next.
func (c *Collector) samples(now time.Time, hosts []core.MetricHost, results [][]sampled, own []hostSampled, rep *RoundReport) []store.MetricSample {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prev == nil {
		c.prev = map[ovm.ID]hypervisor.Stats{}
	}
	if c.prevHost == nil {
		c.prevHost = map[ovm.ID]hypervisor.HostStats{}
	}
	roundSeconds := 0.0
	if !c.lastRound.IsZero() {
		roundSeconds = now.Sub(c.lastRound).Seconds()
	}
	c.lastRound = now
	seen := map[ovm.ID]bool{}
	vdcs := map[ovm.ID]*store.MetricSample{}
	var out []store.MetricSample
	for hi, h := range hosts {
		hs := store.MetricSample{Subject: h.ID, Kind: store.MetricHost, HostID: h.ID, At: now,
			MemoryLimit: int64(h.Capacity.Memory), MetricCounters: store.MetricCounters{Seconds: roundSeconds}}
		for _, r := range results[hi] {
			if r.err != nil {
				rep.Failed++
				rep.Errors[r.inst.ID] = r.err
				continue
			}
			rep.Sampled++
			seen[r.inst.ID] = true
			s := store.MetricSample{Subject: r.inst.ID, Kind: store.MetricInstance, VDCID: r.inst.VDCID, HostID: h.ID,
				InstanceType: r.inst.Type, At: r.stats.Time, CPUPercent: r.stats.CPUPercent,
				MemoryUsed: int64(r.stats.MemoryUsed), MemoryLimit: int64(r.stats.MemoryLimit)}
			if s.At.IsZero() {
				s.At = now
			}
			if p, ok := c.prev[r.inst.ID]; ok {
				s.MetricCounters = growth(p, r.stats)
			}
			c.prev[r.inst.ID] = r.stats
			out = append(out, s)
			addTo(&hs, s, roundSeconds)
			v, ok := vdcs[r.inst.VDCID]
			if !ok {
				v = &store.MetricSample{Subject: r.inst.VDCID, Kind: store.MetricVDC, VDCID: r.inst.VDCID, At: now,
					MetricCounters: store.MetricCounters{Seconds: roundSeconds}}
				vdcs[r.inst.VDCID] = v
			}
			addTo(v, s, roundSeconds)
			v.MemoryLimit += s.MemoryLimit
		}
		c.ownCounters(&hs, h.ID, own[hi], rep)
		out = append(out, hs)
	}
	for id := range c.prev {
		if !seen[id] {
			delete(c.prev, id)
		}
	}
	for _, v := range vdcs {
		out = append(out, *v)
	}
	return out
}

// ownCounters puts a host's own CPU and memory, when its driver read
// them, in place of its instances' sums in hs. A CPU read as time counters
// gives a share from the second round on; until then the sum stays.
func (c *Collector) ownCounters(hs *store.MetricSample, id ovm.ID, o hostSampled, rep *RoundReport) {
	if o.err != nil {
		rep.Errors[id] = o.err
	}
	if !o.ok {
		delete(c.prevHost, id)
		return
	}
	st := o.stats
	hs.MemoryUsed, hs.MemoryLimit = int64(st.MemoryUsed), int64(st.MemoryTotal)
	switch p, had := c.prevHost[id]; {
	case st.CPUTime == 0:
		hs.CPUPercent = st.CPUPercent
	case had && st.CPUTime > p.CPUTime && st.CPUBusy >= p.CPUBusy:
		// The busy share of all CPU time, 100 per CPU.
		hs.CPUPercent = float64(st.CPUBusy-p.CPUBusy) / float64(st.CPUTime-p.CPUTime) * 100 * float64(max(st.CPUs, 1))
	}
	c.prevHost[id] = st
}

// growth is what the counters grew from p to s, and the seconds between
// them; counters that went back (a restart) count nothing.
func growth(p, s hypervisor.Stats) store.MetricCounters {
	secs := s.Time.Sub(p.Time).Seconds()
	if secs <= 0 || s.NetRxBytes < p.NetRxBytes || s.NetTxBytes < p.NetTxBytes || s.DiskRead < p.DiskRead ||
		s.DiskWrite < p.DiskWrite || s.DiskReadOps < p.DiskReadOps || s.DiskWriteOps < p.DiskWriteOps {
		return store.MetricCounters{}
	}
	return store.MetricCounters{Seconds: secs,
		NetRxBytes: int64(s.NetRxBytes - p.NetRxBytes), NetTxBytes: int64(s.NetTxBytes - p.NetTxBytes),
		DiskRead: int64(s.DiskRead - p.DiskRead), DiskWrite: int64(s.DiskWrite - p.DiskWrite),
		DiskReadOps: int64(s.DiskReadOps - p.DiskReadOps), DiskWriteOps: int64(s.DiskWriteOps - p.DiskWriteOps)}
}

// addTo adds an instance's sample into a sum over a round of roundSeconds:
// CPU and memory add up; each counter adds at the instance's rate over the
// round, so that the sum's rates are the sums of the rates.
func addTo(sum *store.MetricSample, s store.MetricSample, roundSeconds float64) {
	sum.CPUPercent += s.CPUPercent
	sum.MemoryUsed += s.MemoryUsed
	if s.Seconds <= 0 || roundSeconds <= 0 {
		return
	}
	scale := func(n int64) int64 { return int64(float64(n) / s.Seconds * roundSeconds) }
	sum.NetRxBytes += scale(s.NetRxBytes)
	sum.NetTxBytes += scale(s.NetTxBytes)
	sum.DiskRead += scale(s.DiskRead)
	sum.DiskWrite += scale(s.DiskWrite)
	sum.DiskReadOps += scale(s.DiskReadOps)
	sum.DiskWriteOps += scale(s.DiskWriteOps)
}

// timeout bounds one sample.
func (c *Collector) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 10 * time.Second
	}
	return c.Timeout
}

func (c *Collector) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// forget drops the counters kept, so that a collector that stopped leading
// and leads again later does not take the gap for one interval.
func (c *Collector) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prev, c.prevHost, c.lastRound = nil, nil, time.Time{}
}

// evaluateAlerts runs the threshold rules on the round's samples, when
// the platform has them.
func (c *Controllers) evaluateAlerts(ctx context.Context, guard core.Guard) error {
	ap, ok := c.metrics.(AlertsPlatform)
	if !ok {
		return nil
	}
	rep, err := ap.EvaluateMetricAlerts(ctx, c.o.MetricsInterval, guard)
	switch {
	case errors.Is(err, ErrLeaseLost):
		return err
	case err != nil:
		if ctx.Err() == nil {
			c.log.Warn("metrics: alert rules not evaluated", "err", err)
		}
	case rep.Raised+rep.Cleared > 0:
		c.log.Info("metrics: threshold alerts", "raised", rep.Raised, "cleared", rep.Cleared)
	}
	return nil
}

// runMetrics is the collector's loop: a round every MetricsInterval, and
// the retention's pruning every MetricsPruneEvery.
func (c *Controllers) runMetrics(ctx context.Context, lease Lease) error {
	guard := lease.Guard()
	c.collector.forget()
	var lastPrune time.Time
	return every(ctx, c.o.MetricsInterval, func(ctx context.Context) error {
		rep, err := c.collector.Round(ctx, guard)
		switch {
		case errors.Is(err, ErrLeaseLost):
			return err
		case err != nil:
			if ctx.Err() == nil {
				c.log.Warn("metrics: round failed", "err", err)
			}
			return nil
		}
		failed, example := 0, error(nil)
		for _, e := range rep.Errors {
			if ovm.KindOf(e) != ovm.KindNotFound {
				failed, example = failed+1, e
			}
		}
		if failed > 0 && ctx.Err() == nil {
			c.log.Warn("metrics: instances not sampled", "failed", failed, "sampled", rep.Sampled, "err", example)
		}
		if err := c.evaluateAlerts(ctx, guard); errors.Is(err, ErrLeaseLost) {
			return err
		}
		if time.Since(lastPrune) >= c.o.MetricsPruneEvery {
			n, err := c.metrics.PruneMetrics(ctx, guard)
			switch {
			case errors.Is(err, ErrLeaseLost):
				return err
			case err != nil:
				if ctx.Err() == nil {
					c.log.Warn("metrics: pruning failed", "err", err)
				}
			default:
				lastPrune = time.Now()
				if n > 0 {
					c.log.Info("metrics: history past its retention deleted", "points", n)
				}
			}
		}
		return nil
	})
}
