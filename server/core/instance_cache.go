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

// decoded keeps the last decoded form of records, keyed by id and checked
// against the record's version and update time on every use: a record
// read from the store is decoded again only when it changed. Nothing is
// served from here without reading the store first, so every replica stays
// exact; only the JSON decoding is saved. Values are shared: callers copy
// the top-level struct and never write into its slices or maps.
type decoded[T any] struct {
	mu sync.RWMutex
	m  map[ovm.ID]decodedValue[T]
}

type decodedValue[T any] struct {
	version int64
	updated time.Time
	v       T
}

// get returns the value of r, calling conv only when the cache has not
// seen this version.
func (c *decoded[T]) get(r store.Record, conv func(store.Record) (T, error)) (T, error) {
	c.mu.RLock()
	d, ok := c.m[r.ID]
	c.mu.RUnlock()
	if ok && d.version == r.Version && d.updated.Equal(r.UpdatedAt) {
		return d.v, nil
	}
	v, err := conv(r)
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxDecoded {
		c.m = map[ovm.ID]decodedValue[T]{}
	}
	c.m[r.ID] = decodedValue[T]{version: r.Version, updated: r.UpdatedAt, v: v}
	c.mu.Unlock()
	return v, nil
}

// decodedInstances are the decoded instances of instance records.
type decodedInstances struct{ decoded[ovm.Instance] }

// instance returns the instance of an instance record.
func (c *decodedInstances) instance(r store.Record) (ovm.Instance, error) {
	return c.get(r, func(r store.Record) (ovm.Instance, error) {
		rec, err := decode[instanceRecord](r)
		return rec.Instance, err
	})
}

// decodedHosts are the decoded hosts of host records (without their sealed
// credentials): placement reads every host of its scope on every create.
type decodedHosts struct{ decoded[ovm.Host] }

// host returns the host of a host record.
func (c *decodedHosts) host(r store.Record) (ovm.Host, error) {
	return c.get(r, func(r store.Record) (ovm.Host, error) {
		h, err := decode[hostRecord](r)
		return h.Host, err
	})
}
