package core

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/drivers"
	"github.com/openovm/ovm/server/store"
)

// hostRecord is a stored host: the host and its credentials, sealed with
// the secrets box and bound to the host id. The credentials never leave
// the service.
type hostRecord struct {
	ovm.Host
	Sealed []byte `json:"sealed,omitempty"`
	// version is the record's version when it was read (0: not stored).
	version int64
	// UUID is the host's own identity as its driver reported it at
	// registration (hypervisor.HostInfo.UUID); the host's claim is derived
	// from it, so the same host is not registered twice under two URLs.
	UUID string `json:"uuid,omitempty"`
	// BMCSealed is the BMC password (Host.BMC), sealed like Sealed and
	// bound to the host id (core/host_bmc.go).
	BMCSealed []byte `json:"bmcSealed,omitempty"`
}

// RegisterHost is the input of a new host.
type RegisterHost = apitypes.HostRegister

// redacted is the request without its secrets, for the idempotency hash.
func redacted(in RegisterHost) RegisterHost {
	b, _ := json.Marshal(in.Credentials)
	in.Credentials = drivers.Credentials{Username: fmt.Sprintf("%x", b)}
	return in
}

// RegisterHost connects to a host through its driver, reads its capacity,
// and records it in a pool. A host that does not answer is
// ovm.ErrUnavailable with the driver's own text.
func (s *Service) RegisterHost(ctx context.Context, p auth.Principal, in RegisterHost) (ovm.Host, error) {
	if err := requireAdmin(p, "registering hosts"); err != nil {
		return ovm.Host{}, err
	}
	var f ovm.Fields
	if r := ovm.ValidateName(in.Name); r != "" {
		f.Add("name", r)
	}
	switch {
	case !in.Kind.Valid():
		f.Add("kind", "must be kvm, esxi, docker or fake")
	case !s.reg.Supports(in.Kind):
		f.Addf("kind", "this server has no driver for host kind %q", in.Kind)
	}
	switch {
	case in.Endpoint == "":
		f.Add("endpoint", "must not be empty")
	case len(in.Endpoint) > 1024 || strings.ContainsAny(in.Endpoint, " \t\r\n\x00"):
		f.Add("endpoint", "must be a URL of at most 1024 characters without whitespace")
	}
	if !in.PoolID.Valid() {
		f.Add("poolId", "must be the id of a resource pool")
	}
	if err := f.Err("invalid host"); err != nil {
		return ovm.Host{}, err
	}
	req := redacted(in)
	var out ovm.Host
	var pool ovm.ResourcePool
	found := false
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if in.IdempotencyKey != "" {
			if found, _, err = replay(ctx, tx, p, "host.register", in.IdempotencyKey, req, &out); err != nil || found {
				return err
			}
		}
		pool, _, err = getAs[ovm.ResourcePool](ctx, tx, store.KindPool, in.PoolID)
		if err != nil {
			return fieldNotFound(err, "poolId")
		}
		if _, err := tx.GetByName(ctx, store.KindHost, "", in.Name); err == nil {
			return ovm.Errorf(ovm.KindConflict, "a host named %q exists", in.Name)
		} else if ovm.KindOf(err) != ovm.KindNotFound {
			return err
		}
		return nil
	})
	if err != nil || found {
		return out, err
	}

	host := ovm.Host{ID: ovm.NewID(), Name: in.Name, Kind: in.Kind, Endpoint: in.Endpoint, Options: maps.Clone(in.Options),
		DatacenterID: pool.DatacenterID, PoolID: pool.ID, State: ovm.HostUp, CreatedAt: s.now()}
	plain, err := json.Marshal(in.Credentials)
	if err != nil {
		return ovm.Host{}, err
	}
	sealed, err := s.box.Seal(plain, []byte(host.ID))
	if err != nil {
		return ovm.Host{}, err
	}
	rec := hostRecord{Host: host, Sealed: sealed}
	cctx, cancel := context.WithTimeout(ctx, s.o.DriverTimeout)
	defer cancel()
	conn, err := s.connect(cctx, rec)
	if err == nil {
		start := time.Now()
		info, ierr := conn.Hypervisor.Info(cctx)
		s.observe(host.Kind, "Info", ierr, start)
		if err = ierr; err == nil {
			rec.Capacity, rec.ReadOnly, rec.UUID = info.Capacity, info.ReadOnly, info.UUID
			if info.ReadOnly {
				rec.StateReason = info.ReadOnlyReason
			}
		}
	}
	if err != nil {
		_ = s.reg.Forget(host.ID)
		return ovm.Host{}, hostError(host, err)
	}

	err = s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return idempotent(ctx, tx, p, "host.register", in.IdempotencyKey, req, &out, func() error {
			if _, err := tx.Get(ctx, store.KindPool, in.PoolID); err != nil {
				return fieldNotFound(err, "poolId")
			}
			if err := claimHost(ctx, tx, rec); err != nil {
				return err
			}
			r := store.Record{Kind: store.KindHost, ID: host.ID, ParentID: host.PoolID, Name: host.Name}
			if err := setData(&r, rec); err != nil {
				return err
			}
			out = rec.Host
			return tx.Insert(ctx, &r)
		})
	})
	if err != nil || out.ID != host.ID {
		_ = s.reg.Forget(host.ID)
	}
	return out, err
}

// claimHost records, in tx, that rec holds its host: a host registered
// already (the same UUID under any endpoint and name) is a conflict naming
// the host record that holds it. A driver that reports no UUID claims
// nothing.
func claimHost(ctx context.Context, tx store.Tx, rec hostRecord) error {
	if rec.UUID == "" {
		return nil
	}
	c := claim{Holder: store.KindHost, HolderID: rec.ID, HolderName: rec.Name, UUID: rec.UUID}
	return takeClaim(ctx, tx, hostClaimID(rec.Kind, rec.UUID), c, func(old claim) error {
		return conflictf("the %s host at %s (UUID %s) is registered already, as host %s (%s): a host is registered once",
			rec.Kind, rec.Endpoint, rec.UUID, old.HolderName, old.HolderID)
	})
}

