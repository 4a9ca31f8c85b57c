package controllers

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
)

// maxProbes bounds the probes in flight at once.
const maxProbes = 16

// monitor is the state of one leader term of the host monitor loop: it is
// rebuilt from the store when a replica takes the lease.
type monitor struct {
	c     *Controllers
	guard core.Guard
	det   *ha.Detector
	hosts map[ovm.ID]core.MonitorHost
	// evacuate holds the fence results of failed hosts whose evacuation is
	// still to be recorded (retried every round until it is).
	evacuate map[ovm.ID]ha.FenceResult
	// stopping remembers when a stale copy's stop was enqueued, by native
	// id, so that a copy is not stopped twice while its task runs.
	stopping map[string]time.Time
}

// runMonitor is the host monitor loop.
func (c *Controllers) runMonitor(ctx context.Context, lease Lease) error {
	det, err := ha.NewDetector(ha.Config{Interval: c.o.MonitorInterval})
	if err != nil {
		return err
	}
	m := &monitor{c: c, guard: lease.Guard(), det: det, hosts: map[ovm.ID]core.MonitorHost{},
		evacuate: map[ovm.ID]ha.FenceResult{}, stopping: map[string]time.Time{}}
	return every(ctx, c.o.MonitorInterval, m.round)
}

// round probes every watched host once and acts on what the detector says.
func (m *monitor) round(ctx context.Context) error {
	c := m.c
	all, err := c.o.Platform.ListHosts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("host monitor: listing hosts failed", "err", err)
		}
		return nil
	}
	m.track(all)
	probes := m.probe(ctx)
	if ctx.Err() != nil {
		return nil
	}
	now := c.o.Now()
	r, err := m.det.Observe(now, probes)
	if err != nil {
		c.log.Error("host monitor: detector refused the round", "err", err)
		return nil
	}
	for _, e := range r.Events {
		h := m.hosts[e.Host]
		c.log.Info("host monitor: host state changed", "host", h.Name, "hostId", e.Host, "from", e.From, "to", e.To, "reason", e.Reason)
		if err := c.o.Platform.SetHostState(ctx, e.Host, e.To.HostState(), stateReason(e), m.guard); err != nil {
			if errors.Is(err, ErrLeaseLost) {
				return err
			}
			c.log.Error("host monitor: recording host state failed", "host", h.Name, "err", err)
			continue
		}
		if e.To == ha.StateUp {
			if err := m.resolve(ctx, e.Host); err != nil {
				return err
			}
		}
	}
	for _, a := range r.Alerts {
		if err := m.alert(ctx, a); err != nil {
			return err
		}
	}
	for _, req := range r.Fence {
		if !m.hosts[req.Host].HAEnabled {
			// Without HA a failed host is only marked: placement skips it,
			// and its instances wait for it to come back.
			continue
		}
		m.evacuate[req.Host] = m.fence(ctx, req)
	}
	for id, fence := range m.evacuate {
		if err := m.evacuateHost(ctx, id, fence); err != nil {
			return err
		}
	}
	for _, st := range m.det.Hosts() {
		if st.State == ha.StateReturned {
			if err := m.reconcile(ctx, st.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// stateReason is the reason recorded with a host's state.
func stateReason(e ha.Event) string {
	switch e.To {
	case ha.StateUp:
		return ""
	case ha.StateReturned:
		return "answers again; its stale copies are stopped before it takes work"
	}
	return e.Reason
}

// track watches every host (those of HA-enabled pools are also fenced and
// evacuated when they fail) and forgets the hosts that are gone. A host
// first seen starts in the state the store has for it, so that a new
// leader goes on where the previous one stopped.
func (m *monitor) track(all []core.MonitorHost) {
	c := m.c
	now := c.o.Now()
	seen := map[ovm.ID]bool{}
	for _, h := range all {
		seen[h.ID] = true
		m.hosts[h.ID] = h
		spec := ha.HostSpec{ID: h.ID, PoolID: h.PoolID, DatacenterID: h.DatacenterID,
			Maintenance: h.State.InMaintenance(), State: restored(h.State)}
		if c.o.Fencer != nil {
			spec.Fence = c.o.Fencer.Methods(h.Host)
		}
		if _, err := m.det.Track(spec, now); err != nil {
			c.log.Error("host monitor: cannot watch host", "host", h.Name, "err", err)
		}
	}
	for id := range m.hosts {
		if !seen[id] {
			m.det.Untrack(id)
			delete(m.hosts, id)
			delete(m.evacuate, id)
		}
	}
}

// restored is the detector state of a host the store has in state s.
func restored(s ovm.HostState) ha.State {
	switch s {
	case ovm.HostSuspect:
		return ha.StateSuspect
	case ovm.HostFailed:
		return ha.StateFailed
	case ovm.HostMaintenance, ovm.HostEnteringMaintenance:
		return ha.StateMaintenance
	}
	return ha.StateUp
}

// probe pings every watched host at once (at most maxProbes in flight),
// each bounded by ProbeTimeout, in the detector's host order.
func (m *monitor) probe(ctx context.Context) []ha.Probe {
	sts := m.det.Hosts()
	probes := make([]ha.Probe, len(sts))
	sem := make(chan struct{}, maxProbes)
	var wg sync.WaitGroup
	for i, st := range sts {
		h := m.hosts[st.ID]
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			pctx, cancel := context.WithTimeout(ctx, m.c.o.ProbeTimeout)
			err := m.c.o.Platform.PingHost(pctx, h)
			cancel()
			if err != nil && ctx.Err() == nil {
				m.c.log.Debug("host monitor: probe failed", "host", h.Name, "err", err)
			}
			probes[i] = ha.Probe{Host: st.ID, OK: err == nil, At: m.c.o.Now()}
		})
	}
	wg.Wait()
	return probes
}

// fence tries a failed host's fencing methods in order.
func (m *monitor) fence(ctx context.Context, req ha.FenceRequest) ha.FenceResult {
	c := m.c
	h := m.hosts[req.Host]
	res := ha.FenceResult{Host: req.Host, Outcome: ha.FenceNotConfigured, At: c.o.Now()}
	if len(req.Methods) == 0 || c.o.Fencer == nil {
		return res
	}
	fctx, cancel := context.WithTimeout(ctx, c.o.FenceTimeout)
	defer cancel()
	var details []string
	for _, meth := range req.Methods {
		err := c.o.Fencer.Fence(fctx, h.Host, meth)
		if err == nil {
			c.log.Info("host monitor: failed host fenced", "host", h.Name, "method", meth)
			return ha.FenceResult{Host: req.Host, Outcome: ha.FenceConfirmed, Method: meth, At: c.o.Now()}
		}
		details = append(details, string(meth)+": "+err.Error())
	}
	res.Outcome, res.Detail, res.At = ha.FenceFailed, strings.Join(details, "; "), c.o.Now()
	return res
}

// evacuateHost records the evacuation of a failed host; it stays to be
// retried next round when that fails for another reason than the host's
// state.
func (m *monitor) evacuateHost(ctx context.Context, id ovm.ID, fence ha.FenceResult) error {
	c := m.c
	h := m.hosts[id]
	plan, err := c.o.Platform.EvacuateHost(ctx, id, fence, ha.PlanEvacuation, m.guard)
	switch {
	case errors.Is(err, ErrLeaseLost):
		return err
	case ovm.KindOf(err) == ovm.KindConflict || ovm.KindOf(err) == ovm.KindNotFound:
		c.log.Warn("host monitor: evacuation dropped", "host", h.Name, "err", err)
		delete(m.evacuate, id)
		return nil
	case err != nil:
		if ctx.Err() == nil {
			c.log.Error("host monitor: evacuation failed; retried next round", "host", h.Name, "err", err)
		}
		return nil
	}
	delete(m.evacuate, id)
	for _, r := range plan.Restarts {
		to := m.hosts[r.To]
		c.log.Info("host monitor: restarting instance on another host", "instance", r.Instance, "name", r.Name,
			"from", h.Name, "to", to.Name, "priority", r.Priority)
	}
	for _, a := range plan.Alerts {
		if err := m.alert(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// reconcile brings a host that came back to taking work: its stale copies
// are stopped first, then it is marked up.
func (m *monitor) reconcile(ctx context.Context, id ovm.ID) error {
	c := m.c
	h := m.hosts[id]
	rec, err := c.o.Platform.ReconcileHost(ctx, h, ha.Reconcile, m.guard)
	switch {
	case errors.Is(err, ErrLeaseLost):
		return err
	case err != nil:
		if ctx.Err() == nil {
			c.log.Warn("host monitor: reconciling a returned host failed; retried next round", "host", h.Name, "err", err)
		}
		return nil
	}
	for _, a := range rec.Alerts {
		if err := m.alert(ctx, a); err != nil {
			return err
		}
	}
	for _, o := range rec.Orphans {
		c.log.Warn("host monitor: orphan on returned host: its OVM id is not in the store", "host", h.Name, "ovmId", o.ID, "name", o.Name)
	}
	if rec.MayMarkUp {
		e, err := m.det.MarkReconciled(id, c.o.Now())
		if err != nil {
			c.log.Error("host monitor: marking a host reconciled failed", "host", h.Name, "err", err)
			return nil
		}
		if err := c.o.Platform.SetHostState(ctx, id, e.To.HostState(), "", m.guard); err != nil {
			if errors.Is(err, ErrLeaseLost) {
				return err
			}
			c.log.Error("host monitor: recording host state failed", "host", h.Name, "err", err)
			return nil
		}
		for _, s := range rec.Stale {
			delete(m.stopping, s.NativeID)
		}
		if err := m.resolve(ctx, id); err != nil {
			return err
		}
		c.log.Info("host monitor: returned host reconciled; it takes work again", "host", h.Name)
		return nil
	}
	var todo []ha.Stop
	now := time.Now()
	for _, s := range rec.Stops {
		if at, ok := m.stopping[s.NativeID]; ok && now.Sub(at) < c.o.LeaseTTL {
			continue
		}
		todo = append(todo, s)
	}
	if len(todo) == 0 {
		return nil
	}
	if _, err := c.o.Platform.StopStaleCopies(ctx, id, todo, m.guard); err != nil {
		if errors.Is(err, ErrLeaseLost) {
			return err
		}
		c.log.Error("host monitor: stopping stale copies failed; retried next round", "host", h.Name, "err", err)
		return nil
	}
	for _, s := range todo {
		m.stopping[s.NativeID] = now
		c.log.Warn("host monitor: stopping a stale copy on a returned host", "host", h.Name, "instance", s.Instance,
			"name", s.Name, "nativeId", s.NativeID, "reason", s.Reason)
	}
	return nil
}

// alert logs an alert for administrators and records it (core.RaiseAlert,
// under the monitor's lease), so that they see it through the API. It
// returns only ErrLeaseLost: an alert that could not be recorded is still
// logged.
func (m *monitor) alert(ctx context.Context, a ha.Alert) error {
	c := m.c
	logAlert(c.log, a)
	if _, err := c.o.Platform.RaiseAlert(ctx, a, m.guard); err != nil {
		if errors.Is(err, ErrLeaseLost) {
			return err
		}
		if ctx.Err() == nil {
			c.log.Error("host monitor: recording an alert failed", "alert", a.Kind, "host", a.Host, "err", err)
		}
	}
	return nil
}

// resolve resolves the open alerts of a host that is up again. It returns
// only ErrLeaseLost.
func (m *monitor) resolve(ctx context.Context, id ovm.ID) error {
	c := m.c
	done, err := c.o.Platform.ResolveAlerts(ctx, id, m.guard)
	switch {
	case errors.Is(err, ErrLeaseLost):
		return err
	case err != nil:
		if ctx.Err() == nil {
			c.log.Error("host monitor: resolving the alerts of a host that is up failed", "host", m.hosts[id].Name, "err", err)
		}
		return nil
	}
	for _, a := range done {
		c.log.Info("host monitor: alert resolved: its host is up", "host", m.hosts[id].Name, "alert", a.Kind, "alertId", a.ID)
	}
	return nil
}

// logAlert logs an alert for administrators.
func logAlert(log *slog.Logger, a ha.Alert) {
	level := slog.LevelError
	if a.Kind == ha.AlertPartitionCleared {
		level = slog.LevelWarn
	}
	log.Log(context.Background(), level, "ALERT: "+a.Message, "alert", a.Kind, "host", a.Host, "instances", a.Instances, "hosts", a.Hosts)
}
