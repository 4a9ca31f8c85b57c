package fake_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestStats(t *testing.T) {
	boot := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		uptime time.Duration
		want   hypervisor.Stats
	}{
		{"just booted", 0, hypervisor.Stats{
			CPUPercent:  20,                   // 2 vCPU x (10 + 0)
			MemoryUsed:  256 * ovm.MiB,        // 1GiB/4
			MemoryLimit: ovm.GiB,              // its memory
			DiskRead:    uint64(32 * ovm.MiB), // the boot's reads
			DiskReadOps: 512,                  // the boot's reads
		}},
		{"45 seconds", 45 * time.Second, hypervisor.Stats{
			CPUPercent:   50,                   // 2 x (10 + 45 mod 30 = 15)
			MemoryUsed:   268435456 + 40265318, // 1GiB/4 + 512MiB x 45/600 (536870912 x 45 / 600 = 40265318.4)
			MemoryLimit:  ovm.GiB,
			NetRxBytes:   67500,              // 1500 x 45
			NetTxBytes:   31500,              // 700 x 45
			DiskRead:     33554432 + 2949120, // 32MiB + 64KiB x 45
			DiskWrite:    737280,             // 16KiB x 45
			DiskReadOps:  1232,               // 512 + 16 x 45
			DiskWriteOps: 180,                // 4 x 45
		}},
		{"twenty minutes", 20 * time.Minute, hypervisor.Stats{
			CPUPercent:   20,            // 2 x (10 + 1200 mod 30 = 0)
			MemoryUsed:   768 * ovm.MiB, // 1GiB/4 + 512MiB (capped at 600s)
			MemoryLimit:  ovm.GiB,
			NetRxBytes:   1800000,             // 1500 x 1200
			NetTxBytes:   840000,              // 700 x 1200
			DiskRead:     33554432 + 78643200, // 32MiB + 64KiB x 1200
			DiskWrite:    19660800,            // 16KiB x 1200
			DiskReadOps:  19712,               // 512 + 16 x 1200
			DiskWriteOps: 4800,                // 4 x 1200
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{now: boot}
			d := fake.New(fake.Options{Now: clk.Now})
			spec := vmSpec("stats", 2, ovm.GiB)
			_, err := d.Create(t.Context(), spec)
			require.NoError(t, err)
			ref := hypervisor.ByID(spec.ID)
			require.NoError(t, d.Start(t.Context(), ref))
			clk.Advance(tt.uptime)
			got, err := d.Stats(t.Context(), ref)
			require.NoError(t, err, "Stats: got an error, want none")
			want := tt.want
			want.Time = boot.Add(tt.uptime)
			assert.Equal(t, want, got, "Stats after %s: got the second, want the first", tt.uptime)
		})
	}

	t.Run("stopped uses nothing, reboot resets uptime, pending resize waits for it", func(t *testing.T) {
		clk := &clock{now: boot}
		d := fake.New(fake.Options{Now: clk.Now, NoLiveResize: true})
		spec := vmSpec("stats", 2, ovm.GiB)
		_, err := d.Create(t.Context(), spec)
		require.NoError(t, err)
		ref := hypervisor.ByID(spec.ID)
		got, err := d.Stats(t.Context(), ref)
		require.NoError(t, err)
		assert.Equal(t, hypervisor.Stats{Time: boot, MemoryLimit: ovm.GiB}, got, "Stats of a stopped instance: got the second, want the first")

		require.NoError(t, d.Start(t.Context(), ref))
		clk.Advance(time.Hour)
		res, err := d.Reconfigure(t.Context(), ref, hypervisor.Resize{Memory: 2 * ovm.GiB})
		require.NoError(t, err)
		assert.False(t, res.Live, "Reconfigure with NoLiveResize: Live: got true, want false")
		got, err = d.Stats(t.Context(), ref)
		require.NoError(t, err)
		assert.Equal(t, ovm.GiB, got.MemoryLimit, "MemoryLimit before the reboot: got %s, want the booted 1GiB", got.MemoryLimit)
		info, err := d.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 2*ovm.GiB, info.Allocated.Memory, "Allocated with the resize pending: got %s, want the larger 2GiB", info.Allocated.Memory)

		require.NoError(t, d.Reboot(t.Context(), ref))
		got, err = d.Stats(t.Context(), ref)
		require.NoError(t, err)
		assert.Equal(t, 2*ovm.GiB, got.MemoryLimit, "MemoryLimit after the reboot: got %s, want the new 2GiB", got.MemoryLimit)
		assert.Equal(t, uint64(0), got.NetRxBytes, "NetRxBytes just after the reboot: got %d, want 0", got.NetRxBytes)
	})
}

