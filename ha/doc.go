// Package ha is OVM's high-availability logic, pure: a two-strike failure
// detector fed with probe results and the time, an evacuation planner that
// re-places the HA instances of a failed host through package placement,
// the fencing rules that keep an instance from ever running on two hosts,
// and the reconciliation of a host that comes back. It does no I/O and
// starts no goroutines; the server wires it to real probes and drivers.
//
// # The host-monitor loop
//
// The server's monitor (one replica at a time, under a lease) tracks every
// host in a [Detector] (so that a host that does not answer is failed for
// placement in every pool) and, every [Config.Interval]:
//
//  1. probes the hosts through their drivers (hypervisor.Driver.Ping) and
//     passes the results, with the time, to [Detector.Observe];
//  2. records the [Event]s of the [Round] (host state changes) and raises
//     its [Alert]s;
//  3. for each [FenceRequest] of the round about a host of an HA-enabled
//     pool (the others are only marked failed), tries the host's fencing methods
//     in order and turns the outcome into a [FenceResult];
//  4. calls [PlanEvacuation] with that result, the pool's hosts and the
//     instances recorded on the failed host, and runs the [Plan]: restart
//     tasks for Restarts, phase "lost" for Lost, "unknown" for Unknown;
//  5. for each host in [StateReturned], lists its instances and calls
//     [Reconcile]; it runs the Stops, lists again, and once a reconciliation
//     says MayMarkUp it calls [Detector.MarkReconciled] and the host takes
//     work again.
//
// # Safety
//
// Two failed probes only detect a failure. An instance is restarted on
// another host only when a fence confirmed that the failed host is down
// (powered off through its out-of-band controller, or its disk locks taken
// on shared storage); without one its instances become unknown and an alert
// is raised. When more than a fraction of the hosts of a pool or datacenter
// are lost within one window, the monitor's own network is the likely
// failure: the [Detector] holds their fence requests back and raises a
// partition alert until most of those hosts answer again. A host that
// comes back has its stale copies stopped before it takes work again.
// Time is always passed in; nothing in the package reads the clock.
package ha
