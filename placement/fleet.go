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
// Assign and Release record instances arriving and leaving. Place calls may
// run concurrently with each other, not with Assign or Release; Clone gives
// each user its own fleet.
type Fleet struct {
	// hosts is in rank order: by name, then id. Their Allocated and Groups
	// are not kept up to date: use is.
	hosts []Host
	// use holds, by rank, what Assign and Release change.
	use  []usage
	byID map[idKey]int32
	// members lists every host (any kind or state) of each datacenter and
	// pool by rank, for rejection lists.
	dcMembers, poolMembers map[ovm.ID][]int32
	idx                    index
}

// usage is what instances take from a host.
type usage struct {
	// allocatable is Overcommit.Apply(Capacity).
	allocatable, allocated ovm.Resources
	// groups counts the members of each anti-affinity group on the host.
	groups []groupCount
}

type groupCount struct {
	id ovm.ID
	n  int
}

// free is what the host can still promise.
func (u *usage) free() ovm.Resources { return u.allocatable.Sub(u.allocated) }

func (u *usage) group(g ovm.ID) int {
	for i, c := range u.groups {
		if c.id == g {
			return i
		}
	}
	return -1
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
		case ovm.HostUp, ovm.HostSuspect, ovm.HostFailed, ovm.HostMaintenance, ovm.HostEnteringMaintenance:
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

	sorted := make([]Host, len(hosts))
	copy(sorted, hosts)
	slices.SortFunc(sorted, func(a, b Host) int { return compareHosts(&a, &b) })
	f := &Fleet{
		hosts:       sorted,
		use:         make([]usage, len(hosts)),
		byID:        make(map[idKey]int32, len(hosts)),
		dcMembers:   map[ovm.ID][]int32{},
		poolMembers: map[ovm.ID][]int32{},
	}
	for i := range f.hosts {
		h := &f.hosts[i]
		u := &f.use[i]
		u.allocatable, u.allocated = h.Overcommit.Apply(h.Capacity), h.Allocated
		for _, g := range h.Groups {
			if g != "" && u.group(g) < 0 {
				u.groups = append(u.groups, groupCount{id: g, n: 1})
			}
		}
		h.Allocated, h.Groups = ovm.Resources{}, nil
		h.Networks, h.SharedStorage = sortedIDs(h.Networks), sortedIDs(h.SharedStorage)
		r := int32(i)
		k, _ := keyOf(h.ID)
		f.byID[k] = r
		f.dcMembers[h.DatacenterID] = append(f.dcMembers[h.DatacenterID], r)
		f.poolMembers[h.PoolID] = append(f.poolMembers[h.PoolID], r)
	}
	f.idx = buildIndex(f.hosts, f.use)
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

// rank returns the rank of the host with id.
func (f *Fleet) rank(id ovm.ID) (int32, bool) {
	k, ok := keyOf(id)
	if !ok {
		return 0, false
	}
	r, ok := f.byID[k]
	return r, ok
}

// Host returns a copy of the host with id as the fleet now sees it: its
// Allocated and Groups include what Assign and Release recorded.
func (f *Fleet) Host(id ovm.ID) (Host, bool) {
	r, ok := f.rank(id)
	if !ok {
		return Host{}, false
	}
	out := f.hosts[r]
	u := &f.use[r]
	out.Allocated = u.allocated
	out.Networks = slices.Clone(out.Networks)
	out.SharedStorage = slices.Clone(out.SharedStorage)
	for _, g := range u.groups {
		out.Groups = append(out.Groups, g.id)
	}
	return out, true
}

// Len returns the number of hosts.
func (f *Fleet) Len() int { return len(f.hosts) }

// Clone returns an independent copy: changes to one do not show in the other.
func (f *Fleet) Clone() *Fleet {
	c := *f // hosts, byID and the member lists never change after NewFleet
	c.use = slices.Clone(f.use)
	for i := range c.use {
		c.use[i].groups = slices.Clone(c.use[i].groups)
	}
	c.idx = f.idx.clone()
	return &c
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
	u := &f.use[r]
	u.allocated = u.allocated.Add(demand)
	if group != "" {
		if i := u.group(group); i >= 0 {
			u.groups[i].n++
		} else {
			u.groups = append(u.groups, groupCount{id: group, n: 1})
		}
	}
	f.idx.update(r, u)
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
	u := &f.use[r]
	left := u.allocated.Sub(demand)
	if left.Negative() {
		return ovm.Errorf(ovm.KindConflict, "release %s from host %s: only %s allocated", demand, f.hosts[r].Name, u.allocated)
	}
	gi := -1
	if group != "" {
		if gi = u.group(group); gi < 0 {
			return ovm.Errorf(ovm.KindConflict, "release from host %s: group %s has no member there", f.hosts[r].Name, group)
		}
	}
	u.allocated = left
	if gi >= 0 {
		if u.groups[gi].n--; u.groups[gi].n == 0 {
			u.groups = slices.Delete(u.groups, gi, gi+1)
		}
	}
	f.idx.update(r, u)
	return nil
}

func (f *Fleet) lookup(hostID ovm.ID, demand ovm.Resources) (int32, error) {
	if demand.Negative() {
		return 0, ovm.Invalid("invalid demand", ovm.FieldError{Field: "demand", Reason: "must not be negative", Value: demand})
	}
	r, ok := f.rank(hostID)
	if !ok {
		return 0, ovm.NotFound("host", hostID)
	}
	return r, nil
}

// idKey is a canonical ID's 36 bytes: a map key that hashes and compares
// in place, without following a pointer to the string.
type idKey [36]byte

func keyOf(id ovm.ID) (idKey, bool) {
	var k idKey
	if len(id) != len(k) {
		return k, false
	}
	copy(k[:], id)
	return k, true
}
