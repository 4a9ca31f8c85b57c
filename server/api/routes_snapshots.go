package api

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// SnapshotPath names one snapshot of the instance or volume a route acts
// on.
type SnapshotPath struct {
	ID         string `path:"id" doc:"The instance's or the volume's id (a lower-case UUID)." format:"uuid"`
	SnapshotID string `path:"snapshotId" doc:"The snapshot's id (a lower-case UUID)." format:"uuid"`
}

// The documentation of the snapshot operations.
const (
	snapshotQuotaDoc = "A snapshot counts against the VDC's disk quota with a bound of what it can take on its host " +
		"(`sizeBytes`): an instance's disks (its boot disk included), plus its memory when the snapshot holds it; a volume's size. " +
		"It is charged when the snapshot is recorded (403 beyond the quota, and nothing is recorded) and released when it is deleted."
	instanceSnapshotDoc = "Snapshots an instance's disks through a task. On KVM (libvirt) the snapshot of a running VM holds its " +
		"memory too (`memory: true`); on ESXi a snapshot holds the disks only. Containers take no snapshots (501): a container is " +
		"remade from its image, its data belongs on volumes. 409 while another task acts on the instance. "
	volumeSnapshotDoc = "Snapshots a volume through a task: a copy in its storage pool on KVM, a thin copy of its VMDK on ESXi. " +
		"On ESXi the copy needs a disk no running VM locks: a volume attached to a running instance is 409 (stop the instance or " +
		"detach the volume). Docker hosts take no volume snapshots (501). 409 while another task acts on the volume. "
	revertDoc = "Puts the instance or volume back to the snapshot through a task; the current state is lost. What becomes of a " +
		"running VM is its engine's behaviour, and the task records the power it has afterwards: on KVM a snapshot that holds the " +
		"memory brings the VM back running from the moment of the snapshot, and a snapshot taken while it was stopped leaves it " +
		"stopped; on ESXi (disk-only snapshots) the VM is powered off. A volume must be detached (409 otherwise); it gets the " +
		"snapshot's content and keeps its current size."
	deleteSnapshotDoc = "Deletes a snapshot on its host through a task and releases its disk quota; the instance or volume keeps " +
		"its current state. A snapshot is also deleted with its instance or volume."
)

func (s *server) snapshotRoutes() {
	tags := []string{"snapshots"}
	listRoute(s, op{id: "list-snapshots", method: http.MethodGet, path: "/v1/snapshots", summary: "List the snapshots of a VDC",
		desc: "The snapshots of the caller's VDC, of instances and volumes.", tags: tags},
		func(ctx context.Context, p auth.Principal, o core.ListOptions) (core.Page[core.SnapshotInfo], error) {
			return s.svc.ListSnapshots(ctx, p, core.SnapshotOf{}, o)
		})
	owners := []struct {
		noun, path, doc string
		of              func(id string) core.SnapshotOf
		create          func(ctx context.Context, p auth.Principal, id ovm.ID, in core.CreateSnapshot) (core.SnapshotTask, error)
	}{
		{"instance", "/v1/instances/{id}/snapshots", instanceSnapshotDoc,
			func(id string) core.SnapshotOf { return core.SnapshotOf{InstanceID: ovm.ID(id)} }, s.svc.CreateInstanceSnapshot},
		{"volume", "/v1/volumes/{id}/snapshots", volumeSnapshotDoc,
			func(id string) core.SnapshotOf { return core.SnapshotOf{VolumeID: ovm.ID(id)} }, s.svc.CreateVolumeSnapshot},
	}
	for _, o := range owners {
		register(s, op{id: "list-" + o.noun + "-snapshots", method: http.MethodGet, path: o.path, summary: "List the snapshots of a " + o.noun,
			desc: "The snapshots of one " + o.noun + ".", more: pageDoc, tags: tags},
			func(ctx context.Context, p auth.Principal, in *struct {
				IDPath
				PageParams
			}) (*List[core.SnapshotInfo], error) {
				pg, err := s.svc.ListSnapshots(ctx, p, o.of(in.ID), core.ListOptions{Cursor: in.Cursor, Limit: in.Limit})
				return list("/v1/"+o.noun+"s/"+in.ID+"/snapshots", in.query(), pg), err
			})
		register(s, op{id: "create-" + o.noun + "-snapshot", method: http.MethodPost, path: o.path, summary: "Snapshot a " + o.noun,
			desc: o.doc + snapshotQuotaDoc, more: taskDoc + " " + createDoc, tags: tags, status: http.StatusAccepted,
			errors: []int{403, 409, 501, 503}},
			func(ctx context.Context, p auth.Principal, in *struct {
				IDPath
				IdempotencyKey
				Body apitypes.SnapshotCreate
			}) (*Accepted[core.SnapshotTask], error) {
				in.Body.IdempotencyKey = in.Key
				return accepted(o.create(ctx, p, ovm.ID(in.ID), in.Body))
			})
		register(s, op{id: "get-" + o.noun + "-snapshot", method: http.MethodGet, path: o.path + "/{snapshotId}", summary: "Get a snapshot of a " + o.noun,
			desc: "One snapshot of the " + o.noun + "; a snapshot of another " + o.noun + " is 404.", more: etagDoc, tags: tags},
			func(ctx context.Context, p auth.Principal, in *SnapshotPath) (*Object[core.SnapshotInfo], error) {
				return obj(s.svc.GetSnapshot(ctx, p, o.of(in.ID), ovm.ID(in.SnapshotID)))
			})
		change := func(id, method, path, summary, doc string, status int,
			do func(ctx context.Context, p auth.Principal, of core.SnapshotOf, id ovm.ID, ifVersion int64) (core.SnapshotTask, error)) {
			register(s, op{id: id + "-" + o.noun + "-snapshot", method: method, path: o.path + "/{snapshotId}" + path, summary: summary + " a snapshot of a " + o.noun,
				desc: doc, more: taskDoc + " " + ifMatchDoc, tags: tags, status: status, errors: []int{409, 412, 501, 503}},
				func(ctx context.Context, p auth.Principal, in *struct {
					SnapshotPath
					IfMatch
				}) (*Accepted[core.SnapshotTask], error) {
					v, err := parseIfMatch(in.IfMatch.IfMatch)
					if err != nil {
						return nil, err
					}
					return accepted(do(ctx, p, o.of(in.ID), ovm.ID(in.SnapshotID), v))
				})
		}
		change("revert", http.MethodPost, "/revert", "Revert to", revertDoc, http.StatusAccepted, s.svc.RevertSnapshot)
		change("delete", http.MethodDelete, "", "Delete", deleteSnapshotDoc, http.StatusAccepted, s.svc.DeleteSnapshot)
	}
}
