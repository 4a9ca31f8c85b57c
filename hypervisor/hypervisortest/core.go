package hypervisortest

import (
	"cmp"
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

func (s *suite) testInfo(t *testing.T) {
	d, ctx := s.setup(t)
	info, err := d.Info(ctx)
	require.NoError(t, err, "Info: got an error, want none")
	assert.Equal(t, d.Kind(), info.Kind, "Info.Kind: got %q, want Kind() %q", info.Kind, d.Kind())
	assert.True(t, info.Kind.Valid(), "Info.Kind: got %q, want a known host kind", info.Kind)
	assert.NotEmpty(t, info.Hostname, "Info.Hostname: got empty, want the host's name")
	assert.NotEmpty(t, info.UUID, "Info.UUID: got empty, want the host's own UUID")
	assert.Positive(t, info.Capacity.CPU, "Info.Capacity.CPU: got %s, want > 0", info.Capacity.CPU)
	assert.Positive(t, info.Capacity.Memory, "Info.Capacity.Memory: got %s, want > 0", info.Capacity.Memory)
	assert.False(t, info.Allocated.Negative(), "Info.Allocated: got %s, want no negative part", info.Allocated)

	spec := s.spec(t, "info")
	s.started(t, ctx, d, spec)
	after, err := d.Info(ctx)
	require.NoError(t, err, "Info after start: got an error, want none")
	assert.Equal(t, info.UUID, after.UUID, "Info.UUID: got %q, then %q, want the same host identity", info.UUID, after.UUID)
	// The running instance alone is given at least its spec's CPU and memory.
	assert.GreaterOrEqual(t, after.Allocated.CPU, spec.Spec.CPU,
		"Info.Allocated.CPU with %s running: got %s, want at least its %s", spec.Name, after.Allocated.CPU, spec.Spec.CPU)
	assert.GreaterOrEqual(t, after.Allocated.Memory, spec.Spec.Memory,
		"Info.Allocated.Memory with %s running: got %s, want at least its %s", spec.Name, after.Allocated.Memory, spec.Spec.Memory)
}

func (s *suite) testPing(t *testing.T) {
	d, ctx := s.setup(t)
	for i := range 3 {
		require.NoError(t, d.Ping(ctx), "Ping #%d: got an error, want none", i+1)
	}
}

// checkIdentity compares what a driver reports of an instance with the spec
// it was made from.
func checkIdentity(t *testing.T, call string, spec hypervisor.CreateSpec, got hypervisor.Instance) {
	t.Helper()
	assert.NotEmpty(t, got.NativeID, "%s: NativeID: got empty, want the hypervisor's id", call)
	assert.Equal(t, spec.ID, got.OVMID, "%s: OVMID: got %q, want %q", call, got.OVMID, spec.ID)
	assert.True(t, got.Managed(), "%s: Managed: got false, want true", call)
	assert.Equal(t, spec.VDCID, got.VDCID, "%s: VDCID: got %q, want %q", call, got.VDCID, spec.VDCID)
	assert.Equal(t, spec.Name, got.Name, "%s: Name: got %q, want %q", call, got.Name, spec.Name)
	assert.Equal(t, spec.Spec.Type, got.Type, "%s: Type: got %q, want %q", call, got.Type, spec.Spec.Type)
	assert.Equal(t, spec.Spec.CPU, got.CPU, "%s: CPU: got %s, want %s", call, got.CPU, spec.Spec.CPU)
	assert.Equal(t, spec.Spec.Memory, got.Memory, "%s: Memory: got %s, want %s", call, got.Memory, spec.Spec.Memory)
	assert.Equal(t, spec.Spec.Image, got.Image, "%s: Image: got %s, want %s", call, got.Image, spec.Spec.Image)
	assert.False(t, got.CreatedAt.IsZero(), "%s: CreatedAt: got zero, want the creation time", call)
}

func (s *suite) testCreateGet(t *testing.T) {
	d, ctx := s.setup(t)
	spec := s.spec(t, "get")
	inst := s.create(t, ctx, d, spec)
	checkIdentity(t, "Create", spec, inst)
	assert.Equal(t, ovm.PowerStopped, inst.Power, "Create: Power: got %q, want %q", inst.Power, ovm.PowerStopped)

	for _, tt := range []struct {
		name string
		ref  hypervisor.Ref
	}{
		{"by id", hypervisor.ByID(spec.ID)},
		{"by native id", hypervisor.ByNative(inst.NativeID)},
		{"by both", hypervisor.RefOf(inst)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.Get(ctx, tt.ref)
			require.NoError(t, err, "Get %s: got an error, want none", tt.ref)
			checkIdentity(t, "Get "+tt.name, spec, got)
			assert.Equal(t, inst.NativeID, got.NativeID, "Get %s: NativeID: got %q, want %q", tt.name, got.NativeID, inst.NativeID)
			assert.Equal(t, ovm.PowerStopped, got.Power, "Get %s: Power: got %q, want %q", tt.name, got.Power, ovm.PowerStopped)
		})
	}
}

