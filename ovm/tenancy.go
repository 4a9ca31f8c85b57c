package ovm

import (
	"fmt"
	"time"
)

// Quota is what a VDC may use in all. A zero limit means nothing of that
// resource; use Unlimited for no limit.
type Quota struct {
	CPU       MilliCPU `json:"cpuMilli"`
	Memory    Bytes    `json:"memoryBytes"`
	Disk      Bytes    `json:"diskBytes"`
	Instances int64    `json:"instances"`
	Networks  int64    `json:"networks"`
}

// Unlimited is a quota no request reaches.
var Unlimited = Quota{CPU: 1 << 50, Memory: 1 << 60, Disk: 1 << 60, Instances: 1 << 40, Networks: 1 << 40}

// Usage is what a VDC uses (or what a request adds): the same fields as Quota.
type Usage = Quota

// Add returns u + o.
func (u Usage) Add(o Usage) Usage {
	return Usage{CPU: u.CPU + o.CPU, Memory: u.Memory + o.Memory, Disk: u.Disk + o.Disk,
		Instances: u.Instances + o.Instances, Networks: u.Networks + o.Networks}
}

// Sub returns u - o.
func (u Usage) Sub(o Usage) Usage {
	return Usage{CPU: u.CPU - o.CPU, Memory: u.Memory - o.Memory, Disk: u.Disk - o.Disk,
		Instances: u.Instances - o.Instances, Networks: u.Networks - o.Networks}
}

// Admit returns nil when used plus req stays within q, otherwise a
// quota-exceeded error naming every resource that would overflow.
func (q Quota) Admit(used, req Usage) error {
	var f Fields
	after := used.Add(req)
	if req.CPU > 0 && after.CPU > q.CPU {
		f.Addf("cpuMilli", "needs %s vCPU, %s of %s left", req.CPU, q.CPU-used.CPU, q.CPU)
	}
	if req.Memory > 0 && after.Memory > q.Memory {
		f.Addf("memoryBytes", "needs %s, %s of %s left", req.Memory, q.Memory-used.Memory, q.Memory)
	}
	if req.Disk > 0 && after.Disk > q.Disk {
		f.Addf("diskBytes", "needs %s, %s of %s left", req.Disk, q.Disk-used.Disk, q.Disk)
	}
	if req.Instances > 0 && after.Instances > q.Instances {
		f.Addf("instances", "needs %d, %d of %d left", req.Instances, q.Instances-used.Instances, q.Instances)
	}
	if req.Networks > 0 && after.Networks > q.Networks {
		f.Addf("networks", "needs %d, %d of %d left", req.Networks, q.Networks-used.Networks, q.Networks)
	}
	if len(f) == 0 {
		return nil
	}
	return &Error{Kind: KindQuotaExceeded, Message: "quota exceeded", Fields: f}
}

// Validate checks that no limit is negative.
func (q Quota) Validate() error {
	var f Fields
	for _, c := range []struct {
		name string
		v    int64
	}{{"cpuMilli", int64(q.CPU)}, {"memoryBytes", int64(q.Memory)}, {"diskBytes", int64(q.Disk)},
		{"instances", q.Instances}, {"networks", q.Networks}} {
		if c.v < 0 {
			f.Add(c.name, "must not be negative")
		}
	}
	return f.Err("invalid quota")
}

// UsageOf returns what one instance of spec adds to its VDC's usage.
func UsageOf(spec InstanceSpec) Usage {
	d := spec.Demand()
	return Usage{CPU: d.CPU, Memory: d.Memory, Disk: d.Disk, Instances: 1}
}

// VDC is a virtual datacenter: a tenant's share of the platform, with a
// quota and its live usage.
type VDC struct {
	ID           ID        `json:"id"`
	Name         string    `json:"name"`
	DatacenterID ID        `json:"datacenterId,omitempty"`
	PoolID       ID        `json:"poolId,omitempty"` // where its instances are placed
	Quota        Quota     `json:"quota"`
	Usage        Usage     `json:"usage"`
	CreatedAt    time.Time `json:"createdAt"`
}

// VAppMember is one instance of a vApp.
type VAppMember struct {
	Name string       `json:"name"`
	Spec InstanceSpec `json:"spec"`
	// StartGroup orders the members' start: every member of a group starts
	// together, after the groups with a lower number and the vApp's
	// StartDelaySeconds; they stop in the reverse order.
	StartGroup int `json:"startGroup,omitempty"`
}

// The bounds of a vApp's start order.
const (
	MaxVAppStartGroup = 100
	MaxVAppStartDelay = 600 // seconds
	MaxVAppMembers    = 100
)

// VApp is several instances deployed, and deleted, as one unit.
type VApp struct {
	ID    ID     `json:"id"`
	Name  string `json:"name"`
	VDCID ID     `json:"vdcId"`
	// AntiAffinity places every member on a different host.
	AntiAffinity bool `json:"antiAffinity"`
	// StartDelaySeconds is the wait between two start groups.
	StartDelaySeconds int `json:"startDelaySeconds,omitempty"`
	// Partial keeps the members that were made when others could not be:
	// by default a vApp deploys whole or not at all.
	Partial     bool         `json:"partial,omitempty"`
	Members     []VAppMember `json:"members"`
	InstanceIDs []ID         `json:"instanceIds,omitempty"`
	CreatedAt   time.Time    `json:"createdAt"`
}

// Validate checks the vApp and every member, naming fields by member.
func (v VApp) Validate() error {
	var f Fields
	if r := ValidateName(v.Name); r != "" {
		f.Add("name", r)
	}
	if len(v.Members) == 0 {
		f.Add("members", "must list at least one member")
	}
	if len(v.Members) > MaxVAppMembers {
		f.Addf("members", "at most %d members", MaxVAppMembers)
	}
	if v.StartDelaySeconds < 0 || v.StartDelaySeconds > MaxVAppStartDelay {
		f.Addf("startDelaySeconds", "must be between 0 and %d", MaxVAppStartDelay)
	}
	seen := map[string]int{}
	for i, m := range v.Members {
		p := fmt.Sprintf("members[%d]", i)
		if r := ValidateName(m.Name); r != "" {
			f.Add(p+".name", r)
		} else if j, dup := seen[m.Name]; dup {
			f.Addf(p+".name", "duplicates members[%d]", j)
		} else {
			seen[m.Name] = i
		}
		if m.StartGroup < 0 || m.StartGroup > MaxVAppStartGroup {
			f.Addf(p+".startGroup", "must be between 0 and %d", MaxVAppStartGroup)
		}
		f.Merge(p+".spec", m.Spec.Validate())
	}
	return f.Err("invalid vapp")
}
