// Package store is the reference server's persistence: one contract (Store
// and Tx) with two engines behind it, CockroachDB/PostgreSQL through pgx and
// an embedded pure-Go SQLite for a single server without a database.
//
// Every write runs in a serializable transaction through Store.Tx, which
// rolls back and runs the whole function again from BEGIN when the database
// reports a serialization failure (SQLSTATE 40001). A transaction function is
// database work only: no hypervisor or HTTP calls; it records a task and a
// worker acts on it.
//
// Domain objects (datacenters, pools, hosts, VDCs, instances, volumes,
// networks, vApps, storage pools, discovered objects, users) are stored as
// versioned JSON records with the columns needed to find them; the parts that
// need the database's guarantees have their own tables: quota usage (guarded
// updates), IP allocations (unique per network), tasks (claimed under a
// lease), leases for singleton loops (with an epoch), idempotency keys and
// API tokens (hashes only).
//
// The conformance suite every engine passes is in package storetest.
package store
