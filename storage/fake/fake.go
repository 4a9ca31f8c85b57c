package fake

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
)

// DefaultCapacity is a pool's capacity when Options gives none.
const DefaultCapacity = ovm.TiB

// DefaultImageSize is the size of every image when Options.Images is nil.
const DefaultImageSize = ovm.GiB

// The method names FailNext accepts: those of storage.Driver (except
// Capabilities, which cannot fail), storage.Attacher and
// storage.Snapshotter.
const (
	MethodCreatePool     = "CreatePool"
	MethodGetPool        = "GetPool"
	MethodListPools      = "ListPools"
	MethodDeletePool     = "DeletePool"
	MethodCreateVolume   = "CreateVolume"
	MethodGetVolume      = "GetVolume"
	MethodListVolumes    = "ListVolumes"
	MethodResizeVolume   = "ResizeVolume"
	MethodDeleteVolume   = "DeleteVolume"
	MethodAttachVolume   = "AttachVolume"
	MethodDetachVolume   = "DetachVolume"
	MethodCreateSnapshot = "CreateSnapshot"
	MethodListSnapshots  = "ListSnapshots"
	MethodRevertSnapshot = "RevertSnapshot"
	MethodDeleteSnapshot = "DeleteSnapshot"
)

// Methods returns every method name FailNext accepts.
func Methods() []string {
	return []string{
		MethodCreatePool, MethodGetPool, MethodListPools, MethodDeletePool,
		MethodCreateVolume, MethodGetVolume, MethodListVolumes, MethodResizeVolume, MethodDeleteVolume,
		MethodAttachVolume, MethodDetachVolume,
		MethodCreateSnapshot, MethodListSnapshots, MethodRevertSnapshot, MethodDeleteSnapshot,
	}
}

// Options configure a fake driver. The zero value is ready to use.
type Options struct {
	// Capacity is the capacity of each new pool; zero or less means
	// DefaultCapacity.
	Capacity ovm.Bytes
	// PoolCapacity overrides Capacity for the pools it names by id.
	// Entries of zero or less are ignored.
	PoolCapacity map[ovm.ID]ovm.Bytes
	// Images are the images volumes can be made from, with their sizes.
	// When nil, every valid image reference exists with DefaultImageSize;
	// otherwise an image not listed is ovm.ErrNotFound.
	Images map[ovm.ImageRef]ovm.Bytes
	// Now stamps CreatedAt on pools, volumes and snapshots. When nil the
	// fake reads no clock and timestamps stay zero.
	Now func() time.Time
}

// Driver is the in-memory storage driver. Create one with New.
type Driver struct {
	opts Options

	mu          sync.Mutex
	unreachable bool
	failNext    map[string][]error
	pools       map[ovm.ID]*pool
	volumes     map[ovm.ID]*volume
}

type pool struct {
	p    ovm.StoragePool // Used is kept up to date
	spec storage.PoolSpec
}

type volume struct {
	v     ovm.Volume
	snaps []snapshot // in creation order
}

type snapshot struct {
	s    ovm.Snapshot
	size ovm.Bytes // the volume's size when it was taken
}

var (
	_ storage.Driver      = (*Driver)(nil)
	_ storage.Attacher    = (*Driver)(nil)
	_ storage.Snapshotter = (*Driver)(nil)
)

// New returns an empty fake driver. Options are copied; the maps in them
// must not be changed afterwards.
func New(opts Options) *Driver {
	return &Driver{
		opts:     opts,
		failNext: map[string][]error{},
		pools:    map[ovm.ID]*pool{},
		volumes:  map[ovm.ID]*volume{},
	}
}

// SetUnreachable makes every call but Capabilities fail with
// ovm.ErrUnavailable (true) or work again (false). State is kept meanwhile,
// as a storage backend that drops off the network keeps its data.
func (d *Driver) SetUnreachable(unreachable bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.unreachable = unreachable
}

// FailNext makes the next call of method (one of Methods, such as
// MethodCreateVolume) return err without doing anything. Several calls for
// one method queue their errors, returned by its next calls in order. An
// unknown method name is a bug in the test and panics. While the driver is
// unreachable calls fail with ovm.ErrUnavailable and leave the queue as is.
func (d *Driver) FailNext(method string, err error) {
	if !slices.Contains(Methods(), method) {
		panic(fmt.Sprintf("fake: FailNext: unknown method %q (want one of %s)", method, strings.Join(Methods(), ", ")))
	}
	if err == nil {
		panic("fake: FailNext: nil error")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failNext[method] = append(d.failNext[method], err)
}

// enter is the gate every call passes, with d.mu held: a done context, the
// unreachable knob and queued failures, in that order.
func (d *Driver) enter(ctx context.Context, method string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fake storage: %s: %w", method, err)
	}
	if d.unreachable {
		return ovm.Errorf(ovm.KindUnavailable, "fake storage: %s: backend unreachable", method)
	}
	if q := d.failNext[method]; len(q) > 0 {
		err := q[0]
		if len(q) == 1 {
			delete(d.failNext, method)
		} else {
			d.failNext[method] = q[1:]
		}
		return err
	}
	return nil
}

