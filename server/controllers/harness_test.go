package controllers_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
	"github.com/openovm/ovm/server/secrets"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/store/sqlstore"
	"github.com/openovm/ovm/server/tasks"
)

// Generous bounds for Eventually: the machine is small and shared.
const (
	waitFor = 30 * time.Second
	tick    = 20 * time.Millisecond
)

// cheap keeps password hashing fast in tests.
var cheap = auth.Argon2idParams{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

// backend opens a fresh store of one engine.
type backend struct {
	name string
	open func(t testing.TB) store.Store
}

// backends are SQLite always, PostgreSQL too under the integration tag.
func backends() []backend {
	return append([]backend{{name: "sqlite", open: openSQLite}}, integrationBackends()...)
}

func openSQLite(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err, "open sqlite: got an error, want none")
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// cluster is a platform on one store: a datacenter, an HA pool of fake
// hosts, a VDC, and a shared storage pool every host sees. Replicas of the
// server (each its own service, task engine and driver registry) run on it.
type cluster struct {
	t      *testing.T
	st     store.Store
	fakes  *drivers.FakeHosts
	key    []byte
	admin  auth.Principal
	svc    *core.Service // the first replica's, for setting up and reading
	dc     ovm.ID
	pool   ovm.ID
	vdc    ovm.ID
	shared ovm.ID
	hosts  []ovm.Host
	logs   *logSink
}

// clusterOptions shape a cluster.
type clusterOptions struct {
	hosts     int
	haEnabled bool
}

func newCluster(t *testing.T, st store.Store, o clusterOptions) *cluster {
	t.Helper()
	key := make([]byte, secrets.KeySize)
	_, _ = rand.Read(key)
	c := &cluster{t: t, st: st, fakes: drivers.NewFakeHosts(fake.Options{}), key: key,
		admin: auth.Principal{UserID: ovm.NewID(), Name: "admin", Role: auth.RoleAdmin}, logs: &logSink{}}
	c.svc, _ = c.service(nil)
	ctx := t.Context()
	dc, err := c.svc.CreateDatacenter(ctx, c.admin, core.CreateDatacenter{Name: "dc1"})
	require.NoError(t, err)
	// PROGRESSIVE fills the first host (by name) before the next: the
	// tests know where instances land.
	pool, err := c.svc.CreatePool(ctx, c.admin, core.CreatePool{Name: "pool1", DatacenterID: dc.ID,
		Policy: ovm.PolicyProgressive, HAEnabled: o.haEnabled})
	require.NoError(t, err)
	c.dc, c.pool = dc.ID, pool.ID
	prefix := strings.ToLower(string(ovm.NewID().Short()))
	for i := range o.hosts {
		h, err := c.svc.RegisterHost(ctx, c.admin, core.RegisterHost{Name: fmt.Sprintf("host%d", i+1), Kind: ovm.HostFake,
			Endpoint: fmt.Sprintf("fake://%s-host%d", prefix, i+1), PoolID: pool.ID})
		require.NoError(t, err, "register host%d", i+1)
		c.hosts = append(c.hosts, h)
	}
	vdc, err := c.svc.CreateVDC(ctx, c.admin, core.CreateVDC{Name: "tenant1", PoolID: pool.ID, Quota: ovm.Unlimited})
	require.NoError(t, err)
	c.vdc = vdc.ID
	c.shared = ovm.NewID()
	require.NoError(t, st.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := store.NewRecord(store.KindStoragePool, c.shared, "", "nfs1",
			ovm.StoragePool{ID: c.shared, Name: "nfs1", Kind: ovm.StorageNFS, Path: "/srv/ovm/nfs1", Capacity: ovm.TiB})
		if err != nil {
			return err
		}
		return tx.Insert(ctx, &r)
	}))
	return c
}