func (s *suite) testCreateIdempotent(t *testing.T) {
	d, ctx := s.setup(t)
	spec := s.spec(t, "idem")
	first := s.create(t, ctx, d, spec)
	second, err := d.Create(ctx, spec)
	require.NoError(t, err, "second Create with the same id: got an error, want none")
	assert.Equal(t, first.NativeID, second.NativeID, "second Create: NativeID: got %q, want the first's %q", second.NativeID, first.NativeID)
	list, err := d.List(ctx)
	require.NoError(t, err, "List: got an error, want none")
	got := find(list, spec.ID)
	assert.Len(t, got, 1, "List: instances with id %s: got %d, want 1", spec.ID, len(got))
}

func (s *suite) testCreateIDConflict(t *testing.T) {
	d, ctx := s.setup(t)
	spec := s.spec(t, "idc")
	first := s.create(t, ctx, d, spec)
	other := spec
	other.Name = s.name("idc-other")
	_, err := d.Create(ctx, other)
	wantKind(t, err, ovm.ErrConflict, "Create with the id of "+spec.Name+" and name "+other.Name)

	got, err := d.Get(ctx, hypervisor.ByID(spec.ID))
	require.NoError(t, err, "Get %s: got an error, want none", spec.ID)
	assert.Equal(t, first.NativeID, got.NativeID, "after the conflict: NativeID: got %q, want %q", got.NativeID, first.NativeID)
	assert.Equal(t, spec.Name, got.Name, "after the conflict: Name: got %q, want %q", got.Name, spec.Name)
	list, err := d.List(ctx)
	require.NoError(t, err, "List: got an error, want none")
	for _, i := range list {
		assert.NotEqual(t, other.Name, i.Name, "List: got an instance named %q (%s), want none", other.Name, i.NativeID)
	}
}

func (s *suite) testCreateNameConflict(t *testing.T) {
	d, ctx := s.setup(t)
	spec := s.spec(t, "namec")
	first := s.create(t, ctx, d, spec)

	taken := []struct {
		name     string
		nativeID string
		spec     hypervisor.CreateSpec
	}{{"managed", first.NativeID, spec}}
	if s.h.MakeUnmanaged != nil {
		uspec := s.spec(t, "namec-unmanaged")
		taken = append(taken, struct {
			name     string
			nativeID string
			spec     hypervisor.CreateSpec
		}{"unmanaged", s.h.MakeUnmanaged(t, uspec.Name), uspec})
	}
	for _, tt := range taken {
		t.Run(tt.name, func(t *testing.T) {
			other := s.h.Spec(t, tt.spec.Name)
			if other.ID == tt.spec.ID {
				other.ID = ovm.NewID()
			}
			s.track(t, d, hypervisor.ByID(other.ID))
			_, err := d.Create(ctx, other)
			wantKind(t, err, ovm.ErrConflict, "Create "+string(other.ID)+" with the taken name "+other.Name)
			_, err = d.Get(ctx, hypervisor.ByID(other.ID))
			wantKind(t, err, ovm.ErrNotFound, "Get the refused "+string(other.ID))
			got, err := d.Get(ctx, hypervisor.ByNative(tt.nativeID))
			require.NoError(t, err, "Get the first %s: got an error, want none", tt.nativeID)
			assert.Equal(t, tt.spec.Name, got.Name, "the first instance: Name: got %q, want %q", got.Name, tt.spec.Name)
		})
	}
}