func (d *Driver) now() time.Time {
	if d.opts.Now == nil {
		return time.Time{}
	}
	return d.opts.Now()
}

// Capabilities announces every pool kind, the qcow2, raw and vmdk formats,
// attach, snapshots and volumes from images.
func (d *Driver) Capabilities() storage.Capabilities {
	return storage.Capabilities{
		PoolKinds: []ovm.StoragePoolKind{ovm.StorageLocal, ovm.StorageShared, ovm.StorageNFS},
		Formats:   []ovm.ImageFormat{ovm.FormatQCOW2, ovm.FormatRaw, ovm.FormatVMDK},
		Attach:    true,
		Snapshots: true,
		FromImage: true,
	}
}

// CreatePool makes a pool, or returns the existing one with the same id
// when its shape (kind, path, server, export) is the same; another shape is
// ovm.ErrConflict, as is another pool with the same name.
func (d *Driver) CreatePool(ctx context.Context, spec storage.PoolSpec) (ovm.StoragePool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodCreatePool); err != nil {
		return ovm.StoragePool{}, err
	}
	if err := spec.Validate(); err != nil {
		return ovm.StoragePool{}, err
	}
	if p, ok := d.pools[spec.ID]; ok {
		if !sameShape(p.spec, spec) {
			return ovm.StoragePool{}, ovm.Errorf(ovm.KindConflict,
				"storage pool %s exists with another shape (kind %s, path %q, export %s:%s)",
				spec.ID, p.spec.Kind, p.spec.Path, p.spec.Server, p.spec.Export)
		}
		return clonePool(p.p), nil
	}
	for _, p := range d.pools {
		if p.p.Name == spec.Name {
			return ovm.StoragePool{}, ovm.Errorf(ovm.KindConflict, "storage pool name %q is taken by pool %s", spec.Name, p.p.ID)
		}
	}
	capacity := d.opts.Capacity
	if c := d.opts.PoolCapacity[spec.ID]; c > 0 {
		capacity = c
	}
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	p := &pool{spec: spec, p: ovm.StoragePool{
		ID: spec.ID, Name: spec.Name, Kind: spec.Kind,
		Path: spec.Path, Server: spec.Server, Export: spec.Export,
		Capacity: capacity, CreatedAt: d.now(),
	}}
	d.pools[spec.ID] = p
	return clonePool(p.p), nil
}

func sameShape(a, b storage.PoolSpec) bool {
	return a.Kind == b.Kind && a.Path == b.Path && a.Server == b.Server && a.Export == b.Export
}

// GetPool returns a pool with its current usage.
func (d *Driver) GetPool(ctx context.Context, id ovm.ID) (ovm.StoragePool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodGetPool); err != nil {
		return ovm.StoragePool{}, err
	}
	p, err := d.pool(id)
	if err != nil {
		return ovm.StoragePool{}, err
	}
	return clonePool(p.p), nil
}

// ListPools returns every pool, sorted by name.
func (d *Driver) ListPools(ctx context.Context) ([]ovm.StoragePool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodListPools); err != nil {
		return nil, err
	}
	out := make([]ovm.StoragePool, 0, len(d.pools))
	for _, p := range d.pools {
		out = append(out, clonePool(p.p))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeletePool removes an empty pool; a pool with volumes is ovm.ErrConflict.
func (d *Driver) DeletePool(ctx context.Context, id ovm.ID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(ctx, MethodDeletePool); err != nil {
		return err
	}
	p, err := d.pool(id)
	if err != nil {
		return err
	}
	n := 0
	for _, v := range d.volumes {
		if v.v.StoragePoolID == id {
			n++
		}
	}
	if n > 0 {
		return ovm.Errorf(ovm.KindConflict, "storage pool %s (%s) still holds %d volume(s)", p.p.Name, id, n)
	}
	delete(d.pools, id)
	return nil
}

func (d *Driver) pool(id ovm.ID) (*pool, error) {
	p, ok := d.pools[id]
	if !ok {
		return nil, ovm.NotFound("storage pool", id)
	}
	return p, nil
}

// free is what is left of p's capacity.
func (p *pool) free() ovm.Bytes { return p.p.Capacity - p.p.Used }

// noRoom is the conflict of a volume of need bytes that p cannot hold.
func (p *pool) noRoom(what string, need ovm.Bytes) error {
	return ovm.Errorf(ovm.KindConflict, "storage pool %s (%s) is full: %s needs %s more, %s free of %s",
		p.p.Name, p.p.ID, what, need, p.free(), p.p.Capacity)
}

func clonePool(p ovm.StoragePool) ovm.StoragePool {
	p.HostIDs = slices.Clone(p.HostIDs)
	return p
}