// service builds one replica's service on the cluster's store with a task
// engine that runs until the test ends; observe counts its driver calls.
func (c *cluster) service(observe func(kind ovm.HostKind, method string, err error, d time.Duration)) (*core.Service, *tasks.Engine) {
	c.t.Helper()
	eng := tasks.New(c.st, tasks.Options{PollInterval: 20 * time.Millisecond, LeaseTTL: 10 * time.Second, Workers: 8, PerHost: 4})
	reg := drivers.NewRegistry()
	reg.Register(ovm.HostFake, c.fakes.Factory())
	box, err := secrets.New(c.key)
	require.NoError(c.t, err)
	svc, err := core.New(core.Options{Store: c.st, Tasks: eng, Drivers: reg, Secrets: box, Argon2: cheap, ObserveDriverCall: observe})
	require.NoError(c.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = eng.Run(ctx) })
	c.t.Cleanup(func() { cancel(); wg.Wait() })
	return svc, eng
}

// replica is one server replica running the controllers.
type replica struct {
	name   string
	svc    *core.Service
	ctl    *controllers.Controllers
	calls  sync.Map // driver method → *atomic.Int64
	cancel context.CancelFunc
	done   chan struct{}
}

// count returns how many calls of a driver method the replica made.
func (r *replica) count(method string) int64 {
	v, ok := r.calls.Load(method)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

// stop cancels the replica's controllers and waits for them.
func (r *replica) stop() {
	r.cancel()
	<-r.done
}

// start runs a replica's controllers until stop or the end of the test.
// The first replica of a cluster uses the cluster's own service.
func (c *cluster) start(name string, o controllers.Options) *replica {
	c.t.Helper()
	r := &replica{name: name, done: make(chan struct{})}
	r.svc, _ = c.service(func(_ ovm.HostKind, method string, _ error, _ time.Duration) {
		v, _ := r.calls.LoadOrStore(method, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	})
	o.Replica = name
	if o.Platform == nil {
		o.Platform = core.NewSystem(r.svc)
	}
	if o.Logger == nil {
		o.Logger = slog.New(c.logs)
	}
	ctl, err := controllers.New(o)
	require.NoError(c.t, err)
	r.ctl = ctl
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		if err := ctl.Run(ctx); err != nil {
			c.t.Errorf("replica %s: Run: %v", name, err)
		}
	}()
	c.t.Cleanup(r.stop)
	return r
}

// fake returns the in-memory hypervisor of a host.
func (c *cluster) fake(h ovm.Host) *fake.Driver {
	c.t.Helper()
	fh, err := c.fakes.Host(h.Endpoint)
	require.NoError(c.t, err)
	return fh.Hypervisor
}

// hostOf returns the cluster host with an id.
func (c *cluster) hostOf(id ovm.ID) ovm.Host {
	c.t.Helper()
	for _, h := range c.hosts {
		if h.ID == id {
			return h
		}
	}
	c.t.Fatalf("no host %s in the cluster", id)
	return ovm.Host{}
}

// instanceSpec is a small VM; shared puts its disk on the shared pool,
// otherwise on its host's local storage.
func (c *cluster) instanceSpec(shared, haOn bool) ovm.InstanceSpec {
	disk := ovm.DiskSpec{Size: ovm.GiB}
	if shared {
		disk.StoragePoolID = c.shared
	}
	return ovm.InstanceSpec{Type: ovm.TypeVM, CPU: ovm.CPUs(1), Memory: 256 * ovm.MiB, Image: ovm.Template("debian-12.qcow2"),
		Disks: []ovm.DiskSpec{disk}, HA: ovm.HAPolicy{Enabled: haOn}}
}

// create makes a running instance and waits for its task.
func (c *cluster) create(name string, spec ovm.InstanceSpec) ovm.Instance {
	c.t.Helper()
	ctx := c.t.Context()
	it, err := c.svc.CreateInstance(ctx, c.admin, core.CreateInstance{VDCID: c.vdc, Name: name, Spec: spec, Start: true})
	require.NoError(c.t, err, "create %s", name)
	wctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	task, err := c.svc.WaitTask(wctx, c.admin, it.Task.ID)
	require.NoError(c.t, err)
	require.Equal(c.t, ovm.TaskSucceeded, task.State, "create %s: task %s: %s", name, task.State, task.Error)
	return c.instance(it.Instance.ID)
}

// instance reads an instance.
func (c *cluster) instance(id ovm.ID) ovm.Instance {
	c.t.Helper()
	inst, _, err := c.svc.GetInstance(c.t.Context(), c.admin, id)
	require.NoError(c.t, err)
	return inst
}

// host reads a host.
func (c *cluster) host(id ovm.ID) ovm.Host {
	c.t.Helper()
	h, _, err := c.svc.GetHost(c.t.Context(), c.admin, id)
	require.NoError(c.t, err)
	return h
}

// discovered lists every discovered object.
func (c *cluster) discovered() []core.Discovered {
	c.t.Helper()
	page, err := c.svc.ListDiscovered(c.t.Context(), c.admin, core.ListOptions{Limit: core.MaxLimit})
	require.NoError(c.t, err)
	return page.Items
}

// power returns the power state of an instance on a fake host, or "" when
// the host does not have it.
func power(t *testing.T, d *fake.Driver, ref hypervisor.Ref) ovm.PowerState {
	t.Helper()
	got, err := d.Get(t.Context(), ref)
	if ovm.KindOf(err) == ovm.KindNotFound {
		return ""
	}
	require.NoError(t, err)
	return got.Power
}

// logSink keeps every log record, for assertions on events and alerts.
type logSink struct {
	mu    sync.Mutex
	recs  []logRecord
	attrs []slog.Attr
}

type logRecord struct {
	msg   string
	attrs map[string]string
}

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }

