package core

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
	"github.com/openovm/ovm/storage"
)

// The storage pool task kinds.
const (
	TaskStoragePoolEnsure = "storagepool.ensure"
	TaskStoragePoolDelete = "storagepool.delete"
)

// storagePoolRecord is a stored storage pool: an ovm.StoragePool (what
// placement and HA read) with what the server keeps about it.
type storagePoolRecord struct {
	ovm.StoragePool
	// Discovered: inventory sync found it on its hosts; deleting it
	// forgets the record and leaves the hosts alone.
	Discovered bool `json:"discovered,omitempty"`
	// NativeName is the pool's name on its hosts when it is not Name (a
	// discovered pool: a datastore, a libvirt pool).
	NativeName       string    `json:"nativeName,omitempty"`
	DeclaredCapacity ovm.Bytes `json:"declaredCapacityBytes,omitempty"`
	Phase            ovm.Phase `json:"phase"`
	Message          string    `json:"message,omitempty"`
	// Natives maps each host of the pool to the pool's id there; a host
	// without one gets the pool made (or adopted) with the record's id.
	Natives     map[ovm.ID]ovm.ID `json:"natives,omitempty"`
	PendingTask ovm.ID            `json:"pendingTask,omitempty"`
}

// StoragePoolInfo is a storage pool as administrators see it.
type StoragePoolInfo = apitypes.StoragePoolInfo

// StoragePoolTask is a storage pool and the task that acts on it.
type StoragePoolTask = apitypes.StoragePoolTask

// limit is the capacity OVM allocates up to: the declared one, else what
// the hosts report (0: unknown, not enforced).
func (r storagePoolRecord) limit() ovm.Bytes {
	if r.DeclaredCapacity > 0 {
		return r.DeclaredCapacity
	}
	return r.Capacity
}

// native is the pool's id on host.
func (r storagePoolRecord) native(host ovm.ID) ovm.ID {
	if n := r.Natives[host]; n != "" {
		return n
	}
	return r.ID
}

// spec is what the pool's host is asked to make or adopt.
func (r storagePoolRecord) spec(host ovm.ID) storage.PoolSpec {
	name := r.Name
	if r.NativeName != "" {
		name = r.NativeName
	}
	return storage.PoolSpec{ID: r.native(host), Name: name, Kind: r.Kind, Path: r.Path, Server: r.Server, Export: r.Export}
}

// reaches reports whether host is one of the pool's hosts.
func (r storagePoolRecord) reaches(host ovm.ID) bool { return slices.Contains(r.HostIDs, host) }

func (r storagePoolRecord) info() StoragePoolInfo {
	out := StoragePoolInfo{StoragePool: r.StoragePool, Discovered: r.Discovered, DeclaredCapacity: r.DeclaredCapacity,
		Phase: r.Phase, Message: r.Message, Hosts: make([]apitypes.StoragePoolHost, 0, len(r.HostIDs))}
	if lim := r.limit(); lim > r.Allocated {
		out.Free = lim - r.Allocated
	}
	out.HostIDs = slices.Clone(r.HostIDs)
	for _, h := range r.HostIDs {
		out.Hosts = append(out.Hosts, apitypes.StoragePoolHost{HostID: h, NativeID: string(r.Natives[h])})
	}
	return out
}

// adminOnly hides an administrators' route from everybody else: a tenant
// learns nothing of the platform's storage, not even that it exists.
func adminOnly(p auth.Principal, id ovm.ID) error {
	if !p.Admin() {
		return ovm.NotFound("storage pool", id)
	}
	return nil
}

// poolKinds are the pool kinds each host kind's storage driver makes.
var poolKinds = map[ovm.HostKind][]ovm.StoragePoolKind{
	ovm.HostKVM:    {ovm.StorageLocal, ovm.StorageShared, ovm.StorageNFS},
	ovm.HostESXi:   {ovm.StorageLocal, ovm.StorageNFS},
	ovm.HostDocker: {ovm.StorageLocal, ovm.StorageShared},
	ovm.HostFake:   {ovm.StorageLocal, ovm.StorageShared, ovm.StorageNFS},
}

