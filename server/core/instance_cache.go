package core

import (
	"sync"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// maxDecoded bounds the decoded-instance cache; past it the cache starts
// over.
const maxDecoded = 10000

// decodedInstances keeps the last decoded form of instance records, keyed
// by id and checked against the record's version and update time on every
// use: a record read from the store is decoded again only when it changed.
// Nothing is served from here without reading the store first, so every
// replica stays exact; only the JSON decoding is saved. Values are shared:
// callers copy the top-level struct and never write into its slices or
// maps.
type decodedInstances struct {
	mu sync.RWMutex
	m  map[ovm.ID]decodedInstance
}

type decodedInstance struct {
	version int64
	updated time.Time
	inst    ovm.Instance
}

// instance returns the instance of an instance record, decoding it only
// when the cache has not seen this version.
func (c *decodedInstances) instance(r store.Record) (ovm.Instance, error) {
	c.mu.RLock()
	d, ok := c.m[r.ID]
	c.mu.RUnlock()
	if ok && d.version == r.Version && d.updated.Equal(r.UpdatedAt) {
		return d.inst, nil
	}
	rec, err := decode[instanceRecord](r)
	if err != nil {
		return ovm.Instance{}, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxDecoded {
		c.m = map[ovm.ID]decodedInstance{}
	}
	c.m[r.ID] = decodedInstance{version: r.Version, updated: r.UpdatedAt, inst: rec.Instance}
	c.mu.Unlock()
	return rec.Instance, nil
}
