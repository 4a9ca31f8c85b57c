package placement

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/openovm/ovm/ovm"
)

// failure names the first filter a host fails; 0 means it passes. The
// filters run in this order, so a host's reason is always the first one.
type failure uint8

const (
	pass         failure = iota
	failExcluded         // listed in Request.Exclude
	failKind             // its kind cannot run the image
	failState            // not up
	failReadOnly         // refuses changes
	failCapacity         // demand does not fit what is free
	failNetwork          // a required network is not reachable
	failStorage          // a required shared storage pool is not reachable
	failGroup            // already runs a member of the request's group
)

// eligible reports whether the host takes work at all: up and writable.
func eligible(h *Host) bool { return h.State == ovm.HostUp && !h.ReadOnly }

// score is how free the host is, the key of PERFORMANCE: the free share of
// its scarcest resource, min over CPU, memory and disk of
// (allocatable - allocated) / allocatable, where allocatable is the
// overcommitted capacity. A resource with no allocatable capacity is left
// out; a host with none at all scores 0. An empty host scores 1, a host whose
// busiest resource is 75% allocated scores 0.25, an over-allocated host
// scores below 0. The score does not depend on the request, which is what
// lets the fleet keep hosts ordered by it.
func score(allocatable, allocated ovm.Resources) float64 {
	s, any := math.Inf(1), false
	for _, r := range [3][2]int64{
		{int64(allocatable.CPU), int64(allocated.CPU)},
		{int64(allocatable.Memory), int64(allocated.Memory)},
		{int64(allocatable.Disk), int64(allocated.Disk)},
	} {
		if r[0] <= 0 {
			continue
		}
		any = true
		s = min(s, float64(r[0]-r[1])/float64(r[0]))
	}
	if !any {
		return 0
	}
	return s
}

// check runs every filter on h (with usage u) in order and returns the
// first failure.
func check(h *Host, u *usage, req *Request) failure {
	switch {
	case containsID(req.Exclude, h.ID):
		return failExcluded
	case len(req.Kinds) > 0 && !slices.Contains(req.Kinds, h.Kind):
		return failKind
	case h.State != ovm.HostUp:
		return failState
	case h.ReadOnly:
		return failReadOnly
	}
	switch {
	case !req.Demand.Fits(u.free()):
		return failCapacity
	case !containsAll(h.Networks, req.Networks):
		return failNetwork
	case !containsAll(h.SharedStorage, req.SharedStorage):
		return failStorage
	case req.Group != "" && u.group(req.Group) >= 0:
		return failGroup
	}
	return pass
}

// reason spells out failure f of host h (with usage u) for req.
func reason(f failure, h *Host, u *usage, req *Request) string {
	switch f {
	case failExcluded:
		return "excluded"
	case failKind:
		ks := make([]string, len(req.Kinds))
		for i, k := range req.Kinds {
			ks[i] = string(k)
		}
		return fmt.Sprintf("kind %s, image needs %s", h.Kind, strings.Join(ks, " or "))
	case failState:
		return fmt.Sprintf("state %s", h.State)
	case failReadOnly:
		return "read-only"
	case failCapacity:
		return req.Demand.Short(u.free())
	case failNetwork:
		return fmt.Sprintf("network %s not reachable", firstMissing(h.Networks, req.Networks))
	case failStorage:
		return fmt.Sprintf("storage %s not reachable", firstMissing(h.SharedStorage, req.SharedStorage))
	case failGroup:
		return fmt.Sprintf("anti-affinity: group %s already has a member here", req.Group)
	}
	return ""
}

// containsID reports whether ids holds id.
func containsID(ids []ovm.ID, id ovm.ID) bool { return slices.Contains(ids, id) }

// containsAll reports whether have (sorted) holds every id of want.
func containsAll(have, want []ovm.ID) bool {
	return firstMissing(have, want) == ""
}

// firstMissing returns the first id of want that have (sorted) lacks, or "".
func firstMissing(have, want []ovm.ID) ovm.ID {
	for _, w := range want {
		if _, ok := slices.BinarySearch(have, w); !ok {
			return w
		}
	}
	return ""
}
