// Package fake is an in-memory hypervisor driver that keeps real state: the
// instances of one simulated host, their power states, sizes, snapshots and
// consoles. It implements hypervisor.Driver and every optional facet
// (Snapshotter, Migrator between two fakes, Consoler, Executor, Registrar, Marker),
// passes the whole conformance suite of package hypervisortest with no
// exception, and is safe for concurrent use.
//
// Tests of the layers above (placement, HA, the task engine, the server)
// run against it. Fault knobs make it misbehave on demand, from any
// goroutine:
//
//   - SetUnreachable makes every call fail with ovm.ErrUnavailable, like a
//     dead host (Ping too);
//   - FailNext makes the next call of one method return a given error;
//   - SetLatency makes every call take a while, bounded by its context;
//   - AddUnmanaged seeds instances made out of band (no OVM id);
//   - Calls counts the calls of each method;
//   - Templates lists the templates delivered (TemplateDelivery) with
//     their digests; the host keeps no bytes, and Create does not look
//     for templates.
//
// The host's capacity is enforced: an instance that does not fit in what is
// left of the host's CPU, memory or disk is refused with ovm.ErrConflict.
// Statistics are derived from an instance's size and uptime, read from an
// injectable clock (Options.Now), so that they are reproducible.
package fake
