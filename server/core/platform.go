package core

import (
	"context"
	"fmt"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// CreateDatacenter is the input of a new datacenter.
type CreateDatacenter = apitypes.DatacenterCreate

// CreateDatacenter records a datacenter (administrators only).
func (s *Service) CreateDatacenter(ctx context.Context, p auth.Principal, in CreateDatacenter) (ovm.Datacenter, error) {
	if err := requireAdmin(p, "creating datacenters"); err != nil {
		return ovm.Datacenter{}, err
	}
	var f ovm.Fields
	if r := ovm.ValidateName(in.Name); r != "" {
		f.Add("name", r)
	}
	if len(in.Description) > 1024 {
		f.Add("description", "must be at most 1024 characters")
	}
	if err := f.Err("invalid datacenter"); err != nil {
		return ovm.Datacenter{}, err
	}
	var out ovm.Datacenter
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return idempotent(ctx, tx, p, "datacenter.create", in.IdempotencyKey, in, &out, func() error {
			out = ovm.Datacenter{ID: ovm.NewID(), Name: in.Name, Description: in.Description, CreatedAt: s.now()}
			rec := store.Record{Kind: store.KindDatacenter, ID: out.ID, Name: out.Name}
			if err := setData(&rec, out); err != nil {
				return err
			}
			return tx.Insert(ctx, &rec)
		})
	})
	return out, err
}

// GetDatacenter returns a datacenter and its version.
func (s *Service) GetDatacenter(ctx context.Context, p auth.Principal, id ovm.ID) (ovm.Datacenter, int64, error) {
	return getPlatformAs[ovm.Datacenter](ctx, s, p, store.KindDatacenter, id)
}

// ListDatacenters lists the datacenters.
func (s *Service) ListDatacenters(ctx context.Context, p auth.Principal, o ListOptions) (Page[ovm.Datacenter], error) {
	return listPlatform[ovm.Datacenter](ctx, s, p, store.Filter{Kind: store.KindDatacenter}, o, "listing datacenters")
}

// UpdateDatacenter is a change of a datacenter; nil fields are unchanged.
type UpdateDatacenter = apitypes.DatacenterPatch

// UpdateDatacenter changes a datacenter's description.
func (s *Service) UpdateDatacenter(ctx context.Context, p auth.Principal, id ovm.ID, in UpdateDatacenter, ifVersion int64) (ovm.Datacenter, int64, error) {
	if in.Description != nil && len(*in.Description) > 1024 {
		return ovm.Datacenter{}, 0, invalid("invalid datacenter", "description", "must be at most 1024 characters")
	}
	return updatePlatform(ctx, s, p, store.KindDatacenter, id, ifVersion, func(d *ovm.Datacenter) error {
		if in.Description != nil {
			d.Description = *in.Description
		}
		return nil
	})
}

// DeleteDatacenter removes a datacenter without pools.
func (s *Service) DeleteDatacenter(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) error {
	return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getPlatform(ctx, tx, p, store.KindDatacenter, id)
		if err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		n, err := tx.Count(ctx, store.Filter{Kind: store.KindPool, ParentID: id})
		if err != nil {
			return err
		}
		if n > 0 {
			return conflictf("datacenter %s still has %d resource pools", r.Name, n)
		}
		return tx.Delete(ctx, store.KindDatacenter, id, r.Version)
	})
}

// CreatePool is the input of a new resource pool.
type CreatePool = apitypes.PoolCreate

// CreatePool records a resource pool in a datacenter.
func (s *Service) CreatePool(ctx context.Context, p auth.Principal, in CreatePool) (ovm.ResourcePool, error) {
	if err := requireAdmin(p, "creating resource pools"); err != nil {
		return ovm.ResourcePool{}, err
	}
	if in.Policy == "" {
		in.Policy = ovm.PolicyPerformance
	}
	pool := ovm.ResourcePool{ID: ovm.NewID(), Name: in.Name, DatacenterID: in.DatacenterID, Policy: in.Policy,
		Scope: in.Scope, HAEnabled: in.HAEnabled, Overcommit: in.Overcommit, CreatedAt: s.now()}
	var f ovm.Fields
	f.Merge("", pool.Validate())
	if !in.DatacenterID.Valid() {
		f.Add("datacenterId", "must be the id of a datacenter")
	}
	if err := f.Err("invalid resource pool"); err != nil {
		return ovm.ResourcePool{}, err
	}
	var out ovm.ResourcePool
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return idempotent(ctx, tx, p, "pool.create", in.IdempotencyKey, in, &out, func() error {
			if _, err := tx.Get(ctx, store.KindDatacenter, in.DatacenterID); err != nil {
				return fieldNotFound(err, "datacenterId")
			}
			if err := s.checkScope(ctx, tx, pool.Scope); err != nil {
				return err
			}
			rec := store.Record{Kind: store.KindPool, ID: pool.ID, ParentID: pool.DatacenterID, Name: pool.Name}
			if err := setData(&rec, pool); err != nil {
				return err
			}
			out = pool
			return tx.Insert(ctx, &rec)
		})
	})
	return out, err
}

