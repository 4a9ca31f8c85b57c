package core_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
	"github.com/openovm/ovm/server/secrets"
	"github.com/openovm/ovm/server/store/sqlstore"
	"github.com/openovm/ovm/server/tasks"
)

var cheap = auth.Argon2idParams{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

type fixture struct {
	svc   *core.Service
	fakes *drivers.FakeHosts
	admin auth.Principal
}

// newFixture returns a service over a new SQLite store with fake hosts;
// each of with changes its options.
func newFixture(t *testing.T, with ...func(*core.Options)) *fixture {
	t.Helper()
	return newFixtureWith(t, fake.Options{}, nil, with...)
}

// newFixtureWith is newFixture with fake hosts made with opts, which also
// pose as hosts of the kinds given; each of with changes the options.
func newFixtureWith(t *testing.T, opts fake.Options, kinds []ovm.HostKind, with ...func(*core.Options)) *fixture {
	t.Helper()
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	eng := tasks.New(st, tasks.Options{PollInterval: 10 * time.Millisecond})
	reg := drivers.NewRegistry()
	fakes := drivers.NewFakeHosts(opts)
	reg.Register(ovm.HostFake, fakes.Factory())
	for _, k := range kinds {
		reg.Register(k, fakes.Factory())
	}
	key := make([]byte, secrets.KeySize)
	_, _ = rand.Read(key)
	box, err := secrets.New(key)
	require.NoError(t, err)
	o := core.Options{Store: st, Tasks: eng, Drivers: reg, Secrets: box, Argon2: cheap, AuthCacheTTL: time.Minute}
	for _, w := range with {
		w(&o)
	}
	svc, err := core.New(o)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = eng.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &fixture{svc: svc, fakes: fakes, admin: auth.Principal{UserID: ovm.NewID(), Name: "root", Role: auth.RoleAdmin}}
}

// platform makes a pool with the given policy and n hosts, and a VDC.
func (f *fixture) platform(t *testing.T, policy ovm.PlacementPolicy, n int) (ovm.VDC, []ovm.Host) {
	ctx := t.Context()
	dc, err := f.svc.CreateDatacenter(ctx, f.admin, core.CreateDatacenter{Name: "dc"})
	require.NoError(t, err)
	pool, err := f.svc.CreatePool(ctx, f.admin, core.CreatePool{Name: "pool", DatacenterID: dc.ID, Policy: policy})
	require.NoError(t, err)
	var hosts []ovm.Host
	for i := range n {
		h, err := f.svc.RegisterHost(ctx, f.admin, core.RegisterHost{Name: "h" + string(rune('1'+i)), Kind: ovm.HostFake,
			Endpoint: "fake://" + string(ovm.NewID().Short()) + "-h" + string(rune('1'+i)), PoolID: pool.ID})
		require.NoError(t, err)
		hosts = append(hosts, h)
	}
	v, err := f.svc.CreateVDC(ctx, f.admin, core.CreateVDC{Name: "vdc", PoolID: pool.ID, Quota: ovm.Quota{CPU: ovm.CPUs(8), Memory: 8 * ovm.GiB, Disk: ovm.TiB, Instances: 10, Networks: 2}})
	require.NoError(t, err)
	return v, hosts
}

func spec() ovm.InstanceSpec {
	return ovm.InstanceSpec{Type: ovm.TypeVM, CPU: ovm.CPUs(1), Memory: 512 * ovm.MiB, Image: ovm.Template("debian.qcow2"),
		Disks: []ovm.DiskSpec{{Size: 10 * ovm.GiB}}}
}

func TestEnsureAdminOnce(t *testing.T) {
	f := newFixture(t)
	pw, created, err := core.NewSystem(f.svc).EnsureAdmin(t.Context(), "admin")
	require.NoError(t, err)
	require.True(t, created)
	assert.Len(t, pw, core.AdminPasswordLength)
	pw2, created, err := core.NewSystem(f.svc).EnsureAdmin(t.Context(), "admin")
	require.NoError(t, err)
	assert.False(t, created, "second start creates nothing")
	assert.Empty(t, pw2)
	s, err := f.svc.Login(t.Context(), "admin", pw)
	require.NoError(t, err)
	p, err := f.svc.Authenticate(t.Context(), s.Token)
	require.NoError(t, err)
	assert.Equal(t, auth.RoleAdmin, p.Role)
	_, err = f.svc.Login(t.Context(), "admin", pw+"x")
	assert.ErrorIs(t, err, core.ErrUnauthenticated, "wrong password")
	_, err = f.svc.Login(t.Context(), "nobody", pw)
	assert.ErrorIs(t, err, core.ErrUnauthenticated, "unknown user")
}

func TestTokenRevocationIsImmediate(t *testing.T) {
	f := newFixture(t)
	pw, _, err := core.NewSystem(f.svc).EnsureAdmin(t.Context(), "admin")
	require.NoError(t, err)
	s, err := f.svc.Login(t.Context(), "admin", pw)
	require.NoError(t, err)
	p, err := f.svc.Authenticate(t.Context(), s.Token)
	require.NoError(t, err)
	tok, err := f.svc.CreateToken(t.Context(), p, "ci", 0)
	require.NoError(t, err)
	tp, err := f.svc.Authenticate(t.Context(), tok.Token) // now remembered for a minute
	require.NoError(t, err)
	require.NoError(t, f.svc.RevokeToken(t.Context(), tp, tok.ID))
	_, err = f.svc.Authenticate(t.Context(), tok.Token)
	assert.ErrorIs(t, err, core.ErrUnauthenticated, "a revoked token, even remembered")
	assert.ErrorIs(t, f.svc.RevokeToken(t.Context(), tp, ovm.NewID()), ovm.ErrNotFound)
}

func TestPlacementPolicies(t *testing.T) {
	tests := []struct {
		name     string
		policy   ovm.PlacementPolicy
		distinct int // hosts used by 2 instances on 2 empty hosts
	}{
		{"performance spreads", ovm.PolicyPerformance, 2},
		{"progressive fills one host first", ovm.PolicyProgressive, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			v, _ := f.platform(t, tt.policy, 2)
			used := map[ovm.ID]bool{}
			for _, name := range []string{"a", "b"} {
				it, err := f.svc.CreateInstance(t.Context(), f.admin, core.CreateInstance{VDCID: v.ID, Name: name, Spec: spec()})
				require.NoError(t, err)
				used[it.Instance.Status.HostID] = true
			}
			assert.Len(t, used, tt.distinct, "hosts used")
		})
	}
}

