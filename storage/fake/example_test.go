package fake_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
	"github.com/openovm/ovm/storage/fake"
)

// A fake pool of 10GiB refuses a volume it has no room for, and the fault
// knobs make calls fail as an unreachable or flaky backend would.
func Example() {
	ctx := context.Background()
	poolID := ovm.ID("0b8f5a3e-6f0e-4c43-9d6b-2a0f3c1d7e55")
	d := fake.New(fake.Options{PoolCapacity: map[ovm.ID]ovm.Bytes{poolID: 10 * ovm.GiB}})

	pool, _ := d.CreatePool(ctx, storage.PoolSpec{ID: poolID, Name: "local", Kind: ovm.StorageLocal, Path: "/var/lib/ovm"})
	vol, _ := d.CreateVolume(ctx, storage.VolumeSpec{
		ID: ovm.ID("5c1e7d2a-0a4b-4f7e-8c3d-9e6f1a2b3c4d"), Name: "data", PoolID: pool.ID, Size: 8 * ovm.GiB,
	})
	_, err := d.ResizeVolume(ctx, vol.ID, 12*ovm.GiB)
	fmt.Println("grow past the pool is a conflict:", errors.Is(err, ovm.ErrConflict))

	d.SetUnreachable(true)
	_, err = d.GetVolume(ctx, vol.ID)
	fmt.Println("unreachable:", errors.Is(err, ovm.ErrUnavailable))
	d.SetUnreachable(false)

	d.FailNext(fake.MethodDeleteVolume, errors.New("disk busy"))
	fmt.Println("first delete:", d.DeleteVolume(ctx, vol.ID))
	fmt.Println("second delete:", d.DeleteVolume(ctx, vol.ID))
	// Output:
	// grow past the pool is a conflict: true
	// unreachable: true
	// first delete: disk busy
	// second delete: <nil>
}
