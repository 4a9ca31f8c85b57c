package core

import (
	"context"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// Discovered is an object found on a host without an OVM id: shown to
// administrators, who can import it into a VDC.
type Discovered = apitypes.Discovered

// SyncHost lists a host's instances and records the unmanaged ones as
// discovered (those already recorded are kept, those gone are dropped),
// and brings the records of its managed instances in line with the host
// (gone: lost; power changed outside OVM: the host's). It returns the
// host's discovered objects.
func (s *Service) SyncHost(ctx context.Context, p auth.Principal, hostID ovm.ID) ([]Discovered, error) {
	var h hostRecord
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getPlatform(ctx, tx, p, store.KindHost, hostID)
		if err != nil {
			return err
		}
		h, err = decode[hostRecord](r)
		return err
	})
	if err != nil {
		return nil, err
	}
	listedAt := s.now()
	found, err := s.listHost(ctx, h)
	if err != nil {
		return nil, err
	}
	var out []Discovered
	err = s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		rep, err := s.syncRecords(ctx, tx, h.Host, found, listedAt)
		out = rep.Discovered
		return err
	})
	if err != nil {
		return out, err
	}
	return out, s.syncStoragePools(ctx, h, nil)
}

// ListDiscovered lists the discovered objects (administrators).
func (s *Service) ListDiscovered(ctx context.Context, p auth.Principal, o ListOptions) (Page[Discovered], error) {
	return listPlatform[Discovered](ctx, s, p, store.Filter{Kind: store.KindDiscovered}, o, "listing discovered objects")
}

// GetDiscovered returns a discovered object.
func (s *Service) GetDiscovered(ctx context.Context, p auth.Principal, id ovm.ID) (Discovered, int64, error) {
	return getPlatformAs[Discovered](ctx, s, p, store.KindDiscovered, id)
}

// ImportDiscovered is the input of an import.
type ImportDiscovered = apitypes.DiscoveredImport

// importSize checks an import's demand against the object's own limits
// and returns the spec's CPU and memory.
func importSize(d Discovered, in ImportDiscovered, f *ovm.Fields) (ovm.MilliCPU, ovm.Bytes) {
	cpu, mem := d.CPU, d.Memory
	switch {
	case in.CPU < 0:
		f.Add("cpuMilli", "must not be negative")
	case d.CPU == 0 && in.CPU == 0:
		f.Add("cpuMilli", "the object has no CPU limit on its host: give the CPU it may use (in milli-vCPU); it is applied on the host and counted against the vdc's quota")
	case d.CPU == 0:
		cpu = in.CPU
	case in.CPU != 0 && in.CPU != d.CPU:
		f.Addf("cpuMilli", "the object has %d milli-vCPU on its host: leave cpuMilli out, and resize the instance after the import to change it", d.CPU)
	}
	switch {
	case in.Memory < 0 || (in.Memory > 0 && in.Memory < ovm.MinMemory):
		f.Addf("memoryBytes", "must be at least %s", ovm.MinMemory)
	case d.Memory == 0 && in.Memory == 0:
		f.Add("memoryBytes", "the object has no memory limit on its host: give the memory it may use (in bytes); it is applied on the host and counted against the vdc's quota")
	case d.Memory == 0:
		mem = in.Memory
	case in.Memory != 0 && in.Memory != d.Memory:
		f.Addf("memoryBytes", "the object has %s of memory on its host: leave memoryBytes out, and resize the instance after the import to change it", d.Memory)
	}
	return cpu, mem
}

// Import makes a discovered object a managed instance of a VDC: its quota
// is reserved, the instance record points at its native id, and a claim
// of the object (its host and native id) is recorded in the same
// transaction, so a second import of the object, into any VDC, is a
// conflict and sync no longer lists it. An instance.import task then marks
// the object with the instance's id where the engine can (hypervisor.Marker)
// and applies the limits the import gave.
func (s *Service) Import(ctx context.Context, p auth.Principal, id ovm.ID, in ImportDiscovered) (ovm.Instance, error) {
	var out ovm.Instance
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getPlatform(ctx, tx, p, store.KindDiscovered, id)
		if err != nil {
			return err
		}
		return idempotent(ctx, tx, p, "discovered.import", in.IdempotencyKey, struct {
			ID ovm.ID
			In ImportDiscovered
		}{id, in}, &out, func() error {
			d, err := decode[Discovered](r)
			if err != nil {
				return err
			}
			var f ovm.Fields
			if r := ovm.ValidateName(in.Name); r != "" {
				f.Add("name", r)
			}
			if !in.VDCID.Valid() {
				f.Add("vdcId", "must be the id of a vdc")
			}
			cpu, mem := importSize(d, in, &f)
			if err := f.Err("invalid import"); err != nil {
				return err
			}
			if _, err := tx.Get(ctx, store.KindVDC, in.VDCID); err != nil {
				return fieldNotFound(err, "vdcId")
			}
			instID := ovm.NewID()
			cid := objectClaimID(d.HostID, d.NativeID)
			err = takeClaim(ctx, tx, cid, claim{Holder: store.KindInstance, HolderID: instID, HolderName: in.Name, VDCID: in.VDCID,
				HostID: d.HostID, NativeID: d.NativeID}, func(old claim) error {
				return conflictf("object %s (%s) is imported already, as instance %s (%s) of vdc %s: one object is managed by one instance",
					d.Name, d.NativeID, old.HolderName, old.HolderID, old.VDCID)
			})
			if err != nil {
				return err
			}
			if err := nameFree(ctx, tx, store.KindInstance, in.VDCID, in.Name, "name"); err != nil {
				return err
			}
			spec := ovm.InstanceSpec{Type: d.Type, CPU: cpu, Memory: mem, Image: d.Image}
			usage := ovm.UsageOf(spec)
			if err := tx.Reserve(ctx, in.VDCID, usage); err != nil {
				return err
			}
			// A platform task (administrators import): its log names the
			// object on its host, which tenants do not see. It applies the
			// limits the import gave an object that had none.
			ti := importInput{InstanceID: instID, HostID: d.HostID}
			if d.CPU == 0 {
				ti.CPU = cpu
			}
			if d.Memory == 0 {
				ti.Memory = mem
			}
			if _, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskInstanceImport, TargetID: instID, HostID: d.HostID, Input: ti}); err != nil {
				return err
			}
			now := s.now()
			inst := instanceRecord{Instance: ovm.Instance{ID: instID, Name: in.Name, VDCID: in.VDCID, Spec: spec, CreatedAt: now,
				Status: ovm.InstanceStatus{Phase: ovm.PhaseReady, Power: d.Power, HostID: d.HostID, NativeID: d.NativeID, UpdatedAt: now}},
				Reserved: usage, Claim: cid}
			// An imported object is on its host already: its share is
			// recorded as it is, whatever room the host has left.
			if err := setHold(ctx, tx, &inst.Held, instanceHold(d.HostID, spec, ""), ovm.Resources{}); err != nil {
				return err
			}
			ir := store.Record{Kind: store.KindInstance, ID: inst.ID, VDCID: in.VDCID, HostID: d.HostID, Name: in.Name}
			if err := setData(&ir, inst); err != nil {
				return err
			}
			if err := tx.Insert(ctx, &ir); err != nil {
				return err
			}
			out = inst.Instance
			return tx.Delete(ctx, store.KindDiscovered, id, 0)
		})
	})
	return out, err
}
