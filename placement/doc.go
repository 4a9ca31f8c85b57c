// Package placement chooses a host for an instance, purely: from a snapshot
// of candidate hosts, the instance's demands, a policy and a scope, it
// returns a host or an error that gives every rejected host's reason.
//
// A Fleet holds the snapshot. Place reads it; Assign and Release record
// instances arriving on and leaving hosts; PlaceBatch places a vApp's members
// one after another, each seeing the earlier ones. Nothing here does I/O,
// reads a clock or starts a goroutine, and the same fleet and request always
// give the same answer.
//
// # Filters
//
// A host takes a request only if it passes every filter. They run in this
// order, and a rejected host's reason is the first one it fails:
//
//   - excluded: the request lists it in Exclude ("excluded");
//   - kind: its kind is not one of the request's Kinds ("kind esxi, image
//     needs kvm or docker"); no Kinds means any;
//   - state: it is not up ("state maintenance", "state suspect", ...);
//   - read-only: it refuses changes ("read-only");
//   - capacity: the demand does not fit what is free, the host's Capacity
//     scaled by its Overcommit ratios minus Allocated; the reason names the
//     short resource as ovm.Resources.Short does ("memory: need 4GiB,
//     1GiB free");
//   - networks and shared storage: one it must reach is missing ("network
//     <id> not reachable", "storage <id> not reachable");
//   - anti-affinity: it already runs a member of the request's Group
//     ("anti-affinity: group <id> already has a member here").
//
// For a hosts scope, a listed id the fleet does not know is rejected as
// "unknown host".
//
// # Policies
//
// PERFORMANCE takes the qualifying host with the highest score, where a
// host's score is the free share of its scarcest resource:
//
//	score = min over CPU, memory, disk of (allocatable - allocated) / allocatable
//
// with allocatable = Overcommit.Apply(Capacity), leaving out a resource the
// host has none of. An empty host scores 1; one whose busiest resource is 75%
// allocated scores 0.25. This is "the lowest maximum utilisation": the host
// that is furthest from running out of anything. Hosts with the same score
// are taken round-robin: the first one after the Cursor in (name, id) order,
// wrapping around, and the returned Cursor names the host chosen. So N
// identical instances placed on N identical hosts land one per host, whether
// or not they are Assigned between calls.
//
// PROGRESSIVE takes the first qualifying host in (name, id) order: it keeps
// filling one host until the next instance no longer fits, then moves on.
//
// # Scopes
//
// ovm.ScopeDatacenter takes every host of the datacenter, ovm.ScopePool every
// host of the pool, ovm.ScopeHosts the hosts listed.
//
// # Speed
//
// The fleet keeps every eligible host (up, writable) in a tree per
// (datacenter, pool, kind), ordered by name and id, whose every node holds
// the best score and the most free CPU, memory and disk below it. Place
// picks the trees of its scope that accept the request's kind and reach its
// networks and storage, then walks only the subtrees that can hold an
// answer: a decision costs O(log n) as long as the best candidates pass the
// remaining filters (anti-affinity, exclusion, and the exact reach of hosts
// that lack a network or storage pool most of their pool has). Assign and
// Release update one path. Only a failed placement visits every host in
// scope, to say why each was rejected. Place calls may run concurrently;
// Assign and Release need the fleet to themselves.
package placement