// checkPoolHosts checks the hosts of a pool of kind: at least one, exactly
// one for a local pool, each existing once and able to hold the kind.
func checkPoolHosts(ctx context.Context, tx store.Tx, kind ovm.StoragePoolKind, hosts []ovm.ID) error {
	var f ovm.Fields
	switch {
	case len(hosts) == 0:
		f.Add("hostIds", "must name at least one host")
	case kind == ovm.StorageLocal && len(hosts) > 1:
		f.Add("hostIds", "must name exactly one host: a local pool is on one host (shared and nfs pools are on several)")
	}
	seen := map[ovm.ID]bool{}
	for i, id := range hosts {
		field := fmt.Sprintf("hostIds[%d]", i)
		if seen[id] {
			f.Addf(field, "names host %s twice", id)
			continue
		}
		seen[id] = true
		h, _, err := getAs[hostRecord](ctx, tx, store.KindHost, id)
		switch {
		case ovm.KindOf(err) == ovm.KindNotFound || !id.Valid():
			f.Addf(field, "host %s not found", id)
			continue
		case err != nil:
			return err
		}
		if ks, ok := poolKinds[h.Kind]; ok && !slices.Contains(ks, kind) {
			f.Addf(field, "host %s is a %s host, whose storage has no %s pools (it has %v)", h.Name, h.Kind, kind, ks)
		}
	}
	return f.Err("invalid storage pool hosts")
}

// RegisterStoragePool records a storage pool on hosts and makes it there
// (or adopts what is there) in a storagepool.ensure task.
func (s *Service) RegisterStoragePool(ctx context.Context, p auth.Principal, in apitypes.StoragePoolCreate) (StoragePoolTask, error) {
	if err := adminOnly(p, ""); err != nil {
		return StoragePoolTask{}, err
	}
	id := ovm.NewID()
	spec := storage.PoolSpec{ID: id, Name: in.Name, Kind: in.Kind, Path: in.Path, Server: in.Server, Export: in.Export}
	var f ovm.Fields
	if err := spec.Validate(); err != nil {
		f.Merge("", err)
	}
	if in.CapacityBytes < 0 {
		f.Add("capacityBytes", "must not be negative")
	}
	if err := f.Err("invalid storage pool"); err != nil {
		return StoragePoolTask{}, err
	}
	var out StoragePoolTask
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return idempotent(ctx, tx, p, "storagepool.create", in.IdempotencyKey, in, &out, func() error {
			if err := checkPoolHosts(ctx, tx, in.Kind, in.HostIDs); err != nil {
				return err
			}
			if err := nameFree(ctx, tx, store.KindStoragePool, "", in.Name, "name"); err != nil {
				return err
			}
			rec := storagePoolRecord{StoragePool: ovm.StoragePool{ID: id, Name: in.Name, Kind: in.Kind, Path: in.Path,
				Server: in.Server, Export: in.Export, TemplateLibrary: in.TemplateLibrary, HostIDs: slices.Clone(in.HostIDs),
				CreatedAt: s.now()}, DeclaredCapacity: in.CapacityBytes, Phase: ovm.PhaseCreating}
			t, err := s.enqueuePoolEnsure(ctx, tx, &rec, in.HostIDs)
			if err != nil {
				return err
			}
			r := store.Record{Kind: store.KindStoragePool, ID: id, Name: in.Name}
			if err := setData(&r, rec); err != nil {
				return err
			}
			out = StoragePoolTask{Pool: rec.info(), Task: t}
			return tx.Insert(ctx, &r)
		})
	})
	if err == nil {
		s.tasks.Kick()
	}
	return out, err
}

// enqueuePoolEnsure records the task that makes a pool on hosts.
func (s *Service) enqueuePoolEnsure(ctx context.Context, tx store.Tx, rec *storagePoolRecord, hosts []ovm.ID) (*ovm.Task, error) {
	t, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskStoragePoolEnsure, TargetID: rec.ID,
		Input: poolInput{PoolID: rec.ID, HostIDs: hosts}})
	if err != nil {
		return nil, err
	}
	rec.PendingTask, rec.Phase = t.ID, ovm.PhaseCreating
	return &t, nil
}

// GetStoragePool returns a storage pool and its version.
func (s *Service) GetStoragePool(ctx context.Context, p auth.Principal, id ovm.ID) (StoragePoolInfo, int64, error) {
	if err := adminOnly(p, id); err != nil {
		return StoragePoolInfo{}, 0, err
	}
	rec, ver, err := getPlatformAs[storagePoolRecord](ctx, s, p, store.KindStoragePool, id)
	return rec.info(), ver, err
}

