//go:build integration

package docker_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/ovm"
)

// pki writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, in PEM, under dir.
type pki struct {
	ca, serverCert, serverKey, clientCert, clientKey string
}

func newPKI(t *testing.T, dir string) pki {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ovm test ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return p
	}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) (string, string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		require.NoError(t, err)
		kder, err := x509.MarshalECPrivateKey(key)
		require.NoError(t, err)
		return write(cn+".pem", "CERTIFICATE", der), write(cn+"-key.pem", "EC PRIVATE KEY", kder)
	}
	p := pki{ca: write("ca.pem", "CERTIFICATE", caDER)}
	p.serverCert, p.serverKey = leaf(2, "server", x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	p.clientCert, p.clientKey = leaf(3, "client", x509.ExtKeyUsageClientAuth, nil)
	return p
}

// tlsDaemon starts a dockerd of its own with --tlsverify on 127.0.0.1 and
// a free port, on a bridge of its own; both go away when t ends. It
// returns the endpoint, the certificates and the daemon's process.
func tlsDaemon(t *testing.T) (string, pki, *os.Process) {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "ovm-tlsd-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	certs := newPKI(t, dir)
	bridge := "br-ovmt" + uniq()[:6]
	for _, args := range [][]string{
		{"link", "add", bridge, "type", "bridge"},
		{"addr", "add", "172.31.251.1/24", "dev", bridge},
		{"link", "set", bridge, "up"},
	} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		require.NoError(t, err, "ip %v: %s", args, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", bridge).Run() })

	port := freePort(t)
	host := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	require.NoError(t, err)
	cmd := exec.Command("dockerd",
		"--tlsverify", "--tlscacert", certs.ca, "--tlscert", certs.serverCert, "--tlskey", certs.serverKey,
		"-H", host, "--data-root", filepath.Join(dir, "root"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"), "--storage-driver=vfs", "--iptables=false", "--bridge="+bridge)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start(), "start dockerd --tlsverify")
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = logf.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			_ = conn.Close()
			break
		}
		require.True(t, time.Now().Before(deadline), "dockerd --tlsverify did not listen on %s within 30s (log %s)", host, logf.Name())
		time.Sleep(200 * time.Millisecond)
	}
	return host, certs, cmd.Process
}

// TestTLSAndUnresponsiveHost: a tcp:// host with --tlsverify answers a
// client with the right certificates and refuses others; once its daemon
// is frozen (SIGSTOP), every call returns ovm.ErrUnavailable within its
// context's deadline instead of hanging; thawed, it answers again.
func TestTLSAndUnresponsiveHost(t *testing.T) {
	host, certs, proc := tlsDaemon(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var d *docker.Driver
	var err error
	for range 50 { // the port listens a little before the API answers
		d, err = docker.Connect(ctx, docker.Options{Host: host, TLS: &docker.TLSFiles{CA: certs.ca, Cert: certs.clientCert, Key: certs.clientKey}})
		if err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.NoError(t, err, "Connect %s with the client certificate", host)
	t.Cleanup(func() { _ = d.Close() })
	info, err := d.Info(ctx)
	require.NoError(t, err, "Info over TLS")
	assert.Equal(t, ovm.HostDocker, info.Kind)
	list, err := d.List(ctx)
	require.NoError(t, err, "List over TLS")
	assert.Empty(t, list, "a fresh daemon: got %d containers, want none", len(list))

	for _, tt := range []struct {
		name string
		tls  *docker.TLSFiles
	}{
		{"no tls", nil},
		{"no client certificate", &docker.TLSFiles{CA: certs.ca}},
		{"server's key as the client's", &docker.TLSFiles{CA: certs.ca, Cert: certs.serverCert, Key: certs.serverKey}},
	} {
		t.Run("refused "+tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			bad, err := docker.Connect(ctx, docker.Options{Host: host, TLS: tt.tls})
			if err == nil {
				_ = bad.Close()
			}
			require.Error(t, err, "Connect with %s: got a driver, want a refusal", tt.name)
		})
	}

	require.NoError(t, proc.Signal(syscall.SIGSTOP), "SIGSTOP dockerd")
	waitStopped(t, proc.Pid)
	t.Cleanup(func() { _ = proc.Signal(syscall.SIGCONT) })
	const deadline = 1500 * time.Millisecond
	calls := []struct {
		name string
		call func(context.Context) error
	}{
		{"Ping", d.Ping},
		{"Info", func(ctx context.Context) error { _, err := d.Info(ctx); return err }},
		{"List", func(ctx context.Context) error { _, err := d.List(ctx); return err }},
		{"Get", func(ctx context.Context) error { _, err := d.Get(ctx, hypervisor.ByID(ovm.NewID())); return err }},
		{"Pull", func(ctx context.Context) error { return d.Images().Pull(ctx, "127.0.0.1:5000/ovm-busybox:1", nil) }},
	}
	for _, c := range calls {
		t.Run("frozen "+c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			defer cancel()
			start := time.Now()
			err := c.call(ctx)
			took := time.Since(start)
			require.ErrorIs(t, err, ovm.ErrUnavailable, "%s on a frozen host: got %v, want unavailable", c.name, err)
			assert.ErrorIs(t, err, context.DeadlineExceeded, "%s on a frozen host: got %v, want the deadline in the chain", c.name, err)
			assert.Less(t, took, deadline+time.Second, "%s on a frozen host: took %s, want about the deadline %s", c.name, took, deadline)
		})
	}
	require.NoError(t, proc.Signal(syscall.SIGCONT), "SIGCONT dockerd")
	require.NoError(t, d.Ping(ctx), "Ping after the host thawed")
}

// waitStopped waits until every thread of process pid is stopped (state T
// in /proc): a signal stops a busy process's threads one by one.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		require.NoError(t, err)
		stopped := len(tasks) > 0
		for _, task := range tasks {
			b, err := os.ReadFile(task)
			if err != nil {
				continue // the thread is gone
			}
			// The state follows the parenthesised command name.
			s := string(b)
			if i := strings.LastIndexByte(s, ')'); i < 0 || i+2 >= len(s) || s[i+2] != 'T' {
				stopped = false
				break
			}
		}
		if stopped {
			return
		}
		require.True(t, time.Now().Before(deadline), "dockerd %d: not stopped 10s after SIGSTOP", pid)
		time.Sleep(20 * time.Millisecond)
	}
}
