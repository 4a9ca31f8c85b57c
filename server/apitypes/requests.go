package apitypes

import (
	"github.com/openovm/ovm/ovm"
)

// Login trades a user's password for a session token.
type Login struct {
	Name     string `json:"name" required:"true" maxLength:"63"`
	Password string `json:"password" required:"true" maxLength:"1024"`
}

// TokenCreate is a new personal API token.
type TokenCreate struct {
	Name             string `json:"name" required:"true" doc:"A name for the token, such as the machine that uses it."`
	ExpiresInSeconds int64  `json:"expiresInSeconds,omitempty" minimum:"0" doc:"Lifetime; 0 never expires."`
}

// InstanceCreate is a new instance.
type InstanceCreate struct {
	VDCID          ovm.ID           `json:"vdcId,omitempty" doc:"The VDC (administrators; tenants create in their own)."`
	Name           string           `json:"name" required:"true"`
	Spec           ovm.InstanceSpec `json:"spec" required:"true"`
	Start          bool             `json:"start,omitempty" doc:"Start the instance once it is created."`
	Chef           *ChefEnrol       `json:"chef,omitempty" doc:"Enrol the instance in a Chef server as it is created: a VM gets its node's key and the chef settings in its cloud-init NoCloud seed, a container its key and client.rb through exec once it started (start is then required)."`
	IdempotencyKey string           `json:"-"`
	// PlacementGroup puts the instance in an anti-affinity group of the
	// server's (a scaling group's members): no two on one host.
	PlacementGroup ovm.ID `json:"-"`
}

// InstancePatch changes an instance: labels at once, the size through a
// task. Nil fields are unchanged.
type InstancePatch struct {
	CPU    *ovm.MilliCPU      `json:"cpuMilli,omitempty"`
	Memory *ovm.Bytes         `json:"memoryBytes,omitempty"`
	Labels *map[string]string `json:"labels,omitempty"`
}

// ExecRequest is a command to run inside an instance, without a shell.
type ExecRequest struct {
	Command        []string          `json:"command" required:"true" minItems:"1" maxItems:"256" doc:"The program and its arguments, run without a shell, such as [\"cat\", \"/etc/hostname\"]."`
	Env            map[string]string `json:"env,omitempty" doc:"Environment variables added for the command."`
	Stdin          string            `json:"stdin,omitempty" doc:"Text given to the command on its standard input (at most 512 KiB)."`
	TimeoutSeconds int               `json:"timeoutSeconds,omitempty" minimum:"0" maximum:"300" default:"30" doc:"How long the command may run (at most 300 seconds); longer is 503."`
}

// VAppCreate is a vApp to deploy.
type VAppCreate struct {
	VDCID             ovm.ID           `json:"vdcId,omitempty" doc:"The VDC (administrators; tenants deploy in their own)."`
	Name              string           `json:"name" required:"true"`
	AntiAffinity      bool             `json:"antiAffinity,omitempty" doc:"Place every member on a different host."`
	StartDelaySeconds int              `json:"startDelaySeconds,omitempty" minimum:"0" maximum:"600" doc:"The wait between two start groups."`
	Partial           bool             `json:"partial,omitempty" doc:"Keep the members that were made when others could not be; by default the vApp deploys whole or every member is rolled back."`
	Members           []ovm.VAppMember `json:"members" required:"true" maxItems:"100"`
	IdempotencyKey    string           `json:"-"`
}

// NetworkRange is an address range of a new network, as text.
type NetworkRange struct {
	Start string `json:"start" required:"true" maxLength:"64"`
	End   string `json:"end" required:"true" maxLength:"64"`
}

// NetworkCreate is a new network. Addresses are text parsed by the server,
// so that a bad one is named by its field.
type NetworkCreate struct {
	VDCID          ovm.ID         `json:"vdcId,omitempty" doc:"The VDC (administrators; tenants create in their own)."`
	Name           string         `json:"name" required:"true"`
	VLAN           int            `json:"vlan,omitempty" doc:"0 (untagged) to 4094."`
	Subnet         string         `json:"subnet" required:"true" maxLength:"64" doc:"A CIDR such as 10.0.0.0/24 or fd00::/64."`
	Gateway        string         `json:"gateway,omitempty" maxLength:"64"`
	Ranges         []NetworkRange `json:"ranges,omitempty" maxItems:"64" doc:"The allocatable addresses; none: the whole subnet."`
	DNS            []string       `json:"dns,omitempty" maxItems:"8"`
	IdempotencyKey string         `json:"-"`
}

// VolumeCreate is a new volume.
type VolumeCreate struct {
	VDCID          ovm.ID    `json:"vdcId,omitempty" doc:"The VDC (administrators; tenants create in their own)."`
	Name           string    `json:"name" required:"true"`
	Size           ovm.Bytes `json:"sizeBytes" required:"true"`
	StoragePoolID  ovm.ID    `json:"storagePoolId,omitempty" doc:"The storage pool to make the volume in (empty: the host's default pool)."`
	IdempotencyKey string    `json:"-"`
}

// VolumePatch grows a volume.
type VolumePatch struct {
	Size ovm.Bytes `json:"sizeBytes" required:"true"`
}

// DatacenterCreate is a new datacenter.
type DatacenterCreate struct {
	Name           string `json:"name" required:"true"`
	Description    string `json:"description,omitempty"`
	IdempotencyKey string `json:"-"`
}

// DatacenterPatch changes a datacenter; nil fields are unchanged.
type DatacenterPatch struct {
	Description *string `json:"description,omitempty"`
}