// ListStoragePools lists the storage pools.
func (s *Service) ListStoragePools(ctx context.Context, p auth.Principal, o ListOptions) (Page[StoragePoolInfo], error) {
	if err := adminOnly(p, ""); err != nil {
		return Page[StoragePoolInfo]{}, err
	}
	var out Page[StoragePoolInfo]
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = listPage(ctx, tx, store.Filter{Kind: store.KindStoragePool}, o, func(r store.Record) (StoragePoolInfo, error) {
			rec, err := decode[storagePoolRecord](r)
			return rec.info(), err
		})
		return err
	})
	return out, err
}

// UpdateStoragePool changes a pool's hosts, declared capacity or template
// library flag. Hosts added get the pool in a storagepool.ensure task;
// hosts removed (none of the pool's volumes on them) keep what is there.
func (s *Service) UpdateStoragePool(ctx context.Context, p auth.Principal, id ovm.ID, in apitypes.StoragePoolPatch, ifVersion int64) (StoragePoolTask, error) {
	if err := adminOnly(p, id); err != nil {
		return StoragePoolTask{}, err
	}
	if in.CapacityBytes != nil && *in.CapacityBytes < 0 {
		return StoragePoolTask{}, invalid("invalid storage pool", "capacityBytes", "must not be negative")
	}
	var out StoragePoolTask
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		rec, r, err := s.poolForChange(ctx, tx, p, id, ifVersion)
		if err != nil {
			return err
		}
		if in.CapacityBytes != nil {
			if *in.CapacityBytes > 0 && *in.CapacityBytes < rec.Allocated {
				return invalid("invalid storage pool", "capacityBytes", fmt.Sprintf("must be at least the %s OVM allocated in the pool", rec.Allocated))
			}
			rec.DeclaredCapacity = *in.CapacityBytes
		}
		if in.TemplateLibrary != nil {
			rec.TemplateLibrary = *in.TemplateLibrary
		}
		var t *ovm.Task
		if in.HostIDs != nil {
			if t, err = s.changePoolHosts(ctx, tx, &rec, *in.HostIDs); err != nil {
				return err
			}
		}
		out = StoragePoolTask{Pool: rec.info(), Task: t}
		return save(ctx, tx, &r, rec)
	})
	if err == nil && out.Task != nil {
		s.tasks.Kick()
	}
	return out, err
}

// poolForChange reads a pool no task is changing, under If-Match.
func (s *Service) poolForChange(ctx context.Context, tx store.Tx, p auth.Principal, id ovm.ID, ifVersion int64) (storagePoolRecord, store.Record, error) {
	r, err := getPlatform(ctx, tx, p, store.KindStoragePool, id)
	if err != nil {
		return storagePoolRecord{}, r, err
	}
	if err := checkVersion(r, ifVersion); err != nil {
		return storagePoolRecord{}, r, err
	}
	rec, err := decode[storagePoolRecord](r)
	if err != nil {
		return rec, r, err
	}
	if rec.PendingTask != "" {
		return rec, r, conflictf("storage pool %s is %s (task %s)", rec.Name, rec.Phase, rec.PendingTask)
	}
	return rec, r, nil
}

// changePoolHosts sets a pool's hosts: a host dropped must hold none of
// its volumes; hosts added get the pool in a task.
func (s *Service) changePoolHosts(ctx context.Context, tx store.Tx, rec *storagePoolRecord, hosts []ovm.ID) (*ovm.Task, error) {
	if err := checkPoolHosts(ctx, tx, rec.Kind, hosts); err != nil {
		return nil, err
	}
	vols, err := listAll(ctx, tx, store.Filter{Kind: store.KindVolume, AllVDCs: true, ParentID: rec.ID})
	if err != nil {
		return nil, err
	}
	for _, h := range rec.HostIDs {
		if slices.Contains(hosts, h) {
			continue
		}
		for _, v := range vols {
			if v.HostID == h {
				return nil, invalid("invalid storage pool hosts", "hostIds", fmt.Sprintf("must keep host %s: volume %s of the pool is on it", h, v.ID))
			}
		}
		delete(rec.Natives, h)
	}
	var added []ovm.ID
	for _, h := range hosts {
		if !rec.reaches(h) {
			added = append(added, h)
		}
	}
	rec.HostIDs = slices.Clone(hosts)
	if len(added) == 0 {
		return nil, nil
	}
	return s.enqueuePoolEnsure(ctx, tx, rec, added)
}