// sharedDisk is a disk on an NFS pool; localDisk one on a local pool.
var (
	nfsPool   = ovm.StoragePool{ID: "00000000-0000-4000-8000-000000000001", Name: "nfs", Kind: ovm.StorageNFS}
	localPool = ovm.StoragePool{ID: "00000000-0000-4000-8000-000000000002", Name: "local", Kind: ovm.StorageLocal}
	otherPool = ovm.StoragePool{ID: "00000000-0000-4000-8000-000000000003", Name: "other", Kind: ovm.StorageShared}
)

func withPool(spec hypervisor.CreateSpec, pool ovm.StoragePool) hypervisor.CreateSpec {
	spec.Disks = []hypervisor.DiskAttachment{{Volume: ovm.Volume{Name: "root", StoragePoolID: pool.ID}, Pool: pool, Boot: true}}
	return spec
}

// other is a driver that is not a fake.
type other struct{ hypervisor.Driver }

func (other) Kind() ovm.HostKind { return ovm.HostDocker }

func TestMigrate(t *testing.T) {
	tests := []struct {
		name      string
		disk      ovm.StoragePool
		running   bool
		target    func(src, dest *fake.Driver) hypervisor.MigrationTarget
		wantErr   error
		wantPools []ovm.ID // the pools of the disks where the instance ends up
	}{
		{"live on shared storage", nfsPool, true, func(_, dest *fake.Driver) hypervisor.MigrationTarget {
			return hypervisor.MigrationTarget{Kind: hypervisor.MigrateLive, Destination: dest}
		}, nil, []ovm.ID{nfsPool.ID}},
		{"live on local storage", localPool, true, func(_, dest *fake.Driver) hypervisor.MigrationTarget {
			return hypervisor.MigrationTarget{Kind: hypervisor.MigrateLive, Destination: dest}
		}, ovm.ErrConflict, nil},
		{"live when stopped", nfsPool, false, func(_, dest *fake.Driver) hypervisor.MigrationTarget {
			return hypervisor.MigrationTarget{Kind: hypervisor.MigrateLive, Destination: dest}
		}, ovm.ErrConflict, nil},
		{"shared-nothing from local storage", localPool, true, func(_, dest *fake.Driver) hypervisor.MigrationTarget {
			return hypervisor.MigrationTarget{Kind: hypervisor.MigrateSharedNothing, Destination: dest, Pool: otherPool}
		}, nil, []ovm.ID{otherPool.ID}},
		{"shared-nothing when stopped", localPool, false, func(_, dest *fake.Driver) hypervisor.MigrationTarget {
			return hypervisor.MigrationTarget{Kind: hypervisor.MigrateSharedNothing, Destination: dest, Pool: otherPool}
		}, nil, []ovm.ID{otherPool.ID}},
		{"storage", localPool, true, func(src, _ *fake.Driver) hypervisor.MigrationTarget {
			return hypervisor.MigrationTarget{Kind: hypervisor.MigrateStorage, Destination: src, Pool: otherPool}
		}, nil, []ovm.ID{otherPool.ID}},
		{"no kind", nfsPool, true, func(_, dest *fake.Driver) hypervisor.MigrationTarget {
			return hypervisor.MigrationTarget{Destination: dest}
		}, ovm.ErrInvalid, nil},
		{"live without destination", nfsPool, true, func(_, _ *fake.Driver) hypervisor.MigrationTarget {
			return hypervisor.MigrationTarget{Kind: hypervisor.MigrateLive}
		}, ovm.ErrInvalid, nil},
		{"live to itself", nfsPool, true, func(src, _ *fake.Driver) hypervisor.MigrationTarget {
			return hypervisor.MigrationTarget{Kind: hypervisor.MigrateLive, Destination: src}
		}, ovm.ErrInvalid, nil},
		{"shared-nothing without pool", nfsPool, true, func(_, dest *fake.Driver) hypervisor.MigrationTarget {
			return hypervisor.MigrationTarget{Kind: hypervisor.MigrateSharedNothing, Destination: dest}
		}, ovm.ErrInvalid, nil},
		{"storage to another host", nfsPool, true, func(_, dest *fake.Driver) hypervisor.MigrationTarget {
			return hypervisor.MigrationTarget{Kind: hypervisor.MigrateStorage, Destination: dest, Pool: otherPool}
		}, ovm.ErrInvalid, nil},
		{"to a host that is not a fake", nfsPool, true, func(_, dest *fake.Driver) hypervisor.MigrationTarget {
			return hypervisor.MigrationTarget{Kind: hypervisor.MigrateLive, Destination: other{dest}}
		}, ovm.ErrUnsupported, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			src, dest := fake.New(fake.Options{Name: "src"}), fake.New(fake.Options{Name: "dest"})
			spec := withPool(vmSpec("mover", 1, ovm.GiB), tt.disk)
			inst, err := src.Create(ctx, spec)
			require.NoError(t, err)
			ref := hypervisor.ByID(spec.ID)
			want := ovm.PowerStopped
			if tt.running {
				require.NoError(t, src.Start(ctx, ref))
				want = ovm.PowerRunning
			}
			snap, err := src.CreateSnapshot(ctx, ref, "before")
			require.NoError(t, err)
			target := tt.target(src, dest)

			err = src.Migrate(ctx, ref, target, nil)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr, "Migrate: got %v, want %v", err, tt.wantErr)
				got, err := src.Get(ctx, ref)
				require.NoError(t, err, "Get on the source after the refused migration: got an error, want the instance")
				assert.Equal(t, want, got.Power, "source power after the refused migration: got %q, want %q", got.Power, want)
				return
			}
			require.NoError(t, err, "Migrate: got an error, want none")
			where := dest
			if target.Kind == hypervisor.MigrateStorage {
				where = src
			} else {
				_, err := src.Get(ctx, ref)
				require.ErrorIs(t, err, ovm.ErrNotFound, "Get on the source: got %v, want not found", err)
				srcInfo, err := src.Info(ctx)
				require.NoError(t, err)
				assert.True(t, srcInfo.Allocated.IsZero(), "source allocations after the move: got %s, want none", srcInfo.Allocated)
			}
			got, err := where.Get(ctx, ref)
			require.NoError(t, err, "Get where it moved: got an error, want the instance")
			assert.Equal(t, inst.NativeID, got.NativeID, "NativeID after the move: got %q, want %q", got.NativeID, inst.NativeID)
			assert.Equal(t, want, got.Power, "power after the move: got %q, want %q", got.Power, want)
			disks, err := where.Disks(ref)
			require.NoError(t, err)
			var pools []ovm.ID
			for _, d := range disks {
				pools = append(pools, d.Pool.ID)
				assert.Equal(t, d.Pool.ID, d.Volume.StoragePoolID, "disk %s: volume pool: got %s, want its pool %s", d.Volume.Name, d.Volume.StoragePoolID, d.Pool.ID)
			}
			assert.Equal(t, tt.wantPools, pools, "disk pools after the move: got %v, want %v", pools, tt.wantPools)
			snaps, err := where.ListSnapshots(ctx, ref)
			require.NoError(t, err)
			assert.Equal(t, []ovm.Snapshot{snap}, snaps, "snapshots after the move: got the second, want the first")
		})
	}
}

