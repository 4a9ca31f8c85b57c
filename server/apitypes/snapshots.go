package apitypes

import (
	"time"

	"github.com/openovm/ovm/ovm"
)

// SnapshotCreate is a new snapshot of an instance or a volume (the one the
// route names).
type SnapshotCreate struct {
	Name           string `json:"name" required:"true" doc:"Unique among the snapshots of the instance or volume."`
	IdempotencyKey string `json:"-"`
}

// SnapshotInfo is a snapshot as clients see it. Exactly one of InstanceID
// and VolumeID is set.
type SnapshotInfo struct {
	ID         ovm.ID `json:"id"`
	Name       string `json:"name"`
	VDCID      ovm.ID `json:"vdcId"`
	InstanceID ovm.ID `json:"instanceId,omitempty" doc:"The instance the snapshot is of (an instance snapshot)."`
	VolumeID   ovm.ID `json:"volumeId,omitempty" doc:"The volume the snapshot is of (a volume snapshot)."`
	// Memory is set when the snapshot holds the running instance's memory
	// too (a revert resumes it running from that moment).
	Memory bool `json:"memory" doc:"The snapshot holds the instance's memory: a revert brings the instance back running from that moment."`
	// Size is what the snapshot counts against its VDC's disk quota.
	Size    ovm.Bytes `json:"sizeBytes" doc:"What the snapshot counts against the VDC's disk quota: a bound of what it can take on its host (the instance's disks, plus its memory when the snapshot holds it; a volume's size)."`
	Phase   ovm.Phase `json:"phase"`
	Message string    `json:"message,omitempty"`
	// NativeID is the engine's id of the snapshot (administrators).
	NativeID  string    `json:"nativeId,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// SnapshotTask is a snapshot and the task that acts on it.
type SnapshotTask struct {
	Snapshot SnapshotInfo `json:"snapshot"`
	Task     *ovm.Task    `json:"task,omitempty"`
}