func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{msg: r.Message, attrs: map[string]string{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	s.recs = append(s.recs, rec)
	return nil
}

func (s *logSink) WithAttrs(attrs []slog.Attr) slog.Handler {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &logView{s: s, attrs: append(append([]slog.Attr{}, s.attrs...), attrs...)}
}

func (s *logSink) WithGroup(string) slog.Handler { return s }

// logView is the sink with attributes added.
type logView struct {
	s     *logSink
	attrs []slog.Attr
}

func (v *logView) Enabled(context.Context, slog.Level) bool { return true }

func (v *logView) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(v.attrs...)
	return v.s.Handle(ctx, r)
}

func (v *logView) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logView{s: v.s, attrs: append(append([]slog.Attr{}, v.attrs...), attrs...)}
}

func (v *logView) WithGroup(string) slog.Handler { return v }

// find returns the records whose message contains msg and whose
// attributes include every key=value pair of want.
func (s *logSink) find(msg string, want map[string]string) []logRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []logRecord
	for _, r := range s.recs {
		if !strings.Contains(r.msg, msg) {
			continue
		}
		ok := true
		for k, v := range want {
			if r.attrs[k] != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// diskLockFence confirms a fence by disk locks: it stands for the lock
// manager on the shared storage taking the failed host's disk locks, which
// leaves the host itself untouched (its guests may still run, unable to
// write). It counts its fences.
type diskLockFence struct{ n atomic.Int64 }

func (f *diskLockFence) Methods(ovm.Host) []ha.FenceMethod { return []ha.FenceMethod{ha.FenceDiskLock} }

func (f *diskLockFence) Fence(_ context.Context, _ ovm.Host, m ha.FenceMethod) error {
	if m != ha.FenceDiskLock {
		return ovm.Errorf(ovm.KindUnsupported, "no %s", m)
	}
	f.n.Add(1)
	return nil
}

// takeOver makes a paused leader: holder "old" takes the named lease
// briefly, it expires, and holder "new" takes it at a higher epoch. It
// returns both leases.
func (c *cluster) takeOver(name string) (old, cur controllers.Lease) {
	t := c.t
	t.Helper()
	acquire := func(holder string, ttl time.Duration) (int64, bool) {
		var epoch int64
		var held bool
		require.NoError(t, c.st.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
			var err error
			epoch, held, err = tx.AcquireLease(ctx, name, holder, ttl)
			return err
		}))
		return epoch, held
	}
	oldEpoch, held := acquire("old", 300*time.Millisecond)
	require.True(t, held, "the first holder takes the lease")
	// "old" pauses; its lease expires and "new" takes it.
	var newEpoch int64
	require.Eventually(t, func() bool {
		newEpoch, held = acquire("new", time.Minute)
		return held
	}, waitFor, tick, "the lease never expires for another holder")
	require.Greater(t, newEpoch, oldEpoch, "the new holder's epoch")
	return controllers.Lease{Name: name, Holder: "old", Epoch: oldEpoch}, controllers.Lease{Name: name, Holder: "new", Epoch: newEpoch}
}
