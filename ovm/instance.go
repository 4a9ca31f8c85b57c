package ovm

import (
	"fmt"
	"net/netip"
	"time"
)

// InstanceType tells a virtual machine from a container.
type InstanceType string

// The instance types.
const (
	TypeVM        InstanceType = "vm"
	TypeContainer InstanceType = "container"
)

// PowerState is an instance's power state as its hypervisor reports it.
type PowerState string

// The power states.
const (
	PowerRunning PowerState = "running"
	PowerStopped PowerState = "stopped"
	PowerPaused  PowerState = "paused"
	PowerUnknown PowerState = "unknown"
)

// Phase is where an instance is in its life as the platform manages it.
type Phase string

// The instance phases.
const (
	PhasePending  Phase = "pending"  // recorded, not yet placed or created
	PhaseCreating Phase = "creating" // a create task is running
	PhaseReady    Phase = "ready"    // exists on its host
	PhaseFailed   Phase = "failed"   // the last task failed; see Message
	PhaseDeleting Phase = "deleting"
	PhaseLost     Phase = "lost"    // its host failed and it could not be restarted
	PhaseUnknown  Phase = "unknown" // its host failed and no fence confirmed it is down
	// A volume's phases while a task changes it.
	PhaseResizing  Phase = "resizing"
	PhaseAttaching Phase = "attaching"
	PhaseDetaching Phase = "detaching"
)

// DiskSpec is one disk of an instance: a new volume (Size, optionally from
// Image) or an existing one (VolumeID).
type DiskSpec struct {
	Name          string   `json:"name,omitempty"`
	Size          Bytes    `json:"sizeBytes,omitempty"`
	StoragePoolID ID       `json:"storagePoolId,omitempty"`
	VolumeID      ID       `json:"volumeId,omitempty"`
	Image         ImageRef `json:"image,omitzero"`
	// MountPath is where a container sees the volume.
	MountPath string `json:"mountPath,omitempty"`
}

// NICSpec attaches the instance to a network. IP is a static address the
// user picked; when it is not set, IPAM allocates one.
type NICSpec struct {
	NetworkID ID         `json:"networkId"`
	MAC       string     `json:"mac,omitempty"`
	IP        netip.Addr `json:"ip,omitzero"`
}

// Protocol is the transport protocol of a published port.
type Protocol string

// The protocols.
const (
	ProtocolTCP Protocol = "tcp"
	ProtocolUDP Protocol = "udp"
)

// RestartPolicy says when a container's engine restarts it.
type RestartPolicy string

// The restart policies.
const (
	RestartNo            RestartPolicy = "no"
	RestartAlways        RestartPolicy = "always"
	RestartOnFailure     RestartPolicy = "on-failure"
	RestartUnlessStopped RestartPolicy = "unless-stopped"
)

// PortMapping publishes a container port on the host.
type PortMapping struct {
	HostIP        netip.Addr `json:"hostIp,omitzero"`
	HostPort      uint16     `json:"hostPort"`
	ContainerPort uint16     `json:"containerPort"`
	Protocol      Protocol   `json:"protocol,omitempty"` // tcp (default) or udp
}

// HAPolicy says whether and in which order the instance is restarted on
// another host when its host fails. Higher priorities restart first.
type HAPolicy struct {
	Enabled  bool `json:"enabled"`
	Priority int  `json:"priority,omitempty"`
}

