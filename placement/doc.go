// Package placement chooses a host for an instance, purely: from a snapshot
// of candidate hosts, the instance's demands, a policy and a scope, it
// returns a host or an error that gives every rejected host's reason.
package placement
