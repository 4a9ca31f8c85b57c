// Package storetest is the conformance suite every store.Store engine
// passes: Run covers every Tx method (records, quotas, IP allocations,
// tokens, tasks, leases, idempotency keys, the database clock) and the
// transaction contract, including a race of 200 reservations against a
// quota with room for 50, and the contract of read-only views (Store.View:
// committed data, one snapshot, every write refused with
// store.ErrReadOnly, no wait for a writer); RunRetry proves that Tx (and
// View) runs a transaction again from BEGIN after a serialization failure, with failures injected into
// every attempt the engine makes and, on engines whose transactions run
// concurrently, provoked for real by write skew.
//
// An engine's tests call both with a constructor that returns a fresh,
// empty store for each test.
package storetest
