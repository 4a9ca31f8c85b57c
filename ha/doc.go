// Package ha is OVM's high-availability logic, pure: a two-strike failure
// detector fed with probe results and the time, an evacuation planner that
// re-places the HA instances of a failed host through package placement,
// the fencing rules that keep an instance from ever running on two hosts,
// and the reconciliation of a host that comes back. It does no I/O and
// starts no goroutines; the server wires it to real probes and drivers.
package ha
