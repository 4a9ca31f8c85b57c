package apitypes

import (
	"time"

	"github.com/openovm/ovm/ovm"
)

// Page is one page of a list. Next is the cursor of the following page,
// "" after the last.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// Role is what a user may do.
type Role string

// The roles.
const (
	// RoleAdmin is a platform administrator: every VDC, hosts, pools,
	// datacenters and physical placement.
	RoleAdmin Role = "admin"
	// RoleVDCAdmin manages one VDC: its instances, networks, volumes,
	// vApps and users.
	RoleVDCAdmin Role = "vdc-admin"
	// RoleVDCMember uses one VDC: its instances, volumes and vApps.
	RoleVDCMember Role = "vdc-member"
)

// Roles are the roles, in order of power.
var Roles = []Role{RoleAdmin, RoleVDCAdmin, RoleVDCMember}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleVDCAdmin || r == RoleVDCMember }

// User is a user as clients see it: never its password hash.
type User struct {
	ID        ovm.ID    `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	VDCID     ovm.ID    `json:"vdcId,omitempty"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"createdAt"`
}

// NewUser is a created user, with its password when it was generated.
type NewUser struct {
	User
	Password string `json:"password,omitempty" doc:"The generated password, shown once."`
}

// Session is the outcome of a login: a bearer token shown once.
type Session struct {
	Token     string    `json:"token" doc:"The bearer token, shown once."`
	ExpiresAt time.Time `json:"expiresAt"`
	User      User      `json:"user"`
}

// TokenInfo describes an API token; the secret is never stored.
type TokenInfo struct {
	ID        ovm.ID     `json:"id"`
	Name      string     `json:"name"`
	Session   bool       `json:"session" doc:"A login session rather than a personal token."`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	LastUsed  *time.Time `json:"lastUsed,omitempty"`
}

// NewToken is a created personal token with its secret, shown once.
type NewToken struct {
	TokenInfo
	Token string `json:"token" doc:"The secret, shown once."`
}

// InstanceTask is an instance and the task that acts on it (none when the
// change needed none).
type InstanceTask struct {
	Instance ovm.Instance `json:"instance"`
	Task     *ovm.Task    `json:"task,omitempty"`
}

// ExecResult is what a command did inside an instance.
type ExecResult struct {
	ExitCode int    `json:"exitCode" doc:"The command's exit status."`
	Stdout   string `json:"stdout" doc:"Its standard output (at most 1 MiB)."`
	Stderr   string `json:"stderr" doc:"Its standard error (at most 1 MiB)."`
	// Truncated is set when stdout or stderr was longer than the bound.
	Truncated bool `json:"truncated,omitempty" doc:"Set when stdout or stderr was cut at 1 MiB."`
}

// MemberStatus is the outcome of one vApp member.
type MemberStatus struct {
	Name       string         `json:"name"`
	InstanceID ovm.ID         `json:"instanceId"`
	Phase      ovm.Phase      `json:"phase"`
	Power      ovm.PowerState `json:"power"`
	TaskID     ovm.ID         `json:"taskId,omitempty"`
	Message    string         `json:"message,omitempty"`
}

// VAppInfo is a vApp with the outcome of each member.
type VAppInfo struct {
	ovm.VApp
	// Phase is creating while members are made and started, ready once
	// every member started, failed when the deploy was rolled back.
	Phase   ovm.Phase `json:"phase"`
	Message string    `json:"message,omitempty"`
	// TaskID is the vApp's own task in flight (start, stop, roll back).
	TaskID       ovm.ID         `json:"taskId,omitempty"`
	MemberStatus []MemberStatus `json:"memberStatus"`
}

// VAppTask is a vApp and the task that acts on it as a whole.
type VAppTask struct {
	VApp VAppInfo `json:"vapp"`
	Task ovm.Task `json:"task"`
}

// VAppTasks is a deployed or deleted vApp and the task of each member.
type VAppTasks struct {
	VApp  VAppInfo   `json:"vapp"`
	Tasks []ovm.Task `json:"tasks"`
}

// VolumeInfo is a volume as clients see it.
type VolumeInfo struct {
	ovm.Volume
	Phase   ovm.Phase `json:"phase"`
	Message string    `json:"message,omitempty"`
}

// VolumeTask is a volume and the task that acts on it.
type VolumeTask struct {
	Volume VolumeInfo `json:"volume"`
	Task   *ovm.Task  `json:"task,omitempty"`
}

// Usage is a VDC's quota and live usage.
type Usage struct {
	Quota ovm.Quota `json:"quota"`
	Usage ovm.Usage `json:"usage"`
}

// Discovered is an object found on a host without an OVM id: shown to
// administrators, who can import it into a VDC.
type Discovered struct {
	ID       ovm.ID           `json:"id"`
	HostID   ovm.ID           `json:"hostId"`
	NativeID string           `json:"nativeId"`
	Name     string           `json:"name"`
	Type     ovm.InstanceType `json:"type,omitempty"`
	CPU      ovm.MilliCPU     `json:"cpuMilli"`
	Memory   ovm.Bytes        `json:"memoryBytes"`
	Image    ovm.ImageRef     `json:"image,omitzero"`
	Power    ovm.PowerState   `json:"power"`
	FoundAt  time.Time        `json:"foundAt"`
}

// Alert is an HA alert as stored for administrators: what the host monitor
// raised, how often, and whether it is resolved. An alert is open until its
// host is up again (partition alerts: until the partition clears) or an
// administrator acknowledges it. The same open alert (same kind and host,
// or kind and group for a partition) raised again counts up instead of
// making a new one.
type Alert struct {
	ID   ovm.ID        `json:"id"`
	Kind ovm.AlertKind `json:"kind"`
	// HostID is the host concerned, when there is one.
	HostID ovm.ID `json:"hostId,omitempty"`
	// Scope and GroupID name the pool or datacenter of a partition alert;
	// HostIDs are the hosts lost in it.
	Scope   ovm.ScopeKind `json:"scope,omitempty"`
	GroupID ovm.ID        `json:"groupId,omitempty"`
	HostIDs []ovm.ID      `json:"hostIds,omitempty"`
	// InstanceIDs are the instances concerned, as the last raise had them.
	InstanceIDs []ovm.ID `json:"instanceIds,omitempty"`
	// Message is the last raise's sentence.
	Message string `json:"message"`
	// RaisedAt is the first raise, LastRaisedAt the latest; Count counts
	// the raises.
	RaisedAt     time.Time `json:"raisedAt"`
	LastRaisedAt time.Time `json:"lastRaisedAt"`
	Count        int       `json:"count"`
	// ResolvedAt is set once the alert is resolved; ResolvedBy says by
	// whom: the host monitor, or the administrator who acknowledged it.
	ResolvedAt *time.Time `json:"resolvedAt,omitempty"`
	ResolvedBy string     `json:"resolvedBy,omitempty"`
}

// Open reports whether the alert is not resolved.
func (a Alert) Open() bool { return a.ResolvedAt == nil }
