// Package drivers plugs hypervisor, storage and network drivers into the
// server by host kind, and keeps one connection per host.
package drivers

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/storage"
)

// Credentials are what a driver needs to log in to a host (the API's
// type). The server keeps them encrypted at rest and never returns them
// through the API.
type Credentials = apitypes.Credentials

// Conn is a connection to one host: its hypervisor driver and, where the
// kind has them, its storage and network drivers.
type Conn struct {
	Hypervisor hypervisor.Driver
	Storage    storage.Driver // nil when the kind has none
	Network    network.Driver // nil when the kind has none
	// Close releases the connection; nil means Hypervisor.Close.
	Close func() error
}

func (c Conn) close() error {
	if c.Close != nil {
		return c.Close()
	}
	return c.Hypervisor.Close()
}

// Factory connects to a host of one kind.
type Factory func(ctx context.Context, host ovm.Host, cred Credentials) (Conn, error)

// Registry maps host kinds to factories and caches one connection per host.
// It is safe for concurrent use.
type Registry struct {
	mu        sync.Mutex
	factories map[ovm.HostKind]Factory
	conns     map[ovm.ID]*entry
}

type entry struct {
	once sync.Once
	conn Conn
	err  error
	host ovm.Host
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{factories: map[ovm.HostKind]Factory{}, conns: map[ovm.ID]*entry{}}
}

// Register sets the factory of a host kind.
func (r *Registry) Register(kind ovm.HostKind, f Factory) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.factories[kind] = f
}

// Kinds returns the registered host kinds, sorted.
func (r *Registry) Kinds() []ovm.HostKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ovm.HostKind, 0, len(r.factories))
	for k := range r.factories {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Supports reports whether kind has a factory.
func (r *Registry) Supports(kind ovm.HostKind) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.factories[kind]
	return ok
}

// Connect returns the connection to host, making it on first use. A failed
// connection is not cached: the next call tries again.
func (r *Registry) Connect(ctx context.Context, host ovm.Host, cred Credentials) (Conn, error) {
	r.mu.Lock()
	f, ok := r.factories[host.Kind]
	if !ok {
		r.mu.Unlock()
		return Conn{}, ovm.Errorf(ovm.KindUnsupported, "no driver for host kind %q", host.Kind)
	}
	e := r.conns[host.ID]
	if e == nil || e.host.Endpoint != host.Endpoint {
		if e != nil && e.err == nil && e.conn.Hypervisor != nil {
			go e.conn.close() //nolint:errcheck // the old endpoint's connection is dropped
		}
		e = &entry{host: host}
		r.conns[host.ID] = e
	}
	r.mu.Unlock()

	e.once.Do(func() {
		e.conn, e.err = f(ctx, host, cred)
		if e.err == nil && e.conn.Hypervisor == nil {
			e.err = fmt.Errorf("drivers: factory for %q returned no hypervisor driver", host.Kind)
		}
	})
	if e.err != nil {
		r.mu.Lock()
		if r.conns[host.ID] == e {
			delete(r.conns, host.ID)
		}
		r.mu.Unlock()
		return Conn{}, fmt.Errorf("connect to host %s (%s): %w", host.Name, host.Endpoint, e.err)
	}
	return e.conn, nil
}

// Forget closes and drops the connection to a host (after it is removed or
// its endpoint or credentials changed).
func (r *Registry) Forget(hostID ovm.ID) error {
	r.mu.Lock()
	e := r.conns[hostID]
	delete(r.conns, hostID)
	r.mu.Unlock()
	if e == nil || e.err != nil || e.conn.Hypervisor == nil {
		return nil
	}
	return e.conn.close()
}

// Close closes every connection.
func (r *Registry) Close() error {
	r.mu.Lock()
	ids := make([]ovm.ID, 0, len(r.conns))
	for id := range r.conns {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	var first error
	for _, id := range ids {
		if err := r.Forget(id); err != nil && first == nil {
			first = err
		}
	}
	return first
}
