package core

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// A claim says that one object of an engine is held by one OVM record
// (invariant 8 of the design: one object, one record). Its id is derived
// from the object's identity, the object's (host id, native id) for an
// imported instance and the host's (kind, hardware UUID) for a host, so the
// store's primary key refuses a second claim of one object in whatever
// transaction tries it: two imports of one container, or two registrations
// of one host, cannot both commit, even on two replicas at once. No table
// or migration is needed: a claim is a record of kind store.KindClaim.
type claim struct {
	// Holder is the record that holds the object: an instance or a host.
	Holder     store.Kind `json:"holder"`
	HolderID   ovm.ID     `json:"holderId"`
	HolderName string     `json:"holderName"`
	VDCID      ovm.ID     `json:"vdcId,omitempty"`
	// HostID and NativeID name an object on a host (imports).
	HostID   ovm.ID `json:"hostId,omitempty"`
	NativeID string `json:"nativeId,omitempty"`
	// UUID is a host's own hardware or engine UUID (registrations).
	UUID string `json:"uuid,omitempty"`
}

// claimSpace is the namespace of the claims' name-based UUIDs.
var claimSpace = uuid.MustParse("3d1f6c2e-8b0a-4f53-9a57-2f0c9e4b7a10")

// claimID derives a claim's id from the parts of an object's identity: a
// name-based UUID (version 5), so the same object always gives the same id.
func claimID(parts ...string) ovm.ID {
	return ovm.ID(uuid.NewSHA1(claimSpace, []byte(strings.Join(parts, "\x00"))).String())
}

// objectClaimID is the claim id of the object nativeID on host hostID.
func objectClaimID(hostID ovm.ID, nativeID string) ovm.ID {
	return claimID("object", string(hostID), nativeID)
}

// hostClaimID is the claim id of the host of kind with its own UUID.
func hostClaimID(kind ovm.HostKind, uuid string) ovm.ID {
	return claimID("host", string(kind), uuid)
}

// takeClaim records c under id in tx. When the object is claimed already
// it returns held's error for the existing claim and records nothing; a
// concurrent claim that commits first makes the insert a store conflict.
func takeClaim(ctx context.Context, tx store.Tx, id ovm.ID, c claim, held func(existing claim) error) error {
	old, _, err := getAs[claim](ctx, tx, store.KindClaim, id)
	switch {
	case err == nil:
		return held(old)
	case ovm.KindOf(err) != ovm.KindNotFound:
		return err
	}
	r := store.Record{Kind: store.KindClaim, ID: id, ParentID: c.HolderID, HostID: c.HostID, Name: string(id)}
	if err := setData(&r, c); err != nil {
		return err
	}
	return tx.Insert(ctx, &r)
}

// dropClaim removes a claim; a missing one is no error.
func dropClaim(ctx context.Context, tx store.Tx, id ovm.ID) error {
	if id == "" {
		return nil
	}
	return ignore(tx.Delete(ctx, store.KindClaim, id, 0), ovm.KindNotFound)
}

// claimedObjects returns the native ids of the objects of a host that an
// instance holds: by a claim (the imported ones: an engine that cannot mark
// an object, Docker, leaves them without an OVM id), or by its record
// (instances imported before claims existed).
func claimedObjects(ctx context.Context, tx store.Tx, hostID ovm.ID) (map[string]bool, error) {
	rs, err := listAll(ctx, tx, store.Filter{Kind: store.KindClaim, HostID: hostID})
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(rs))
	for _, r := range rs {
		c, err := decode[claim](r)
		if err != nil {
			return nil, err
		}
		if c.NativeID != "" {
			out[c.NativeID] = true
		}
	}
	insts, err := listAll(ctx, tx, store.Filter{Kind: store.KindInstance, AllVDCs: true, HostID: hostID})
	if err != nil {
		return nil, err
	}
	for _, r := range insts {
		v, err := decode[struct {
			Status struct {
				NativeID string `json:"nativeId"`
			} `json:"status"`
		}](r)
		if err != nil {
			return nil, err
		}
		if v.Status.NativeID != "" {
			out[v.Status.NativeID] = true
		}
	}
	return out, nil
}