func TestMigrateRefused(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dest *fake.Driver)
		wantErr error
	}{
		{"destination unreachable", func(t *testing.T, dest *fake.Driver) { dest.SetUnreachable(true) }, ovm.ErrUnavailable},
		{"destination full", func(t *testing.T, dest *fake.Driver) {
			_, err := dest.AddUnmanaged("hog", ovm.InstanceSpec{Memory: 63 * ovm.GiB}, true)
			require.NoError(t, err)
		}, ovm.ErrConflict},
		{"name taken on the destination", func(t *testing.T, dest *fake.Driver) {
			_, err := dest.AddUnmanaged("mover", ovm.InstanceSpec{}, false)
			require.NoError(t, err)
		}, ovm.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			src, dest := fake.New(fake.Options{Name: "src"}), fake.New(fake.Options{Name: "dest"})
			spec := withPool(vmSpec("mover", 1, 2*ovm.GiB), nfsPool)
			_, err := src.Create(ctx, spec)
			require.NoError(t, err)
			ref := hypervisor.ByID(spec.ID)
			require.NoError(t, src.Start(ctx, ref))
			tt.prepare(t, dest)
			err = src.Migrate(ctx, ref, hypervisor.MigrationTarget{Kind: hypervisor.MigrateLive, Destination: dest}, nil)
			require.ErrorIs(t, err, tt.wantErr, "Migrate: got %v, want %v", err, tt.wantErr)
			got, err := src.Get(ctx, ref)
			require.NoError(t, err, "Get on the source: got an error, want the instance")
			assert.Equal(t, ovm.PowerRunning, got.Power, "source power: got %q, want %q", got.Power, ovm.PowerRunning)
			require.NoError(t, src.Stop(ctx, ref, hypervisor.StopOptions{}), "Stop after the refused migration: got an error, want none")
		})
	}

	t.Run("paused and locked while moving", func(t *testing.T) {
		ctx := t.Context()
		src, dest := fake.New(fake.Options{Name: "src"}), fake.New(fake.Options{Name: "dest"})
		spec := vmSpec("mover", 1, ovm.GiB)
		_, err := src.Create(ctx, spec)
		require.NoError(t, err)
		ref := hypervisor.ByID(spec.ID)
		require.NoError(t, src.Start(ctx, ref))
		dest.SetLatency(time.Hour)
		halfway := make(chan struct{})
		migrated := make(chan error, 1)
		migCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			migrated <- src.Migrate(migCtx, ref, hypervisor.MigrationTarget{Kind: hypervisor.MigrateLive, Destination: dest},
				func(p int, _ string) {
					if p == 50 {
						close(halfway)
					}
				})
		}()
		<-halfway
		got, err := src.Get(ctx, ref)
		require.NoError(t, err)
		assert.Equal(t, ovm.PowerPaused, got.Power, "source power while moving: got %q, want %q", got.Power, ovm.PowerPaused)
		for _, call := range []struct {
			name string
			err  error
		}{
			{"Stop", src.Stop(ctx, ref, hypervisor.StopOptions{Force: true})},
			{"Delete", src.Delete(ctx, ref)},
			{"Migrate", src.Migrate(ctx, ref, hypervisor.MigrationTarget{Kind: hypervisor.MigrateLive, Destination: dest}, nil)},
		} {
			require.ErrorIs(t, call.err, ovm.ErrConflict, "%s while migrating: got %v, want a conflict", call.name, call.err)
			assert.Contains(t, call.err.Error(), "migrating", "%s while migrating: got %q", call.name, call.err)
		}
		// Cancelling the migration while the destination is slow puts the
		// instance back as it was on the source.
		cancel()
		err = <-migrated
		require.ErrorIs(t, err, context.Canceled, "cancelled Migrate: got %v, want context.Canceled", err)
		got, err = src.Get(ctx, ref)
		require.NoError(t, err)
		assert.Equal(t, ovm.PowerRunning, got.Power, "source power after the cancelled move: got %q, want %q", got.Power, ovm.PowerRunning)
		dest.SetLatency(0)
		_, err = dest.Get(ctx, ref)
		require.ErrorIs(t, err, ovm.ErrNotFound, "Get on the destination: got %v, want not found", err)
	})
}

