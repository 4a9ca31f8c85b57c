package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/openovm/ovm/ovm"
)

// Metrics are the server's Prometheus metrics, on a registry of their own
// (never the global one). ObserveTask is the task engine's Observe hook and
// ObserveDriverCall the service's; wire them when building those.
type Metrics struct {
	reg          *prometheus.Registry
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	tasks        *prometheus.CounterVec
	taskDuration *prometheus.HistogramVec
	driverCalls  *prometheus.CounterVec
	driverTime   *prometheus.HistogramVec
}

// NewMetrics returns the metrics on a new registry, with the Go and process
// collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ovm_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ovm_http_request_duration_seconds", Help: "HTTP request duration by route and method.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"route", "method"}),
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ovm_tasks_total", Help: "Tasks brought to a final state, by kind and state.",
		}, []string{"kind", "state"}),
		taskDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ovm_task_duration_seconds", Help: "Time from a task's creation to its final state, by kind.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}, []string{"kind"}),
		driverCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ovm_driver_calls_total", Help: "Hypervisor driver calls by host kind, method and outcome (ok or the error kind).",
		}, []string{"kind", "method", "outcome"}),
		driverTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ovm_driver_call_duration_seconds", Help: "Hypervisor driver call duration by host kind and method.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18),
		}, []string{"kind", "method"}),
	}
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.tasks, m.taskDuration, m.driverCalls, m.driverTime,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, to add collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveTask counts a task that reached a final state (tasks.Options.Observe).
func (m *Metrics) ObserveTask(kind string, state ovm.TaskState, d time.Duration) {
	m.tasks.WithLabelValues(kind, string(state)).Inc()
	m.taskDuration.WithLabelValues(kind).Observe(d.Seconds())
}

// ObserveDriverCall counts a driver call (core.Options.ObserveDriverCall).
func (m *Metrics) ObserveDriverCall(kind ovm.HostKind, method string, err error, d time.Duration) {
	outcome := "ok"
	if err != nil {
		outcome = ovm.KindOf(err).String()
	}
	m.driverCalls.WithLabelValues(string(kind), method, outcome).Inc()
	m.driverTime.WithLabelValues(string(kind), method).Observe(d.Seconds())
}

// observeHTTP counts one request.
func (m *Metrics) observeHTTP(route, method string, status int, d time.Duration) {
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// Handler serves the metrics in the Prometheus text format, with the
// security headers of every response, and without asking for a token: the
// API serves it to administrators only; serve it alone only on an address
// of its own.
func (m *Metrics) Handler() http.Handler {
	return secureHeaders(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
}
