package ha

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
)

// State is a host's health as the [Detector] sees it.
type State string

// The detector's host states. A failed probe (or silence, see
// [Config.MissAfter]) takes up to suspect and suspect to failed; an answer
// takes suspect back to up and failed to returned; only
// [Detector.MarkReconciled] takes returned to up. A host that failed and
// was not reconciled since goes from returned to suspect on a failed probe,
// and back to returned (never up) on an answer. Any state goes to
// maintenance and back through [Detector.SetMaintenance].
const (
	StateUp      State = "up"
	StateSuspect State = "suspect" // one failed probe
	StateFailed  State = "failed"  // two consecutive failed probes: fence and evacuate
	// StateReturned: a failed host answers again. It takes no work until
	// [Reconcile] found nothing to stop and [Detector.MarkReconciled] ran.
	StateReturned    State = "returned"
	StateMaintenance State = "maintenance" // set by an administrator; never evacuated
)

// HostState is the platform's state for s. A returned host is still failed
// for the platform: it takes no work until it is reconciled.
func (s State) HostState() ovm.HostState {
	switch s {
	case StateSuspect:
		return ovm.HostSuspect
	case StateFailed, StateReturned:
		return ovm.HostFailed
	case StateMaintenance:
		return ovm.HostMaintenance
	}
	return ovm.HostUp
}

// Event is one host state change.
type Event struct {
	Host     ovm.ID
	From, To State
	At       time.Time
	Reason   string
}

// String renders "<host> up -> suspect: probe failed".
func (e Event) String() string {
	return fmt.Sprintf("%s %s -> %s: %s", e.Host, e.From, e.To, e.Reason)
}

// Config tunes a [Detector]. Zero fields take the defaults given.
type Config struct {
	// Interval is how often the monitor probes every host. Required.
	Interval time.Duration
	// MissAfter is how long a host may go without an accepted probe result
	// before its silence counts as a failed probe (default 2 × Interval).
	// Silence costs one strike per MissAfter: a host that stops being
	// probed at all is suspect after MissAfter and failed after twice that.
	// A probe result MissAfter old or older when it reaches Observe is too
	// old to tell anything about the host now and is ignored.
	MissAfter time.Duration
	// PartitionFraction: when more than this fraction of the probed hosts of
	// a pool or a datacenter start failing within PartitionWindow, the
	// detector suspects its own network and fences none of them
	// (default 0.5: more than half).
	PartitionFraction float64
	// PartitionMinHosts is the smallest group the partition guard watches
	// (default 3): losing one of two hosts is a host failure, not a
	// partition.
	PartitionMinHosts int
	// PartitionWindow is how close together host failures must start to
	// count as "at once" (default 2 × Interval).
	PartitionWindow time.Duration
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.MissAfter == 0 {
		c.MissAfter = 2 * c.Interval
	}
	if c.PartitionFraction == 0 {
		c.PartitionFraction = 0.5
	}
	if c.PartitionMinHosts == 0 {
		c.PartitionMinHosts = 3
	}
	if c.PartitionWindow == 0 {
		c.PartitionWindow = 2 * c.Interval
	}
	return c
}

// Validate checks the configuration after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	var f ovm.Fields
	if c.Interval <= 0 {
		f.Add("interval", "must be positive")
	}
	if c.MissAfter < c.Interval {
		f.Add("missAfter", "must be at least the interval")
	}
	if !(c.PartitionFraction > 0 && c.PartitionFraction < 1) {
		f.Add("partitionFraction", "must be between 0 and 1, exclusive")
	}
	if c.PartitionMinHosts < 2 {
		f.Add("partitionMinHosts", "must be at least 2")
	}
	if c.PartitionWindow < 0 {
		f.Add("partitionWindow", "must not be negative")
	}
	return f.Err("invalid ha detector config")
}

// HostSpec is a host the detector watches.
type HostSpec struct {
	ID ovm.ID
	// PoolID and DatacenterID are the groups the partition guard watches.
	PoolID, DatacenterID ovm.ID
	// Maintenance is the administrator's maintenance flag.
	Maintenance bool
	// Fence lists the fencing methods configured for the host, in the
	// order to try them. Empty: the host cannot be fenced, and its
	// instances are never restarted elsewhere.
	Fence []FenceMethod
	// State restores what a previous monitor knew (a new leader rebuilds
	// its detector from the store); empty means up. It applies only when
	// the host is first tracked. A restored suspect host has one strike; a
	// restored failed host is fenced again once the partition guard lets
	// it (fencing and evacuation planning are idempotent, and the previous
	// monitor may have stopped before either ran); both count as lost just
	// now for the guard.
	State State
	// Unreconciled restores that the host failed and was not reconciled
	// since; implied by a failed or returned State.
	Unreconciled bool
}

