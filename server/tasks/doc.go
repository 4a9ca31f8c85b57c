// Package tasks is the reference server's persisted task engine: every
// change on a hypervisor is a task recorded in the store, run in steps by
// workers in any server replica, and resumed or rolled back after a crash
// (DESIGN invariant 4).
//
// # Kinds, steps and compensations
//
// A task kind is a Handler registered under a name ("instance.create").
// Its Steps are built from the task's record: each Step has a Do and an
// optional Undo (its compensation). Both must be idempotent (create by OVM
// id, a delete of a missing object is success): a task interrupted by a
// crash runs its interrupted step again. What a step learns (native ids and
// the like) it keeps with Run.SetState; the value is saved together with the
// step's completion, so a resumed task knows it.
//
// # Life of a task
//
// Enqueue records a pending task inside the caller's transaction, the one
// that records the change the task serves; Kick wakes the workers once it
// committed. Run claims tasks under a lease (store.Tx.ClaimTask), saving
// each one running in the claim's transaction, and runs its steps in
// order. After every step the task's steps, progress,
// state and log are saved with a version-checked store.Tx.UpdateTask; a
// worker whose update meets store.ErrVersionMismatch has lost the task to
// another one and stops touching it. While the task runs its lease is
// renewed every LeaseTTL/3.
//
// When a step fails, the task turns rolling-back and the compensations of
// the steps already done run in reverse order; it ends rolled-back, or
// failed when a compensation fails too (the rollback stops there, so that
// no earlier step is undone under a later one that could not be). The
// failing step's error text, which keeps the hypervisor's own message, is
// in the task's Error and its log. A panic inside a step is a failure of
// that step with the panic's message; the stack goes to the engine's
// logger only.
//
// A worker that dies leaves its lease to expire; then any engine, in the
// same replica or another, claims the task and resumes at the first step
// not done, or continues its rollback. Cancelling Run's context is treated
// the same way: steps are interrupted, nothing more is written, and the
// leases expire. A task whose kind no handler serves on the claiming
// replica fails at once with an error saying so.
//
// Parallelism is bounded overall (Options.Workers) and per host
// (Options.PerHost, through ClaimTask's busy hosts).
//
// # Watching
//
// Wait and Watch follow a task until it is final. Changes made by this
// engine are pushed to them at once; changes made by other replicas are
// found by polling the store every PollInterval. A watch lasts until the
// task is final or its context ends: bound it.
package tasks
