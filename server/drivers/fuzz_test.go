package drivers_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/libvirt"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/drivers"
)

// fuzzPEM returns a self-signed certificate and its key, in PEM, for seeds.
func fuzzPEM(f *testing.F) (certPEM, keyPEM string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(f, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ovm-fuzz"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<33, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(f, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(f, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

// validated calls a factory with a cancelled context, so that it checks
// its input and never reaches a host, and reports whether the input passed
// the factory's validation. A refusal is ovm.ErrInvalid naming only fields
// of the registration (endpoint, options.*, credentials*); either way no
// credential file is left behind.
func validated(t *testing.T, factory drivers.Factory, tmp string, h ovm.Host, cred drivers.Credentials) bool {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	conn, err := factory(ctx, h, cred)
	require.Error(t, err, "a factory connected with a cancelled context: %+v", conn)
	left, rerr := os.ReadDir(tmp)
	require.NoError(t, rerr)
	require.Empty(t, left, "credential files left behind after %v", err)
	fields := ovm.FieldsOf(err)
	if !errors.Is(err, ovm.ErrInvalid) || len(fields) == 0 {
		return true
	}
	for _, fe := range fields {
		ok := fe.Field == "endpoint" || fe.Field == "credentials" || strings.HasPrefix(fe.Field, "options.") || strings.HasPrefix(fe.Field, "credentials.")
		require.True(t, ok, "%s host refused with field %q, not one of the registration's: %v", h.Kind, fe.Field, err)
	}
	return false
}

func credsOf(data []byte) drivers.Credentials {
	var c drivers.Credentials
	_ = json.Unmarshal(data, &c)
	return c
}

func credJSON(c drivers.Credentials) []byte {
	b, _ := json.Marshal(c)
	return b
}

func noControl(s string) bool {
	return len(s) <= 4096 && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// FuzzDockerHostValidation: a Docker host that passes validation has a
// unix, tcp or ssh endpoint, only the uplink option (an interface name),
// no password or thumbprint, TLS material only for tcp and an SSH key and
// user name only for ssh.
func FuzzDockerHostValidation(f *testing.F) {
	cert, key := fuzzPEM(f)
	f.Add("unix:///run/none.sock", "", "", credJSON(drivers.Credentials{}))
	f.Add("tcp://127.0.0.1:1", "uplink", "eth1", credJSON(drivers.Credentials{CAPEM: cert, CertPEM: cert, KeyPEM: key}))
	f.Add("ssh://root@127.0.0.1:1", "uplink", "eth1/x", credJSON(drivers.Credentials{SSHKey: key}))
	f.Add("ssh://127.0.0.1", "", "", credJSON(drivers.Credentials{Username: "u", SSHKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"}))
	f.Add("http://127.0.0.1:2375", "uplnk", "eth1", credJSON(drivers.Credentials{Password: "p", Thumbprint: "ab"}))
	f.Add("unix:///x", "uplink", "eth\n1", credJSON(drivers.Credentials{CertPEM: cert}))
	f.Add("tcp://h:1", "", "", credJSON(drivers.Credentials{CertPEM: cert, KeyPEM: "x"}))
	f.Add("", "", "", []byte("{"))
	f.Add("::", "", "", []byte("null"))
	f.Add("ssh://h/path?x=1", "uplink", strings.Repeat("e", 16), []byte(`{"username":"u"}`))
	tmp := f.TempDir()
	factory := drivers.DockerFactory(drivers.EngineOptions{TempDir: tmp})
	f.Fuzz(func(t *testing.T, endpoint, optKey, optVal string, credData []byte) {
		h := ovm.Host{Name: "d", Kind: ovm.HostDocker, Endpoint: endpoint}
		if optKey != "" {
			h.Options = map[string]string{optKey: optVal}
		}
		cred := credsOf(credData)
		if !validated(t, factory, tmp, h, cred) {
			return
		}
		u, err := url.Parse(endpoint)
		require.NoError(t, err, "docker endpoint %q passed validation", endpoint)
		require.Contains(t, []string{"unix", "tcp", "ssh"}, u.Scheme, "docker endpoint %q passed validation", endpoint)
		if optKey != "" {
			require.Equal(t, "uplink", optKey, "docker option %q passed validation", optKey)
			require.True(t, noControl(optVal))
			require.True(t, len(optVal) <= 15 && !strings.ContainsAny(optVal, "/: \t"), "uplink %q passed validation", optVal)
		}
		require.Empty(t, cred.Password)
		require.Empty(t, cred.Thumbprint)
		if cred.CAPEM != "" || cred.CertPEM != "" || cred.KeyPEM != "" {
			require.Equal(t, "tcp", u.Scheme)
		}
		if cred.SSHKey != "" || cred.Username != "" {
			require.Equal(t, "ssh", u.Scheme)
		}
		if cred.SSHKey != "" {
			b, _ := pem.Decode([]byte(cred.SSHKey))
			require.NotNil(t, b)
			require.Contains(t, b.Type, "PRIVATE KEY")
		}
	})
}

// cleanAbs reports whether p is a clean absolute path.
func cleanAbs(p string) bool { return filepath.IsAbs(p) && filepath.Clean(p) == p }

// FuzzLibvirtHostValidation: a KVM host that passes validation has a
// libvirt URI that ParseURI accepts, template and disk pools that are clean
// absolute directories (optionally NAME:/dir with a DNS-label name),
// clean absolute kernel and initrd paths, a known virtType and no
// password or thumbprint.
func FuzzLibvirtHostValidation(f *testing.F) {
	cert, key := fuzzPEM(f)
	f.Add("qemu:///system", "/srv/templates", "/srv/disks", "", "", credJSON(drivers.Credentials{}))
	f.Add("qemu+tls://h/system", "t:/srv/t", "d:/srv/d", "virtType", "kvm", credJSON(drivers.Credentials{CAPEM: cert, CertPEM: cert, KeyPEM: key}))
	f.Add("qemu+ssh://root@h/system?keyfile=/k", "/t", "/d", "kernel", "/boot/vmlinuz", credJSON(drivers.Credentials{SSHKey: key}))
	f.Add("qemu+tcp://h/session", "x:/t", "x:/d", "sharedStorage", "/a, /b,c", credJSON(drivers.Credentials{}))
	f.Add("qemu+tcp://h/system", "/t/../u", "Bad:/d", "initrd", "/i", credJSON(drivers.Credentials{Username: "u"}))
	f.Add("xen:///system", "", "relative", "virtType", "lxc", credJSON(drivers.Credentials{Password: "p"}))
	f.Add("qemu+tls://h/system?pkipath=/p", "/t", "/d", "machine", "q35 'x'", credJSON(drivers.Credentials{CAPEM: cert, CertPEM: cert, KeyPEM: key}))
	f.Add("qemu:///system", "/t", "/d", "colour", "red", []byte("{"))
	tmp := f.TempDir()
	factory := drivers.LibvirtFactory(drivers.EngineOptions{TempDir: tmp})
	f.Fuzz(func(t *testing.T, endpoint, templates, disks, optKey, optVal string, credData []byte) {
		opts := map[string]string{}
		if templates != "" {
			opts["templates"] = templates
		}
		if disks != "" {
			opts["disks"] = disks
		}
		if optKey != "" && optKey != "templates" && optKey != "disks" {
			opts[optKey] = optVal
		}
		h := ovm.Host{Name: "k", Kind: ovm.HostKVM, Endpoint: endpoint, Options: opts}
		cred := credsOf(credData)
		if !validated(t, factory, tmp, h, cred) {
			return
		}
		ep, err := libvirt.ParseURI(endpoint)
		require.NoError(t, err, "kvm endpoint %q passed validation", endpoint)
		for k, v := range opts {
			_, known := drivers.LibvirtOptions[k]
			require.True(t, known, "kvm option %q passed validation", k)
			require.True(t, noControl(v), "kvm option %s=%q passed validation", k, v)
		}
		for _, p := range []string{templates, disks} {
			dir := p
			if !strings.HasPrefix(p, "/") {
				name, d, ok := strings.Cut(p, ":")
				require.True(t, ok, "pool %q passed validation", p)
				require.Empty(t, ovm.ValidateName(name), "pool name of %q", p)
				dir = d
			}
			require.True(t, cleanAbs(dir), "pool %q passed validation", p)
		}
		for _, k := range []string{"kernel", "initrd"} {
			if v := opts[k]; v != "" {
				require.True(t, cleanAbs(v), "%s %q passed validation", k, v)
			}
		}
		if opts["initrd"] != "" || opts["cmdline"] != "" {
			require.NotEmpty(t, opts["kernel"])
		}
		require.Contains(t, []string{"", "kvm", "qemu"}, opts["virtType"])
		require.Empty(t, cred.Password)
		require.Empty(t, cred.Thumbprint)
		if cred.CAPEM != "" || cred.CertPEM != "" || cred.KeyPEM != "" {
			require.Equal(t, libvirt.TransportTLS, ep.Transport)
			require.True(t, cred.CAPEM != "" && cred.CertPEM != "" && cred.KeyPEM != "")
		}
		if cred.SSHKey != "" || cred.Username != "" {
			require.Equal(t, libvirt.TransportSSH, ep.Transport)
		}
	})
}

// FuzzESXiHostValidation: an ESXi host that passes validation (the
// factory's checks and esxi.Config.Validate) has an https endpoint naming
// only a host and port, a user name, a thumbprint that is SHA-1 or SHA-256
// hex (when pinned), known options, and no client certificate or SSH key.
func FuzzESXiHostValidation(f *testing.F) {
	f.Add("https://esx1.example/sdk", "datastore", "ds1", credJSON(drivers.Credentials{Username: "root", Password: "pw"}))
	f.Add("esx1.example:8443", "imageLibrary", "[images] templates", credJSON(drivers.Credentials{Username: "root", Thumbprint: strings.Repeat("ab:", 31) + "ab"}))
	f.Add("10.0.0.1", "vswitch", "vSwitch1", credJSON(drivers.Credentials{Username: "root", Thumbprint: strings.Repeat("zz", 20)}))
	f.Add("http://esx", "imageLibrary", "templates", credJSON(drivers.Credentials{}))
	f.Add("https://root@esx/sdk?x#y", "colour", "red", credJSON(drivers.Credentials{Username: "root", SSHKey: "k", CertPEM: "c"}))
	f.Add("https://esx/other", "", "", credJSON(drivers.Credentials{Username: "root", CAPEM: "not pem"}))
	f.Add("[::1]:443", "", "", credJSON(drivers.Credentials{Username: "root", Thumbprint: "AB"}))
	tmp := f.TempDir()
	factory := drivers.ESXiFactory(drivers.EngineOptions{TempDir: tmp})
	f.Fuzz(func(t *testing.T, endpoint, optKey, optVal string, credData []byte) {
		h := ovm.Host{Name: "e", Kind: ovm.HostESXi, Endpoint: endpoint}
		if optKey != "" {
			h.Options = map[string]string{optKey: optVal}
		}
		cred := credsOf(credData)
		if !validated(t, factory, tmp, h, cred) {
			return
		}
		s := endpoint
		if !strings.Contains(s, "://") {
			s = "https://" + s
		}
		u, err := url.Parse(s)
		require.NoError(t, err, "esxi endpoint %q passed validation", endpoint)
		require.Equal(t, "https", u.Scheme)
		require.NotEmpty(t, u.Hostname())
		require.Nil(t, u.User)
		require.Contains(t, []string{"", "/", "/sdk"}, u.Path)
		require.NotEmpty(t, cred.Username)
		if cred.Thumbprint != "" {
			norm := strings.ToLower(strings.NewReplacer(":", "", " ", "", "-", "").Replace(cred.Thumbprint))
			_, herr := hex.DecodeString(norm)
			require.True(t, herr == nil && (len(norm) == 40 || len(norm) == 64), "thumbprint %q passed validation", cred.Thumbprint)
		}
		require.Empty(t, cred.CertPEM)
		require.Empty(t, cred.KeyPEM)
		require.Empty(t, cred.SSHKey)
		if optKey != "" {
			_, known := drivers.ESXiOptions[optKey]
			require.True(t, known, "esxi option %q passed validation", optKey)
			require.True(t, noControl(optVal))
			if optKey == "imageLibrary" && optVal != "" {
				require.True(t, strings.HasPrefix(optVal, "["))
			}
		}
	})
}
