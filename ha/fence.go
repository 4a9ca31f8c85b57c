package ha

import (
	"fmt"
	"time"

	"github.com/openovm/ovm/ovm"
)

// FenceMethod is a way to make sure a failed host runs nothing any more.
type FenceMethod string

// The fencing methods.
const (
	// FencePowerOff powers the host off through its out-of-band controller
	// (IPMI, Redfish, iLO, iDRAC) and reads the power state back.
	FencePowerOff FenceMethod = "power-off"
	// FenceDiskLock takes the locks on the host's instance disks on shared
	// storage (libvirt's lock manager, sanlock): once the monitor holds
	// them, the host no longer does and cannot write to those disks.
	FenceDiskLock FenceMethod = "disk-lock"
)

// Valid reports whether m is a known method.
func (m FenceMethod) Valid() bool { return m == FencePowerOff || m == FenceDiskLock }

// FenceRequest asks the server to fence a failed host with the methods
// configured for it, in order, stopping at the first that confirms. A
// request with no methods cannot be confirmed: answer it with
// [FenceNotConfigured].
type FenceRequest struct {
	Host    ovm.ID
	Methods []FenceMethod
	At      time.Time
}

// FenceOutcome is what fencing a host achieved.
type FenceOutcome string

// The fence outcomes. Only FenceConfirmed lets instances restart elsewhere.
const (
	FenceConfirmed     FenceOutcome = "confirmed"
	FenceFailed        FenceOutcome = "failed"         // every method was tried; none confirmed
	FenceNotConfigured FenceOutcome = "not-configured" // the host has no fencing method
)

// Valid reports whether o is a known outcome.
func (o FenceOutcome) Valid() bool {
	return o == FenceConfirmed || o == FenceFailed || o == FenceNotConfigured
}

// FenceResult is the answer to a [FenceRequest], fed to [PlanEvacuation].
type FenceResult struct {
	Host    ovm.ID
	Outcome FenceOutcome
	// Method is the method that confirmed the fence.
	Method FenceMethod
	// Detail keeps each method's own error text when the fence failed.
	Detail string
	At     time.Time
}

// Confirmed reports whether the host is known to run nothing any more.
func (r FenceResult) Confirmed() bool { return r.Outcome == FenceConfirmed }

// Validate checks that the result names a host, a known outcome and, when
// confirmed, the method that confirmed it.
func (r FenceResult) Validate() error {
	var f ovm.Fields
	if r.Host.IsZero() {
		f.Add("host", "is required")
	}
	if !r.Outcome.Valid() {
		f.Addf("outcome", "must be %q, %q or %q", FenceConfirmed, FenceFailed, FenceNotConfigured)
	}
	switch {
	case r.Outcome == FenceConfirmed && !r.Method.Valid():
		f.Addf("method", "must be %q or %q for a confirmed fence", FencePowerOff, FenceDiskLock)
	case r.Method != "" && !r.Method.Valid():
		f.Addf("method", "must be %q or %q", FencePowerOff, FenceDiskLock)
	}
	return f.Err("invalid fence result")
}

// describe says in a few words why the fence did not confirm.
func (r FenceResult) describe() string {
	switch r.Outcome {
	case FenceConfirmed:
		return fmt.Sprintf("fenced by %s", r.Method)
	case FenceNotConfigured:
		return "no fencing method configured"
	}
	if r.Detail != "" {
		return "fence failed: " + r.Detail
	}
	return "fence failed"
}
