package ovm

import "time"

// Datacenter is a site: a set of resource pools whose hosts can reach each
// other's networks and storage.
type Datacenter struct {
	ID          ID        `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
}

// PlacementPolicy chooses among the hosts that can take an instance.
type PlacementPolicy string

// The placement policies.
const (
	// PolicyPerformance picks the host with the most free resources;
	// ties are broken round-robin so that consecutive instances spread.
	PolicyPerformance PlacementPolicy = "PERFORMANCE"
	// PolicyProgressive keeps filling one host, in a stable order, until it
	// can take no more, then moves to the next.
	PolicyProgressive PlacementPolicy = "PROGRESSIVE"
)

// Valid reports whether p is a known policy.
func (p PlacementPolicy) Valid() bool { return p == PolicyPerformance || p == PolicyProgressive }

// ScopeKind says which hosts placement may choose from.
type ScopeKind string

// The placement scopes.
const (
	ScopeDatacenter ScopeKind = "datacenter" // every pool of the datacenter
	ScopePool       ScopeKind = "pool"       // every host of one pool
	ScopeHosts      ScopeKind = "hosts"      // a list of specific hosts
)

// Scope is the set of hosts placement may choose from.
type Scope struct {
	Kind         ScopeKind `json:"kind"`
	DatacenterID ID        `json:"datacenterId,omitempty"`
	PoolID       ID        `json:"poolId,omitempty"`
	HostIDs      []ID      `json:"hostIds,omitempty"`
}

// Validate checks that the scope names what its kind needs.
func (s Scope) Validate() error {
	var f Fields
	switch s.Kind {
	case ScopeDatacenter:
		if s.DatacenterID.IsZero() {
			f.Add("datacenterId", "is required for a datacenter scope")
		}
	case ScopePool:
		if s.PoolID.IsZero() {
			f.Add("poolId", "is required for a pool scope")
		}
	case ScopeHosts:
		if len(s.HostIDs) == 0 {
			f.Add("hostIds", "must list at least one host for a hosts scope")
		}
	default:
		f.Addf("kind", "must be one of %q, %q, %q", ScopeDatacenter, ScopePool, ScopeHosts)
	}
	return f.Err("invalid placement scope")
}

// ResourcePool groups hosts of a datacenter that share a placement policy,
// HA settings and overcommit ratios.
type ResourcePool struct {
	ID           ID              `json:"id"`
	Name         string          `json:"name"`
	DatacenterID ID              `json:"datacenterId"`
	Policy       PlacementPolicy `json:"policy"`
	// Scope is where instances placed through this pool may land. The zero
	// Scope means the pool's own hosts.
	Scope      Scope      `json:"scope"`
	HAEnabled  bool       `json:"haEnabled"`
	Overcommit Overcommit `json:"overcommit"`
	CreatedAt  time.Time  `json:"createdAt"`
}

// Validate checks the pool's own fields (not references to other objects).
func (p ResourcePool) Validate() error {
	var f Fields
	if r := ValidateName(p.Name); r != "" {
		f.Add("name", r)
	}
	if p.Policy != "" && !p.Policy.Valid() {
		f.Addf("policy", "must be %q or %q", PolicyPerformance, PolicyProgressive)
	}
	if p.Scope.Kind != "" {
		f.Merge("scope", p.Scope.Validate())
	}
	f.Merge("overcommit", p.Overcommit.Validate())
	return f.Err("invalid resource pool")
}

// HostKind is the hypervisor a host runs.
type HostKind string

// The host kinds. KindFake is the SDK's in-memory driver, for tests and demos.
const (
	HostKVM    HostKind = "kvm"
	HostESXi   HostKind = "esxi"
	HostDocker HostKind = "docker"
	HostFake   HostKind = "fake"
)

// Valid reports whether k is a known host kind.
func (k HostKind) Valid() bool {
	switch k {
	case HostKVM, HostESXi, HostDocker, HostFake:
		return true
	}
	return false
}

// HostState is what the platform knows of a host's health.
type HostState string

// The host states. A host takes new work only when up.
const (
	HostUp          HostState = "up"
	HostSuspect     HostState = "suspect"     // one failed probe
	HostFailed      HostState = "failed"      // two consecutive failed probes
	HostMaintenance HostState = "maintenance" // set by an administrator
	// HostEnteringMaintenance: an administrator asked for maintenance and
	// the host's running instances are being moved away (or some cannot
	// move, said in the host's StateReason). It takes no new instances.
	HostEnteringMaintenance HostState = "entering-maintenance"
)

// InMaintenance reports whether an administrator put the host into
// maintenance (entering it or in it).
func (s HostState) InMaintenance() bool {
	return s == HostMaintenance || s == HostEnteringMaintenance
}

// Host is one hypervisor endpoint: a libvirtd, an ESXi host or a Docker engine.
type Host struct {
	ID       ID       `json:"id"`
	Name     string   `json:"name"`
	Kind     HostKind `json:"kind"`
	Endpoint string   `json:"endpoint"`
	// Options are the driver's non-secret settings for this host (storage
	// pools, boot kernel, uplink, datastore...); each kind documents its
	// keys and refuses unknown ones.
	Options      map[string]string `json:"options,omitempty"`
	DatacenterID ID                `json:"datacenterId"`
	PoolID       ID                `json:"poolId"`
	Capacity     Resources         `json:"capacity"`
	Allocated    Resources         `json:"allocated"`
	State        HostState         `json:"state"`
	StateReason  string            `json:"stateReason,omitempty"`
	// ReadOnly is set when the host refuses changes (an ESXi free licence),
	// with the reason in StateReason.
	ReadOnly bool `json:"readOnly,omitempty"`
	// Networks and StoragePools list what the host reaches.
	Networks     []ID `json:"networks,omitempty"`
	StoragePools []ID `json:"storagePools,omitempty"`
	// BMC is the host's out-of-band controller, when one is set (its
	// password is never shown).
	BMC       *HostBMC  `json:"bmc,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// Free returns what is left of capacity c after the host's allocations.
func (h Host) Free(o Overcommit) Resources { return o.Apply(h.Capacity).Sub(h.Allocated) }
