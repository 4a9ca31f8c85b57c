package placement

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/openovm/ovm/ovm"
)

// Fleet is a snapshot of candidate hosts that placement chooses from, kept
// indexed so that a decision does not scan every host. Place reads it;
// Assign and Release record instances arriving and leaving. A Fleet is not
// safe for concurrent use; Clone gives each user its own.
type Fleet struct {
	// hosts is in rank order: by name, then id.
	hosts []host
	byID  map[ovm.ID]int32
	// members lists every host (any kind or state) of each datacenter and
	// pool by rank, for scope scans and rejection lists.
	dcMembers, poolMembers map[ovm.ID][]int32
	idx                    index
}

// NewFleet returns a fleet of copies of hosts. Every host needs a valid,
// unique id, a known kind and state, non-negative capacity and allocation,
// and valid overcommit ratios; otherwise the error is ovm.ErrInvalid naming
// each bad field.
func NewFleet(hosts []Host) (*Fleet, error) {
	var fs ovm.Fields
	seen := make(map[ovm.ID]int, len(hosts))
	for i, h := range hosts {
		p := fmt.Sprintf("hosts[%d]", i)
		switch j, dup := seen[h.ID]; {
		case !h.ID.Valid():
			fs.Add(p+".id", "must be a lower-case UUID")
		case dup:
			fs.Addf(p+".id", "duplicates hosts[%d].id", j)
		default:
			seen[h.ID] = i
		}
		if !h.Kind.Valid() {
			fs.Addf(p+".kind", "unknown host kind %q", h.Kind)
		}
		switch h.State {
		case ovm.HostUp, ovm.HostSuspect, ovm.HostFailed, ovm.HostMaintenance:
		default:
			fs.Addf(p+".state", "unknown host state %q", h.State)
		}
		if h.Capacity.Negative() {
			fs.Add(p+".capacity", "must not be negative")
		}
		if h.Allocated.Negative() {
			fs.Add(p+".allocated", "must not be negative")
		}
		fs.Merge(p+".overcommit", h.Overcommit.Validate())
	}
	if err := fs.Err("invalid placement hosts"); err != nil {
		return nil, err
	}

	f := &Fleet{
		hosts:       make([]host, len(hosts)),
		byID:        make(map[ovm.ID]int32, len(hosts)),
		dcMembers:   map[ovm.ID][]int32{},
		poolMembers: map[ovm.ID][]int32{},
	}
	for i, h := range hosts {
		h.Networks = sortedIDs(h.Networks)
		h.SharedStorage = sortedIDs(h.SharedStorage)
		var groups []groupCount
		for _, g := range h.Groups {
			if g != "" && !slices.ContainsFunc(groups, func(c groupCount) bool { return c.id == g }) {
				groups = append(groups, groupCount{id: g, n: 1})
			}
		}
		h.Groups = nil
		f.hosts[i] = host{Host: h, allocatable: h.Overcommit.Apply(h.Capacity), groups: groups}
	}
	slices.SortFunc(f.hosts, func(a, b host) int { return compareHosts(&a.Host, &b.Host) })
	for i := range f.hosts {
		h := &f.hosts[i]
		r := int32(i)
		f.byID[h.ID] = r
		f.dcMembers[h.DatacenterID] = append(f.dcMembers[h.DatacenterID], r)
		f.poolMembers[h.PoolID] = append(f.poolMembers[h.PoolID], r)
	}
	f.idx = buildIndex(f.hosts)
	return f, nil
}

// compareHosts orders hosts by name, then id: the fleet's stable order.
func compareHosts(a, b *Host) int {
	return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(string(a.ID), string(b.ID)))
}

func sortedIDs(ids []ovm.ID) []ovm.ID {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

// Host returns a copy of the host with id as the fleet now sees it: its
// Allocated and Groups include what Assign and Release recorded.
func (f *Fleet) Host(id ovm.ID) (Host, bool) {
	r, ok := f.byID[id]
	if !ok {
		return Host{}, false
	}
	h := f.hosts[r]
	out := h.Host
	out.Networks = slices.Clone(h.Networks)
	out.SharedStorage = slices.Clone(h.SharedStorage)
	for _, g := range h.groups {
		out.Groups = append(out.Groups, g.id)
	}
	return out, true
}

// Len returns the number of hosts.
func (f *Fleet) Len() int { return len(f.hosts) }

// Clone returns an independent copy: changes to one do not show in the other.
func (f *Fleet) Clone() *Fleet {
	c := &Fleet{
		hosts:       slices.Clone(f.hosts),
		byID:        f.byID,        // never changes after NewFleet
		dcMembers:   f.dcMembers,   // never changes after NewFleet
		poolMembers: f.poolMembers, // never changes after NewFleet
		idx:         f.idx.clone(),
	}
	for i := range c.hosts {
		// Networks and SharedStorage never change; groups do.
		c.hosts[i].groups = slices.Clone(c.hosts[i].groups)
	}
	return c
}

// Assign records that an instance with demand (and anti-affinity group, ""
// for none) now runs on the host. It records what is, so it does not check
// capacity: Place does that. Unknown host: ovm.ErrNotFound; negative demand:
// ovm.ErrInvalid.
func (f *Fleet) Assign(hostID ovm.ID, demand ovm.Resources, group ovm.ID) error {
	r, err := f.lookup(hostID, demand)
	if err != nil {
		return err
	}
	h := &f.hosts[r]
	h.Allocated = h.Allocated.Add(demand)
	if group != "" {
		if i := slices.IndexFunc(h.groups, func(c groupCount) bool { return c.id == group }); i >= 0 {
			h.groups[i].n++
		} else {
			h.groups = append(h.groups, groupCount{id: group, n: 1})
		}
	}
	f.idx.update(r, h)
	return nil
}

// Release undoes Assign: the instance with demand (and group) no longer runs
// on the host. Releasing more than the host has allocated, or a group with no
// member there, is ovm.ErrConflict and changes nothing.
func (f *Fleet) Release(hostID ovm.ID, demand ovm.Resources, group ovm.ID) error {
	r, err := f.lookup(hostID, demand)
	if err != nil {
		return err
	}
	h := &f.hosts[r]
	left := h.Allocated.Sub(demand)
	if left.Negative() {
		return ovm.Errorf(ovm.KindConflict, "release %s from host %s: only %s allocated", demand, h.Name, h.Allocated)
	}
	gi := -1
	if group != "" {
		gi = slices.IndexFunc(h.groups, func(c groupCount) bool { return c.id == group })
		if gi < 0 {
			return ovm.Errorf(ovm.KindConflict, "release from host %s: group %s has no member there", h.Name, group)
		}
	}
	h.Allocated = left
	if gi >= 0 {
		if h.groups[gi].n--; h.groups[gi].n == 0 {
			h.groups = slices.Delete(h.groups, gi, gi+1)
		}
	}
	f.idx.update(r, h)
	return nil
}

func (f *Fleet) lookup(hostID ovm.ID, demand ovm.Resources) (int32, error) {
	if demand.Negative() {
		return 0, ovm.Invalid("invalid demand", ovm.FieldError{Field: "demand", Reason: "must not be negative", Value: demand})
	}
	r, ok := f.byID[hostID]
	if !ok {
		return 0, ovm.NotFound("host", hostID)
	}
	return r, nil
}
