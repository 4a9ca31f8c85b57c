package cheftest

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ctr "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/require"
)

// AgentPath is where AgentImage puts the converge stand-in.
const AgentPath = "/usr/local/bin/ovm-test-converge"

// AgentImage makes an image of base with the converge stand-in at
// AgentPath (committed from a container, no registry needed) on the engine
// c talks to, and removes it when the test ends.
func AgentImage(t testing.TB, c *client.Client, base, name string) string {
	t.Helper()
	bin, err := os.ReadFile(BuildAgent(t))
	require.NoError(t, err)
	return ImageWith(t, c, base, name, map[string][]byte{AgentPath: bin})
}

// WithHostProgram adds a program of this machine at dest and the shared
// libraries ldd lists for it at their paths to files (for ImageWith).
func WithHostProgram(t testing.TB, files map[string][]byte, program, dest string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "ldd", program).Output()
	require.NoError(t, err, "ldd %s", program)
	b, err := os.ReadFile(program)
	require.NoError(t, err)
	files[dest] = b
	for _, f := range strings.Fields(string(out)) {
		if !strings.HasPrefix(f, "/") {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		files[f] = b
	}
}

// ImageWith makes an image of base with files (path in the image → its
// bytes, made executable) committed from a container, on the engine c
// talks to, and removes it when the test ends.
func ImageWith(t testing.TB, c *client.Client, base, name string, files map[string][]byte) string {
	t.Helper()
	ctx := t.Context()
	made, err := c.ContainerCreate(ctx, &ctr.Config{Image: base, Cmd: []string{"true"}}, nil, nil, nil, "")
	require.NoError(t, err, "create a container of %s", base)
	defer func() { _ = c.ContainerRemove(context.Background(), made.ID, ctr.RemoveOptions{Force: true}) }()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		rel := strings.TrimPrefix(p, "/")
		for d := path.Dir(rel); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}))
	}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		b := files[p]
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(p, "/"), Mode: 0o755, Size: int64(len(b))}))
		_, err = tw.Write(b)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, c.CopyToContainer(ctx, made.ID, "/", &buf, ctr.CopyToContainerOptions{}), "copy files into %s", name)
	_, err = c.ContainerCommit(ctx, made.ID, ctr.CommitOptions{Reference: name})
	require.NoError(t, err, "commit %s", name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = c.ImageRemove(ctx, name, image.RemoveOptions{Force: true, PruneChildren: true})
	})
	return name
}

// BridgeGateway returns the address of the engine's default bridge on
// this machine (docker0), which its containers reach.
func BridgeGateway(t testing.TB, c *client.Client) string {
	t.Helper()
	n, err := c.NetworkInspect(t.Context(), "bridge", network.InspectOptions{})
	require.NoError(t, err, "inspect the bridge network")
	for _, cfg := range n.IPAM.Config {
		if ip := net.ParseIP(cfg.Gateway); ip != nil && ip.To4() != nil {
			return cfg.Gateway
		}
	}
	t.Fatalf("the bridge network has no IPv4 gateway: %+v", n.IPAM.Config)
	return ""
}

// Forwarder relays TCP connections from a listening address to a target.
type Forwarder struct {
	l      net.Listener
	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
	wg     sync.WaitGroup
}

// Forward listens on listenIP (any port) and relays every connection to
// target; the test's containers reach the Chef server, which listens on
// loopback, through it. It stops when the test ends.
func Forward(t testing.TB, listenIP, target string) *Forwarder {
	t.Helper()
	return ForwardAt(t, net.JoinHostPort(listenIP, "0"), target)
}

// ForwardAt is Forward on a given address (host:port).
func ForwardAt(t testing.TB, addr, target string) *Forwarder {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err, "listen on %s", addr)
	f := &Forwarder{l: l, conns: map[net.Conn]bool{}}
	f.wg.Go(func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			if !f.track(in, out) {
				continue
			}
			f.wg.Go(func() { _, _ = io.Copy(out, in); _ = out.(*net.TCPConn).CloseWrite() })
			f.wg.Go(func() { _, _ = io.Copy(in, out); _ = in.(*net.TCPConn).CloseWrite() })
		}
	})
	t.Cleanup(f.Close)
	return f
}

func (f *Forwarder) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		f.conns[c] = true
	}
	return true
}

// Addr is the address the forwarder listens on.
func (f *Forwarder) Addr() string { return f.l.Addr().String() }

// Close stops listening and ends every relayed connection.
func (f *Forwarder) Close() {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		f.l.Close()
		for c := range f.conns {
			c.Close()
		}
	}
	f.mu.Unlock()
	f.wg.Wait()
}
