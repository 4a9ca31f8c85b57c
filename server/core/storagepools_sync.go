package core

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/storage"
)

// syncStoragePools is the storage part of inventory sync: it lists a
// host's storage pools and records them (recordPools) in a transaction
// that first runs guard. A host kind without storage has nothing to sync.
func (s *Service) syncStoragePools(ctx context.Context, h hostRecord, guard Guard) error {
	st, err := s.hostStorage(ctx, h)
	switch {
	case ovm.KindOf(err) == ovm.KindUnsupported:
		return nil
	case err != nil:
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, s.o.DriverTimeout)
	defer cancel()
	list := st.ListPools
	if d, ok := st.(storage.Discoverer); ok {
		list = d.DiscoverPools
	}
	found, err := list(cctx)
	if err != nil {
		return fmt.Errorf("list the storage pools of host %s: %w", h.Name, err)
	}
	return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := guard.check(ctx, tx); err != nil {
			return err
		}
		return recordPools(ctx, tx, h.Host, found, s.now())
	})
}

// storedPool is a pool record and its store record.
type storedPool struct {
	rec storagePoolRecord
	r   store.Record
}

// allPools reads every storage pool record (there are few: a platform's
// pools, not its disks).
func allPools(ctx context.Context, tx store.Tx) ([]storedPool, error) {
	rs, err := listAll(ctx, tx, store.Filter{Kind: store.KindStoragePool})
	if err != nil {
		return nil, err
	}
	out := make([]storedPool, 0, len(rs))
	for _, r := range rs {
		rec, err := decode[storagePoolRecord](r)
		if err != nil {
			return nil, err
		}
		out = append(out, storedPool{rec: rec, r: r})
	}
	return out, nil
}

// recordPools brings the pool records in line with the pools host lists:
// a pool known by its id on the host (or, shared, by its path or NFS
// export) learns the host and its size; any other is recorded as
// discovered (a local one named after its host); a discovered pool the
// host no longer lists loses the host, and is forgotten with its last
// host when OVM holds nothing in it. Registered pools keep their hosts:
// the administrator changes those.
func recordPools(ctx context.Context, tx store.Tx, h ovm.Host, found []ovm.StoragePool, now time.Time) error {
	pools, err := allPools(ctx, tx)
	if err != nil {
		return err
	}
	seen := map[ovm.ID]bool{}
	for _, fp := range found {
		i := matchPool(pools, h.ID, fp)
		if i < 0 {
			sp, err := discoverPool(ctx, tx, h, fp, pools, now)
			if err != nil {
				return err
			}
			pools = append(pools, sp)
			seen[sp.rec.ID] = true
			continue
		}
		sp := &pools[i]
		seen[sp.rec.ID] = true
		before := sp.rec
		before.HostIDs, before.Natives = slices.Clone(before.HostIDs), maps.Clone(before.Natives)
		learnPool(&sp.rec, h.ID, fp)
		if err := saveIfChanged(ctx, tx, sp, before); err != nil {
			return err
		}
	}
	for i := range pools {
		sp := &pools[i]
		if seen[sp.rec.ID] || !sp.rec.Discovered || sp.rec.PendingTask != "" || !sp.rec.reaches(h.ID) {
			continue
		}
		sp.rec.HostIDs = slices.DeleteFunc(sp.rec.HostIDs, func(id ovm.ID) bool { return id == h.ID })
		delete(sp.rec.Natives, h.ID)
		if len(sp.rec.HostIDs) == 0 && sp.rec.Allocated == 0 {
			n, err := tx.Count(ctx, store.Filter{Kind: store.KindVolume, AllVDCs: true, ParentID: sp.rec.ID})
			if err != nil {
				return err
			}
			if n == 0 {
				if err := tx.Delete(ctx, store.KindStoragePool, sp.rec.ID, sp.r.Version); err != nil {
					return err
				}
				continue
			}
		}
		if err := save(ctx, tx, &sp.r, sp.rec); err != nil {
			return err
		}
	}
	return nil
}

