package drivers

import (
	"context"
	"strings"
	"sync"

	"github.com/openovm/ovm/hypervisor/fake"
	netfake "github.com/openovm/ovm/network/fake"
	"github.com/openovm/ovm/ovm"
	storfake "github.com/openovm/ovm/storage/fake"
)

// FakeHosts keeps the in-memory hosts of kind "fake" that the server can
// register by an endpoint "fake://NAME": the same endpoint is the same host
// for the life of the process, so its instances survive reconnection, and
// tests reach a host's fault knobs through Host.
type FakeHosts struct {
	mu    sync.Mutex
	hosts map[string]*FakeHost
	opts  fake.Options
}

// FakeHost is one in-memory host.
type FakeHost struct {
	Hypervisor *fake.Driver
	Storage    *storfake.Driver
	Network    *netfake.Driver
}

// NewFakeHosts returns an empty set of fake hosts; opts is the template of
// each host's hypervisor options (its Name is set from the endpoint).
func NewFakeHosts(opts fake.Options) *FakeHosts {
	return &FakeHosts{hosts: map[string]*FakeHost{}, opts: opts}
}

// Host returns the fake host of an endpoint, making it on first use.
func (f *FakeHosts) Host(endpoint string) (*FakeHost, error) {
	name, ok := strings.CutPrefix(endpoint, "fake://")
	if !ok || ovm.ValidateName(name) != "" {
		return nil, ovm.Invalid("invalid fake endpoint", ovm.FieldError{Field: "endpoint", Reason: `must be "fake://NAME" with NAME a lower-case DNS label`, Value: endpoint})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.hosts[name]
	if h == nil {
		o := f.opts
		o.Name = name
		h = &FakeHost{Hypervisor: fake.New(o), Storage: storfake.New(storfake.Options{}), Network: netfake.New(netfake.Options{})}
		f.hosts[name] = h
	}
	return h, nil
}

// Factory returns the registry factory for kind "fake". Closing a connection
// leaves the host (and its instances) in place.
func (f *FakeHosts) Factory() Factory {
	return func(ctx context.Context, host ovm.Host, _ Credentials) (Conn, error) {
		if err := ctx.Err(); err != nil {
			return Conn{}, err
		}
		var fs ovm.Fields
		checkOptions(host.Kind, host.Options, nil, &fs)
		if err := fs.Err("invalid fake host"); err != nil {
			return Conn{}, err
		}
		h, err := f.Host(host.Endpoint)
		if err != nil {
			return Conn{}, err
		}
		return Conn{Hypervisor: h.Hypervisor, Storage: h.Storage, Network: h.Network, Close: func() error { return nil }}, nil
	}
}
