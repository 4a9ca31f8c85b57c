package ha

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
)

// The partition guard. Every round the detector counts, per pool and per
// datacenter, the probed hosts (tracked, not in maintenance), the hosts
// down (suspect or failed) and the hosts lost within the window (down, with
// a failure streak that started less than PartitionWindow ago). Suspect
// hosts count: a cut in the monitor's network that falls in the middle of
// a round makes some hosts suspect one round later than others, and those
// that failed first must not be fenced in the meantime.
//
// A group of at least PartitionMinHosts probed hosts is partitioned when
// lost > PartitionFraction × probed. While it is, none of its hosts is handed
// out for fencing. It is cleared when down <= PartitionFraction × probed
// again, or by [Detector.ReleasePartition]; failed hosts of the group are
// handed out for fencing from then on.

type groupKey struct {
	scope ovm.ScopeKind
	id    ovm.ID
}

type group struct {
	key                groupKey
	probed, down, lost int
	partitioned        bool
	released           bool // an administrator released the partition; do not raise it again until it clears
	raisedAt           time.Time
}

// groupOf returns the index of the group, made on first use; -1 for no id.
func (d *Detector) groupOf(scope ovm.ScopeKind, id ovm.ID) int {
	if id.IsZero() {
		return -1
	}
	k := groupKey{scope, id}
	if i, ok := d.index[k]; ok {
		return i
	}
	d.groups = append(d.groups, group{key: k})
	d.index[k] = len(d.groups) - 1
	return len(d.groups) - 1
}

// held reports whether a partition holds the host's fencing back.
func (d *Detector) held(h *host) bool {
	return h.pool >= 0 && d.groups[h.pool].partitioned || h.dc >= 0 && d.groups[h.dc].partitioned
}

// guard counts the groups and raises or clears partitions.
func (d *Detector) guard(r *Round, now time.Time) {
	for i := range d.groups {
		g := &d.groups[i]
		g.probed, g.down, g.lost = 0, 0, 0
	}
	since := now.Add(-d.cfg.PartitionWindow)
	for _, h := range d.hosts {
		if h.state == StateMaintenance {
			continue
		}
		down := h.state == StateSuspect || h.state == StateFailed
		lost := down && h.streak.After(since)
		for _, gi := range [2]int{h.pool, h.dc} {
			if gi < 0 {
				continue
			}
			g := &d.groups[gi]
			g.probed++
			if down {
				g.down++
			}
			if lost {
				g.lost++
			}
		}
	}
	first := len(r.Alerts)
	for i := range d.groups {
		g := &d.groups[i]
		limit := d.cfg.PartitionFraction * float64(g.probed)
		switch {
		case float64(g.down) <= limit && (g.partitioned || g.released):
			wasPartitioned := g.partitioned
			g.partitioned, g.released = false, false
			if wasPartitioned {
				r.Alerts = append(r.Alerts, d.alert(g, AlertPartitionCleared, now,
					fmt.Sprintf("%s %s: %d of %d hosts down again; failed hosts are fenced from now on",
						g.key.scope, g.key.id, g.down, g.probed)))
			}
		case !g.partitioned && !g.released && g.probed >= d.cfg.PartitionMinHosts && float64(g.lost) > limit:
			g.partitioned, g.raisedAt = true, now
			r.Alerts = append(r.Alerts, d.alert(g, AlertPartition, now,
				fmt.Sprintf("%s %s: lost %d of %d hosts within %s; the monitor's own network is the likely failure, nothing is fenced or restarted",
					g.key.scope, g.key.id, g.lost, g.probed, d.cfg.PartitionWindow)))
		}
	}
	if len(r.Alerts)-first > 1 {
		slices.SortFunc(r.Alerts[first:], func(a, b Alert) int {
			return compareGroup(a.Scope, a.Group, b.Scope, b.Group)
		})
	}
}

// alert builds a partition alert listing the group's down hosts.
func (d *Detector) alert(g *group, kind AlertKind, now time.Time, msg string) Alert {
	a := Alert{Kind: kind, At: now, Scope: g.key.scope, Group: g.key.id, Message: msg}
	gi := d.index[g.key]
	for _, h := range d.hosts {
		if (h.pool == gi || h.dc == gi) && (h.state == StateSuspect || h.state == StateFailed) {
			a.Hosts = append(a.Hosts, h.spec.ID)
		}
	}
	return a
}

// Partition describes a pool or datacenter the guard holds back.
type Partition struct {
	Scope ovm.ScopeKind
	Group ovm.ID
	// Probed, Down and Lost are the counts of the last round.
	Probed, Down, Lost int
	Since              time.Time
}

// Partitions returns the groups under a partition alert, pools first, then
// datacenters, each in id order.
func (d *Detector) Partitions() []Partition {
	var out []Partition
	for _, g := range d.groups {
		if g.partitioned {
			out = append(out, Partition{Scope: g.key.scope, Group: g.key.id, Probed: g.probed, Down: g.down, Lost: g.lost, Since: g.raisedAt})
		}
	}
	slices.SortFunc(out, func(a, b Partition) int {
		return compareGroup(a.Scope, a.Group, b.Scope, b.Group)
	})
	return out
}

// ReleasePartition lifts a partition alert by hand: an administrator who
// knows the hosts really are down (a rack lost its power) lets them be
// fenced and evacuated. Their fence requests come with the next Observe;
// fencing still has to confirm each host is down before anything restarts.
// The guard does not raise the group again until most of its hosts are back.
func (d *Detector) ReleasePartition(scope ovm.ScopeKind, id ovm.ID) error {
	i, ok := d.index[groupKey{scope, id}]
	if !ok || !d.groups[i].partitioned {
		return ovm.Errorf(ovm.KindNotFound, "no partition alert for %s %s", scope, id)
	}
	d.groups[i].partitioned, d.groups[i].released = false, true
	return nil
}

// compareGroup orders pools before datacenters, then by id.
func compareGroup(as ovm.ScopeKind, a ovm.ID, bs ovm.ScopeKind, b ovm.ID) int {
	return cmp.Or(cmp.Compare(scopeRank(as), scopeRank(bs)), strings.Compare(string(a), string(b)))
}

func scopeRank(s ovm.ScopeKind) int {
	if s == ovm.ScopePool {
		return 0
	}
	return 1
}
