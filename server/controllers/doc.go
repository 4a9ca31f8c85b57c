// Package controllers runs the server's singleton loops: inventory sync
// (every host is listed; unmanaged objects are recorded as discovered,
// managed instances gone from their host are marked lost, power changed
// outside OVM is recorded, objects with an OVM id the store does not know
// are reported as orphans) and the host monitor (every host is probed
// through its driver and fed to an ha.Detector, so that placement skips a
// host that is not up; failed hosts of HA-enabled pools are fenced and
// evacuated; hosts that come back have their stale copies stopped before
// they take work). The loops reach the platform through the [Platform]
// interface (core.System), and run every HA decision themselves: the
// detector, the evacuation planner and the reconciliation of a returned
// host.
//
// Every replica of the server runs the controllers; each loop acts only
// while its replica holds the loop's lease in the store ([Leader]), and
// every write a loop makes re-checks the lease's epoch in its own
// transaction, so a paused old leader cannot write after another replica
// took the lease over.
package controllers
