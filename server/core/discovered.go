package core

import (
	"context"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
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
	return out, err
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

// Import makes a discovered object a managed instance of a VDC: its quota
// is reserved and the instance record points at its native id. Nothing
// changes on the host, so no task is needed.
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
			if err := f.Err("invalid import"); err != nil {
				return err
			}
			if _, err := tx.Get(ctx, store.KindVDC, in.VDCID); err != nil {
				return fieldNotFound(err, "vdcId")
			}
			if err := nameFree(ctx, tx, store.KindInstance, in.VDCID, in.Name, "name"); err != nil {
				return err
			}
			spec := ovm.InstanceSpec{Type: d.Type, CPU: d.CPU, Memory: d.Memory, Image: d.Image}
			usage := ovm.UsageOf(spec)
			if err := tx.Reserve(ctx, in.VDCID, usage); err != nil {
				return err
			}
			now := s.now()
			inst := instanceRecord{Instance: ovm.Instance{ID: ovm.NewID(), Name: in.Name, VDCID: in.VDCID, Spec: spec, CreatedAt: now,
				Status: ovm.InstanceStatus{Phase: ovm.PhaseReady, Power: d.Power, HostID: d.HostID, NativeID: d.NativeID, UpdatedAt: now}},
				Reserved: usage}
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