// DeleteStoragePool deletes a pool that holds nothing OVM made: a
// registered pool is removed from its hosts in a storagepool.delete task;
// a discovered one is only forgotten (sync finds it again while its hosts
// have it).
func (s *Service) DeleteStoragePool(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) (StoragePoolTask, error) {
	if err := adminOnly(p, id); err != nil {
		return StoragePoolTask{}, err
	}
	var out StoragePoolTask
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		rec, r, err := s.poolForChange(ctx, tx, p, id, ifVersion)
		if err != nil {
			return err
		}
		n, err := tx.Count(ctx, store.Filter{Kind: store.KindVolume, AllVDCs: true, ParentID: id})
		if err != nil {
			return err
		}
		if n > 0 {
			return conflictf("storage pool %s holds %d volumes", rec.Name, n)
		}
		if rec.Allocated > 0 {
			return conflictf("storage pool %s holds %s of disks OVM made", rec.Name, rec.Allocated)
		}
		if rec.Discovered {
			out = StoragePoolTask{Pool: rec.info()}
			return tx.Delete(ctx, store.KindStoragePool, id, r.Version)
		}
		t, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskStoragePoolDelete, TargetID: id,
			Input: poolInput{PoolID: id, HostIDs: rec.HostIDs}})
		if err != nil {
			return err
		}
		rec.Phase, rec.PendingTask = ovm.PhaseDeleting, t.ID
		out = StoragePoolTask{Pool: rec.info(), Task: &t}
		return save(ctx, tx, &r, rec)
	})
	if err == nil && out.Task != nil {
		s.tasks.Kick()
	}
	return out, err
}

// poolInput is the input of the storage pool task kinds.
type poolInput struct {
	PoolID  ovm.ID   `json:"poolId"`
	HostIDs []ovm.ID `json:"hostIds"`
}

// poolStorage reads a pool and a host and returns the host's storage
// driver.
func (s *Service) poolStorage(ctx context.Context, poolID, hostID ovm.ID) (storage.Driver, storagePoolRecord, hostRecord, error) {
	rec, err := viewAs[storagePoolRecord](ctx, s, store.KindStoragePool, poolID)
	if err != nil {
		return nil, rec, hostRecord{}, err
	}
	h, err := viewAs[hostRecord](ctx, s, store.KindHost, hostID)
	if err != nil {
		return nil, rec, h, err
	}
	st, err := s.hostStorage(ctx, h)
	return st, rec, h, err
}

// hostStorage connects to a host and returns its storage driver.
func (s *Service) hostStorage(ctx context.Context, h hostRecord) (storage.Driver, error) {
	conn, err := s.connect(ctx, h)
	if err != nil {
		return nil, err
	}
	if conn.Storage == nil {
		return nil, ovm.Errorf(ovm.KindUnsupported, "host %s (%s) has no storage driver", h.Name, h.Kind)
	}
	return conn.Storage, nil
}

// updatePool changes a pool record in a transaction of its own; a missing
// pool is left alone.
func (s *Service) updatePool(ctx context.Context, id ovm.ID, change func(rec *storagePoolRecord) error) error {
	return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		rec, r, err := getAs[storagePoolRecord](ctx, tx, store.KindStoragePool, id)
		switch {
		case ovm.KindOf(err) == ovm.KindNotFound:
			return nil
		case err != nil:
			return err
		}
		if err := change(&rec); err != nil {
			return err
		}
		return save(ctx, tx, &r, rec)
	})
}

// learnPool records what a host said of a pool: its id there and its size.
func learnPool(rec *storagePoolRecord, host ovm.ID, got ovm.StoragePool) {
	if rec.Natives == nil {
		rec.Natives = map[ovm.ID]ovm.ID{}
	}
	if got.ID != "" {
		rec.Natives[host] = got.ID
	}
	if !rec.reaches(host) {
		rec.HostIDs = append(rec.HostIDs, host)
	}
	if got.Capacity > 0 {
		rec.Capacity, rec.Used = got.Capacity, got.Used
	}
}

// storagePoolEnsureHandler is the storagepool.ensure task kind: the pool is
// made (or adopted) on each host of the input, then recorded ready.
type storagePoolEnsureHandler struct{ s *Service }