// checkScope checks that a pool's scope names existing objects.
func (s *Service) checkScope(ctx context.Context, tx store.Tx, sc ovm.Scope) error {
	var f ovm.Fields
	check := func(kind store.Kind, id ovm.ID, field string) error {
		if _, err := tx.Get(ctx, kind, id); err != nil {
			if ovm.KindOf(err) != ovm.KindNotFound {
				return err
			}
			f.Addf(field, "%s %s not found", kind, id)
		}
		return nil
	}
	var err error
	switch sc.Kind {
	case ovm.ScopeDatacenter:
		err = check(store.KindDatacenter, sc.DatacenterID, "scope.datacenterId")
	case ovm.ScopePool:
		err = check(store.KindPool, sc.PoolID, "scope.poolId")
	case ovm.ScopeHosts:
		for i, h := range sc.HostIDs {
			if err = check(store.KindHost, h, fmt.Sprintf("scope.hostIds[%d]", i)); err != nil {
				break
			}
		}
	}
	if err != nil {
		return err
	}
	return f.Err("invalid placement scope")
}

// fieldNotFound turns a not-found error of a referenced object into an
// invalid field; other errors are returned as they are.
func fieldNotFound(err error, field string) error {
	if ovm.KindOf(err) == ovm.KindNotFound {
		return ovm.Invalid("a referenced object does not exist", ovm.FieldError{Field: field, Reason: err.Error()})
	}
	return err
}

// GetPool returns a resource pool and its version.
func (s *Service) GetPool(ctx context.Context, p auth.Principal, id ovm.ID) (ovm.ResourcePool, int64, error) {
	return getPlatformAs[ovm.ResourcePool](ctx, s, p, store.KindPool, id)
}

// ListPools lists the resource pools.
func (s *Service) ListPools(ctx context.Context, p auth.Principal, o ListOptions) (Page[ovm.ResourcePool], error) {
	return listPlatform[ovm.ResourcePool](ctx, s, p, store.Filter{Kind: store.KindPool}, o, "listing resource pools")
}

// UpdatePool is a change of a pool; nil fields are unchanged.
type UpdatePool = apitypes.PoolPatch

// UpdatePool changes a pool's policy, scope, HA flag or overcommit ratios.
func (s *Service) UpdatePool(ctx context.Context, p auth.Principal, id ovm.ID, in UpdatePool, ifVersion int64) (ovm.ResourcePool, int64, error) {
	var scope *ovm.Scope
	out, ver, err := updatePlatform(ctx, s, p, store.KindPool, id, ifVersion, func(pool *ovm.ResourcePool) error {
		if in.Policy != nil {
			pool.Policy = *in.Policy
		}
		if in.Scope != nil {
			pool.Scope, scope = *in.Scope, in.Scope
		}
		if in.HAEnabled != nil {
			pool.HAEnabled = *in.HAEnabled
		}
		if in.Overcommit != nil {
			pool.Overcommit = *in.Overcommit
		}
		return pool.Validate()
	}, func(ctx context.Context, tx store.Tx) error {
		if scope == nil {
			return nil
		}
		return s.checkScope(ctx, tx, *scope)
	})
	return out, ver, err
}

// DeletePool removes a pool without hosts that no VDC uses.
func (s *Service) DeletePool(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) error {
	return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getPlatform(ctx, tx, p, store.KindPool, id)
		if err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		n, err := tx.Count(ctx, store.Filter{Kind: store.KindHost, ParentID: id})
		if err != nil {
			return err
		}
		if n > 0 {
			return conflictf("resource pool %s still has %d hosts", r.Name, n)
		}
		vdcs, err := listAll(ctx, tx, store.Filter{Kind: store.KindVDC})
		if err != nil {
			return err
		}
		for _, v := range vdcs {
			if v.ParentID == id {
				return conflictf("resource pool %s is the pool of vdc %s", r.Name, v.Name)
			}
		}
		return tx.Delete(ctx, store.KindPool, id, r.Version)
	})
}

// getPlatformAs reads a platform object for an administrator.
func getPlatformAs[T any](ctx context.Context, s *Service, p auth.Principal, kind store.Kind, id ovm.ID) (T, int64, error) {
	var out T
	var ver int64
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getPlatform(ctx, tx, p, kind, id)
		if err != nil {
			return err
		}
		out, err = decode[T](r)
		ver = r.Version
		return err
	})
	return out, ver, err
}

// listPlatform lists platform objects for an administrator.
func listPlatform[T any](ctx context.Context, s *Service, p auth.Principal, f store.Filter, o ListOptions, what string) (Page[T], error) {
	if err := requireAdmin(p, what); err != nil {
		return Page[T]{}, err
	}
	var out Page[T]
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = listPage(ctx, tx, f, o, decode[T])
		return err
	})
	return out, err
}

// updatePlatform applies change to a platform object under If-Match; check
// runs in the transaction after change.
func updatePlatform[T any](ctx context.Context, s *Service, p auth.Principal, kind store.Kind, id ovm.ID, ifVersion int64,
	change func(*T) error, checks ...func(context.Context, store.Tx) error) (T, int64, error) {
	var out T
	var ver int64
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getPlatform(ctx, tx, p, kind, id)
		if err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		v, err := decode[T](r)
		if err != nil {
			return err
		}
		if err := change(&v); err != nil {
			return err
		}
		for _, c := range checks {
			if err := c(ctx, tx); err != nil {
				return err
			}
		}
		if err := save(ctx, tx, &r, v); err != nil {
			return err
		}
		out, ver = v, r.Version
		return nil
	})
	return out, ver, err
}
