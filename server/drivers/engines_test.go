package drivers_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/drivers"
)

// testCert returns a self-signed certificate and its key, in PEM.
func testCert(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ovm-test"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<33, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// TestEngineFactoriesRefuseBadInput: every factory checks the endpoint,
// the credentials and the options before it dials, naming each field as
// the registration body does.
func TestEngineFactoriesRefuseBadInput(t *testing.T) {
	cert, key := testCert(t)
	_, otherKey := testCert(t)
	o := drivers.EngineOptions{TempDir: t.TempDir()}
	factories := map[ovm.HostKind]drivers.Factory{
		ovm.HostDocker: drivers.DockerFactory(o),
		ovm.HostKVM:    drivers.LibvirtFactory(o),
		ovm.HostESXi:   drivers.ESXiFactory(o),
	}
	kvmOpts := func(extra map[string]string) map[string]string {
		m := map[string]string{"templates": "/srv/templates", "disks": "/srv/disks"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, tt := range []struct {
		name     string
		kind     ovm.HostKind
		endpoint string
		opts     map[string]string
		cred     drivers.Credentials
		fields   []string
	}{
		{"docker unknown option", ovm.HostDocker, "unix:///run/none.sock", map[string]string{"uplnk": "eth1"}, drivers.Credentials{}, []string{"options.uplnk"}},
		{"docker bad uplink", ovm.HostDocker, "unix:///run/none.sock", map[string]string{"uplink": "eth1/x"}, drivers.Credentials{}, []string{"options.uplink"}},
		{"docker control character", ovm.HostDocker, "unix:///run/none.sock", map[string]string{"uplink": "eth\n1"}, drivers.Credentials{}, []string{"options.uplink"}},
		{"docker scheme", ovm.HostDocker, "http://127.0.0.1:2375", nil, drivers.Credentials{}, []string{"endpoint"}},
		{"docker no scheme", ovm.HostDocker, "127.0.0.1:2375", nil, drivers.Credentials{}, []string{"endpoint"}},
		{"docker password", ovm.HostDocker, "tcp://127.0.0.1:2376", nil, drivers.Credentials{Password: "x"}, []string{"credentials.password"}},
		{"docker tls on unix", ovm.HostDocker, "unix:///run/none.sock", nil, drivers.Credentials{CAPEM: cert}, []string{"credentials"}},
		{"docker ca not pem", ovm.HostDocker, "tcp://127.0.0.1:2376", nil, drivers.Credentials{CAPEM: "nope"}, []string{"credentials.caPem"}},
		{"docker cert without key", ovm.HostDocker, "tcp://127.0.0.1:2376", nil, drivers.Credentials{CertPEM: cert}, []string{"credentials.keyPem"}},
		{"docker key of another cert", ovm.HostDocker, "tcp://127.0.0.1:2376", nil, drivers.Credentials{CertPEM: cert, KeyPEM: otherKey}, []string{"credentials.keyPem"}},
		{"docker ssh key on tcp", ovm.HostDocker, "tcp://127.0.0.1:2376", nil, drivers.Credentials{SSHKey: key}, []string{"credentials.sshKey"}},
		{"docker ssh key not pem", ovm.HostDocker, "ssh://root@127.0.0.1", nil, drivers.Credentials{SSHKey: "ssh-ed25519 AAAA"}, []string{"credentials.sshKey"}},
		{"kvm missing pools", ovm.HostKVM, "qemu:///system", nil, drivers.Credentials{}, []string{"options.templates", "options.disks"}},
		{"kvm relative pool", ovm.HostKVM, "qemu:///system", kvmOpts(map[string]string{"templates": "templates"}), drivers.Credentials{}, []string{"options.templates"}},
		{"kvm bad pool name", ovm.HostKVM, "qemu:///system", kvmOpts(map[string]string{"disks": "Big Pool:/srv/d"}), drivers.Credentials{}, []string{"options.disks"}},
		{"kvm unclean kernel", ovm.HostKVM, "qemu:///system", kvmOpts(map[string]string{"kernel": "/boot/../vmlinuz"}), drivers.Credentials{}, []string{"options.kernel"}},
		{"kvm initrd without kernel", ovm.HostKVM, "qemu:///system", kvmOpts(map[string]string{"initrd": "/boot/initrd"}), drivers.Credentials{}, []string{"options.kernel"}},
		{"kvm virt type", ovm.HostKVM, "qemu:///system", kvmOpts(map[string]string{"virtType": "xen"}), drivers.Credentials{}, []string{"options.virtType"}},
		{"kvm shared storage", ovm.HostKVM, "qemu:///system", kvmOpts(map[string]string{"sharedStorage": "/srv/a,b"}), drivers.Credentials{}, []string{"options.sharedStorage"}},
		{"kvm unknown option", ovm.HostKVM, "qemu:///system", kvmOpts(map[string]string{"uplink": "eth0"}), drivers.Credentials{}, []string{"options.uplink"}},
		{"kvm uri", ovm.HostKVM, "xen:///system", kvmOpts(nil), drivers.Credentials{}, []string{"endpoint"}},
		{"kvm password", ovm.HostKVM, "qemu+tcp://127.0.0.1/system", kvmOpts(nil), drivers.Credentials{Password: "x"}, []string{"credentials.password"}},
		{"kvm partial tls", ovm.HostKVM, "qemu+tls://127.0.0.1/system", kvmOpts(nil), drivers.Credentials{CAPEM: cert}, []string{"credentials"}},
		{"kvm tls on tcp", ovm.HostKVM, "qemu+tcp://127.0.0.1/system", kvmOpts(nil), drivers.Credentials{CAPEM: cert, CertPEM: cert, KeyPEM: key}, []string{"credentials"}},
		{"kvm pkipath and tls", ovm.HostKVM, "qemu+tls://127.0.0.1/system?pkipath=/etc/pki", kvmOpts(nil), drivers.Credentials{CAPEM: cert, CertPEM: cert, KeyPEM: key}, []string{"endpoint"}},
		{"esxi no user", ovm.HostESXi, "https://127.0.0.1/sdk", nil, drivers.Credentials{Password: "x"}, []string{"credentials.username"}},
		{"esxi path", ovm.HostESXi, "https://127.0.0.1/ui", nil, drivers.Credentials{Username: "root"}, []string{"endpoint"}},
		{"esxi scheme", ovm.HostESXi, "http://127.0.0.1/sdk", nil, drivers.Credentials{Username: "root"}, []string{"endpoint"}},
		{"esxi thumbprint", ovm.HostESXi, "127.0.0.1:8443", nil, drivers.Credentials{Username: "root", Thumbprint: "abc"}, []string{"credentials.thumbprint"}},
		{"esxi ca", ovm.HostESXi, "127.0.0.1:8443", nil, drivers.Credentials{Username: "root", CAPEM: "x"}, []string{"credentials.caPem"}},
		{"esxi ssh key", ovm.HostESXi, "127.0.0.1:8443", nil, drivers.Credentials{Username: "root", SSHKey: key}, []string{"credentials.sshKey"}},
		{"esxi unknown option", ovm.HostESXi, "127.0.0.1:8443", map[string]string{"datacenter": "x"}, drivers.Credentials{Username: "root"}, []string{"options.datacenter"}},
		{"esxi image library", ovm.HostESXi, "127.0.0.1:8443", map[string]string{"imageLibrary": "templates"}, drivers.Credentials{Username: "root"}, []string{"options.imageLibrary"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := ovm.Host{ID: ovm.NewID(), Name: "h1", Kind: tt.kind, Endpoint: tt.endpoint, Options: tt.opts}
			_, err := factories[tt.kind](t.Context(), h, tt.cred)
			require.ErrorIs(t, err, ovm.ErrInvalid, "factory: got %v, want invalid", err)
			var got []string
			for _, f := range ovm.FieldsOf(err) {
				got = append(got, f.Field)
			}
			assert.ElementsMatch(t, tt.fields, got, "fields of %v", err)
		})
	}
	entries, err := os.ReadDir(o.TempDir)
	require.NoError(t, err)
	assert.Empty(t, entries, "no credential files are written for refused input")
}

// TestEngineFactoriesUnreachable: an endpoint that does not answer is
// ovm.ErrUnavailable with the engine's text, and the credential files
// written for it are gone.
func TestEngineFactoriesUnreachable(t *testing.T) {
	cert, key := testCert(t)
	dir := t.TempDir()
	o := drivers.EngineOptions{TempDir: dir}
	closed := closedAddr(t)
	for _, tt := range []struct {
		name    string
		f       drivers.Factory
		host    ovm.Host
		cred    drivers.Credentials
		wantErr []string
	}{
		{"docker socket", drivers.DockerFactory(o), ovm.Host{Kind: ovm.HostDocker, Endpoint: "unix://" + filepath.Join(dir, "none.sock")},
			drivers.Credentials{}, []string{"none.sock"}},
		{"docker tls", drivers.DockerFactory(o), ovm.Host{Kind: ovm.HostDocker, Endpoint: "tcp://" + closed},
			drivers.Credentials{CAPEM: cert, CertPEM: cert, KeyPEM: key}, []string{closed}},
		{"kvm tls", drivers.LibvirtFactory(o), ovm.Host{Kind: ovm.HostKVM, Endpoint: "qemu+tls://127.0.0.1:" + portOf(t, closed) + "/system",
			Options: map[string]string{"templates": "/srv/t", "disks": "/srv/d"}},
			drivers.Credentials{CAPEM: cert, CertPEM: cert, KeyPEM: key}, []string{"connection refused"}},
		{"esxi", drivers.ESXiFactory(o), ovm.Host{Kind: ovm.HostESXi, Endpoint: "https://" + closed + "/sdk"},
			drivers.Credentials{Username: "root", Password: "pw"}, []string{closed, "connection refused"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.host.ID, tt.host.Name = ovm.NewID(), "h1"
			_, err := tt.f(t.Context(), tt.host, tt.cred)
			require.ErrorIs(t, err, ovm.ErrUnavailable, "factory: got %v, want unavailable", err)
			for _, s := range tt.wantErr {
				assert.Contains(t, err.Error(), s)
			}
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries, "credential files left behind")
		})
	}
}

func portOf(t *testing.T, addr string) string {
	_, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	return p
}

// TestRegisterEngines registers the three real kinds.
func TestRegisterEngines(t *testing.T) {
	r := drivers.NewRegistry()
	drivers.RegisterEngines(r, drivers.EngineOptions{})
	assert.Equal(t, []ovm.HostKind{ovm.HostDocker, ovm.HostESXi, ovm.HostKVM}, r.Kinds())
}
