package drivers_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/drivers"
)

func TestRegistryConnectsOncePerHost(t *testing.T) {
	r := drivers.NewRegistry()
	hosts := drivers.NewFakeHosts(fake.Options{})
	calls := 0
	base := hosts.Factory()
	r.Register(ovm.HostFake, func(ctx context.Context, h ovm.Host, c drivers.Credentials) (drivers.Conn, error) {
		calls++
		return base(ctx, h, c)
	})
	assert.Equal(t, []ovm.HostKind{ovm.HostFake}, r.Kinds())
	assert.True(t, r.Supports(ovm.HostFake))
	assert.False(t, r.Supports(ovm.HostKVM))

	h := ovm.Host{ID: ovm.NewID(), Name: "f1", Kind: ovm.HostFake, Endpoint: "fake://f1"}
	c1, err := r.Connect(t.Context(), h, drivers.Credentials{})
	require.NoError(t, err)
	c2, err := r.Connect(t.Context(), h, drivers.Credentials{})
	require.NoError(t, err)
	assert.Same(t, c1.Hypervisor, c2.Hypervisor)
	assert.Equal(t, 1, calls, "factory calls")
	require.NotNil(t, c1.Storage)
	require.NotNil(t, c1.Network)

	// Another endpoint for the same host id reconnects.
	h.Endpoint = "fake://f2"
	c3, err := r.Connect(t.Context(), h, drivers.Credentials{})
	require.NoError(t, err)
	assert.NotSame(t, c1.Hypervisor, c3.Hypervisor)
	assert.Equal(t, 2, calls)

	// Forget drops the connection; the fake host (same endpoint) keeps its state.
	require.NoError(t, r.Forget(h.ID))
	c4, err := r.Connect(t.Context(), h, drivers.Credentials{})
	require.NoError(t, err)
	assert.Same(t, c3.Hypervisor, c4.Hypervisor, "same fake host behind the same endpoint")
	assert.Equal(t, 3, calls)
	require.NoError(t, r.Close())
}

func TestRegistryErrors(t *testing.T) {
	r := drivers.NewRegistry()
	_, err := r.Connect(t.Context(), ovm.Host{ID: ovm.NewID(), Kind: ovm.HostESXi}, drivers.Credentials{})
	require.ErrorIs(t, err, ovm.ErrUnsupported)

	boom := errors.New("connection refused")
	calls := 0
	r.Register(ovm.HostKVM, func(context.Context, ovm.Host, drivers.Credentials) (drivers.Conn, error) {
		calls++
		return drivers.Conn{}, ovm.Wrap(ovm.KindUnavailable, boom, "dial")
	})
	h := ovm.Host{ID: ovm.NewID(), Name: "k1", Kind: ovm.HostKVM, Endpoint: "qemu+tcp://127.0.0.9/system"}
	_, err = r.Connect(t.Context(), h, drivers.Credentials{})
	require.ErrorIs(t, err, ovm.ErrUnavailable)
	assert.ErrorIs(t, err, boom, "the driver's error is kept")
	assert.Contains(t, err.Error(), "k1")
	_, err = r.Connect(t.Context(), h, drivers.Credentials{})
	require.Error(t, err)
	assert.Equal(t, 2, calls, "a failed connection is not cached")
}

func TestFakeHostsEndpoints(t *testing.T) {
	hosts := drivers.NewFakeHosts(fake.Options{})
	for _, bad := range []string{"", "f1", "fake://", "fake://F1", "tcp://x"} {
		_, err := hosts.Host(bad)
		require.ErrorIs(t, err, ovm.ErrInvalid, "endpoint %q", bad)
	}
	a, err := hosts.Host("fake://a")
	require.NoError(t, err)
	again, err := hosts.Host("fake://a")
	require.NoError(t, err)
	assert.Same(t, a, again)
	info, err := a.Hypervisor.Info(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "a", info.Hostname)
}