// Probe is the result of probing one host.
type Probe struct {
	Host ovm.ID
	OK   bool
	// At is when the probe was answered (or gave up).
	At time.Time
}

// Ignored is a probe result that changed nothing, with the reason.
type Ignored struct {
	Probe
	Reason string
}

// Round is what one call of [Detector.Observe] found.
type Round struct {
	At time.Time
	// Events are the host state changes, in time order, then host id order.
	Events []Event
	// Alerts are the partition alerts raised or cleared.
	Alerts []Alert
	// Fence lists the hosts whose failure must now be confirmed by a fence
	// before their instances are evacuated, in host id order. Each failure
	// of a host is handed out once.
	Fence []FenceRequest
	// Ignored lists probe results for hosts not tracked, stale results and
	// results older than one already applied.
	Ignored []Ignored
}

// HostStatus is what the detector knows of one host.
type HostStatus struct {
	ID, PoolID, DatacenterID ovm.ID
	Fence                    []FenceMethod
	State                    State
	// Strikes counts consecutive failed probes (silence included).
	Strikes int
	// LastProbe is when the last accepted probe result was taken.
	LastProbe time.Time
	// Held is set while a partition alert holds the host's fencing back.
	Held bool
	// Unreconciled is set from failure until [Detector.MarkReconciled].
	Unreconciled bool
}

// Detector is the two-strike failure detector with its partition guard.
// It is a plain value owned by one goroutine (the monitor loop); it is not
// safe for concurrent use.
type Detector struct {
	cfg    Config
	byID   map[ovm.ID]*host
	hosts  []*host // sorted by id
	groups []group
	index  map[groupKey]int
	last   time.Time
}

type host struct {
	spec       HostSpec
	state      State
	strikes    int
	lastProbe  time.Time // At of the last accepted probe result
	evidence   time.Time // last accepted probe, strike for silence, or start of watch
	streak     time.Time // first strike of the current streak; zero when none
	unrecon    bool      // failed since the last reconciliation
	fenceAsked bool      // a FenceRequest went out for the current failure
	pool, dc   int       // group indexes, -1 for none
}

// NewDetector returns a detector watching no host yet.
func NewDetector(cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Detector{cfg: cfg.withDefaults(), byID: map[ovm.ID]*host{}, index: map[groupKey]int{}}, nil
}

// Config returns the configuration in force, defaults applied.
func (d *Detector) Config() Config { return d.cfg }

// Track starts watching a host, or updates the groups, fencing methods and
// maintenance flag of one already watched; its health is kept. A new host
// starts up, in maintenance, or in the state restored from spec.State; its
// silence is counted from now.
func (d *Detector) Track(spec HostSpec, now time.Time) ([]Event, error) {
	var f ovm.Fields
	if spec.ID.IsZero() {
		f.Add("id", "is required")
	}
	for i, m := range spec.Fence {
		if !m.Valid() {
			f.Addf(fmt.Sprintf("fence[%d]", i), "must be %q or %q", FencePowerOff, FenceDiskLock)
		}
	}
	switch spec.State {
	case "", StateUp, StateSuspect, StateFailed, StateReturned, StateMaintenance:
	default:
		f.Addf("state", "unknown state %q", spec.State)
	}
	if now.IsZero() {
		f.Add("now", "is required")
	}
	if err := f.Err("invalid ha host"); err != nil {
		return nil, err
	}
	spec.Fence = slices.Clone(spec.Fence)
	restore, unrecon := spec.State, spec.Unreconciled
	spec.State, spec.Unreconciled = "", false // kept in the host's own fields
	h, ok := d.byID[spec.ID]
	if !ok {
		h = &host{spec: spec, state: StateUp, evidence: now, unrecon: unrecon}
		switch restore {
		case StateSuspect:
			h.state, h.strikes, h.streak = StateSuspect, 1, now
		case StateFailed:
			h.state, h.strikes, h.streak, h.unrecon = StateFailed, 2, now, true
		case StateReturned:
			h.state, h.unrecon = StateReturned, true
		}
		if spec.Maintenance || restore == StateMaintenance {
			h.state, h.strikes, h.streak, h.spec.Maintenance = StateMaintenance, 0, time.Time{}, true
		}
		d.byID[spec.ID] = h
		i, _ := slices.BinarySearchFunc(d.hosts, spec.ID, func(h *host, id ovm.ID) int { return strings.Compare(string(h.spec.ID), string(id)) })
		d.hosts = slices.Insert(d.hosts, i, h)
		h.pool, h.dc = d.groupOf(ovm.ScopePool, spec.PoolID), d.groupOf(ovm.ScopeDatacenter, spec.DatacenterID)
		return nil, nil
	}
	maintenance := h.spec.Maintenance
	h.spec = spec
	h.spec.Maintenance = maintenance
	h.pool, h.dc = d.groupOf(ovm.ScopePool, spec.PoolID), d.groupOf(ovm.ScopeDatacenter, spec.DatacenterID)
	return d.SetMaintenance(spec.ID, spec.Maintenance, now)
}

