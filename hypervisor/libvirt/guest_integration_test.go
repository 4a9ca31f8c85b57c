//go:build integration

package libvirt_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/libvirt"
	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
)

// bootWithin bounds a boot of the tiny guest under emulation on a busy
// two-core machine.
const bootWithin = 90 * time.Second

// started creates and starts s on d, removed when t ends.
func started(t *testing.T, d *libvirt.Driver, s hypervisor.CreateSpec, cleanup ...*libvirt.Driver) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for _, x := range append([]*libvirt.Driver{d}, cleanup...) {
			_ = x.Stop(ctx, hypervisor.ByID(s.ID), hypervisor.StopOptions{Force: true})
			if err := x.Delete(ctx, hypervisor.ByID(s.ID)); err != nil && !errors.Is(err, ovm.ErrNotFound) {
				t.Errorf("cleanup: delete %s: %v", s.Name, err)
			}
		}
	})
	_, err := d.Create(t.Context(), s)
	require.NoError(t, err, "Create %s: got an error, want none", s.Name)
	require.NoError(t, d.Start(t.Context(), hypervisor.ByID(s.ID)), "Start %s: got an error, want none", s.Name)
}

// TestGuestSeesSpec boots a guest and reads on its serial console what it
// found: its disks and the cloud-init seed OVM wrote (hostname, SSH key,
// user-data).
func TestGuestSeesSpec(t *testing.T) {
	e := env(t)
	d := dial(t, e, e.uri)
	t.Cleanup(func() { _ = d.Close() })
	s := spec(e, "ovmt-seed-"+ovm.NewID().Short())
	s.Spec.Hostname = "web-" + s.ID.Short()
	s.Spec.SSHKeys = []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOVMtest ovm@test"}
	s.Spec.UserData = "#cloud-config\nruncmd:\n  - echo " + s.ID.Short() + "\n"
	started(t, d, s)
	c := readConsole(t, d, hypervisor.ByID(s.ID))

	c.waitFor(t, regexp.MustCompile(`^OVM-GUEST-BOOTED`), bootWithin)
	// The boot disk is the template's 64 MiB: 131072 sectors of 512 bytes.
	c.waitFor(t, regexp.MustCompile(`^OVM-DISK vda 131072$`), time.Minute)
	c.waitFor(t, regexp.MustCompile(`^OVM-SEED vdb$`), time.Minute)
	for _, want := range []string{
		`OVM-SEED-META instance-id: "` + string(s.ID) + `"`,
		`OVM-SEED-META local-hostname: "` + s.Spec.Hostname + `"`,
		`OVM-SEED-META   - "` + s.Spec.SSHKeys[0] + `"`,
		`OVM-SEED-USER   - echo ` + s.ID.Short(),
	} {
		c.waitFor(t, regexp.MustCompile("^"+regexp.QuoteMeta(want)+"$"), time.Minute)
	}
	first := c.tick(t, time.Minute)
	second := c.tick(t, time.Minute)
	assert.Greater(t, second, first, "console counter: got %d after %d, want it to grow", second, first)

	st, err := d.Stats(t.Context(), hypervisor.ByID(s.ID))
	require.NoError(t, err, "Stats: got an error, want none")
	assert.Equal(t, 128*ovm.MiB, st.MemoryLimit, "Stats.MemoryLimit: got %s, want the spec's 128MiB", st.MemoryLimit)
	assert.Positive(t, st.DiskRead, "Stats.DiskRead: got 0, want the bytes the guest read probing its disks")
}

// TestGracefulStop presses the ACPI power button: the guest prints that it
// saw it and powers off before the timeout.
func TestGracefulStop(t *testing.T) {
	e := env(t)
	d := dial(t, e, e.uri)
	t.Cleanup(func() { _ = d.Close() })
	s := spec(e, "ovmt-acpi-"+ovm.NewID().Short())
	started(t, d, s)
	c := readConsole(t, d, hypervisor.ByID(s.ID))
	c.tick(t, bootWithin)
	start := time.Now()
	require.NoError(t, d.Stop(t.Context(), hypervisor.ByID(s.ID), hypervisor.StopOptions{Timeout: time.Minute}))
	took := time.Since(start)
	c.waitFor(t, regexp.MustCompile(`^OVM-POWER-BUTTON$`), 10*time.Second)
	assert.Less(t, took, 50*time.Second, "graceful stop: took %s, want the guest to power off well before the 1m timeout", took)
	inst, err := d.Get(t.Context(), hypervisor.ByID(s.ID))
	require.NoError(t, err)
	assert.Equal(t, ovm.PowerStopped, inst.Power, "after graceful stop: got %q, want %q", inst.Power, ovm.PowerStopped)
}

