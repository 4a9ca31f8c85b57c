package apitypes

import (
	"time"

	"github.com/openovm/ovm/ovm"
)

// Metric names one series of an instance, a host or a VDC.
type Metric string

// The metrics. CPU counts 100 per busy vCPU (a host or a VDC: summed over
// its instances); rates are per second over the step.
const (
	MetricCPUPercent            Metric = "cpuPercent"
	MetricCPUPeakPercent        Metric = "cpuPeakPercent"
	MetricMemoryUsedBytes       Metric = "memoryUsedBytes"
	MetricMemoryLimitBytes      Metric = "memoryLimitBytes"
	MetricNetRxBytesPerSecond   Metric = "netRxBytesPerSecond"
	MetricNetTxBytesPerSecond   Metric = "netTxBytesPerSecond"
	MetricDiskReadBytesPerSec   Metric = "diskReadBytesPerSecond"
	MetricDiskWriteBytesPerSec  Metric = "diskWriteBytesPerSecond"
	MetricDiskReadOpsPerSecond  Metric = "diskReadOpsPerSecond"
	MetricDiskWriteOpsPerSecond Metric = "diskWriteOpsPerSecond"
)

// Metrics are the metrics, in the order series are returned.
var Metrics = []Metric{
	MetricCPUPercent, MetricCPUPeakPercent, MetricMemoryUsedBytes, MetricMemoryLimitBytes,
	MetricNetRxBytesPerSecond, MetricNetTxBytesPerSecond, MetricDiskReadBytesPerSec, MetricDiskWriteBytesPerSec,
	MetricDiskReadOpsPerSecond, MetricDiskWriteOpsPerSecond,
}

// Valid reports whether m is a known metric.
func (m Metric) Valid() bool {
	for _, x := range Metrics {
		if x == m {
			return true
		}
	}
	return false
}

// MetricSubject is what a series describes.
type MetricSubject string

// The subjects of series.
const (
	SubjectInstance MetricSubject = "instance"
	SubjectHost     MetricSubject = "host"
	SubjectVDC      MetricSubject = "vdc"
)

// MetricSubjects are the subjects of series.
var MetricSubjects = []MetricSubject{SubjectInstance, SubjectHost, SubjectVDC}

// MetricSeries is the history of one instance, host or VDC between From
// and To, one point per Step (a step with no sample has no point).
type MetricSeries struct {
	Subject MetricSubject `json:"subject"`
	ID      ovm.ID        `json:"id"`
	From    time.Time     `json:"from"`
	To      time.Time     `json:"to"`
	// StepSeconds is the width of a point; ResolutionSeconds the stored
	// resolution the points were computed from (0: full resolution).
	StepSeconds       int64          `json:"stepSeconds"`
	ResolutionSeconds int64          `json:"resolutionSeconds"`
	Series            []MetricValues `json:"series"`
}

// MetricValues is the series of one metric.
type MetricValues struct {
	Metric Metric        `json:"metric"`
	Points []MetricPoint `json:"points"`
}

// MetricPoint is one step of a series: the step's start and its value.
type MetricPoint struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
}