// InstanceSpec is what an instance should be.
type InstanceSpec struct {
	Type   InstanceType `json:"type"`
	CPU    MilliCPU     `json:"cpuMilli"`
	Memory Bytes        `json:"memoryBytes"`
	Image  ImageRef     `json:"image"`
	Disks  []DiskSpec   `json:"disks,omitempty"`
	NICs   []NICSpec    `json:"nics,omitempty"`
	HA     HAPolicy     `json:"ha"`

	// Container settings.
	Command       []string          `json:"command,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
	Ports         []PortMapping     `json:"ports,omitempty"`
	RestartPolicy RestartPolicy     `json:"restartPolicy,omitempty"` // no (default), always, on-failure, unless-stopped

	// VM guest initialisation (cloud-init NoCloud on KVM).
	Hostname string   `json:"hostname,omitempty"`
	SSHKeys  []string `json:"sshKeys,omitempty"`
	UserData string   `json:"userData,omitempty"`

	Labels map[string]string `json:"labels,omitempty"`
}

// Demand returns the resources the instance takes on its host.
func (s InstanceSpec) Demand() Resources {
	var disk Bytes
	for _, d := range s.Disks {
		disk += d.Size
	}
	return Resources{CPU: s.CPU, Memory: s.Memory, Disk: disk}
}

// Limits on an instance spec.
const (
	MaxCPU    = MilliCPU(512 * 1000)
	MaxMemory = 24 * TiB
	MinMemory = 4 * MiB
	MaxDisks  = 60
	MaxNICs   = 10
)

// Validate checks the spec's own fields and names every one that is wrong.
func (s InstanceSpec) Validate() error {
	var f Fields
	switch s.Type {
	case TypeVM, TypeContainer:
	case "":
		f.Addf("type", "must be %q or %q", TypeVM, TypeContainer)
	default:
		f.Addf("type", "must be %q or %q, not %q", TypeVM, TypeContainer, s.Type)
	}
	switch {
	case s.CPU <= 0:
		f.Add("cpuMilli", "must be positive")
	case s.CPU > MaxCPU:
		f.Addf("cpuMilli", "must be at most %d", MaxCPU)
	case s.Type == TypeVM && s.CPU%1000 != 0:
		f.Add("cpuMilli", "must be whole vCPUs (a multiple of 1000) for a vm")
	}
	switch {
	case s.Memory < MinMemory:
		f.Addf("memoryBytes", "must be at least %s", MinMemory)
	case s.Memory > MaxMemory:
		f.Addf("memoryBytes", "must be at most %s", MaxMemory)
	}
	if err := s.Image.Validate(); err != nil {
		f.Merge("image", err)
	} else if (s.Type == TypeVM || s.Type == TypeContainer) && s.Image.InstanceType() != s.Type {
		f.Addf("image.format", "%s image cannot run as a %s", s.Image.Format, s.Type)
	}
	if len(s.Disks) > MaxDisks {
		f.Addf("disks", "at most %d disks", MaxDisks)
	}
	for i, d := range s.Disks {
		p := fmt.Sprintf("disks[%d]", i)
		if d.Name != "" {
			if r := ValidateName(d.Name); r != "" {
				f.Add(p+".name", r)
			}
		}
		switch {
		case d.VolumeID.IsZero() && d.Size <= 0:
			f.Add(p+".sizeBytes", "must be positive for a new disk")
		case !d.VolumeID.IsZero() && d.Size != 0:
			f.Add(p+".sizeBytes", "must be empty when attaching an existing volume")
		case d.Size > 64*TiB:
			f.Add(p+".sizeBytes", "must be at most 64TiB")
		}
		if !d.Image.IsZero() {
			f.Merge(p+".image", d.Image.Validate())
		}
		if s.Type == TypeContainer && d.MountPath == "" {
			f.Add(p+".mountPath", "is required for a container volume")
		}
	}
	if len(s.NICs) > MaxNICs {
		f.Addf("nics", "at most %d nics", MaxNICs)
	}
	for i, n := range s.NICs {
		p := fmt.Sprintf("nics[%d]", i)
		if n.NetworkID.IsZero() {
			f.Add(p+".networkId", "is required")
		}
		if n.MAC != "" {
			if _, err := ParseMAC(n.MAC); err != nil {
				f.Add(p+".mac", "must be a unicast MAC address like 52:54:00:12:34:56")
			}
		}
		if n.IP.IsValid() && (n.IP.IsUnspecified() || n.IP.IsMulticast()) {
			f.Add(p+".ip", "must be a unicast address")
		}
	}
	if len(s.Ports) > 0 && s.Type == TypeVM {
		f.Add("ports", "port publishing is for containers")
	}
	for i, pm := range s.Ports {
		p := fmt.Sprintf("ports[%d]", i)
		if pm.ContainerPort == 0 {
			f.Add(p+".containerPort", "must be between 1 and 65535")
		}
		if pm.Protocol != "" && pm.Protocol != "tcp" && pm.Protocol != "udp" {
			f.Add(p+".protocol", `must be "tcp" or "udp"`)
		}
	}
	switch s.RestartPolicy {
	case "", "no", "always", "on-failure", "unless-stopped":
	default:
		f.Add("restartPolicy", `must be "no", "always", "on-failure" or "unless-stopped"`)
	}
	if s.Hostname != "" {
		if r := ValidateName(s.Hostname); r != "" {
			f.Add("hostname", r)
		}
	}
	validateMap(&f, "labels", s.Labels, labelLimits)
	validateMap(&f, "env", s.Env, envLimits)
	if len(s.UserData) > 64*1024 {
		f.Add("userData", "must be at most 64KiB")
	}
	if s.HA.Priority < 0 || s.HA.Priority > 1000 {
		f.Add("ha.priority", "must be between 0 and 1000")
	}
	return f.Err("invalid instance spec")
}

// InstanceStatus is what an instance is, as last observed.
type InstanceStatus struct {
	Phase     Phase        `json:"phase"`
	Power     PowerState   `json:"power"`
	HostID    ID           `json:"hostId,omitempty"`
	NativeID  string       `json:"nativeId,omitempty"` // the hypervisor's own id
	Addresses []netip.Addr `json:"addresses,omitempty"`
	Message   string       `json:"message,omitempty"`
	UpdatedAt time.Time    `json:"updatedAt"`
}

// Instance is a VM or a container that belongs to a VDC.
type Instance struct {
	ID        ID             `json:"id"`
	Name      string         `json:"name"`
	VDCID     ID             `json:"vdcId"`
	VAppID    ID             `json:"vappId,omitempty"`
	Spec      InstanceSpec   `json:"spec"`
	Status    InstanceStatus `json:"status"`
	CreatedAt time.Time      `json:"createdAt"`
}