func TestExec(t *testing.T) {
	d := fake.New(fake.Options{})
	spec := vmSpec("shell", 1, ovm.GiB)
	spec.Spec.Hostname = "shell-host"
	spec.Spec.Env = map[string]string{"B": "instance", "A": "1"}
	_, err := d.Create(t.Context(), spec)
	require.NoError(t, err)
	ref := hypervisor.ByID(spec.ID)
	require.NoError(t, d.Start(t.Context(), ref))

	tests := []struct {
		name       string
		cmd        []string
		env        map[string]string
		stdin      io.Reader
		wantCode   int
		wantOut    string
		wantErrOut string
	}{
		{"echo", []string{"echo", "a", "b"}, nil, nil, 0, "a b\n", ""},
		{"echo -n", []string{"echo", "-n", "a"}, nil, nil, 0, "a", ""},
		{"true", []string{"true"}, nil, nil, 0, "", ""},
		{"false", []string{"false"}, nil, nil, 1, "", ""},
		{"hostname", []string{"hostname"}, nil, nil, 0, "shell-host\n", ""},
		{"cat", []string{"cat"}, nil, strings.NewReader("line\n"), 0, "line\n", ""},
		{"cat without stdin", []string{"cat"}, nil, nil, 0, "", ""},
		{"cat a file", []string{"cat", "/etc/passwd"}, nil, nil, 1, "", "cat: /etc/passwd: No such file or directory\n"},
		// The command's B overrides the instance's; HOSTNAME is always set.
		{"env", []string{"env"}, map[string]string{"B": "command"}, nil, 0, "A=1\nB=command\nHOSTNAME=shell-host\n", ""},
		{"sleep", []string{"sleep", "0.001"}, nil, nil, 0, "", ""},
		{"sleep nonsense", []string{"sleep", "soon"}, nil, nil, 1, "", "sleep: invalid time interval\n"},
		{"unknown", []string{"reboot"}, nil, nil, 127, "", "reboot: command not found\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := d.Exec(t.Context(), ref, hypervisor.ExecSpec{Command: tt.cmd, Env: tt.env, Stdin: tt.stdin})
			require.NoError(t, err, "Exec %q: got an error, want none", tt.cmd)
			assert.Equal(t, tt.wantCode, res.ExitCode, "Exec %q: exit code: got %d, want %d", tt.cmd, res.ExitCode, tt.wantCode)
			assert.Equal(t, tt.wantOut, string(res.Stdout), "Exec %q: stdout: got %q, want %q", tt.cmd, res.Stdout, tt.wantOut)
			assert.Equal(t, tt.wantErrOut, string(res.Stderr), "Exec %q: stderr: got %q, want %q", tt.cmd, res.Stderr, tt.wantErrOut)
		})
	}

	t.Run("sleep bounded by the context", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		_, err := d.Exec(ctx, ref, hypervisor.ExecSpec{Command: []string{"sleep", "3600"}})
		require.ErrorIs(t, err, context.DeadlineExceeded, "Exec sleep 3600 with a 10ms deadline: got %v, want deadline exceeded", err)
	})
	t.Run("empty command", func(t *testing.T) {
		_, err := d.Exec(t.Context(), ref, hypervisor.ExecSpec{})
		require.ErrorIs(t, err, ovm.ErrInvalid, "Exec of nothing: got %v, want invalid", err)
		assert.Equal(t, "command", ovm.FieldsOf(err)[0].Field, "Exec of nothing: got field %q, want command", ovm.FieldsOf(err)[0].Field)
	})
}