// TestMigrationKeepsGuestRunning moves a running guest (live with shared
// storage, shared-nothing, storage only) and reads its console counter on
// the other side: it goes on from where it was, the guest did not restart.
func TestMigrationKeepsGuestRunning(t *testing.T) {
	e := env(t)
	for _, tt := range []struct {
		name string
		kind hypervisor.MigrationKind
	}{
		{"live", hypervisor.MigrateLive},
		{"shared-nothing", hypervisor.MigrateSharedNothing},
		{"storage", hypervisor.MigrateStorage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src, dst := dial(t, e, e.uri), dial(t, e, e.uri2)
			t.Cleanup(func() { _ = src.Close(); _ = dst.Close() })
			s := spec(e, "ovmt-mig-"+ovm.NewID().Short())
			started(t, src, s, dst)
			ref := hypervisor.ByID(s.ID)
			before := readConsole(t, src, ref)
			n := before.tick(t, bootWithin)
			n = max(n, before.tick(t, time.Minute))

			target := hypervisor.MigrationTarget{Kind: tt.kind, Destination: dst}
			where := dst
			if tt.kind != hypervisor.MigrateLive {
				target.Pool = migrationPool(t, e)
			}
			if tt.kind == hypervisor.MigrateStorage {
				target.Destination, where = nil, src
			}
			var last int
			require.NoError(t, src.Migrate(t.Context(), ref, target, func(p int, _ string) { last = p }), "Migrate %s", tt.kind)
			assert.Equal(t, 100, last, "last progress: got %d, want 100", last)

			after := readConsole(t, where, ref)
			m := after.tick(t, time.Minute)
			assert.Greater(t, m, n, "console counter after the %s migration: got %d, want more than %d (the guest kept running)", tt.kind, m, n)
			inst, err := where.Get(t.Context(), ref)
			require.NoError(t, err)
			assert.Equal(t, ovm.PowerRunning, inst.Power)
			if tt.kind != hypervisor.MigrateLive {
				x, err := where.Libvirt().DomainGetXMLDesc(mustDomain(t, where, s.Name), 0)
				require.NoError(t, err)
				assert.Contains(t, x, target.Pool.Path+"/ovm-"+string(s.ID)+"-boot.qcow2",
					"domain XML after the %s migration: want its boot disk in %s", tt.kind, target.Pool.Path)
			}
		})
	}
}

// mustDomain looks a domain up by name.
func mustDomain(t *testing.T, d *libvirt.Driver, name string) golibvirt.Domain {
	t.Helper()
	dom, err := d.Libvirt().DomainLookupByName(name)
	require.NoError(t, err)
	return dom
}