func TestFailedCreateGivesEverythingBack(t *testing.T) {
	f := newFixture(t)
	v, hosts := f.platform(t, ovm.PolicyPerformance, 1)
	n, err := f.svc.CreateNetwork(t.Context(), f.admin, core.CreateNetwork{VDCID: v.ID, Network: ovm.Network{Name: "net", Subnet: mustPrefix("10.0.0.0/29")}})
	require.NoError(t, err)
	fh, err := f.fakes.Host(hosts[0].Endpoint)
	require.NoError(t, err)
	fh.Hypervisor.FailNext(fake.MethodStart, ovm.Errorf(ovm.KindUnavailable, "qemu: cannot boot"))
	s := spec()
	s.NICs = []ovm.NICSpec{{NetworkID: n.ID}}
	it, err := f.svc.CreateInstance(t.Context(), f.admin, core.CreateInstance{VDCID: v.ID, Name: "web", Spec: s, Start: true})
	require.NoError(t, err)
	done, err := f.svc.WaitTask(t.Context(), f.admin, it.Task.ID)
	require.NoError(t, err)
	assert.Equal(t, ovm.TaskRolledBack, done.State, "task: %+v", done)
	assert.Contains(t, done.Error, "qemu: cannot boot")

	inst, _, err := f.svc.GetInstance(t.Context(), f.admin, it.Instance.ID)
	require.NoError(t, err)
	assert.Equal(t, ovm.PhaseFailed, inst.Status.Phase)
	onHost, err := fh.Hypervisor.List(t.Context())
	require.NoError(t, err)
	assert.Empty(t, onHost, "the compensation deleted the instance on its host")
	got, _, err := f.svc.GetVDC(t.Context(), f.admin, v.ID)
	require.NoError(t, err)
	assert.Equal(t, ovm.Usage{Networks: 1}, got.Usage, "quota given back")
	// The address is free again: a new instance gets the same first one.
	s.NICs = []ovm.NICSpec{{NetworkID: n.ID}}
	again, err := f.svc.CreateInstance(t.Context(), f.admin, core.CreateInstance{VDCID: v.ID, Name: "web2", Spec: s})
	require.NoError(t, err)
	assert.Equal(t, it.Instance.Spec.NICs[0].IP, again.Instance.Spec.NICs[0].IP, "address reused after release")
	// Deleting the failed instance removes its record.
	del, err := f.svc.DeleteInstance(t.Context(), f.admin, it.Instance.ID, 0)
	require.NoError(t, err)
	done, err = f.svc.WaitTask(t.Context(), f.admin, del.Task.ID)
	require.NoError(t, err)
	assert.Equal(t, ovm.TaskSucceeded, done.State)
	_, _, err = f.svc.GetInstance(t.Context(), f.admin, it.Instance.ID)
	assert.ErrorIs(t, err, ovm.ErrNotFound)
}
