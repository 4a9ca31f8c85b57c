package core

import (
	"context"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// requireAdmin refuses non-administrators with ErrForbidden: for operations
// that name no object.
func requireAdmin(p auth.Principal, what string) error {
	if !p.Admin() {
		return forbidden("%s is for platform administrators", what)
	}
	return nil
}

// vdcOf returns the VDC a record belongs to for tenancy: a VDC record is
// its own, a user belongs to its ParentID, everything else to its VDCID.
func vdcOf(r store.Record) ovm.ID {
	switch r.Kind {
	case store.KindVDC:
		return r.ID
	case store.KindUser:
		return r.ParentID
	}
	return r.VDCID
}

// getVisible reads a record the principal may see: another VDC's record, a
// platform record (for tenants) or a missing one are all the same
// ovm.ErrNotFound.
func getVisible(ctx context.Context, tx store.Tx, p auth.Principal, kind store.Kind, id ovm.ID) (store.Record, error) {
	if !id.Valid() {
		return store.Record{}, ovm.NotFound(string(kind), id)
	}
	r, err := tx.Get(ctx, kind, id)
	if err != nil {
		return r, err
	}
	if !p.CanSeeVDC(vdcOf(r)) {
		return store.Record{}, ovm.NotFound(string(kind), id)
	}
	return r, nil
}

// getPlatform reads a platform record (datacenter, pool, host, discovered
// object): not found for anyone but administrators.
func getPlatform(ctx context.Context, tx store.Tx, p auth.Principal, kind store.Kind, id ovm.ID) (store.Record, error) {
	if !p.Admin() || !id.Valid() {
		return store.Record{}, ovm.NotFound(string(kind), id)
	}
	return tx.Get(ctx, kind, id)
}

// resolveVDC returns the VDC a create or a list acts in: a tenant's own
// (requested empty or its own; another one is not found), or for an
// administrator the one requested (required when need is set).
func resolveVDC(p auth.Principal, requested ovm.ID, need bool) (ovm.ID, error) {
	if !p.Admin() {
		if requested != "" && requested != p.VDCID {
			return "", ovm.NotFound("vdc", requested)
		}
		return p.VDCID, nil
	}
	if requested == "" && need {
		return "", invalid("a vdc is required", "vdcId", "is required for an administrator")
	}
	if requested != "" && !requested.Valid() {
		return "", invalid("invalid vdc", "vdcId", "must be a lower-case UUID")
	}
	return requested, nil
}

// vdcFilter is the filter of a list of VDC-scoped records.
func vdcFilter(kind store.Kind, vdc ovm.ID) store.Filter {
	if vdc == "" {
		return store.Filter{Kind: kind, AllVDCs: true}
	}
	return store.Filter{Kind: kind, VDCID: vdc}
}

// manageVDC checks that p may change the VDC's networks and users.
func manageVDC(p auth.Principal, vdc ovm.ID, what string) error {
	if !p.CanManageVDC(vdc) {
		return forbidden("%s needs the vdc-admin role", what)
	}
	return nil
}
