package hypervisortest

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

func (s *suite) testCapabilities(t *testing.T) {
	d, _ := s.setup(t)
	caps := d.Capabilities()
	require.NotEmpty(t, caps.InstanceTypes, "Capabilities.InstanceTypes: got none, want the types the driver runs")
	spec := s.spec(t, "caps")
	assert.True(t, caps.Runs(spec.Spec.Type), "Capabilities.Runs(%q) for the harness's spec: got false, want true (types %v)", spec.Spec.Type, caps.InstanceTypes)

	_, snap := d.(hypervisor.Snapshotter)
	_, mig := d.(hypervisor.Migrator)
	_, con := d.(hypervisor.Consoler)
	_, exe := d.(hypervisor.Executor)
	_, reg := d.(hypervisor.Registrar)
	_, mark := d.(hypervisor.Marker)
	for _, f := range []struct {
		capability, facet string
		announced, has    bool
	}{
		{"Snapshots", "Snapshotter", caps.Snapshots, snap},
		{"LiveMigration", "Migrator", caps.LiveMigration, mig},
		{"SharedNothingMigration", "Migrator", caps.SharedNothingMigration, mig},
		{"StorageMigration", "Migrator", caps.StorageMigration, mig},
		{"Console", "Consoler", caps.Console, con},
		{"Exec", "Executor", caps.Exec, exe},
		{"RegisterExisting", "Registrar", caps.RegisterExisting, reg},
		{"Mark", "Marker", caps.Mark, mark},
	} {
		if f.announced {
			assert.True(t, f.has, "Capabilities.%s is set: got %T without hypervisor.%s, want it implemented", f.capability, d, f.facet)
		}
	}
	kinds := map[hypervisor.MigrationKind]bool{hypervisor.MigrateLive: caps.LiveMigration, hypervisor.MigrateSharedNothing: caps.SharedNothingMigration,
		hypervisor.MigrateStorage: caps.StorageMigration, hypervisor.MigrateCold: caps.ColdMigration}
	for _, k := range caps.MigrationKeepsSnapshots {
		assert.True(t, kinds[k] && caps.Snapshots, "Capabilities.MigrationKeepsSnapshots names %s: got it without that migration "+
			"announced, or without Snapshots", k)
	}
	if !caps.LiveMigration && !caps.SharedNothingMigration && !caps.StorageMigration {
		assert.NotEmpty(t, caps.MigrationNote, "Capabilities.MigrationNote: got empty with no migration announced, want the reason")
	}
}

// facet returns d as F when it implements it. A facet announced but not
// implemented fails the test; for one neither announced nor implemented,
// facet logs that there is nothing to check and returns false.
func facet[F any](t *testing.T, d hypervisor.Driver, announced bool, name string) (F, bool) {
	t.Helper()
	f, ok := d.(F)
	if !ok {
		require.False(t, announced, "Capabilities announce %s: got %T without hypervisor.%s, want it implemented", name, d, name)
		t.Logf("%T neither announces nor implements hypervisor.%s: nothing to check", d, name)
	}
	return f, ok
}