func (s *suite) testCreateInvalid(t *testing.T) {
	d, ctx := s.setup(t)
	before, err := d.List(ctx)
	require.NoError(t, err, "List: got an error, want none")
	for _, tt := range []struct {
		name   string
		mutate func(*hypervisor.CreateSpec)
		field  string // a field the error must name (or a prefix of one)
	}{
		{"no id", func(c *hypervisor.CreateSpec) { c.ID = "" }, "id"},
		{"id not a uuid", func(c *hypervisor.CreateSpec) { c.ID = "NOT-A-UUID" }, "id"},
		{"empty name", func(c *hypervisor.CreateSpec) { c.Name = "" }, "name"},
		{"name with capitals", func(c *hypervisor.CreateSpec) { c.Name = strings.ToUpper(c.Name) + "_X" }, "name"},
		{"no cpu", func(c *hypervisor.CreateSpec) { c.Spec.CPU = 0 }, "spec.cpuMilli"},
		{"memory below the minimum", func(c *hypervisor.CreateSpec) { c.Spec.Memory = ovm.MinMemory - 1 }, "spec.memoryBytes"},
		{"no image", func(c *hypervisor.CreateSpec) { c.Spec.Image = ovm.ImageRef{} }, "spec.image"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spec := s.spec(t, "inv")
			tt.mutate(&spec)
			if spec.ID.Valid() {
				s.track(t, d, hypervisor.ByID(spec.ID))
			}
			_, err := d.Create(ctx, spec)
			wantKind(t, err, ovm.ErrInvalid, "Create with "+tt.name)
			var fields []string
			for _, f := range ovm.FieldsOf(err) {
				fields = append(fields, f.Field)
			}
			assert.Condition(t, func() bool {
				for _, f := range fields {
					if f == tt.field || strings.HasPrefix(f, tt.field+".") {
						return true
					}
				}
				return false
			}, "Create with %s: invalid fields: got %q, want one to be %q", tt.name, fields, tt.field)
			after, err := d.List(ctx)
			require.NoError(t, err, "List: got an error, want none")
			assert.Equal(t, nativeIDs(before), nativeIDs(after), "List after the refused create: got %d instances, want the %d there were", len(after), len(before))
		})
	}
}

func (s *suite) testListManaged(t *testing.T) {
	d, ctx := s.setup(t)
	require.NotNil(t, s.h.MakeUnmanaged, "Harness.MakeUnmanaged: got nil, want a function (or list %q in Exceptions with a reason)", TestListManaged)
	spec := s.spec(t, "managed")
	inst := s.create(t, ctx, d, spec)
	uname := s.name("unmanaged")
	native := s.h.MakeUnmanaged(t, uname)
	require.NotEmpty(t, native, "Harness.MakeUnmanaged: got an empty native id, want one")

	list, err := d.List(ctx)
	require.NoError(t, err, "List: got an error, want none")
	m, ok := findNative(list, inst.NativeID)
	require.True(t, ok, "List: got no instance %s, want the managed %s", inst.NativeID, spec.Name)
	assert.Equal(t, spec.ID, m.OVMID, "List: managed OVMID: got %q, want %q", m.OVMID, spec.ID)
	assert.True(t, m.Managed(), "List: managed %s: Managed: got false, want true", spec.Name)
	u, ok := findNative(list, native)
	require.True(t, ok, "List: got no instance %s, want the unmanaged %s", native, uname)
	assert.Empty(t, u.OVMID, "List: unmanaged OVMID: got %q, want empty", u.OVMID)
	assert.False(t, u.Managed(), "List: unmanaged %s: Managed: got true, want false", uname)
	assert.Equal(t, uname, u.Name, "List: unmanaged Name: got %q, want %q", u.Name, uname)

	got, err := d.Get(ctx, hypervisor.ByNative(native))
	require.NoError(t, err, "Get the unmanaged %s: got an error, want none", native)
	assert.Empty(t, got.OVMID, "Get unmanaged: OVMID: got %q, want empty", got.OVMID)
}

