package controllers

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// Platform is what the loops need of the platform: its hosts and their
// state, inventory sync, evacuation and reconciliation, and alerts.
// core.System implements it. Every write takes the loop's guard, which
// runs inside the write's transaction. The loops decide: the failure
// detector, the evacuation planner and the reconciliation of a returned
// host (package ha) all run here; the platform gathers their input and
// records their output.
type Platform interface {
	// Store holds the loops' leases.
	Store() store.Store
	// ListHosts returns every host with its pool's HA setting.
	ListHosts(ctx context.Context) ([]core.MonitorHost, error)
	// PingHost probes a host.
	PingHost(ctx context.Context, h core.MonitorHost) error
	// SetHostState records a host's health.
	SetHostState(ctx context.Context, hostID ovm.ID, state ovm.HostState, reason string, guard core.Guard) error
	// SyncHost lists a host's objects and brings the records in line.
	SyncHost(ctx context.Context, hostID ovm.ID, guard core.Guard) (core.SyncReport, error)
	// EvacuateHost plans a failed host's evacuation with planner and
	// records the plan.
	EvacuateHost(ctx context.Context, hostID ovm.ID, fence ha.FenceResult, planner core.Planner, guard core.Guard) (ha.Plan, error)
	// ReconcileHost compares a returned host with the records through
	// reconcile and records the instances found again.
	ReconcileHost(ctx context.Context, h core.MonitorHost, reconcile core.Reconciler, guard core.Guard) (ha.Reconciliation, error)
	// StopStaleCopies enqueues the stops of a returned host's stale copies.
	StopStaleCopies(ctx context.Context, hostID ovm.ID, stops []ha.Stop, guard core.Guard) ([]ovm.Task, error)
	// RaiseAlert records an alert for administrators.
	RaiseAlert(ctx context.Context, a ha.Alert, guard core.Guard) (core.Alert, error)
	// ResolveAlerts resolves the open alerts of a host that is up again.
	ResolveAlerts(ctx context.Context, hostID ovm.ID, guard core.Guard) ([]core.Alert, error)
}

var _ Platform = (*core.System)(nil)

// The lease names of the singleton loops.
const (
	LeaseSync    = "controllers.sync"
	LeaseMonitor = "controllers.monitor"
)

// Options configure the controllers. Platform and Replica are required;
// zero durations take the defaults given.
type Options struct {
	// Platform is the platform's operations the loops call
	// (core.NewSystem).
	Platform Platform
	// Store holds the loops' leases (default Platform.Store()).
	Store store.Store
	// Replica names this server among the replicas on one database; it is
	// the holder of the leases it takes.
	Replica string
	// SyncInterval is how often inventory sync lists every host
	// (default 60s).
	SyncInterval time.Duration
	// MonitorInterval is how often the host monitor probes every host
	// (default 10s); the failed hosts of HA-enabled pools are fenced and
	// evacuated, those of other pools only marked failed. A host is suspect after one
	// failed probe and failed after two in a row.
	MonitorInterval time.Duration
	// ProbeTimeout bounds each probe (default half the MonitorInterval).
	ProbeTimeout time.Duration
	// FenceTimeout bounds the fencing of one failed host (default 30s).
	FenceTimeout time.Duration
	// LeaseTTL is how long a loop's lease lasts without renewal; it is
	// renewed every LeaseTTL/3, and another replica takes a loop over at
	// most this long after its leader died (default 15s).
	LeaseTTL time.Duration
	// Fencer carries out the fencing methods of failed hosts. Nil: no host
	// can be fenced, and the instances of a failed host become unknown
	// (with an alert) instead of being restarted elsewhere.
	Fencer Fencer
	// Logger receives the loops' events and alerts (default: discard).
	Logger *slog.Logger
	// Now is the clock the failure detector reads (default time.Now).
	Now func() time.Time
	// MetricsInterval is how often the metrics collector samples every
	// running instance (default 15s); MetricsPerHost bounds its samples in
	// flight on one host (default 4); MetricsPruneEvery is how often it
	// deletes the history past its retention (default 10m). The collector
	// runs when Platform is also a MetricsPlatform.
	MetricsInterval   time.Duration
	MetricsPerHost    int
	MetricsPruneEvery time.Duration
	// ScalerInterval is how often the scaler decides each scaling group
	// (default 15s): the period its metric rules count. The scaler runs
	// when Platform is also a ScalingPlatform.
	ScalerInterval time.Duration
}

