package ha

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
)

// Found is an instance a returning host lists (hypervisor.Driver.List).
type Found struct {
	// NativeID is the hypervisor's own id; required.
	NativeID string
	// ID is the OVM id written on the object; empty when unmanaged.
	ID    ovm.ID
	Name  string
	Power ovm.PowerState
}

// Record is where the platform has an instance now ("" for nowhere).
type Record struct {
	Instance ovm.ID
	HostID   ovm.ID
}

// Return is the input of [Reconcile]: a failed host that answers again.
type Return struct {
	Host ovm.ID
	// Found is every instance the host lists.
	Found []Found
	// Records holds where the platform has each instance now: at least
	// every managed instance the host lists and every instance recorded on
	// the host.
	Records []Record
	// At is the time of the reconciliation, stamped on its alerts.
	At time.Time
}

// Stop is a stale copy to stop on the returning host (force it off: the
// instance runs elsewhere, its guest must not write anything more). Never
// delete its disks: on shared storage they are the running copy's disks.
type Stop struct {
	Instance ovm.ID
	NativeID string
	Name     string
	// RunsOn is where the platform has the instance now ("" for nowhere).
	RunsOn ovm.ID
	Reason string
}

// Reconciliation is what a returning host needs before it takes work
// again. Each list is in name order, then native id.
type Reconciliation struct {
	Host ovm.ID
	// Stops are the copies of instances the platform has elsewhere that
	// still run on the host.
	Stops []Stop
	// Stale are copies of instances the platform has elsewhere that are
	// already stopped. They do not keep the host from taking work; remove
	// their definitions (never their disks, see [Stop]) so that the host
	// cannot start them again, at its next boot say.
	Stale []Found
	// Recovered are instances the platform still has on this host (they
	// were unknown, lost or not restarted), found on it again.
	Recovered []Found
	// Missing are instances the platform has on this host that it does
	// not list, in id order.
	Missing []ovm.ID
	// Orphans carry an OVM id the platform has no record of (deleted while
	// the host was away); inventory sync deals with them.
	Orphans []Found
	// Alerts reports the stale copies found running.
	Alerts []Alert
	// MayMarkUp is set when nothing is left to stop: the host may take
	// work again ([Detector.MarkReconciled]). After running the Stops, list
	// the host again and reconcile once more: that reconciliation plans no
	// stop and sets MayMarkUp.
	MayMarkUp bool
}

// Reconcile compares what a returning host runs with where the platform has
// each instance, and says which copies to stop before the host takes work
// again. It depends on its input only: the same input gives the same
// output. Bad input is ovm.ErrInvalid naming each field.
func Reconcile(in Return) (Reconciliation, error) {
	if err := in.validate(); err != nil {
		return Reconciliation{}, err
	}
	where := make(map[ovm.ID]ovm.ID, len(in.Records))
	for _, r := range in.Records {
		where[r.Instance] = r.HostID
	}
	found := slices.Clone(in.Found)
	slices.SortStableFunc(found, func(a, b Found) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.NativeID, b.NativeID))
	})
	out := Reconciliation{Host: in.Host}
	seen := make(map[ovm.ID]bool, len(found))
	for _, f := range found {
		if f.ID.IsZero() {
			continue // unmanaged: inventory sync shows it as discovered
		}
		seen[f.ID] = true
		runsOn, known := where[f.ID]
		switch {
		case !known:
			out.Orphans = append(out.Orphans, f)
		case runsOn == in.Host:
			out.Recovered = append(out.Recovered, f)
		case f.Power == ovm.PowerStopped:
			out.Stale = append(out.Stale, f)
		default:
			reason := fmt.Sprintf("restarted on %s while %s was down", runsOn, in.Host)
			if runsOn.IsZero() {
				reason = fmt.Sprintf("the platform runs it nowhere since %s failed", in.Host)
			}
			out.Stops = append(out.Stops, Stop{Instance: f.ID, NativeID: f.NativeID, Name: f.Name, RunsOn: runsOn, Reason: reason})
		}
	}
	for _, r := range in.Records {
		if r.HostID == in.Host && !seen[r.Instance] {
			out.Missing = append(out.Missing, r.Instance)
		}
	}
	slices.Sort(out.Missing)
	if len(out.Stops) > 0 {
		ids := make([]ovm.ID, len(out.Stops))
		for i, s := range out.Stops {
			ids[i] = s.Instance
		}
		out.Alerts = append(out.Alerts, Alert{Kind: AlertStaleCopies, At: in.At, Host: in.Host, Instances: ids,
			Message: fmt.Sprintf("host %s came back running %d instances the platform runs elsewhere; they are stopped before it takes work",
				in.Host, len(ids))})
	}
	out.MayMarkUp = len(out.Stops) == 0
	return out, nil
}

func (in *Return) validate() error {
	var f ovm.Fields
	if in.Host.IsZero() {
		f.Add("host", "is required")
	}
	for i, x := range in.Found {
		if x.NativeID == "" {
			f.Add(fmt.Sprintf("found[%d].nativeId", i), "is required")
		}
	}
	seen := make(map[ovm.ID]int, len(in.Records))
	for i, r := range in.Records {
		p := fmt.Sprintf("records[%d].instance", i)
		switch j, dup := seen[r.Instance]; {
		case r.Instance.IsZero():
			f.Add(p, "is required")
		case dup:
			f.Addf(p, "duplicates records[%d].instance", j)
		default:
			seen[r.Instance] = i
		}
	}
	return f.Err("invalid returning host")
}