func TestConsole(t *testing.T) {
	ctx := t.Context()
	d := fake.New(fake.Options{Name: "host-1"})
	spec := vmSpec("tty", 1, ovm.GiB)
	inst, err := d.Create(ctx, spec)
	require.NoError(t, err)
	ref := hypervisor.ByID(spec.ID)
	_, err = d.Console(ctx, ref)
	require.ErrorIs(t, err, ovm.ErrConflict, "Console of a stopped instance: got %v, want a conflict", err)

	require.NoError(t, d.Start(ctx, ref))
	c, err := d.Console(ctx, ref)
	require.NoError(t, err)
	read := func() string {
		t.Helper()
		buf := make([]byte, 256)
		n, err := c.Read(buf)
		require.NoError(t, err, "console Read: got an error, want bytes")
		return string(buf[:n])
	}
	want := "OVM fake console: tty (" + inst.NativeID + ") on host-1\r\ntty login: "
	assert.Equal(t, want, read(), "console banner: got the second, want the first")
	_, err = c.Write([]byte("root\r"))
	require.NoError(t, err)
	assert.Equal(t, "root\r", read(), "console echo: got the second, want the first")
	require.NoError(t, d.Reboot(ctx, ref))
	assert.Equal(t, "\r\n[reboot]\r\ntty login: ", read(), "console after a reboot: got the second, want the first")

	// Stopping the instance hangs up: a blocked reader sees io.EOF.
	eof := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 16))
		eof <- err
	}()
	require.NoError(t, d.Stop(ctx, ref, hypervisor.StopOptions{}))
	select {
	case err := <-eof:
		require.ErrorIs(t, err, io.EOF, "console Read after the stop: got %v, want io.EOF", err)
	case <-time.After(10 * time.Second):
		t.Fatal("console Read after the stop: got no return within 10s, want io.EOF")
	}
	_, err = c.Write([]byte("x"))
	require.ErrorIs(t, err, io.ErrClosedPipe, "console Write after the hang-up: got %v, want io.ErrClosedPipe", err)
	require.NoError(t, c.Close(), "Close after the hang-up: got an error, want none")
}

