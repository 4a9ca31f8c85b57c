package api

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openovm/ovm/server/store"
)

// LatestReader reads the latest samples of a kind of subject taken at or
// after since (core.System.LatestMetrics).
type LatestReader func(ctx context.Context, kind store.MetricKind, since time.Time) ([]store.MetricSample, error)

// DefaultMaxInstanceSeries bounds the instances /metrics shows.
const DefaultMaxInstanceSeries = 10000

// AddInstanceGauges adds per-instance gauges (labelled by instance id, VDC
// id and kind: vm or container) and per-host gauges (by host id) to the
// metrics, read from the store's latest samples at each scrape, so that
// every replica answers alike. Samples older than maxAge (an instance that
// stopped, a host gone) are left out; at most maxSeries instances are
// shown (in id order), the number left out is a gauge of its own, so a
// scrape's cardinality is bounded whatever the platform's size.
func (m *Metrics) AddInstanceGauges(read LatestReader, maxAge time.Duration, maxSeries int) {
	if maxSeries <= 0 {
		maxSeries = DefaultMaxInstanceSeries
	}
	m.reg.MustRegister(&latestCollector{read: read, maxAge: maxAge, maxSeries: maxSeries})
}

var (
	instanceLabels = []string{"instance", "vdc", "kind"}
	gaugeDesc      = func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	instanceGauges = []struct {
		desc  *prometheus.Desc
		value func(s store.MetricSample) (float64, bool)
	}{
		{gaugeDesc("ovm_instance_cpu_percent", "CPU use of an instance, 100 per busy vCPU, at its latest sample.", instanceLabels),
			func(s store.MetricSample) (float64, bool) { return s.CPUPercent, true }},
		{gaugeDesc("ovm_instance_memory_used_bytes", "Memory an instance uses.", instanceLabels),
			func(s store.MetricSample) (float64, bool) { return float64(s.MemoryUsed), true }},
		{gaugeDesc("ovm_instance_memory_limit_bytes", "Memory an instance may use.", instanceLabels),
			func(s store.MetricSample) (float64, bool) { return float64(s.MemoryLimit), true }},
		{gaugeDesc("ovm_instance_network_receive_bytes_per_second", "Bytes an instance received per second since its previous sample.", instanceLabels),
			rateOf(func(c store.MetricCounters) int64 { return c.NetRxBytes })},
		{gaugeDesc("ovm_instance_network_transmit_bytes_per_second", "Bytes an instance sent per second since its previous sample.", instanceLabels),
			rateOf(func(c store.MetricCounters) int64 { return c.NetTxBytes })},
		{gaugeDesc("ovm_instance_disk_read_bytes_per_second", "Bytes an instance read from its disks per second.", instanceLabels),
			rateOf(func(c store.MetricCounters) int64 { return c.DiskRead })},
		{gaugeDesc("ovm_instance_disk_write_bytes_per_second", "Bytes an instance wrote to its disks per second.", instanceLabels),
			rateOf(func(c store.MetricCounters) int64 { return c.DiskWrite })},
		{gaugeDesc("ovm_instance_disk_read_ops_per_second", "Read requests of an instance per second.", instanceLabels),
			rateOf(func(c store.MetricCounters) int64 { return c.DiskReadOps })},
		{gaugeDesc("ovm_instance_disk_write_ops_per_second", "Write requests of an instance per second.", instanceLabels),
			rateOf(func(c store.MetricCounters) int64 { return c.DiskWriteOps })},
	}
	hostCPU      = gaugeDesc("ovm_host_cpu_percent", "CPU use of a host's instances, 100 per busy vCPU.", []string{"host"})
	hostMemory   = gaugeDesc("ovm_host_memory_used_bytes", "Memory a host's instances use.", []string{"host"})
	hostCapacity = gaugeDesc("ovm_host_memory_capacity_bytes", "A host's memory.", []string{"host"})
	leftOut      = gaugeDesc("ovm_instance_series_left_out", "Instances with a recent sample not shown, past the bound on series.", nil)
	readFailed   = gaugeDesc("ovm_instance_metrics_read_errors", "1 when this scrape could not read the latest samples.", nil)
)

// rateOf is a counter's growth per second over a sample's seconds.
func rateOf(get func(store.MetricCounters) int64) func(store.MetricSample) (float64, bool) {
	return func(s store.MetricSample) (float64, bool) {
		if s.Seconds <= 0 {
			return 0, false
		}
		return float64(get(s.MetricCounters)) / s.Seconds, true
	}
}

// latestCollector reads the latest samples at each scrape.
type latestCollector struct {
	read      LatestReader
	maxAge    time.Duration
	maxSeries int
}

// Describe implements prometheus.Collector.
func (c *latestCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, g := range instanceGauges {
		ch <- g.desc
	}
	ch <- hostCPU
	ch <- hostMemory
	ch <- hostCapacity
	ch <- leftOut
	ch <- readFailed
}

// Collect implements prometheus.Collector.
func (c *latestCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	since := time.Now().Add(-c.maxAge)
	insts, err := c.read(ctx, store.MetricInstance, since)
	var hosts []store.MetricSample
	if err == nil {
		hosts, err = c.read(ctx, store.MetricHost, since)
	}
	failed := 0.0
	if err != nil {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(readFailed, prometheus.GaugeValue, failed)
	dropped := max(len(insts)-c.maxSeries, 0)
	insts = insts[:len(insts)-dropped]
	ch <- prometheus.MustNewConstMetric(leftOut, prometheus.GaugeValue, float64(dropped))
	for _, s := range insts {
		for _, g := range instanceGauges {
			if v, ok := g.value(s); ok {
				ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, v, string(s.Subject), string(s.VDCID), string(s.InstanceType))
			}
		}
	}
	for _, h := range hosts {
		ch <- prometheus.MustNewConstMetric(hostCPU, prometheus.GaugeValue, h.CPUPercent, string(h.Subject))
		ch <- prometheus.MustNewConstMetric(hostMemory, prometheus.GaugeValue, float64(h.MemoryUsed), string(h.Subject))
		ch <- prometheus.MustNewConstMetric(hostCapacity, prometheus.GaugeValue, float64(h.MemoryLimit), string(h.Subject))
	}
}