func (s *suite) testSnapshots(t *testing.T) {
	d, ctx := s.setup(t)
	sn, ok := facet[hypervisor.Snapshotter](t, d, d.Capabilities().Snapshots, "Snapshotter")
	if !ok {
		return
	}
	spec := s.spec(t, "snap")
	inst := s.create(t, ctx, d, spec)
	ref := hypervisor.ByID(spec.ID)

	names := []string{s.name("s1"), s.name("s2")}
	made := make([]ovm.Snapshot, len(names))
	for i, name := range names {
		snap, err := sn.CreateSnapshot(ctx, ref, name)
		require.NoError(t, err, "CreateSnapshot %s: got an error, want none", name)
		assert.NotEmpty(t, snap.ID, "CreateSnapshot %s: ID: got empty, want one", name)
		assert.Equal(t, name, snap.Name, "CreateSnapshot: Name: got %q, want %q", snap.Name, name)
		assert.Equal(t, spec.ID, snap.Of, "CreateSnapshot %s: Of: got %q, want %q", name, snap.Of, spec.ID)
		made[i] = snap
	}
	listed := func() map[ovm.ID]string {
		t.Helper()
		list, err := sn.ListSnapshots(ctx, ref)
		require.NoError(t, err, "ListSnapshots: got an error, want none")
		out := map[ovm.ID]string{}
		for _, snap := range list {
			out[snap.ID] = snap.Name
		}
		return out
	}
	assert.Equal(t, map[ovm.ID]string{made[0].ID: names[0], made[1].ID: names[1]}, listed(), "ListSnapshots: got the first map, want the second")

	require.NoError(t, sn.RevertSnapshot(ctx, ref, made[0].ID), "RevertSnapshot %s: got an error, want none", names[0])
	got, err := d.Get(ctx, ref)
	require.NoError(t, err, "Get after revert: got an error, want none")
	assert.Equal(t, inst.NativeID, got.NativeID, "after revert: NativeID: got %q, want %q", got.NativeID, inst.NativeID)

	require.NoError(t, sn.DeleteSnapshot(ctx, ref, made[0].ID), "DeleteSnapshot %s: got an error, want none", names[0])
	assert.Equal(t, map[ovm.ID]string{made[1].ID: names[1]}, listed(), "ListSnapshots after delete: got the first map, want the second")
	wantKind(t, sn.DeleteSnapshot(ctx, ref, made[0].ID), ovm.ErrNotFound, "DeleteSnapshot again")
	wantKind(t, sn.RevertSnapshot(ctx, ref, ovm.NewID()), ovm.ErrNotFound, "RevertSnapshot unknown")

	unknown := hypervisor.ByID(ovm.NewID())
	_, err = sn.CreateSnapshot(ctx, unknown, names[0])
	wantKind(t, err, ovm.ErrNotFound, "CreateSnapshot of an unknown instance")
	_, err = sn.ListSnapshots(ctx, unknown)
	wantKind(t, err, ovm.ErrNotFound, "ListSnapshots of an unknown instance")

	// An instance that still has a snapshot is deleted with it.
	require.NoError(t, d.Delete(ctx, ref), "Delete with a snapshot left: got an error, want none")
	_, err = d.Get(ctx, ref)
	wantKind(t, err, ovm.ErrNotFound, "Get deleted")
}

func (s *suite) testExec(t *testing.T) {
	d, ctx := s.setup(t)
	ex, ok := facet[hypervisor.Executor](t, d, d.Capabilities().Exec, "Executor")
	if !ok {
		return
	}
	spec := s.spec(t, "exec")
	s.started(t, ctx, d, spec)
	ref := hypervisor.ByID(spec.ID)
	for _, tt := range []struct {
		name     string
		cmd      []string
		stdin    string
		wantCode int
		wantOut  string
	}{
		{"echo", []string{"echo", "hello", "ovm"}, "", 0, "hello ovm\n"},
		{"true", []string{"true"}, "", 0, ""},
		{"false", []string{"false"}, "", 1, ""},
		{"cat stdin", []string{"cat"}, "ping\n", 0, "ping\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spec := hypervisor.ExecSpec{Command: tt.cmd}
			if tt.stdin != "" {
				spec.Stdin = strings.NewReader(tt.stdin)
			}
			res, err := ex.Exec(ctx, ref, spec)
			require.NoError(t, err, "Exec %q: got an error, want none", tt.cmd)
			assert.Equal(t, tt.wantCode, res.ExitCode, "Exec %q: exit code: got %d, want %d (stderr %q)", tt.cmd, res.ExitCode, tt.wantCode, res.Stderr)
			assert.Equal(t, tt.wantOut, string(res.Stdout), "Exec %q: stdout: got %q, want %q", tt.cmd, res.Stdout, tt.wantOut)
		})
	}
	_, err := ex.Exec(ctx, hypervisor.ByID(ovm.NewID()), hypervisor.ExecSpec{Command: []string{"true"}})
	wantKind(t, err, ovm.ErrNotFound, "Exec in an unknown instance")
	require.NoError(t, d.Stop(ctx, ref, hypervisor.StopOptions{Force: true}), "Stop: got an error, want none")
	_, err = ex.Exec(ctx, ref, hypervisor.ExecSpec{Command: []string{"true"}})
	wantKind(t, err, ovm.ErrConflict, "Exec in a stopped instance")
}