func TestSnapshotRestoresSize(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, fake.Options{})
	_, err := f.d.CreateSnapshot(ctx, f.ref, "Bad Name")
	require.ErrorIs(t, err, ovm.ErrInvalid, "CreateSnapshot with a bad name: got %v, want invalid", err)
	snap, err := f.d.CreateSnapshot(ctx, f.ref, "base")
	require.NoError(t, err)
	_, err = f.d.CreateSnapshot(ctx, f.ref, "base")
	require.ErrorIs(t, err, ovm.ErrConflict, "CreateSnapshot with a taken name: got %v, want a conflict", err)

	_, err = f.d.Reconfigure(ctx, f.ref, hypervisor.Resize{CPU: ovm.CPUs(4), Memory: 8 * ovm.GiB})
	require.NoError(t, err)
	require.NoError(t, f.d.RevertSnapshot(ctx, f.ref, snap.ID))
	got, err := f.d.Get(ctx, f.ref)
	require.NoError(t, err)
	assert.Equal(t, f.spec.Spec.CPU, got.CPU, "CPU after revert: got %s, want %s", got.CPU, f.spec.Spec.CPU)
	assert.Equal(t, f.spec.Spec.Memory, got.Memory, "Memory after revert: got %s, want %s", got.Memory, f.spec.Spec.Memory)

	u, err := f.d.AddUnmanaged("legacy", ovm.InstanceSpec{}, false)
	require.NoError(t, err)
	us, err := f.d.CreateSnapshot(ctx, hypervisor.ByNative(u.NativeID), "base")
	require.NoError(t, err, "the same snapshot name on another instance: got an error, want none")
	assert.Empty(t, us.Of, "snapshot of an unmanaged instance: Of: got %q, want empty", us.Of)
}

func TestRegister(t *testing.T) {
	ctx := t.Context()
	d := fake.New(fake.Options{})
	local := withPool(vmSpec("local", 1, ovm.GiB), localPool)
	_, err := d.Register(ctx, local)
	require.ErrorIs(t, err, ovm.ErrInvalid, "Register from local storage: got %v, want invalid", err)
	assert.Equal(t, "disks[0].pool", ovm.FieldsOf(err)[0].Field, "Register from local storage: got field %q", ovm.FieldsOf(err)[0].Field)

	shared := withPool(vmSpec("shared", 1, ovm.GiB), nfsPool)
	inst, err := d.Register(ctx, shared)
	require.NoError(t, err)
	again, err := d.Register(ctx, shared)
	require.NoError(t, err)
	assert.Equal(t, inst.NativeID, again.NativeID, "Register again: got native id %q, want %q", again.NativeID, inst.NativeID)
	renamed := shared
	renamed.Name = "renamed"
	_, err = d.Register(ctx, renamed)
	require.ErrorIs(t, err, ovm.ErrConflict, "Register the same id under another name: got %v, want a conflict", err)
}

