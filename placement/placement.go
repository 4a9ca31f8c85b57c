package placement

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/openovm/ovm/ovm"
)

// Host is a candidate host as placement sees it.
type Host struct {
	ID, DatacenterID, PoolID ovm.ID
	// Name orders hosts (by name, then id) for PROGRESSIVE and round-robin.
	Name string
	Kind ovm.HostKind
	// State must be up for the host to take work.
	State ovm.HostState
	// ReadOnly hosts refuse changes and never take work.
	ReadOnly bool
	// Capacity is the host's physical capacity.
	Capacity ovm.Resources
	// Allocated is what its instances already take.
	Allocated ovm.Resources
	// Overcommit holds its pool's ratios.
	Overcommit ovm.Overcommit
	// Networks lists the networks it reaches.
	Networks []ovm.ID
	// SharedStorage lists the shared storage pools it reaches.
	SharedStorage []ovm.ID
	// Groups lists the anti-affinity groups (vApp ids) with a member on it.
	Groups []ovm.ID
}

// Request is one instance to place.
type Request struct {
	// Name identifies the instance in messages.
	Name string
	// Demand is what the instance takes from its host.
	Demand ovm.Resources
	// Kinds lists the host kinds that can run its image; empty means any.
	Kinds []ovm.HostKind
	// Networks must every one be reachable from the host.
	Networks []ovm.ID
	// SharedStorage must every one be reachable from the host.
	SharedStorage []ovm.ID
	// Group is the instance's anti-affinity group; "" means none. A host
	// that already has a member of the group is rejected.
	Group ovm.ID
	// Exclude lists hosts never to choose (for HA: the failed host).
	Exclude []ovm.ID
}

// Cursor is the round-robin position that PERFORMANCE uses to break ties: it
// remembers the last host chosen, and the next tie goes to the first tied
// host after it in (name, id) order, wrapping around. The zero value starts
// at the beginning. A Cursor is a plain value: pass the one returned in a
// Decision to the next Place.
type Cursor struct {
	name string
	id   ovm.ID
}

// MarshalText renders the cursor as "<host id>/<host name>" ("" at the
// start), so that a server can keep it in its store.
func (c Cursor) MarshalText() ([]byte, error) {
	if c == (Cursor{}) {
		return []byte{}, nil
	}
	return []byte(string(c.id) + "/" + c.name), nil
}

// UnmarshalText reads what MarshalText wrote; anything else is
// ovm.ErrInvalid.
func (c *Cursor) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*c = Cursor{}
		return nil
	}
	id, name, ok := strings.Cut(string(text), "/")
	if !ok || !ovm.ID(id).Valid() {
		return ovm.Invalid("invalid placement cursor", ovm.FieldError{Field: "cursor", Reason: "must be <host id>/<host name>", Value: string(text)})
	}
	*c = Cursor{name: name, id: ovm.ID(id)}
	return nil
}

// Decision is where Place puts an instance.
type Decision struct {
	// HostID is the chosen host.
	HostID ovm.ID
	// Cursor is the round-robin position to pass to the next Place.
	Cursor Cursor
}

// Result is one request's outcome in PlaceBatch: a Decision, or Err.
type Result struct {
	Decision
	Err error
}

// Rejection says why one host cannot take a request.
type Rejection struct {
	HostID   ovm.ID
	HostName string
	// Reason is the first filter the host failed, such as
	// "state maintenance" or "memory: need 4GiB, 1GiB free".
	Reason string
}

// maxListed is how many rejections NoFitError.Error spells out.
const maxListed = 10

// NoFitError says that no host in scope can take a request, with every
// rejected host and its reason. errors.Is(err, ovm.ErrUnavailable) holds.
type NoFitError struct {
	// Request is the request's name.
	Request string
	// Rejections lists every host in scope, in (name, id) order (for a
	// hosts scope, in the order listed), with the reason it was rejected.
	Rejections []Rejection
}

// Error reads like `no host can take "web-1": h1: memory: need 4GiB, 1GiB
// free; h2: state maintenance`. Past ten hosts it counts the rest by reason.
func (e *NoFitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no host can take %q: ", e.Request)
	if len(e.Rejections) == 0 {
		b.WriteString("no host in scope")
		return b.String()
	}
	for i, r := range e.Rejections[:min(len(e.Rejections), maxListed)] {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(r.String())
	}
	if rest := e.Rejections[min(len(e.Rejections), maxListed):]; len(rest) > 0 {
		fmt.Fprintf(&b, "; and %d more (%s)", len(rest), countByCategory(rest))
	}
	return b.String()
}

// Is makes errors.Is(err, ovm.ErrUnavailable) hold.
func (e *NoFitError) Is(target error) bool { return target == ovm.ErrUnavailable }

// countByCategory renders "memory 600, state 390": how many rejections fall
// under each category (a reason's first word), most frequent first.
func countByCategory(rs []Rejection) string {
	counts := map[string]int{}
	for _, r := range rs {
		counts[category(r.Reason)]++
	}
	type kv struct {
		k string
		n int
	}
	all := make([]kv, 0, len(counts))
	for k, n := range counts {
		all = append(all, kv{k, n})
	}
	slices.SortFunc(all, func(a, b kv) int { return cmp.Or(b.n-a.n, strings.Compare(a.k, b.k)) })
	parts := make([]string, len(all))
	for i, c := range all {
		parts[i] = fmt.Sprintf("%s %d", c.k, c.n)
	}
	return strings.Join(parts, ", ")
}

// category returns a reason's first word: "memory" for
// "memory: need 4GiB, 1GiB free", "state" for "state maintenance".
func category(reason string) string {
	if i := strings.IndexAny(reason, " :"); i >= 0 {
		return reason[:i]
	}
	return reason
}
