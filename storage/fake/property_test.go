package fake_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
	"github.com/openovm/ovm/storage/fake"
)

// unit is the grain of the sizes the property test draws.
const unit = 256 * ovm.MiB

// modelVolume is what the model expects of one volume.
type modelVolume struct {
	size     ovm.Bytes
	attached bool
	snaps    map[ovm.ID]ovm.Bytes // snapshot id -> size when taken
}

// TestPropertyModel drives one pool with random creates, resizes, deletes,
// attachments, snapshots and reverts, and checks after every step that the
// fake agrees with a simple model: each call fails exactly when the model
// says it must, with the kind it names, and the pool is never over its
// capacity, its Used being the sum of its volumes' sizes.
func TestPropertyModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		ctx := t.Context()
		capacity := ovm.Bytes(rapid.Int64Range(1, 32).Draw(rt, "capacityUnits")) * unit
		spec := poolSpec("prop")
		d := fake.New(fake.Options{PoolCapacity: map[ovm.ID]ovm.Bytes{spec.ID: capacity}})
		if _, err := d.CreatePool(ctx, spec); err != nil {
			rt.Fatalf("CreatePool: %v", err)
		}
		model := map[ovm.ID]*modelVolume{}
		used := func() ovm.Bytes {
			var sum ovm.Bytes
			for _, v := range model {
				sum += v.size
			}
			return sum
		}
		// expect checks err against the kind the model wants (nil: success).
		expect := func(what string, err, want error) {
			if want == nil && err != nil {
				rt.Fatalf("%s: got %v, want success", what, err)
			}
			if want != nil && !errors.Is(err, want) {
				rt.Fatalf("%s: got %v, want %v", what, err, want)
			}
		}
		pick := func() (ovm.ID, *modelVolume) {
			ids := slices.Sorted(maps.Keys(model))
			id := rapid.SampledFrom(ids).Draw(rt, "volume")
			return id, model[id]
		}
		snapN := 0

		rt.Repeat(map[string]func(*rapid.T){
			"create": func(rt *rapid.T) {
				size := ovm.Bytes(rapid.Int64Range(1, 12).Draw(rt, "sizeUnits")) * unit
				vs := storage.VolumeSpec{ID: ovm.NewID(), Name: "v", PoolID: spec.ID, Size: size}
				_, err := d.CreateVolume(ctx, vs)
				var want error
				if size > capacity-used() {
					want = ovm.ErrConflict
				}
				expect(fmt.Sprintf("CreateVolume(%s) with %s free", size, capacity-used()), err, want)
				if err == nil {
					model[vs.ID] = &modelVolume{size: size, snaps: map[ovm.ID]ovm.Bytes{}}
				}
			},
			"resize": func(rt *rapid.T) {
				if len(model) == 0 {
					return
				}
				id, mv := pick()
				size := ovm.Bytes(rapid.Int64Range(0, 12).Draw(rt, "sizeUnits")) * unit
				_, err := d.ResizeVolume(ctx, id, size)
				var want error
				switch {
				case size < mv.size:
					want = ovm.ErrInvalid
				case size-mv.size > capacity-used():
					want = ovm.ErrConflict
				}
				expect(fmt.Sprintf("ResizeVolume(%s → %s)", mv.size, size), err, want)
				if err == nil {
					mv.size = size
				}
			},
			"delete": func(rt *rapid.T) {
				if len(model) == 0 {
					return
				}
				id, mv := pick()
				var want error
				if mv.attached {
					want = ovm.ErrConflict
				}
				err := d.DeleteVolume(ctx, id)
				expect(fmt.Sprintf("DeleteVolume(attached=%v)", mv.attached), err, want)
				if err == nil {
					delete(model, id)
				}
			},
			"attach or detach": func(rt *rapid.T) {
				if len(model) == 0 {
					return
				}
				id, mv := pick()
				var err error
				if mv.attached {
					err = d.DetachVolume(ctx, id)
				} else {
					err = d.AttachVolume(ctx, id, ovm.NewID())
				}
				expect("AttachVolume or DetachVolume", err, nil)
				mv.attached = !mv.attached
			},
			"snapshot": func(rt *rapid.T) {
				if len(model) == 0 {
					return
				}
				id, mv := pick()
				snapN++
				s, err := d.CreateSnapshot(ctx, id, fmt.Sprintf("s%d", snapN))
				expect("CreateSnapshot", err, nil)
				mv.snaps[s.ID] = mv.size
			},
			"revert": func(rt *rapid.T) {
				var withSnaps []ovm.ID
				for id, mv := range model {
					if len(mv.snaps) > 0 {
						withSnaps = append(withSnaps, id)
					}
				}
				if len(withSnaps) == 0 {
					return
				}
				slices.Sort(withSnaps)
				id := rapid.SampledFrom(withSnaps).Draw(rt, "volume")
				mv := model[id]
				snap := rapid.SampledFrom(slices.Sorted(maps.Keys(mv.snaps))).Draw(rt, "snapshot")
				var want error
				if mv.snaps[snap]-mv.size > capacity-used() {
					want = ovm.ErrConflict
				}
				err := d.RevertSnapshot(ctx, id, snap)
				expect(fmt.Sprintf("RevertSnapshot(%s → %s)", mv.size, mv.snaps[snap]), err, want)
				if err == nil {
					mv.size = mv.snaps[snap]
				}
			},
			"": func(rt *rapid.T) {
				p, err := d.GetPool(ctx, spec.ID)
				if err != nil {
					rt.Fatalf("GetPool: %v", err)
				}
				if p.Used != used() || p.Used > p.Capacity {
					rt.Fatalf("pool: got Used %s of %s, want %s (the model's sum) and within capacity", p.Used, p.Capacity, used())
				}
				vols, err := d.ListVolumes(ctx, spec.ID)
				if err != nil {
					rt.Fatalf("ListVolumes: %v", err)
				}
				if len(vols) != len(model) {
					rt.Fatalf("ListVolumes: got %d volumes, want %d", len(vols), len(model))
				}
				for _, v := range vols {
					mv, ok := model[v.ID]
					if !ok || v.Size != mv.size || v.AttachedTo.IsZero() == mv.attached {
						rt.Fatalf("volume %s: got size %s attached to %q, want the model's %+v", v.ID, v.Size, v.AttachedTo, mv)
					}
				}
			},
		})
	})
}