// matchPool finds the record of a pool a host listed: by its id on the
// host, by the record's id, by the name of a pool the host has not marked
// (an ESXi datastore OVM has not adopted), or, for shared storage, by the
// path or NFS export every host sees.
func matchPool(pools []storedPool, host ovm.ID, fp ovm.StoragePool) int {
	for i, sp := range pools {
		r := sp.rec
		switch {
		case fp.ID != "" && r.Natives[host] == fp.ID, fp.ID != "" && r.ID == fp.ID:
			return i
		case fp.ID == "" && r.reaches(host) && r.Natives[host] == "" && (r.NativeName == fp.Name || r.Name == fp.Name):
			return i
		}
	}
	if !fp.Kind.Shared() {
		return -1
	}
	for i, sp := range pools {
		r := sp.rec
		if r.Kind != fp.Kind || (r.Natives[host] != "" && r.Natives[host] != fp.ID) {
			continue
		}
		if (fp.Kind == ovm.StorageShared && fp.Path != "" && r.Path == fp.Path) ||
			(fp.Kind == ovm.StorageNFS && r.Server == fp.Server && r.Export == fp.Export) {
			return i
		}
	}
	return -1
}

// discoverPool records a pool a host listed that no record has.
func discoverPool(ctx context.Context, tx store.Tx, h ovm.Host, fp ovm.StoragePool, pools []storedPool, now time.Time) (storedPool, error) {
	id := fp.ID
	if !id.Valid() || slices.ContainsFunc(pools, func(sp storedPool) bool { return sp.rec.ID == id }) {
		id = claimID("storagepool", string(h.ID), fp.Name)
	}
	name := poolName(fp.Name)
	if !fp.Kind.Shared() {
		name = poolName(h.Name, fp.Name)
	}
	if err := nameFree(ctx, tx, store.KindStoragePool, "", name, "name"); err != nil {
		if ovm.KindOf(err) != ovm.KindConflict {
			return storedPool{}, err
		}
		name = poolName(name, string(id.Short()))
	}
	rec := storagePoolRecord{StoragePool: ovm.StoragePool{ID: id, Name: name, Kind: fp.Kind, Path: fp.Path, Server: fp.Server,
		Export: fp.Export, CreatedAt: now}, Discovered: true, NativeName: fp.Name, Phase: ovm.PhaseReady}
	learnPool(&rec, h.ID, fp)
	r := store.Record{Kind: store.KindStoragePool, ID: id, Name: name}
	if err := setData(&r, rec); err != nil {
		return storedPool{}, err
	}
	if err := tx.Insert(ctx, &r); err != nil {
		return storedPool{}, err
	}
	return storedPool{rec: rec, r: r}, nil
}

// saveIfChanged saves a pool record that differs from before.
func saveIfChanged(ctx context.Context, tx store.Tx, sp *storedPool, before storagePoolRecord) error {
	a, err := json.Marshal(before)
	if err != nil {
		return err
	}
	b, err := json.Marshal(sp.rec)
	if err != nil {
		return err
	}
	if bytes.Equal(a, b) {
		return nil
	}
	return save(ctx, tx, &sp.r, sp.rec)
}

// forgetPoolHost drops a deleted host from the storage pools: a pool keeps
// its other hosts, and a discovered pool left without hosts (holding
// nothing OVM made) is forgotten.
func forgetPoolHost(ctx context.Context, tx store.Tx, hostID ovm.ID) error {
	pools, err := allPools(ctx, tx)
	if err != nil {
		return err
	}
	for _, sp := range pools {
		rec, r := sp.rec, sp.r
		if !rec.reaches(hostID) {
			continue
		}
		rec.HostIDs = slices.DeleteFunc(rec.HostIDs, func(id ovm.ID) bool { return id == hostID })
		delete(rec.Natives, hostID)
		if len(rec.HostIDs) == 0 && rec.Discovered && rec.Allocated == 0 {
			if err := tx.Delete(ctx, store.KindStoragePool, rec.ID, r.Version); err != nil {
				return err
			}
			continue
		}
		if err := save(ctx, tx, &r, rec); err != nil {
			return err
		}
	}
	return nil
}