func (s *suite) testConsole(t *testing.T) {
	d, ctx := s.setup(t)
	co, ok := facet[hypervisor.Consoler](t, d, d.Capabilities().Console, "Consoler")
	if !ok {
		return
	}
	spec := s.spec(t, "console")
	s.started(t, ctx, d, spec)
	c, err := co.Console(ctx, hypervisor.ByID(spec.ID))
	require.NoError(t, err, "Console: got an error, want none")
	require.NotNil(t, c, "Console: got a nil stream, want one")
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = c.Close()
		}
	})

	type read struct {
		n   int
		err error
	}
	got := make(chan read, 1)
	go func() {
		buf := make([]byte, 4096)
		n, err := io.ReadAtLeast(c, buf, 1)
		got <- read{n, err}
	}()
	wait := min(s.timeout(), time.Minute)
	select {
	case r := <-got:
		require.NoError(t, r.err, "Console read: got an error, want bytes")
		assert.Positive(t, r.n, "Console read: got %d bytes, want some", r.n)
	case <-time.After(wait):
		t.Fatalf("Console read: got nothing within %s, want some bytes", wait)
	}
	closed = true
	assert.NoError(t, c.Close(), "Console Close: got an error, want none")
	_, err = co.Console(ctx, hypervisor.ByID(ovm.NewID()))
	wantKind(t, err, ovm.ErrNotFound, "Console of an unknown instance")
}

func (s *suite) testRegister(t *testing.T) {
	d, ctx := s.setup(t)
	reg, ok := facet[hypervisor.Registrar](t, d, d.Capabilities().RegisterExisting, "Registrar")
	if !ok {
		return
	}
	name := s.name("register")
	var spec hypervisor.CreateSpec
	if s.h.RegisterSpec != nil {
		spec = s.h.RegisterSpec(t, name)
	} else {
		spec = s.spec(t, "register")
	}
	s.track(t, d, hypervisor.ByID(spec.ID))
	inst, err := reg.Register(ctx, spec)
	require.NoError(t, err, "Register %s: got an error, want none", spec.Name)
	checkIdentity(t, "Register", spec, inst)
	assert.Equal(t, ovm.PowerStopped, inst.Power, "Register: Power: got %q, want %q", inst.Power, ovm.PowerStopped)

	again, err := reg.Register(ctx, spec)
	require.NoError(t, err, "Register again: got an error, want none")
	assert.Equal(t, inst.NativeID, again.NativeID, "Register again: NativeID: got %q, want %q", again.NativeID, inst.NativeID)
	list, err := d.List(ctx)
	require.NoError(t, err, "List: got an error, want none")
	assert.Len(t, find(list, spec.ID), 1, "List: instances with id %s: got %d, want 1", spec.ID, len(find(list, spec.ID)))

	require.NoError(t, d.Start(ctx, hypervisor.ByID(spec.ID)), "Start the registered instance: got an error, want none")
	wantPower(t, ctx, d, hypervisor.ByID(spec.ID), ovm.PowerRunning, "Start of the registered instance")
}

func (s *suite) testMark(t *testing.T) {
	d, ctx := s.setup(t)
	m, ok := facet[hypervisor.Marker](t, d, d.Capabilities().Mark, "Marker")
	if !ok {
		return
	}
	require.NotNil(t, s.h.MakeUnmanaged, "Harness.MakeUnmanaged: got nil with a Marker, want a function (or list %q in Exceptions with a reason)", TestMark)
	name := s.name("mark")
	native := s.h.MakeUnmanaged(t, name)
	ref := hypervisor.ByNative(native)
	id, vdc := ovm.NewID(), ovm.NewID()
	got, err := m.Mark(ctx, ref, id, vdc)
	require.NoError(t, err, "Mark %s: got an error, want none", name)
	assert.Equal(t, id, got.OVMID, "Mark: OVMID: got %q, want %q", got.OVMID, id)
	assert.Equal(t, native, got.NativeID, "Mark: NativeID: got %q, want %q", got.NativeID, native)
	assert.Equal(t, name, got.Name, "Mark: Name: got %q, want %q (marking renames nothing)", got.Name, name)

	byID, err := d.Get(ctx, hypervisor.ByID(id))
	require.NoError(t, err, "Get the marked %s by its OVM id: got an error, want none", name)
	assert.Equal(t, native, byID.NativeID, "Get by OVM id: NativeID: got %q, want %q", byID.NativeID, native)
	assert.Equal(t, vdc, byID.VDCID, "Get by OVM id: VDCID: got %q, want %q", byID.VDCID, vdc)
	list, err := d.List(ctx)
	require.NoError(t, err, "List: got an error, want none")
	assert.Len(t, find(list, id), 1, "List: instances with id %s: got %d, want the marked one", id, len(find(list, id)))

	again, err := m.Mark(ctx, ref, id, vdc)
	require.NoError(t, err, "Mark again with the same id: got an error, want none")
	assert.Equal(t, id, again.OVMID, "Mark again: OVMID: got %q, want %q", again.OVMID, id)
	_, err = m.Mark(ctx, ref, ovm.NewID(), vdc)
	assert.ErrorIs(t, err, ovm.ErrConflict, "Mark with another id: got %v, want ovm.ErrConflict", err)
	_, err = m.Mark(ctx, hypervisor.ByNative("no-such-"+name), ovm.NewID(), vdc)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "Mark of an unknown object: got %v, want ovm.ErrNotFound", err)
}