// Untrack stops watching a host. It reports whether the host was watched.
func (d *Detector) Untrack(id ovm.ID) bool {
	if _, ok := d.byID[id]; !ok {
		return false
	}
	delete(d.byID, id)
	d.hosts = slices.DeleteFunc(d.hosts, func(h *host) bool { return h.spec.ID == id })
	return true
}

// SetMaintenance puts a host into maintenance or takes it out. A host in
// maintenance is neither probed into failure nor evacuated. Leaving
// maintenance, a host that had failed and was not reconciled is failed
// again (it is not fenced a second time) until it answers; any other host
// is up, and its silence is counted from now.
func (d *Detector) SetMaintenance(id ovm.ID, on bool, now time.Time) ([]Event, error) {
	h, ok := d.byID[id]
	if !ok {
		return nil, ovm.NotFound("ha host", id)
	}
	if on == (h.state == StateMaintenance) {
		h.spec.Maintenance = on
		return nil, nil
	}
	h.spec.Maintenance = on
	from := h.state
	h.strikes, h.streak, h.evidence = 0, time.Time{}, now
	switch {
	case on:
		h.state = StateMaintenance
		return []Event{{Host: id, From: from, To: h.state, At: now, Reason: "maintenance started"}}, nil
	case h.unrecon:
		h.state, h.strikes, h.fenceAsked = StateFailed, 2, true
	default:
		h.state = StateUp
	}
	return []Event{{Host: id, From: from, To: h.state, At: now, Reason: "maintenance ended"}}, nil
}

// MarkReconciled lets a returned host take work again, once [Reconcile]
// found nothing left to stop on it. The host must be in [StateReturned]
// (ovm.ErrConflict otherwise).
func (d *Detector) MarkReconciled(id ovm.ID, now time.Time) (Event, error) {
	h, ok := d.byID[id]
	if !ok {
		return Event{}, ovm.NotFound("ha host", id)
	}
	if h.state != StateReturned {
		return Event{}, ovm.Errorf(ovm.KindConflict, "ha host %s is %s, not %s", id, h.state, StateReturned)
	}
	h.state, h.strikes, h.unrecon, h.fenceAsked = StateUp, 0, false, false
	return Event{Host: id, From: StateReturned, To: StateUp, At: now, Reason: "reconciled"}, nil
}

// Status returns what the detector knows of a host.
func (d *Detector) Status(id ovm.ID) (HostStatus, bool) {
	h, ok := d.byID[id]
	if !ok {
		return HostStatus{}, false
	}
	return d.status(h), true
}

// Hosts returns every watched host, in id order.
func (d *Detector) Hosts() []HostStatus {
	out := make([]HostStatus, len(d.hosts))
	for i, h := range d.hosts {
		out[i] = d.status(h)
	}
	return out
}

func (d *Detector) status(h *host) HostStatus {
	return HostStatus{ID: h.spec.ID, PoolID: h.spec.PoolID, DatacenterID: h.spec.DatacenterID,
		Fence: slices.Clone(h.spec.Fence), State: h.state, Strikes: h.strikes, LastProbe: h.lastProbe,
		Held: d.held(h), Unreconciled: h.unrecon}
}

// Spec returns the spec that restores this status in a new detector (a new
// leader's): persist it with the host, and Track it after a handover.
func (s HostStatus) Spec() HostSpec {
	return HostSpec{ID: s.ID, PoolID: s.PoolID, DatacenterID: s.DatacenterID, Maintenance: s.State == StateMaintenance,
		Fence: slices.Clone(s.Fence), State: s.State, Unreconciled: s.Unreconciled}
}

