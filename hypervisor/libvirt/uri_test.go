package libvirt

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

// TestParseURI: the four transports the driver dials. unix and tcp are
// exercised for real by the integration tests (qemu:///system and
// qemu+tcp://127.0.0.2/system); tls and ssh are parsed and handed to
// go-libvirt's TLS and SSH dialers, but no daemon here listens on them.
func TestParseURI(t *testing.T) {
	for _, tt := range []struct {
		name string
		uri  string
		want Endpoint
	}{
		{"local socket", "qemu:///system", Endpoint{Transport: TransportUnix, Driver: "qemu", Path: "/system", Socket: DefaultSocket}},
		{"explicit unix with socket", "qemu+unix:///system?socket=/run/x.sock", Endpoint{Transport: TransportUnix, Driver: "qemu", Path: "/system", Socket: "/run/x.sock"}},
		{"tcp", "qemu+tcp://127.0.0.2/system", Endpoint{Transport: TransportTCP, Driver: "qemu", Path: "/system", Host: "127.0.0.2"}},
		{"tcp with port", "qemu+tcp://10.0.0.5:16600/system", Endpoint{Transport: TransportTCP, Driver: "qemu", Path: "/system", Host: "10.0.0.5", Port: "16600"}},
		{"tls", "qemu+tls://kvm1.example.org/system?pkipath=/etc/ovm/pki&no_verify=1", Endpoint{Transport: TransportTLS, Driver: "qemu", Path: "/system", Host: "kvm1.example.org", PKIPath: "/etc/ovm/pki", NoVerify: true}},
		{"remote without transport is tls", "qemu://kvm1/system", Endpoint{Transport: TransportTLS, Driver: "qemu", Path: "/system", Host: "kvm1"}},
		{"ssh", "qemu+ssh://root@kvm2:2222/system?keyfile=/k&known_hosts=/kh", Endpoint{Transport: TransportSSH, Driver: "qemu", Path: "/system", Host: "kvm2", Port: "2222", User: "root", KeyFile: "/k", KnownHosts: "/kh"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseURI(tt.uri)
			require.NoError(t, err, "ParseURI(%q)", tt.uri)
			tt.want.URI = tt.uri
			assert.Equal(t, tt.want, got, "ParseURI(%q): got the second, want the first", tt.uri)
			assert.Equal(t, "qemu://"+tt.want.Path, got.RemoteURI(), "RemoteURI")
		})
	}
}

func TestParseURIInvalid(t *testing.T) {
	for _, tt := range []struct {
		name string
		uri  string
	}{
		{"not qemu", "xen:///system"},
		{"unknown transport", "qemu+ftp://h/system"},
		{"tcp without host", "qemu+tcp:///system"},
		{"unix with host", "qemu+unix://h/system"},
		{"bad path", "qemu:///elsewhere"},
		{"not a url", "qemu+tcp://[::1/system"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseURI(tt.uri)
			require.ErrorIs(t, err, ovm.ErrInvalid, "ParseURI(%q): got %v, want invalid", tt.uri, err)
			fields := ovm.FieldsOf(err)
			require.Len(t, fields, 1)
			assert.Equal(t, "uri", fields[0].Field)
		})
	}
}

func TestDialInvalidConfig(t *testing.T) {
	for _, tt := range []struct {
		name  string
		cfg   Config
		field string
	}{
		{"bad uri", Config{URI: "xen:///", Templates: PoolRef{"t", "/t"}, Disks: PoolRef{"d", "/d"}}, "uri"},
		{"no templates", Config{URI: "qemu:///system", Disks: PoolRef{"d", "/d"}}, "templates"},
		{"relative disks", Config{URI: "qemu:///system", Templates: PoolRef{"t", "/t"}, Disks: PoolRef{"d", "d"}}, "disks"},
		{"bad virt type", Config{URI: "qemu:///system", Templates: PoolRef{"t", "/t"}, Disks: PoolRef{"d", "/d"}, VirtType: "xen"}, "virtType"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Dial(t.Context(), tt.cfg)
			require.ErrorIs(t, err, ovm.ErrInvalid, "Dial: got %v, want invalid", err)
			assert.Equal(t, tt.field, ovm.FieldsOf(err)[0].Field)
		})
	}
}

func TestVolumeName(t *testing.T) {
	id := ovm.ID("0b0c4a5e-1f2d-4c3b-9a8e-7d6c5b4a3f21")
	n := volumeName("data-disk", id, ovm.FormatRaw)
	assert.Equal(t, "data-disk_"+string(id)+".raw", n)
	name, gotID, f, ok := parseVolumeName(n)
	require.True(t, ok)
	assert.Equal(t, []string{"data-disk", string(id), "raw"}, []string{name, string(gotID), string(f)})
	for _, bad := range []string{"template.qcow2", "x_notanid.qcow2", ".ovm-shared", "noext_" + string(id)} {
		_, _, _, ok := parseVolumeName(bad)
		assert.False(t, ok, "parseVolumeName(%q): got ok, want not an OVM volume", bad)
	}
}
