//go:build integration

package libvirt_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/libvirt"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
	"github.com/openovm/ovm/storage/storagetest"
)

// TestStorageConformance runs the storage conformance suite on the real
// libvirtd: dir pools under the test pool directory, a 64 MiB tmpfs for the
// full pool, volumes from the test template.
func TestStorageConformance(t *testing.T) {
	e := env(t)
	storagetest.Run(t, storagetest.Harness{
		New: func(t *testing.T) storage.Driver {
			d := dial(t, e, e.uri)
			t.Cleanup(func() { _ = d.Close() })
			return d.Storage()
		},
		Pool: func(t *testing.T, name string) storage.PoolSpec {
			return storage.PoolSpec{Kind: ovm.StorageLocal, Name: name, Path: filepath.Join(e.pools, name)}
		},
		Image: func(t *testing.T) ovm.ImageRef { return ovm.Template(filepath.Base(e.template)) },
		AttachTarget: func(t *testing.T) ovm.ID {
			d := dial(t, e, e.uri)
			sp := spec(e, "ovm-attach-"+string(ovm.NewID().Short()))
			_, err := d.Create(t.Context(), sp)
			require.NoError(t, err, "Create the domain volumes attach to")
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				_ = d.Delete(ctx, hypervisor.ByID(sp.ID))
				_ = d.Close()
			})
			return sp.ID
		},
		LimitedPool: func(t *testing.T, name string) (storage.PoolSpec, ovm.Bytes) {
			// The tmpfs of `make testenv` holds 64 MiB.
			return storage.PoolSpec{Kind: ovm.StorageLocal, Name: name, Path: filepath.Join(e.small, name)}, 64 * ovm.MiB
		},
	})
}

// TestSharedPool makes a shared pool on one host and adopts the same
// directory on the other: both see the volume made on the first.
func TestSharedPool(t *testing.T) {
	e := env(t)
	d1, d2 := dial(t, e, e.uri), dial(t, e, e.uri2)
	t.Cleanup(func() { _ = d1.Close(); _ = d2.Close() })
	s1, s2 := d1.Storage(), d2.Storage()
	id := ovm.NewID()
	spec := storage.PoolSpec{ID: id, Name: "ovm-shared-" + id.Short(), Kind: ovm.StorageShared, Path: filepath.Join(e.pools, "shared-"+id.Short())}
	p1, err := s1.CreatePool(t.Context(), spec)
	require.NoError(t, err, "CreatePool on host 1")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, s := range []*libvirt.Storage{s2, s1} {
			vols, _ := s.ListVolumes(ctx, id)
			for _, v := range vols {
				_ = s.DeleteVolume(ctx, v.ID)
			}
			_ = s.DeletePool(ctx, id)
		}
	})
	assert.Equal(t, ovm.StorageShared, p1.Kind, "pool kind on host 1: got %q, want %q", p1.Kind, ovm.StorageShared)
	vol, err := s1.CreateVolume(t.Context(), storage.VolumeSpec{ID: ovm.NewID(), Name: "disk", PoolID: id, Size: 64 * ovm.MiB})
	require.NoError(t, err, "CreateVolume on host 1")

	p2, err := s2.CreatePool(t.Context(), spec)
	require.NoError(t, err, "CreatePool on host 2 over the same directory")
	assert.Equal(t, ovm.StorageShared, p2.Kind, "pool kind on host 2: got %q, want %q (the marker volume is in the shared directory)", p2.Kind, ovm.StorageShared)
	got, err := s2.GetVolume(t.Context(), vol.ID)
	require.NoError(t, err, "GetVolume on host 2 of the volume made on host 1")
	assert.Equal(t, vol.Size, got.Size, "volume size on host 2: got %s, want %s", got.Size, vol.Size)
	// Host 2 only forgets the pool; host 1 removes the volume and directory.
	require.NoError(t, d2.Libvirt().StoragePoolDestroy(mustPool(t, d2, spec.Name)))
	require.NoError(t, d2.Libvirt().StoragePoolUndefine(mustPool(t, d2, spec.Name)))
}

// TestNFSPool defines a netfs pool: the definition libvirt keeps names the
// export, and starting it fails here (these machines have no NFS client, so
// the mount cannot happen) with libvirt's text, leaving nothing defined.
func TestNFSPool(t *testing.T) {
	e := env(t)
	d := dial(t, e, e.uri)
	t.Cleanup(func() { _ = d.Close() })
	s := d.Storage()
	id := ovm.NewID()
	spec := storage.PoolSpec{ID: id, Name: "ovm-nfs-" + id.Short(), Kind: ovm.StorageNFS,
		Server: "127.0.0.1", Export: "/srv/ovm", Path: filepath.Join(e.pools, "nfs-"+id.Short())}
	_, err := s.CreatePool(t.Context(), spec)
	require.Error(t, err, "CreatePool nfs on a host without NFS: got nil, want the mount's failure")
	t.Logf("CreatePool nfs: %v", err)
	assert.Contains(t, err.Error(), "start pool "+spec.Name, "want the failing step named, got %q", err)
	assert.Contains(t, err.Error(), "mount", "want libvirt's mount error kept, got %q", err)
	_, err = s.GetPool(t.Context(), id)
	require.ErrorIs(t, err, ovm.ErrNotFound, "GetPool after the failed nfs create: want nothing left defined")
	_, statErr := os.Stat(spec.Path)
	assert.True(t, os.IsNotExist(statErr), "mount point %s after the failed nfs create: got %v, want it removed", spec.Path, statErr)
}

// mustPool looks a libvirt pool up by name.
func mustPool(t *testing.T, d *libvirt.Driver, name string) golibvirt.StoragePool {
	t.Helper()
	p, err := d.Libvirt().StoragePoolLookupByName(name)
	require.NoError(t, err)
	return p
}