// hostError explains a host that did not answer: its kind stays when the
// driver gave one (an invalid endpoint stays invalid), otherwise it is
// ovm.ErrUnavailable; the driver's text is kept.
func hostError(h ovm.Host, err error) error {
	kind := ovm.KindOf(err)
	switch kind {
	case ovm.KindInvalid:
		return err // keeps its fields (the endpoint)
	case ovm.KindInternal:
		kind = ovm.KindUnavailable
	}
	return ovm.Wrap(kind, err, "host %s at %s did not answer", h.Name, h.Endpoint)
}

// connect returns the driver connection of a host, with its credentials
// (opened once per host record version).
func (s *Service) connect(ctx context.Context, h hostRecord) (drivers.Conn, error) {
	cred, err := s.creds.open(s.box, h)
	if err != nil {
		return drivers.Conn{}, err
	}
	start := time.Now()
	conn, err := s.reg.Connect(ctx, h.Host, cred)
	s.observe(h.Kind, "Connect", err, start)
	return conn, err
}

// observe reports a driver call to Options.ObserveDriverCall.
func (s *Service) observe(kind ovm.HostKind, method string, err error, start time.Time) {
	if s.o.ObserveDriverCall != nil {
		s.o.ObserveDriverCall(kind, method, err, time.Since(start))
	}
}

// GetHost returns a host with its allocations, and its version.
func (s *Service) GetHost(ctx context.Context, p auth.Principal, id ovm.ID) (ovm.Host, int64, error) {
	var out ovm.Host
	var ver int64
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getPlatform(ctx, tx, p, store.KindHost, id)
		if err != nil {
			return err
		}
		h, err := decode[hostRecord](r)
		if err != nil {
			return err
		}
		allocs, err := tx.HostAllocations(ctx, []ovm.ID{id}, false)
		out, ver = h.Host, r.Version
		out.Allocated = allocs[id].Resources
		return err
	})
	return out, ver, err
}

// ListHosts lists the hosts with their allocations.
func (s *Service) ListHosts(ctx context.Context, p auth.Principal, o ListOptions) (Page[ovm.Host], error) {
	if err := requireAdmin(p, "listing hosts"); err != nil {
		return Page[ovm.Host]{}, err
	}
	var out Page[ovm.Host]
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = listPage(ctx, tx, store.Filter{Kind: store.KindHost}, o, func(r store.Record) (ovm.Host, error) {
			h, err := decode[hostRecord](r)
			return h.Host, err
		})
		if err != nil || len(out.Items) == 0 {
			return err
		}
		ids := make([]ovm.ID, len(out.Items))
		for i, h := range out.Items {
			ids[i] = h.ID
		}
		allocs, err := tx.HostAllocations(ctx, ids, false)
		for i := range out.Items {
			out.Items[i].Allocated = allocs[out.Items[i].ID].Resources
		}
		return err
	})
	return out, err
}

// UpdateHost is a change of a host; nil fields are unchanged.
type UpdateHost = apitypes.HostPatch

// UpdateHost replaces a host's credentials; the next call reconnects.
func (s *Service) UpdateHost(ctx context.Context, p auth.Principal, id ovm.ID, in UpdateHost, ifVersion int64) (ovm.Host, int64, error) {
	var sealed []byte
	if in.Credentials != nil {
		plain, err := json.Marshal(in.Credentials)
		if err != nil {
			return ovm.Host{}, 0, err
		}
		if sealed, err = s.box.Seal(plain, []byte(id)); err != nil {
			return ovm.Host{}, 0, err
		}
	}
	h, ver, err := updatePlatform(ctx, s, p, store.KindHost, id, ifVersion, func(h *hostRecord) error {
		if sealed != nil {
			h.Sealed = sealed
		}
		return nil
	})
	if err == nil && sealed != nil {
		_ = s.reg.Forget(id)
	}
	return h.Host, ver, err
}

// DeleteHost removes a host that has no instances or volumes on it.
func (s *Service) DeleteHost(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) error {
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getPlatform(ctx, tx, p, store.KindHost, id)
		if err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		for _, k := range []store.Kind{store.KindInstance, store.KindVolume} {
			n, err := tx.Count(ctx, store.Filter{Kind: k, AllVDCs: true, HostID: id})
			if err != nil {
				return err
			}
			if n > 0 {
				return conflictf("host %s still has %d %ss on it", r.Name, n, k)
			}
		}
		for _, k := range []store.Kind{store.KindDiscovered, store.KindClaim} {
			rs, err := listAll(ctx, tx, store.Filter{Kind: k, HostID: id})
			if err != nil {
				return err
			}
			for _, d := range rs {
				if err := tx.Delete(ctx, k, d.ID, 0); err != nil {
					return err
				}
			}
		}
		h, err := decode[hostRecord](r)
		if err != nil {
			return err
		}
		if h.UUID != "" {
			if err := dropClaim(ctx, tx, hostClaimID(h.Kind, h.UUID)); err != nil {
				return err
			}
		}
		if err := tx.DeleteHostAllocation(ctx, id); err != nil {
			return err
		}
		if err := forgetPoolHost(ctx, tx, id); err != nil {
			return err
		}
		return tx.Delete(ctx, store.KindHost, id, r.Version)
	})
	if err == nil {
		_ = s.reg.Forget(id)
		s.creds.forget(id)
	}
	return err
}