// Steps returns one step per host and the record (tasks.Handler).
func (h storagePoolEnsureHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[poolInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	steps := make([]tasks.Step, 0, len(in.HostIDs)+1)
	for _, host := range in.HostIDs {
		steps = append(steps, tasks.Step{
			Name: "ensure on host " + string(host),
			Do: func(ctx context.Context, r *tasks.Run) error {
				st, rec, hr, err := s.poolStorage(ctx, in.PoolID, host)
				if err != nil {
					return err
				}
				got, err := st.CreatePool(ctx, rec.spec(host))
				if err != nil {
					return fmt.Errorf("storage pool %s on host %s: %w", rec.Name, hr.Name, err)
				}
				r.Logf(slog.LevelInfo, "storage pool %s is on host %s as %s", rec.Name, hr.Name, got.ID)
				return s.updatePool(ctx, in.PoolID, func(rec *storagePoolRecord) error {
					learnPool(rec, host, got)
					return nil
				})
			},
		})
	}
	steps = append(steps, tasks.Step{
		Name: "record",
		Do: func(ctx context.Context, r *tasks.Run) error {
			return s.updatePool(ctx, in.PoolID, func(rec *storagePoolRecord) error {
				rec.Phase, rec.Message, rec.PendingTask = ovm.PhaseReady, "", ""
				return nil
			})
		},
	})
	return steps, nil
}

// Finish marks a pool whose hosts did not all take it failed, with why.
func (h storagePoolEnsureHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	return h.s.failPool(ctx, r, state, "", cause)
}

// failPool marks the pool of a task that did not succeed failed, with
// why.
func (s *Service) failPool(ctx context.Context, r *tasks.Run, state ovm.TaskState, prefix string, cause error) error {
	if state == ovm.TaskSucceeded {
		return nil
	}
	return s.updatePool(ctx, r.Task().TargetID, func(rec *storagePoolRecord) error {
		rec.Phase, rec.Message, rec.PendingTask = ovm.PhaseFailed, prefix+causeText(cause), ""
		return nil
	})
}

// storagePoolDeleteHandler is the storagepool.delete task kind: the pool is
// removed from each host (one already gone is fine), then forgotten.
type storagePoolDeleteHandler struct{ s *Service }

// Steps returns one step per host and the forget (tasks.Handler).
func (h storagePoolDeleteHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[poolInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	steps := make([]tasks.Step, 0, len(in.HostIDs)+1)
	for _, host := range in.HostIDs {
		steps = append(steps, tasks.Step{
			Name: "delete on host " + string(host),
			Do: func(ctx context.Context, r *tasks.Run) error {
				st, rec, hr, err := s.poolStorage(ctx, in.PoolID, host)
				if err != nil {
					return ignore(err, ovm.KindNotFound)
				}
				if err := ignore(st.DeletePool(ctx, rec.native(host)), ovm.KindNotFound); err != nil {
					return fmt.Errorf("storage pool %s on host %s: %w", rec.Name, hr.Name, err)
				}
				return nil
			},
		})
	}
	steps = append(steps, tasks.Step{
		Name: "forget",
		Do: func(ctx context.Context, r *tasks.Run) error {
			return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
				return ignore(tx.Delete(ctx, store.KindStoragePool, in.PoolID, 0), ovm.KindNotFound)
			})
		},
	})
	return steps, nil
}

// Finish marks a pool whose delete failed.
func (h storagePoolDeleteHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	return h.s.failPool(ctx, r, state, "delete failed: ", cause)
}

// chargePool changes what OVM allocated in a pool by delta, refusing to
// pass the pool's capacity (a growth only; a release always succeeds). A
// pool that no longer exists is not charged.
func chargePool(ctx context.Context, tx store.Tx, poolID ovm.ID, delta ovm.Bytes) error {
	if poolID == "" || delta == 0 {
		return nil
	}
	rec, r, err := getAs[storagePoolRecord](ctx, tx, store.KindStoragePool, poolID)
	switch {
	case ovm.KindOf(err) == ovm.KindNotFound:
		return nil
	case err != nil:
		return err
	}
	next := max(rec.Allocated+delta, 0)
	if lim := rec.limit(); delta > 0 && lim > 0 && next > lim {
		return &poolFullError{pool: rec.Name, need: delta, free: max(lim-rec.Allocated, 0)}
	}
	rec.Allocated = next
	return save(ctx, tx, &r, rec)
}

// poolFullError is a pool without room for a disk.
type poolFullError struct {
	pool       string
	need, free ovm.Bytes
}

func (e *poolFullError) Error() string {
	return fmt.Sprintf("storage pool %s has %s free of its capacity, %s wanted", e.pool, e.free, e.need)
}

// poolFull turns a full pool into a problem naming field: an
// administrator reads the pool's room, a tenant only that it has none.
func poolFull(p auth.Principal, err error, field string) error {
	pf, ok := err.(*poolFullError)
	if !ok {
		return err
	}
	reason := pf.Error()
	if !p.Admin() {
		reason = fmt.Sprintf("the storage pool has no room for %s", pf.need)
	}
	return invalid("the storage pool is full", field, reason)
}

