package ha

import (
	"time"

	"github.com/openovm/ovm/ovm"
)

// AlertKind says what an [Alert] is about.
type AlertKind = ovm.AlertKind

// The alert kinds.
const (
	// AlertPartition: more than the configured fraction of a pool's or a
	// datacenter's hosts were lost within one window. The monitor's own
	// network is the likely failure; none of them is fenced or evacuated
	// while the partition lasts.
	AlertPartition AlertKind = "partition"
	// AlertPartitionCleared: most hosts of a partitioned group answer
	// again. Hosts of the group that are still failed are fenced now.
	AlertPartitionCleared AlertKind = "partition-cleared"
	// AlertFenceUnconfirmed: no fence confirmed that a failed host is down;
	// its instances are unknown and none is restarted.
	AlertFenceUnconfirmed AlertKind = "fence-unconfirmed"
	// AlertInstancesLost: instances of a failed host are on its local
	// storage and cannot be restarted elsewhere.
	AlertInstancesLost AlertKind = "instances-lost"
	// AlertNotRestarted: HA instances of a failed host found no room in the
	// pool (or no host that can run them).
	AlertNotRestarted AlertKind = "not-restarted"
	// AlertStaleCopies: a host that came back still runs instances that
	// were restarted elsewhere; they are stopped before it takes work.
	AlertStaleCopies AlertKind = "stale-copies"
)

// Alert is something an administrator must hear about.
type Alert struct {
	Kind AlertKind
	At   time.Time
	// Host is the host concerned, when there is one.
	Host ovm.ID
	// Scope and Group name the pool or datacenter of a partition alert.
	Scope ovm.ScopeKind
	Group ovm.ID
	// Hosts lists the hosts lost in a partition, in id order.
	Hosts []ovm.ID
	// Instances lists the instances concerned, in the plan's order.
	Instances []ovm.ID
	// Message says it in a sentence.
	Message string
}

// String returns the alert's kind and message.
func (a Alert) String() string { return string(a.Kind) + ": " + a.Message }