// Controllers runs the singleton loops of one replica.
type Controllers struct {
	o       Options
	log     *slog.Logger
	sync    *Leader
	monitor *Leader
	// metrics runs the collector when the platform has metrics.
	metrics     MetricsPlatform
	metricsLead *Leader
	collector   *Collector
	// scaling runs the scaler when the platform has scaling groups.
	scaling    ScalingPlatform
	scalerLead *Leader
}

// New checks the options and returns the controllers; Run starts them.
func New(o Options) (*Controllers, error) {
	var f ovm.Fields
	if o.Platform == nil {
		f.Add("platform", "is required")
	}
	if o.Replica == "" {
		f.Add("replica", "is required")
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"syncInterval", o.SyncInterval}, {"monitorInterval", o.MonitorInterval}, {"probeTimeout", o.ProbeTimeout},
		{"fenceTimeout", o.FenceTimeout}, {"leaseTtl", o.LeaseTTL}, {"metricsInterval", o.MetricsInterval},
		{"metricsPruneEvery", o.MetricsPruneEvery}, {"scalerInterval", o.ScalerInterval}} {
		if d.v < 0 {
			f.Add(d.field, "must not be negative")
		}
	}
	if o.MetricsPerHost < 0 {
		f.Add("metricsPerHost", "must not be negative")
	}
	if err := f.Err("invalid controllers options"); err != nil {
		return nil, err
	}
	if o.Store == nil {
		o.Store = o.Platform.Store()
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = 60 * time.Second
	}
	if o.MonitorInterval == 0 {
		o.MonitorInterval = 10 * time.Second
	}
	if o.ProbeTimeout == 0 {
		o.ProbeTimeout = o.MonitorInterval / 2
	}
	if o.FenceTimeout == 0 {
		o.FenceTimeout = 30 * time.Second
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MetricsInterval == 0 {
		o.MetricsInterval = 15 * time.Second
	}
	if o.MetricsPerHost == 0 {
		o.MetricsPerHost = 4
	}
	if o.MetricsPruneEvery == 0 {
		o.MetricsPruneEvery = 10 * time.Minute
	}
	if o.ScalerInterval == 0 {
		o.ScalerInterval = 15 * time.Second
	}
	log := o.Logger.With("replica", o.Replica)
	c := &Controllers{
		o:       o,
		log:     log,
		sync:    &Leader{Store: o.Store, Name: LeaseSync, Holder: o.Replica, TTL: o.LeaseTTL, Logger: log},
		monitor: &Leader{Store: o.Store, Name: LeaseMonitor, Holder: o.Replica, TTL: o.LeaseTTL, Logger: log},
	}
	if mp, ok := o.Platform.(MetricsPlatform); ok {
		c.metrics = mp
		c.metricsLead = &Leader{Store: o.Store, Name: LeaseMetrics, Holder: o.Replica, TTL: o.LeaseTTL, Logger: log}
		c.collector = &Collector{Platform: mp, PerHost: o.MetricsPerHost, Timeout: max(o.MetricsInterval, 10*time.Second)}
	}
	if sp, ok := o.Platform.(ScalingPlatform); ok {
		c.scaling = sp
		c.scalerLead = &Leader{Store: o.Store, Name: LeaseScaler, Holder: o.Replica, TTL: o.LeaseTTL, Logger: log}
	}
	return c, nil
}

// Run runs the inventory sync and host monitor loops, each while this
// replica holds its lease, until ctx ends; then it releases the leases and
// returns nil.
func (c *Controllers) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, 4)
	wg.Go(func() { errs[0] = c.sync.Run(ctx, c.runSync) })
	wg.Go(func() { errs[1] = c.monitor.Run(ctx, c.runMonitor) })
	if c.metricsLead != nil {
		wg.Go(func() { errs[2] = c.metricsLead.Run(ctx, c.runMetrics) })
	}
	if c.scalerLead != nil {
		wg.Go(func() { errs[3] = c.scalerLead.Run(ctx, c.runScaler) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Leading reports which loops this replica runs now, by lease name.
func (c *Controllers) Leading() map[string]bool {
	_, s := c.sync.Held()
	_, m := c.monitor.Held()
	out := map[string]bool{LeaseSync: s, LeaseMonitor: m}
	if c.metricsLead != nil {
		_, out[LeaseMetrics] = c.metricsLead.Held()
	}
	if c.scalerLead != nil {
		_, out[LeaseScaler] = c.scalerLead.Held()
	}
	return out
}

// every runs fn at once and then every interval until ctx ends. An error
// that says the lease was lost ends the loop with it.
func every(ctx context.Context, interval time.Duration, fn func(ctx context.Context) error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := fn(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