// poolName makes a record name from a name found on a host.
func poolName(parts ...string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.Join(parts, "-")) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	n := strings.Trim(b.String(), "-")
	for strings.Contains(n, "--") {
		n = strings.ReplaceAll(n, "--", "-")
	}
	if len(n) > 48 {
		n = strings.TrimRight(n[:48], "-")
	}
	if n == "" {
		n = "pool"
	}
	return n
}

// registerStorageTasks registers the storage pool and volume attachment
// task kinds.
func (s *Service) registerStorageTasks() {
	s.tasks.Register(TaskStoragePoolEnsure, storagePoolEnsureHandler{s})
	s.tasks.Register(TaskStoragePoolDelete, storagePoolDeleteHandler{s})
	s.tasks.Register(TaskVolumeAttach, volumeAttachHandler{s})
	s.tasks.Register(TaskVolumeDetach, volumeDetachHandler{s})
}

// poolHold is what a record holds of a storage pool's capacity.
type poolHold struct {
	PoolID ovm.ID    `json:"poolId,omitempty"`
	Bytes  ovm.Bytes `json:"bytes,omitempty"`
}

// bootPool returns the recorded storage pool a host makes instances' own
// disks in: a KVM host's disks directory, an ESXi host's datastore option;
// "" when none is recorded (or the kind makes none).
func bootPool(ctx context.Context, tx store.Tx, hostID ovm.ID) (ovm.ID, error) {
	h, _, err := getAs[hostRecord](ctx, tx, store.KindHost, hostID)
	if err != nil {
		return "", err
	}
	var match func(storagePoolRecord) bool
	switch h.Kind {
	case ovm.HostKVM:
		dir := h.Options["disks"]
		if _, after, ok := strings.Cut(dir, ":"); ok && !strings.HasPrefix(dir, "/") {
			dir = after
		}
		match = func(r storagePoolRecord) bool { return dir != "" && r.Path == dir }
	case ovm.HostESXi:
		ds := h.Options["datastore"]
		match = func(r storagePoolRecord) bool { return ds != "" && (r.NativeName == ds || r.Name == ds) }
	default:
		return "", nil
	}
	pools, err := allPools(ctx, tx)
	if err != nil {
		return "", err
	}
	for _, sp := range pools {
		if sp.rec.reaches(hostID) && match(sp.rec) {
			return sp.rec.ID, nil
		}
	}
	return "", nil
}

// chargeBootPool charges the disks made for an instance (its boot disk, the
// copy of its template) to the storage pool its host made them in, once;
// a full pool fails the create like a full quota. It reports whether it
// charged now.
func chargeBootPool(ctx context.Context, tx store.Tx, inst *instanceRecord, made ovm.Bytes) (bool, error) {
	if inst.PoolHeld.PoolID != "" || made <= 0 || inst.Status.HostID == "" {
		return false, nil
	}
	pool, err := bootPool(ctx, tx, inst.Status.HostID)
	if err != nil || pool == "" {
		return false, err
	}
	if err := chargePool(ctx, tx, pool, made); err != nil {
		if _, full := err.(*poolFullError); full {
			// Task text a tenant reads: no pool name, no room.
			return false, ovm.Errorf(ovm.KindUnavailable, "the storage pool has no room for the %s of disks of instance %s", made, inst.Name)
		}
		return false, err
	}
	inst.PoolHeld = poolHold{PoolID: pool, Bytes: made}
	return true, nil
}

// useTemplateLibrary points a host's driver at the template library pool
// that reaches the host (the ready pool flagged templateLibrary, the first
// by name when several are), or back at its configured templates when
// none does. Drivers without hypervisor.TemplateLibrary are left alone.
func (s *Service) useTemplateLibrary(ctx context.Context, tg target) error {
	if tg.lib == nil {
		return nil
	}
	h := tg.host
	var best *storagePoolRecord
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		pools, err := allPools(ctx, tx)
		if err != nil {
			return err
		}
		for _, sp := range pools {
			rec := sp.rec
			if rec.TemplateLibrary && rec.Phase == ovm.PhaseReady && rec.reaches(h.ID) && (best == nil || rec.Name < best.Name) {
				best = &rec
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	var pool ovm.StoragePool
	if best != nil {
		spec := best.spec(h.ID)
		pool = ovm.StoragePool{ID: spec.ID, Name: spec.Name, Kind: spec.Kind, Path: spec.Path}
	}
	tg.lib.UseTemplateLibrary(pool)
	return nil
}
