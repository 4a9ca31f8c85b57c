package core

import (
	"cmp"
	"context"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// CreateVDC is the input of a new VDC.
type CreateVDC = apitypes.VDCCreate

// CreateVDC records a VDC placed in a resource pool, with its quota.
func (s *Service) CreateVDC(ctx context.Context, p auth.Principal, in CreateVDC) (ovm.VDC, error) {
	if err := requireAdmin(p, "creating vdcs"); err != nil {
		return ovm.VDC{}, err
	}
	var f ovm.Fields
	if r := ovm.ValidateName(in.Name); r != "" {
		f.Add("name", r)
	}
	if !in.PoolID.Valid() {
		f.Add("poolId", "must be the id of a resource pool")
	}
	f.Merge("quota", in.Quota.Validate())
	if err := f.Err("invalid vdc"); err != nil {
		return ovm.VDC{}, err
	}
	var out ovm.VDC
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return idempotent(ctx, tx, p, "vdc.create", in.IdempotencyKey, in, &out, func() error {
			pool, _, err := getAs[ovm.ResourcePool](ctx, tx, store.KindPool, in.PoolID)
			if err != nil {
				return fieldNotFound(err, "poolId")
			}
			v := ovm.VDC{ID: ovm.NewID(), Name: in.Name, DatacenterID: pool.DatacenterID, PoolID: pool.ID, Quota: in.Quota, CreatedAt: s.now()}
			rec := store.Record{Kind: store.KindVDC, ID: v.ID, ParentID: v.PoolID, Name: v.Name}
			if err := setData(&rec, v); err != nil {
				return err
			}
			if err := tx.Insert(ctx, &rec); err != nil {
				return err
			}
			if err := tx.SetQuota(ctx, v.ID, in.Quota); err != nil {
				return err
			}
			out = v
			return nil
		})
	})
	return out, err
}

// withUsage fills a VDC's quota and live usage from the quota row.
func withUsage(ctx context.Context, tx store.Tx, r store.Record) (ovm.VDC, error) {
	v, err := decode[ovm.VDC](r)
	if err != nil {
		return v, err
	}
	v.Quota, v.Usage, err = tx.Quota(ctx, v.ID)
	return v, err
}

// GetVDC returns a VDC the principal may see, with its quota and usage.
func (s *Service) GetVDC(ctx context.Context, p auth.Principal, id ovm.ID) (ovm.VDC, int64, error) {
	var out ovm.VDC
	var ver int64
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getVisible(ctx, tx, p, store.KindVDC, id)
		if err != nil {
			return err
		}
		out, err = withUsage(ctx, tx, r)
		ver = r.Version
		return err
	})
	if !p.Admin() {
		out.PoolID, out.DatacenterID = "", ""
	}
	return out, ver, err
}

// ListVDCs lists every VDC for an administrator, the tenant's own otherwise.
func (s *Service) ListVDCs(ctx context.Context, p auth.Principal, o ListOptions) (Page[ovm.VDC], error) {
	if _, err := resolveVDC(p, o.VDCID, false); err != nil {
		return Page[ovm.VDC]{}, err
	}
	if !p.Admin() || o.VDCID != "" {
		if _, err := o.page(); err != nil {
			return Page[ovm.VDC]{}, err
		}
		if o.Cursor != "" {
			return Page[ovm.VDC]{Items: []ovm.VDC{}}, nil
		}
		v, _, err := s.GetVDC(ctx, p, cmp.Or(o.VDCID, p.VDCID))
		if err != nil {
			return Page[ovm.VDC]{}, err
		}
		return Page[ovm.VDC]{Items: []ovm.VDC{v}}, nil
	}
	var out Page[ovm.VDC]
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = listPage(ctx, tx, store.Filter{Kind: store.KindVDC}, o, func(r store.Record) (ovm.VDC, error) {
			return withUsage(ctx, tx, r)
		})
		return err
	})
	return out, err
}

// SetQuota changes a VDC's quota (administrators). Limits below the usage
// are accepted: nothing more is admitted until usage drops under them.
func (s *Service) SetQuota(ctx context.Context, p auth.Principal, id ovm.ID, q ovm.Quota, ifVersion int64) (ovm.VDC, int64, error) {
	var out ovm.VDC
	var ver int64
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getVisible(ctx, tx, p, store.KindVDC, id)
		if err != nil {
			return err
		}
		if err := requireAdmin(p, "changing quotas"); err != nil {
			return err
		}
		var f ovm.Fields
		f.Merge("quota", q.Validate())
		if err := f.Err("invalid quota"); err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		v, err := decode[ovm.VDC](r)
		if err != nil {
			return err
		}
		v.Quota = q
		if err := save(ctx, tx, &r, v); err != nil {
			return err
		}
		if err := tx.SetQuota(ctx, id, q); err != nil {
			return err
		}
		out, err = withUsage(ctx, tx, r)
		ver = r.Version
		return err
	})
	return out, ver, err
}

// DeleteVDC removes an empty VDC (no users, instances, vApps, networks or
// volumes).
func (s *Service) DeleteVDC(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) error {
	return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getVisible(ctx, tx, p, store.KindVDC, id)
		if err != nil {
			return err
		}
		if err := requireAdmin(p, "deleting vdcs"); err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		for _, k := range []store.Kind{store.KindInstance, store.KindVApp, store.KindNetwork, store.KindVolume} {
			n, err := tx.Count(ctx, store.Filter{Kind: k, VDCID: id})
			if err != nil {
				return err
			}
			if n > 0 {
				return conflictf("vdc %s still has %d %ss", r.Name, n, k)
			}
		}
		n, err := tx.Count(ctx, store.Filter{Kind: store.KindUser, ParentID: id})
		if err != nil {
			return err
		}
		if n > 0 {
			return conflictf("vdc %s still has %d users", r.Name, n)
		}
		if err := tx.SetQuota(ctx, id, ovm.Quota{}); err != nil {
			return err
		}
		if err := dropVDCAlerts(ctx, tx, id); err != nil {
			return err
		}
		return tx.Delete(ctx, store.KindVDC, id, r.Version)
	})
}