// TestBadInput checks the errors for input libvirt or the host refuses: the
// kind, libvirt's own text kept, and nothing left behind.
func TestBadInput(t *testing.T) {
	e := env(t)

	t.Run("uri that does not answer", func(t *testing.T) {
		cfg := e.config("qemu+tcp://127.0.0.3:1/system")
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		_, err := libvirt.Dial(ctx, cfg)
		require.ErrorIs(t, err, ovm.ErrUnavailable, "Dial a closed port: got %v, want unavailable", err)
		assert.Contains(t, err.Error(), "connection refused", "Dial: want the dialer's text kept, got %q", err)
	})

	t.Run("template that does not exist", func(t *testing.T) {
		d := dial(t, e, e.uri)
		t.Cleanup(func() { _ = d.Close() })
		s := spec(e, "ovmt-notpl-"+ovm.NewID().Short())
		s.Spec.Image = ovm.Template("no-such-template.qcow2")
		_, err := d.Create(t.Context(), s)
		require.ErrorIs(t, err, ovm.ErrNotFound, "Create from a missing template: got %v, want not found", err)
		assert.Contains(t, err.Error(), "no-such-template.qcow2")
		assert.Contains(t, err.Error(), "Storage volume not found", "want libvirt's text kept, got %q", err)
		_, err = d.Get(t.Context(), hypervisor.ByID(s.ID))
		require.ErrorIs(t, err, ovm.ErrNotFound, "Get after the refused create: want nothing defined")
		left, _ := filepath.Glob(filepath.Join(e.shared, "ovm-"+string(s.ID)+"*"))
		assert.Empty(t, left, "volumes left after the refused create: got %v, want none", left)
	})

	t.Run("pool name libvirt rejects", func(t *testing.T) {
		cfg := e.config(e.uri)
		cfg.Disks = libvirt.PoolRef{Name: "bad/pool", Path: filepath.Join(e.pools, "bad")}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		d, err := libvirt.Dial(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = d.Close() })
		s := spec(e, "ovmt-badpool-"+ovm.NewID().Short())
		_, err = d.Create(t.Context(), s)
		require.Error(t, err, "Create with a pool named %q: got nil, want libvirt's refusal", cfg.Disks.Name)
		assert.Contains(t, err.Error(), "bad/pool", "want the pool named in %q", err)
		_, err = d.Get(t.Context(), hypervisor.ByID(s.ID))
		require.ErrorIs(t, err, ovm.ErrNotFound, "Get after the refused create: want nothing defined")
		_, statErr := os.Stat(cfg.Disks.Path)
		assert.True(t, os.IsNotExist(statErr), "pool directory %s: got %v, want it not made", cfg.Disks.Path, statErr)
	})

	t.Run("migrating to an incompatible host", func(t *testing.T) {
		// The guest's disks are in the first host's private /var/lib/libvirt,
		// which the second host (its own mount namespace) does not see.
		cfg := e.config(e.uri)
		cfg.Disks = libvirt.PoolRef{Name: "ovm-private", Path: "/var/lib/libvirt/images/ovm-private"}
		t.Cleanup(func() { removePool(t, e, e.uri, cfg.Disks.Name) })
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		src, err := libvirt.Dial(ctx, cfg)
		require.NoError(t, err)
		dst := dial(t, e, e.uri2)
		t.Cleanup(func() { _ = src.Close(); _ = dst.Close() })
		s := spec(e, "ovmt-badmig-"+ovm.NewID().Short())
		started(t, src, s)
		err = src.Migrate(t.Context(), hypervisor.ByID(s.ID), hypervisor.MigrationTarget{Kind: hypervisor.MigrateLive, Destination: dst}, nil)
		require.ErrorIs(t, err, ovm.ErrUnsupported, "live migration with disks the destination does not see: got %v, want unsupported", err)
		assert.Contains(t, err.Error(), "Migration without shared storage is unsafe", "want libvirt's text kept, got %q", err)
		inst, err := src.Get(t.Context(), hypervisor.ByID(s.ID))
		require.NoError(t, err)
		assert.Equal(t, ovm.PowerRunning, inst.Power, "after the refused migration: got %q on the source, want %q", inst.Power, ovm.PowerRunning)
		_, err = dst.Get(t.Context(), hypervisor.ByID(s.ID))
		require.ErrorIs(t, err, ovm.ErrNotFound, "Get on the destination after the refused migration: want nothing there")
	})
}

// TestGuestOnNetwork boots a guest with a NIC on an OVM network: the
// network driver's bridge, the address reserved for the instance's MAC.
func TestGuestOnNetwork(t *testing.T) {
	e := env(t)
	d := dial(t, e, e.uri)
	t.Cleanup(func() { _ = d.Close() })
	nets := d.Networks()
	id := ovm.NewID()
	nw := ovm.Network{ID: id, Name: "ovmnt-" + id.Short(), Subnet: netip.MustParsePrefix("10.211.127.0/24"), Gateway: netip.MustParseAddr("10.211.127.1")}
	seg, err := nets.CreateNetwork(t.Context(), nw)
	require.NoError(t, err, "CreateNetwork")
	s := spec(e, "ovmt-nic-"+ovm.NewID().Short())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = nets.Detach(ctx, id, s.ID)
		if err := nets.DeleteNetwork(ctx, id); err != nil {
			t.Errorf("cleanup: DeleteNetwork: %v", err)
		}
	})
	a, err := nets.Attach(t.Context(), id, s.ID, network.AttachSpec{IP: netip.MustParseAddr("10.211.127.10")})
	require.NoError(t, err, "Attach")
	s.NICs = []hypervisor.NICAttachment{{Network: seg.Network, MAC: a.MAC, IP: a.IP, Bridge: seg.NativeID}}
	started(t, d, s)
	c := readConsole(t, d, hypervisor.ByID(s.ID))
	c.tick(t, bootWithin)
	x, err := d.Libvirt().DomainGetXMLDesc(mustDomain(t, d, s.Name), 0)
	require.NoError(t, err)
	assert.Contains(t, x, "<mac address='"+a.MAC+"'/>", "running domain: want the reserved MAC on its NIC")
	assert.Contains(t, x, "<source bridge='"+seg.NativeID+"'/>", "running domain: want its NIC on the segment's bridge %s", seg.NativeID)
}
