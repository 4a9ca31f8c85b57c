package docker_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/ovm"
)

// deadline is the context deadline of the calls below; each must return
// within it plus slack, never hang.
const (
	deadline = 300 * time.Millisecond
	slack    = time.Second
)

// silentListener accepts connections on 127.0.0.1 and never answers.
func silentListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // held open, never read or written
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "tcp://" + l.Addr().String()
}

// wantUnavailableInTime runs call with a context of the deadline and checks
// that it returns ovm.ErrUnavailable in time.
func wantUnavailableInTime(t *testing.T, what string, call func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start := time.Now()
	err := call(ctx)
	took := time.Since(start)
	require.ErrorIs(t, err, ovm.ErrUnavailable, "%s: got %v, want unavailable", what, err)
	assert.Less(t, took, deadline+slack, "%s: took %s, want under %s", what, took, deadline+slack)
}

func TestConnectToSilentHost(t *testing.T) {
	host := silentListener(t)
	wantUnavailableInTime(t, "Connect to a listener that never answers", func(ctx context.Context) error {
		d, err := docker.Connect(ctx, docker.Options{Host: host})
		if err == nil {
			_ = d.Close()
		}
		return err
	})
}

func TestConnectRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	host := "tcp://" + l.Addr().String()
	require.NoError(t, l.Close()) // nobody listens there now
	wantUnavailableInTime(t, "Connect to a closed port", func(ctx context.Context) error {
		_, err := docker.Connect(ctx, docker.Options{Host: host})
		return err
	})
}

// TestHostStopsAnswering: an engine that answers the handshake and then
// hangs (a frozen daemon, a dead network path) makes every call return
// ovm.ErrUnavailable within its deadline.
func TestHostStopsAnswering(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/_ping", "/v1.41/_ping":
			w.Header().Set("Api-Version", "1.41")
			_, _ = fmt.Fprint(w, "OK")
		case "/v1.41/info":
			_, _ = fmt.Fprint(w, `{"NCPU":2,"MemTotal":1073741824,"Name":"fake","ServerVersion":"20.10.24"}`)
		default:
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(hang) })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	d, err := docker.Connect(ctx, docker.Options{Host: "tcp://" + srv.Listener.Addr().String()})
	require.NoError(t, err, "Connect to the fake engine")
	t.Cleanup(func() { _ = d.Close() })
	assert.Equal(t, "1.41", d.APIVersion(), "negotiated API version")

	ref := hypervisor.ByID(ovm.NewID())
	for _, c := range []struct {
		name string
		call func(context.Context) error
	}{
		{"List", func(ctx context.Context) error { _, err := d.List(ctx); return err }},
		{"Get", func(ctx context.Context) error { _, err := d.Get(ctx, ref); return err }},
		{"Start", func(ctx context.Context) error { return d.Start(ctx, ref) }},
		{"Stop", func(ctx context.Context) error { return d.Stop(ctx, ref, hypervisor.StopOptions{Force: true}) }},
		{"Stats", func(ctx context.Context) error { _, err := d.Stats(ctx, ref); return err }},
		{"Exec", func(ctx context.Context) error {
			_, err := d.Exec(ctx, ref, hypervisor.ExecSpec{Command: []string{"true"}})
			return err
		}},
		{"ListVolumes", func(ctx context.Context) error { _, err := d.Storage().ListVolumes(ctx, ""); return err }},
		{"ListNetworks", func(ctx context.Context) error {
			_, err := d.Networks(docker.NetworkOptions{}).ListNetworks(ctx)
			return err
		}},
		{"Pull", func(ctx context.Context) error { return d.Images().Pull(ctx, "127.0.0.1:5000/x:1", nil) }},
	} {
		t.Run(c.name, func(t *testing.T) { wantUnavailableInTime(t, c.name+" on a host that stopped answering", c.call) })
	}
}
