// Package core is the reference server's service layer: the platform's
// operations (datacenters, pools, hosts, VDCs, users, tokens, networks,
// volumes, instances, vApps, tasks and discovered objects) over the store,
// with validation, tenancy, transactional quotas, IPAM and placement, and the
// task kinds that carry every change to the hypervisors.
//
// # Tenancy
//
// Every method of Service takes the auth.Principal the request acts as (but
// Login and Authenticate, which make one from a credential) and enforces
// tenancy itself: a tenant asking for another VDC's object, or for a host,
// pool or datacenter, gets ovm.ErrNotFound (the same error as for an id that
// does not exist, so ids never leak). Operations reserved to platform
// administrators that name no object (listing hosts, creating a VDC) are
// ErrForbidden. Tenants never see physical placement: Status.HostID and
// Status.NativeID are cleared in everything they get. What the server does
// on its own behalf (the first administrator, and the controllers' host
// state, sync, evacuation, reconciliation and alerts) is System's, a
// separate type over the same store, tasks and drivers (NewSystem).
//
// # Transactions and tasks
//
// A request runs in one serializable store transaction: it validates,
// reserves quota (store.Tx.Reserve, DESIGN invariant 5), allocates addresses,
// places, records the objects and enqueues the tasks that will act on the
// hypervisors (invariant 4). Nothing is half made: the transaction is all or
// nothing, and task compensations undo hypervisor work when a later step
// fails. Creates carry an optional idempotency key: a retry with the same key
// returns the first result and makes nothing twice.
//
// Exec and Console are not tasks: they read an instance's output or run a
// command in it while the caller waits, change nothing the service records,
// and are bounded in time and size; they call the driver's Executor and
// Consoler facets directly (ovm.ErrUnsupported where a host kind has none).
package core