func (s *suite) testPowerCycle(t *testing.T) {
	d, ctx := s.setup(t)
	spec := s.spec(t, "power")
	inst := s.create(t, ctx, d, spec)
	byID, byNative := hypervisor.ByID(spec.ID), hypervisor.ByNative(inst.NativeID)
	graceful := hypervisor.StopOptions{Timeout: s.stopTimeout()}
	steps := []struct {
		name      string
		call      func(context.Context) error
		wantErr   error
		wantPower ovm.PowerState
	}{
		{"start", func(ctx context.Context) error { return d.Start(ctx, byID) }, nil, ovm.PowerRunning},
		{"start again", func(ctx context.Context) error { return d.Start(ctx, byNative) }, ovm.ErrConflict, ovm.PowerRunning},
		{"reboot", func(ctx context.Context) error { return d.Reboot(ctx, byID) }, nil, ovm.PowerRunning},
		{"graceful stop", func(ctx context.Context) error { return d.Stop(ctx, byNative, graceful) }, nil, ovm.PowerStopped},
		{"stop again", func(ctx context.Context) error { return d.Stop(ctx, byID, graceful) }, ovm.ErrConflict, ovm.PowerStopped},
		{"reboot stopped", func(ctx context.Context) error { return d.Reboot(ctx, byNative) }, ovm.ErrConflict, ovm.PowerStopped},
		{"start after stop", func(ctx context.Context) error { return d.Start(ctx, byNative) }, nil, ovm.PowerRunning},
		{"forced stop", func(ctx context.Context) error { return d.Stop(ctx, byID, hypervisor.StopOptions{Force: true}) }, nil, ovm.PowerStopped},
		{"forced stop again", func(ctx context.Context) error {
			return d.Stop(ctx, byNative, hypervisor.StopOptions{Force: true})
		}, ovm.ErrConflict, ovm.PowerStopped},
	}
	for i, st := range steps {
		err := st.call(ctx)
		if st.wantErr == nil {
			require.NoError(t, err, "step %d %s: got an error, want none", i+1, st.name)
		} else {
			wantKind(t, err, st.wantErr, "step "+st.name)
		}
		wantPower(t, ctx, d, byID, st.wantPower, st.name)
	}
}

func (s *suite) testDeleteRunning(t *testing.T) {
	d, ctx := s.setup(t)
	spec := s.spec(t, "delrun")
	inst := s.started(t, ctx, d, spec)
	wantKind(t, d.Delete(ctx, hypervisor.ByID(spec.ID)), ovm.ErrConflict, "Delete running "+spec.Name)
	wantPower(t, ctx, d, hypervisor.ByNative(inst.NativeID), ovm.PowerRunning, "the refused delete")
}

func (s *suite) testDeleteStopped(t *testing.T) {
	d, ctx := s.setup(t)
	for _, tt := range []struct {
		name string
		run  bool // start and stop it before the delete
	}{
		{"never started", false},
		{"stopped after running", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spec := s.spec(t, "del")
			inst := s.create(t, ctx, d, spec)
			ref := hypervisor.ByID(spec.ID)
			if tt.run {
				require.NoError(t, d.Start(ctx, ref), "Start: got an error, want none")
				require.NoError(t, d.Stop(ctx, ref, hypervisor.StopOptions{Force: true}), "Stop: got an error, want none")
			}
			require.NoError(t, d.Delete(ctx, ref), "Delete stopped %s: got an error, want none", spec.Name)
			_, err := d.Get(ctx, ref)
			wantKind(t, err, ovm.ErrNotFound, "Get deleted by id")
			_, err = d.Get(ctx, hypervisor.ByNative(inst.NativeID))
			wantKind(t, err, ovm.ErrNotFound, "Get deleted by native id")
			list, err := d.List(ctx)
			require.NoError(t, err, "List: got an error, want none")
			_, ok := findNative(list, inst.NativeID)
			assert.False(t, ok, "List after delete: got %s listed, want it gone", inst.NativeID)
			wantKind(t, d.Delete(ctx, ref), ovm.ErrNotFound, "Delete again")
		})
	}
}