// Observe applies one round of probe results taken up to now and returns
// the state changes, partition alerts and fence requests that follow.
//
// Results are applied in the order given; a result older than one already
// applied for the same host, or MissAfter old or older, is ignored. Then
// every host (not in maintenance) without an accepted result for MissAfter
// counts one failed probe. A round with a bad probe, or a now earlier than
// the previous round's, is refused whole (ovm.ErrInvalid).
//
// A round costs a few passes over the hosts and allocates only for what it
// reports. Probes given in the order of [Detector.Hosts] are matched to
// their hosts without a map lookup.
func (d *Detector) Observe(now time.Time, probes []Probe) (Round, error) {
	if err := d.check(now, probes); err != nil {
		return Round{}, err
	}
	d.last = now
	r := Round{At: now}
	// Evidence taken at or before cutoff is MissAfter old or older.
	cutoff := now.Add(-d.cfg.MissAfter)
	for i := range probes {
		p := &probes[i]
		// Probes given in the order of Hosts() skip the map lookup.
		var h *host
		if i < len(d.hosts) && d.hosts[i].spec.ID == p.Host {
			h = d.hosts[i]
		} else {
			h = d.byID[p.Host]
		}
		d.apply(&r, h, cutoff, *p)
	}
	for _, h := range d.hosts {
		if h.state != StateMaintenance && !h.evidence.After(cutoff) {
			d.strike(&r, h, now, fmt.Sprintf("no probe result for %s", now.Sub(h.evidence)))
			h.evidence = now
		}
	}
	d.guard(&r, now)
	for _, h := range d.hosts {
		if h.state == StateFailed && !h.fenceAsked && !d.held(h) {
			h.fenceAsked = true
			r.Fence = append(r.Fence, FenceRequest{Host: h.spec.ID, Methods: slices.Clone(h.spec.Fence), At: now})
		}
	}
	if len(r.Events) > 1 {
		slices.SortStableFunc(r.Events, func(a, b Event) int {
			return cmp.Or(a.At.Compare(b.At), strings.Compare(string(a.Host), string(b.Host)))
		})
	}
	return r, nil
}

// check validates a round before anything is applied.
func (d *Detector) check(now time.Time, probes []Probe) error {
	var f ovm.Fields
	switch {
	case now.IsZero():
		f.Add("now", "is required")
	case now.Before(d.last):
		f.Addf("now", "must not be before the previous round (%s)", d.last.Format(time.RFC3339Nano))
	}
	for i := range probes {
		p := &probes[i]
		if p.Host.IsZero() {
			f.Add(fmt.Sprintf("probes[%d].host", i), "is required")
		}
		switch {
		case p.At.IsZero():
			f.Add(fmt.Sprintf("probes[%d].at", i), "is required")
		case p.At.After(now):
			f.Add(fmt.Sprintf("probes[%d].at", i), "must not be after now")
		}
	}
	return f.Err("invalid probe round")
}

// apply applies one probe result to h, nil when the host is not tracked.
func (d *Detector) apply(r *Round, h *host, cutoff time.Time, p Probe) {
	switch {
	case h == nil:
		r.Ignored = append(r.Ignored, Ignored{Probe: p, Reason: "host not tracked"})
		return
	case !p.At.After(h.lastProbe):
		r.Ignored = append(r.Ignored, Ignored{Probe: p, Reason: "older than a result already applied"})
		return
	case !p.At.After(cutoff):
		r.Ignored = append(r.Ignored, Ignored{Probe: p, Reason: "too old"})
		return
	}
	h.lastProbe = p.At
	if p.At.After(h.evidence) {
		h.evidence = p.At
	}
	switch {
	case h.state == StateMaintenance:
		// Heard, so that leaving maintenance does not count silence.
	case p.OK:
		d.succeed(r, h, p.At)
	default:
		d.strike(r, h, p.At, "probe failed")
	}
}

// strike counts one failed probe.
func (d *Detector) strike(r *Round, h *host, at time.Time, reason string) {
	h.strikes++
	if h.strikes == 1 {
		h.streak = at
	}
	from := h.state
	switch {
	case h.state == StateUp, h.state == StateReturned:
		h.state = StateSuspect
	case h.state == StateSuspect && h.strikes >= 2:
		h.state, h.unrecon = StateFailed, true
	default:
		return
	}
	r.Events = append(r.Events, Event{Host: h.spec.ID, From: from, To: h.state, At: at, Reason: reason})
}

// succeed counts one answered probe.
func (d *Detector) succeed(r *Round, h *host, at time.Time) {
	h.strikes, h.streak = 0, time.Time{}
	from := h.state
	switch {
	case h.state == StateFailed, h.state == StateSuspect && h.unrecon:
		// Should it fail again before it is reconciled, it is fenced again.
		h.state, h.fenceAsked = StateReturned, false
	case h.state == StateSuspect:
		h.state = StateUp
	default:
		return
	}
	r.Events = append(r.Events, Event{Host: h.spec.ID, From: from, To: h.state, At: at, Reason: "probe succeeded"})
}
