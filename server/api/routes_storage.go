package api

import (
	"context"
	"net/http"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// poolAccepted answers 202 when a task carries the change, 200 when it
// was applied at once.
func poolAccepted(v core.StoragePoolTask, err error) (*Accepted[core.StoragePoolTask], error) {
	if err != nil {
		return nil, err
	}
	status := http.StatusAccepted
	if v.Task == nil {
		status = http.StatusOK
	}
	return &Accepted[core.StoragePoolTask]{Status: status, Body: v}, nil
}

// storageRoutes are the storage pools (administrators) and the volume
// attachments.
func (s *server) storageRoutes() {
	tags := []string{"storage-pools"}
	pageRoute(s, op{id: "list-storage-pools", desc: "The storage pools of the platform: registered ones and those inventory sync found on the hosts, with their hosts, capacity and what OVM allocated in them.", method: http.MethodGet, path: "/v1/storage-pools", summary: "List storage pools (administrators)", tags: tags},
		s.svc.ListStoragePools)
	register(s, op{id: "register-storage-pool", desc: "Records a storage pool on hosts and makes it there in a task (a libvirt dir or netfs pool, an ESXi local or NFS datastore, a Docker pool over a shared bind path); an existing one of the same shape is adopted. A local pool has one host. " + createDoc, method: http.MethodPost, path: "/v1/storage-pools",
		summary: "Register a storage pool on hosts (the pool is made or adopted there in a task)", tags: tags, status: http.StatusAccepted, errors: []int{404, 409}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IdempotencyKey
			Body apitypes.StoragePoolCreate
		}) (*Accepted[core.StoragePoolTask], error) {
			in.Body.IdempotencyKey = in.Key
			return poolAccepted(s.svc.RegisterStoragePool(ctx, p, in.Body))
		})
	getRoute(s, op{id: "get-storage-pool", desc: "One storage pool.", method: http.MethodGet, path: "/v1/storage-pools/{id}", summary: "Get a storage pool (administrators)", tags: tags},
		s.svc.GetStoragePool)
	register(s, op{id: "update-storage-pool", desc: "Changes a pool's hosts (added ones get the pool in a task; a host still holding one of its volumes stays), its declared capacity or its template library flag; fields left out stay.", method: http.MethodPatch, path: "/v1/storage-pools/{id}",
		summary: "Change a storage pool's hosts, declared capacity or template library flag (202 when hosts are added)", tags: tags, errors: []int{409, 412}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body apitypes.StoragePoolPatch
		}) (*Accepted[core.StoragePoolTask], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			return poolAccepted(s.svc.UpdateStoragePool(ctx, p, ovm.ID(in.ID), in.Body, v))
		})
	register(s, op{id: "delete-storage-pool", desc: "Deletes a storage pool; 409 while it holds volumes or disks OVM made.", method: http.MethodDelete, path: "/v1/storage-pools/{id}",
		summary: "Delete a storage pool that holds nothing OVM made (a registered one is removed from its hosts in a task; a discovered one is forgotten)",
		tags:    tags, errors: []int{409, 412}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
		}) (*Accepted[core.StoragePoolTask], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			return poolAccepted(s.svc.DeleteStoragePool(ctx, p, ovm.ID(in.ID), v))
		})

	vols := []string{"volumes"}
	register(s, op{id: "attach-volume", desc: "Attaches a volume to a VM of its VDC whose host reaches the volume's storage pool; 501 for a container (its volumes are mounted when it is created) or a host that does not attach after create.", method: http.MethodPost, path: "/v1/volumes/{id}/attach",
		summary: "Attach a volume to a VM (live where the host's engine can, else to a stopped VM)", tags: vols, status: http.StatusAccepted,
		errors: []int{409, 412, 501}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			IfMatch
			Body apitypes.VolumeAttach
		}) (*Accepted[core.VolumeTask], error) {
			v, err := parseIfMatch(in.IfMatch.IfMatch)
			if err != nil {
				return nil, err
			}
			return accepted(s.svc.AttachVolume(ctx, p, ovm.ID(in.ID), in.Body.InstanceID, v))
		})
	taskRoute(s, op{id: "detach-volume", desc: "Detaches a volume from its VM (from the running guest too, where the engine does it).", method: http.MethodPost, path: "/v1/volumes/{id}/detach", summary: "Detach a volume from its VM",
		tags: vols, status: http.StatusAccepted, errors: []int{409, 412, 501}}, s.svc.DetachVolume)
}
