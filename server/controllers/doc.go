// Package controllers runs the server's singleton loops: inventory sync
// (every host is listed; unmanaged objects are recorded as discovered,
// managed instances gone from their host are marked lost, objects with an
// OVM id the store does not know are reported as orphans) and the host
// monitor (hosts of HA-enabled pools are probed through their drivers and
// fed to an ha.Detector; failed hosts are fenced and evacuated; hosts that
// come back have their stale copies stopped before they take work).
//
// Every replica of the server runs the controllers; each loop acts only
// while its replica holds the loop's lease in the store ([Leader]), and
// every write a loop makes re-checks the lease's epoch in its own
// transaction, so a paused old leader cannot write after another replica
// took the lease over.
package controllers