// PoolCreate is a new resource pool.
type PoolCreate struct {
	Name           string              `json:"name" required:"true"`
	DatacenterID   ovm.ID              `json:"datacenterId" required:"true"`
	Policy         ovm.PlacementPolicy `json:"policy,omitempty"`
	Scope          ovm.Scope           `json:"scope,omitzero"`
	HAEnabled      bool                `json:"haEnabled,omitempty"`
	Overcommit     ovm.Overcommit      `json:"overcommit,omitzero"`
	IdempotencyKey string              `json:"-"`
}

// PoolPatch changes a resource pool; nil fields are unchanged.
type PoolPatch struct {
	Policy     *ovm.PlacementPolicy `json:"policy,omitempty"`
	Scope      *ovm.Scope           `json:"scope,omitempty"`
	HAEnabled  *bool                `json:"haEnabled,omitempty"`
	Overcommit *ovm.Overcommit      `json:"overcommit,omitempty"`
}

// Credentials are how the server logs in to a host. The server keeps them
// encrypted at rest and never returns them.
type Credentials struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// TLS client certificate and key (PEM), and the CA or the pinned
	// certificate thumbprint that the host's certificate must match.
	CertPEM    string `json:"certPem,omitempty"`
	KeyPEM     string `json:"keyPem,omitempty"`
	CAPEM      string `json:"caPem,omitempty"`
	Thumbprint string `json:"thumbprint,omitempty"`
	// SSHKey is a private key (PEM) for ssh:// endpoints.
	SSHKey string `json:"sshKey,omitempty" doc:"A private key (PEM) for qemu+ssh:// and ssh:// endpoints."`
	// GuestUsername and GuestPassword are the guest account VMware Tools
	// guest operations run commands as (ESXi).
	GuestUsername string `json:"guestUsername,omitempty" doc:"esxi: the guest OS account VMware Tools guest operations run commands as (exec, Chef converges); without it the host runs no commands inside VMs."`
	GuestPassword string `json:"guestPassword,omitempty" doc:"esxi: the password of guestUsername."`
}

// HostRegister registers a host.
type HostRegister struct {
	Name        string       `json:"name" required:"true"`
	Kind        ovm.HostKind `json:"kind" required:"true"`
	Endpoint    string       `json:"endpoint" required:"true" doc:"kvm: qemu:///system, qemu+tls://HOST/system, qemu+ssh://USER@HOST/system; esxi: https://HOST[:PORT]/sdk; docker: unix:///var/run/docker.sock, tcp://HOST:2376, ssh://USER@HOST; fake: fake://NAME"`
	PoolID      ovm.ID       `json:"poolId" required:"true"`
	Credentials Credentials  `json:"credentials,omitzero" doc:"Encrypted at rest; never returned."`
	// Options are the driver's non-secret settings of the host, checked by
	// the kind's factory (unknown keys are refused).
	Options        map[string]string `json:"options,omitempty" doc:"The driver's non-secret settings of the host; unknown keys are refused. docker: uplink. kvm: templates and disks (required; /dir or NAME:/dir), kernel, initrd, cmdline (direct kernel boot), sharedStorage (comma-separated dirs), virtType (kvm or qemu), machine. esxi: datastore, vswitch, imageLibrary (such as \"[datastore1] templates\"). fake: none."`
	IdempotencyKey string            `json:"-"`
}

// HostPatch changes a host; nil fields are unchanged.
type HostPatch struct {
	Credentials *Credentials `json:"credentials,omitempty"`
}

// Maintenance turns a host's maintenance mode on or off.
type Maintenance struct {
	Enabled bool `json:"enabled" required:"true"`
}

// DiscoveredImport imports a discovered object into a VDC.
type DiscoveredImport struct {
	VDCID ovm.ID `json:"vdcId" required:"true"`
	Name  string `json:"name" required:"true"`
	// CPU and Memory are the instance's demand where the object has no
	// limit of its own on its host (a container run without limits): then
	// they are required, charged to the VDC's quota, and applied on the
	// host by the import task, so an import cannot bypass a quota. Where
	// the object has a limit they may be left out (its limit is the
	// demand) or must equal it.
	CPU            ovm.MilliCPU `json:"cpuMilli,omitempty" minimum:"0" doc:"The instance's CPU in milli-vCPU; required when the object has no CPU limit on its host, which is then set to it"`
	Memory         ovm.Bytes    `json:"memoryBytes,omitempty" minimum:"0" doc:"The instance's memory in bytes; required when the object has no memory limit on its host, which is then set to it"`
	IdempotencyKey string       `json:"-"`
}

// VDCCreate is a new VDC.
type VDCCreate struct {
	Name           string    `json:"name" required:"true"`
	PoolID         ovm.ID    `json:"poolId" required:"true" doc:"The resource pool its instances are placed in."`
	Quota          ovm.Quota `json:"quota" required:"true"`
	IdempotencyKey string    `json:"-"`
}

// QuotaChange replaces a VDC's quota.
type QuotaChange struct {
	Quota ovm.Quota `json:"quota" required:"true"`
}

// UserCreate is a new user.
type UserCreate struct {
	Name  string `json:"name" required:"true"`
	Role  Role   `json:"role" required:"true"`
	VDCID ovm.ID `json:"vdcId,omitempty" doc:"The user's VDC (not for administrators)."`
	// Password is the user's password; empty generates one, returned once.
	Password       string `json:"password,omitempty" doc:"At least 12 characters; empty generates one, returned once."`
	IdempotencyKey string `json:"-"`
}

// UserPatch changes a user; nil fields are unchanged.
type UserPatch struct {
	Role     *Role   `json:"role,omitempty"`
	Password *string `json:"password,omitempty"`
	Disabled *bool   `json:"disabled,omitempty"`
}

// The power actions of an instance: POST /v1/instances/{id}/{action}.
const (
	ActionStart  = "start"
	ActionStop   = "stop"
	ActionReboot = "reboot"
)