func (s *suite) testUnknownRef(t *testing.T) {
	d, ctx := s.setup(t)
	ops := []struct {
		name string
		call func(context.Context, hypervisor.Ref) error
	}{
		{"get", func(ctx context.Context, r hypervisor.Ref) error { _, err := d.Get(ctx, r); return err }},
		{"start", d.Start},
		{"stop", func(ctx context.Context, r hypervisor.Ref) error { return d.Stop(ctx, r, hypervisor.StopOptions{}) }},
		{"forced stop", func(ctx context.Context, r hypervisor.Ref) error {
			return d.Stop(ctx, r, hypervisor.StopOptions{Force: true})
		}},
		{"reboot", d.Reboot},
		{"delete", d.Delete},
		{"reconfigure", func(ctx context.Context, r hypervisor.Ref) error {
			_, err := d.Reconfigure(ctx, r, hypervisor.Resize{Memory: 256 * ovm.MiB})
			return err
		}},
		{"stats", func(ctx context.Context, r hypervisor.Ref) error { _, err := d.Stats(ctx, r); return err }},
	}
	refs := []struct {
		name string
		ref  hypervisor.Ref
	}{
		{"by id", hypervisor.ByID(ovm.NewID())},
		{"by native id", hypervisor.ByNative(s.name("missing"))},
	}
	for _, op := range ops {
		for _, r := range refs {
			t.Run(op.name+" "+r.name, func(t *testing.T) {
				wantKind(t, op.call(ctx, r.ref), ovm.ErrNotFound, op.name+" of unknown "+r.ref.String())
			})
		}
	}
}

func (s *suite) testStats(t *testing.T) {
	d, ctx := s.setup(t)
	spec := s.spec(t, "stats")
	s.started(t, ctx, d, spec)
	now := s.h.Now
	if now == nil {
		now = time.Now
	}
	skew := cmp.Or(s.h.ClockSkew, DefaultClockSkew)
	ref := hypervisor.ByID(spec.ID)

	from := now()
	first, err := d.Stats(ctx, ref)
	to := now()
	require.NoError(t, err, "Stats: got an error, want none")
	assert.False(t, first.Time.IsZero(), "Stats.Time: got zero, want the sample's time")
	assert.False(t, first.Time.Before(from.Add(-skew)) || first.Time.After(to.Add(skew)),
		"Stats.Time: got %s, want within %s of [%s, %s]", first.Time, skew, from, to)
	// CPUPercent counts the guest's own use, 100 per busy vCPU, never more
	// (hypervisor.Stats): the hypervisor's work beside the vCPUs is not
	// the guest's, and the drivers bound their sampling error.
	maxCPU := float64(max(spec.Spec.CPU.VCPUs(), 1)) * 100
	assert.False(t, math.IsNaN(first.CPUPercent) || first.CPUPercent < 0 || first.CPUPercent > maxCPU,
		"Stats.CPUPercent: got %v, want 0 to %v for %s", first.CPUPercent, maxCPU, spec.Spec.CPU)
	assert.Positive(t, first.MemoryLimit, "Stats.MemoryLimit: got %s, want > 0", first.MemoryLimit)
	assert.False(t, first.MemoryUsed < 0 || first.MemoryUsed > first.MemoryLimit,
		"Stats.MemoryUsed: got %s, want 0 to the limit %s", first.MemoryUsed, first.MemoryLimit)

	second, err := d.Stats(ctx, ref)
	require.NoError(t, err, "second Stats: got an error, want none")
	assert.False(t, second.Time.Before(first.Time), "second Stats.Time: got %s, want at or after %s", second.Time, first.Time)
	for _, c := range []struct {
		name          string
		first, second uint64
	}{
		{"NetRxBytes", first.NetRxBytes, second.NetRxBytes},
		{"NetTxBytes", first.NetTxBytes, second.NetTxBytes},
		{"DiskRead", first.DiskRead, second.DiskRead},
		{"DiskWrite", first.DiskWrite, second.DiskWrite},
	} {
		assert.GreaterOrEqual(t, c.second, c.first, "second Stats.%s: got %d, want at least the first %d (counters do not go back)", c.name, c.second, c.first)
	}
}