func TestAddUnmanaged(t *testing.T) {
	tests := []struct {
		name      string
		spec      ovm.InstanceSpec
		running   bool
		want      hypervisor.Instance // the fields compared
		wantError error
	}{
		{"defaults", ovm.InstanceSpec{}, false, hypervisor.Instance{Name: "legacy", Type: ovm.TypeVM, CPU: 1000, Memory: 512 * ovm.MiB,
			Image: ovm.Template("unmanaged.qcow2"), Power: ovm.PowerStopped}, nil},
		{"container", ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: 250}, true, hypervisor.Instance{Name: "legacy", Type: ovm.TypeContainer,
			CPU: 250, Memory: 512 * ovm.MiB, Image: ovm.ContainerImage("busybox:latest"), Power: ovm.PowerRunning}, nil},
		{"type from the image", ovm.InstanceSpec{Image: ovm.ContainerImage("nginx:1")}, false, hypervisor.Instance{Name: "legacy",
			Type: ovm.TypeContainer, CPU: 1000, Memory: 512 * ovm.MiB, Image: ovm.ContainerImage("nginx:1"), Power: ovm.PowerStopped}, nil},
		{"invalid", ovm.InstanceSpec{Memory: 1}, false, hypervisor.Instance{}, ovm.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := fake.New(fake.Options{})
			got, err := d.AddUnmanaged("legacy", tt.spec, tt.running)
			if tt.wantError != nil {
				require.ErrorIs(t, err, tt.wantError, "AddUnmanaged: got %v, want %v", err, tt.wantError)
				return
			}
			require.NoError(t, err)
			assert.NotEmpty(t, got.NativeID)
			assert.False(t, got.Managed(), "AddUnmanaged: Managed: got true, want false")
			got.NativeID, got.CreatedAt = "", time.Time{}
			assert.Equal(t, tt.want, got, "AddUnmanaged: got the second, want the first")
			assert.Equal(t, 0, d.Calls(fake.MethodCreate), "Calls(Create) after AddUnmanaged: got %d, want 0", d.Calls(fake.MethodCreate))
			_, err = d.AddUnmanaged("legacy", tt.spec, false)
			require.ErrorIs(t, err, ovm.ErrConflict, "AddUnmanaged with a taken name: got %v, want a conflict", err)
		})
	}
}

func TestBadArguments(t *testing.T) {
	f := newFixture(t, fake.Options{})
	_, err := f.d.Get(t.Context(), hypervisor.Ref{})
	require.ErrorIs(t, err, ovm.ErrInvalid, "Get of a zero ref: got %v, want invalid", err)
	require.NoError(t, f.d.Start(t.Context(), f.ref))
	err = f.d.Stop(t.Context(), f.ref, hypervisor.StopOptions{Timeout: -time.Second})
	require.ErrorIs(t, err, ovm.ErrInvalid, "Stop with a negative timeout: got %v, want invalid", err)
	_, err = f.d.Reconfigure(t.Context(), f.ref, hypervisor.Resize{CPU: 1500})
	require.ErrorIs(t, err, ovm.ErrInvalid, "Reconfigure a vm to 1.5 vCPU: got %v, want invalid", err)
	assert.Equal(t, "cpuMilli", ovm.FieldsOf(err)[0].Field)
}

func TestResultsAreCopies(t *testing.T) {
	f := newFixture(t, fake.Options{})
	spec := vmSpec("labelled", 1, ovm.GiB)
	spec.Spec.Labels = map[string]string{"team": "a"}
	inst, err := f.d.Create(t.Context(), spec)
	require.NoError(t, err)
	inst.Labels["team"] = "changed"
	spec.Spec.Labels["team"] = "changed too"
	got, err := f.d.Get(t.Context(), hypervisor.ByID(spec.ID))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"team": "a"}, got.Labels, "labels after the caller changed its copies: got %v, want the original", got.Labels)
}