func (s *suite) testMigrate(t *testing.T) {
	d, ctx := s.setup(t)
	caps := d.Capabilities()
	announced := caps.LiveMigration || caps.SharedNothingMigration || caps.StorageMigration
	mig, ok := facet[hypervisor.Migrator](t, d, announced, "Migrator")
	if !ok {
		return
	}
	var peer hypervisor.Driver
	if s.h.NewPeer != nil {
		peer = s.peer(t)
	}
	pool := ovm.StoragePool{ID: ovm.NewID(), Name: s.name("pool"), Kind: ovm.StorageShared, Path: "/srv/" + s.name("pool")}
	if s.h.MigrationPool != nil {
		pool = s.h.MigrationPool(t)
	}

	for _, tt := range []struct {
		kind      hypervisor.MigrationKind
		announced bool
		toPeer    bool
	}{
		{hypervisor.MigrateLive, caps.LiveMigration, true},
		{hypervisor.MigrateSharedNothing, caps.SharedNothingMigration, true},
		{hypervisor.MigrateStorage, caps.StorageMigration, false},
	} {
		t.Run(string(tt.kind), func(t *testing.T) {
			spec := s.spec(t, "mig-"+string(tt.kind))
			s.started(t, ctx, d, spec)
			ref := hypervisor.ByID(spec.ID)
			target := hypervisor.MigrationTarget{Kind: tt.kind, Destination: peer}
			if tt.kind != hypervisor.MigrateLive {
				target.Pool = pool
			}
			if !tt.toPeer {
				target.Destination = nil
			}
			if !tt.announced {
				err := mig.Migrate(ctx, ref, target, nil)
				wantKind(t, err, ovm.ErrUnsupported, fmt.Sprintf("Migrate %s, not announced", tt.kind))
				wantPower(t, ctx, d, ref, ovm.PowerRunning, "the refused migration")
				return
			}
			if tt.toPeer {
				require.NotNil(t, peer, "Capabilities announce %s migration: got no Harness.NewPeer, want one (or list %q in Exceptions with a reason)", tt.kind, TestMigrate)
				s.track(t, peer, ref)
			}
			var percents []int
			err := mig.Migrate(ctx, ref, target, func(p int, _ string) { percents = append(percents, p) })
			require.NoError(t, err, "Migrate %s: got an error, want none", tt.kind)
			require.NotEmpty(t, percents, "Migrate %s: progress: got no report, want some", tt.kind)
			for i, p := range percents {
				assert.False(t, p < 0 || p > 100 || (i > 0 && p < percents[i-1]), "Migrate %s: progress: got %v, want 0 to 100, never going back", tt.kind, percents)
			}
			assert.Equal(t, 100, percents[len(percents)-1], "Migrate %s: last progress: got %d, want 100", tt.kind, percents[len(percents)-1])

			where, other := d, hypervisor.Driver(nil)
			if tt.toPeer {
				where, other = peer, d
			}
			got, err := where.Get(ctx, ref)
			require.NoError(t, err, "Get %s where it migrated to: got an error, want none", spec.Name)
			checkIdentity(t, "Get after "+string(tt.kind)+" migration", spec, got)
			assert.Equal(t, ovm.PowerRunning, got.Power, "after %s migration: Power: got %q, want %q", tt.kind, got.Power, ovm.PowerRunning)
			if other != nil {
				_, err := other.Get(ctx, ref)
				wantKind(t, err, ovm.ErrNotFound, "Get on the source after the migration")
			}
		})
	}
	for _, k := range []struct {
		kind      hypervisor.MigrationKind
		announced bool
	}{
		{hypervisor.MigrateStorage, caps.StorageMigration},
		{hypervisor.MigrateSharedNothing, caps.SharedNothingMigration && peer != nil},
		{hypervisor.MigrateLive, caps.LiveMigration && peer != nil},
	} {
		if k.announced {
			target := hypervisor.MigrationTarget{Kind: k.kind, Pool: pool}
			if k.kind != hypervisor.MigrateStorage {
				target.Destination = peer
			}
			err := mig.Migrate(ctx, hypervisor.ByID(ovm.NewID()), target, nil)
			wantKind(t, err, ovm.ErrNotFound, fmt.Sprintf("Migrate (%s) an unknown instance", k.kind))
			break
		}
	}
}