func (s *suite) testReconfigure(t *testing.T) {
	d, ctx := s.setup(t)
	caps := d.Capabilities()
	spec := s.spec(t, "resize")
	s.create(t, ctx, d, spec)
	ref := hypervisor.ByID(spec.ID)
	cpu0, mem0 := spec.Spec.CPU, spec.Spec.Memory

	// Stopped: the new size is the configured one, for the next boot.
	res, err := d.Reconfigure(ctx, ref, hypervisor.Resize{CPU: 2 * cpu0, Memory: 2 * mem0})
	require.NoError(t, err, "Reconfigure stopped to %s/%s: got an error, want none", 2*cpu0, 2*mem0)
	assert.False(t, res.Live, "Reconfigure stopped: Live: got true, want false (it applies at the next boot)")
	got, err := d.Get(ctx, ref)
	require.NoError(t, err, "Get: got an error, want none")
	assert.Equal(t, 2*cpu0, got.CPU, "CPU after resizing stopped: got %s, want %s", got.CPU, 2*cpu0)
	assert.Equal(t, 2*mem0, got.Memory, "Memory after resizing stopped: got %s, want %s", got.Memory, 2*mem0)

	for _, tt := range []struct {
		name   string
		resize hypervisor.Resize
	}{
		{"negative cpu", hypervisor.Resize{CPU: -1000}},
		{"negative memory", hypervisor.Resize{Memory: -ovm.MiB}},
		{"memory below the minimum", hypervisor.Resize{Memory: ovm.MinMemory - 1}},
	} {
		t.Run("invalid "+tt.name, func(t *testing.T) {
			_, err := d.Reconfigure(ctx, ref, tt.resize)
			wantKind(t, err, ovm.ErrInvalid, "Reconfigure with "+tt.name)
			got, err := d.Get(ctx, ref)
			require.NoError(t, err, "Get: got an error, want none")
			assert.Equal(t, [2]int64{int64(2 * cpu0), int64(2 * mem0)}, [2]int64{int64(got.CPU), int64(got.Memory)},
				"size after the refused resize: got %s/%s, want %s/%s", got.CPU, got.Memory, 2*cpu0, 2*mem0)
		})
	}

	require.NoError(t, d.Start(ctx, ref), "Start: got an error, want none")
	// Running: back to the original size, live as Capabilities announce.
	for _, tt := range []struct {
		name   string
		resize hypervisor.Resize
		live   bool
		check  func(hypervisor.Instance) (got, want string)
	}{
		{"running cpu", hypervisor.Resize{CPU: cpu0}, caps.LiveResizeCPU,
			func(i hypervisor.Instance) (string, string) { return i.CPU.String(), cpu0.String() }},
		{"running memory", hypervisor.Resize{Memory: mem0}, caps.LiveResizeMemory,
			func(i hypervisor.Instance) (string, string) { return i.Memory.String(), mem0.String() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := d.Reconfigure(ctx, ref, tt.resize)
			if !tt.live && err != nil {
				wantKind(t, err, ovm.ErrUnsupported, "Reconfigure "+tt.name+" without live resize")
				return
			}
			require.NoError(t, err, "Reconfigure %s: got an error, want none", tt.name)
			assert.Equal(t, tt.live, res.Live, "Reconfigure %s: Live: got %v, want %v as Capabilities announce", tt.name, res.Live, tt.live)
			if !tt.live {
				return
			}
			got, err := d.Get(ctx, ref)
			require.NoError(t, err, "Get: got an error, want none")
			g, w := tt.check(got)
			assert.Equal(t, w, g, "size after live %s: got %s, want %s", tt.name, g, w)
		})
	}
	wantPower(t, ctx, d, ref, ovm.PowerRunning, "the running resizes")
}
