package libvirt

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

// FuzzParseURI: an accepted URI uses the qemu driver, opens /system or
// /session, names a host exactly when its transport is remote, and has a
// socket for unix and ssh; parsing its own text again gives the same
// endpoint. Refusals are ovm.ErrInvalid naming the field "uri".
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{"qemu:///system", "qemu:///session", "qemu+unix:///system?socket=/run/x.sock", "qemu+tcp://h/system",
		"qemu+tcp://h:16509/system", "qemu+tls://h/system?pkipath=/p&no_verify=1", "qemu://h/system", "qemu+ssh://root@h:2222/system?keyfile=/k&known_hosts=/kh&socket=/s",
		"qemu+libssh2://u@h/system", "qemu+unix://h/system", "qemu+tcp:///system", "xen:///system", "qemu:///", "qemu+ftp://h/system",
		"qemu+ssh://[::1]/system", "qemu+tls://h/system#frag", "", ":", "qemu", "qemu:system", "qemu+ssh://%zz/system", "QEMU:///system"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseURI(s)
		if err != nil {
			require.True(t, errors.Is(err, ovm.ErrInvalid), "ParseURI(%q): %v is not ovm.ErrInvalid", s, err)
			fs := ovm.FieldsOf(err)
			require.Len(t, fs, 1)
			require.Equal(t, "uri", fs[0].Field)
			require.Equal(t, Endpoint{}, e)
			return
		}
		require.Equal(t, s, e.URI)
		require.Equal(t, "qemu", e.Driver)
		require.Contains(t, []string{"/system", "/session"}, e.Path)
		require.Equal(t, "qemu://"+e.Path, e.RemoteURI())
		switch e.Transport {
		case TransportUnix:
			require.Empty(t, e.Host, "unix URI %q with a host", s)
			require.NotEmpty(t, e.Socket)
		case TransportTCP, TransportTLS, TransportSSH:
			require.NotEmpty(t, e.Host, "%s URI %q without a host", e.Transport, s)
		default:
			t.Fatalf("ParseURI(%q): transport %q", s, e.Transport)
		}
		if e.Transport != TransportTLS {
			require.Empty(t, e.PKIPath)
			require.False(t, e.NoVerify)
		}
		if e.Transport != TransportSSH {
			require.Empty(t, e.KeyFile)
			require.Empty(t, e.KnownHosts)
		}
		u, err := url.Parse(s)
		require.NoError(t, err)
		require.Equal(t, u.Hostname(), e.Host)
		require.Equal(t, u.Port(), e.Port)
		again, err := ParseURI(e.URI)
		require.NoError(t, err)
		require.Equal(t, e, again)
	})
}

// FuzzParseVolumeName: a name parseVolumeName accepts is exactly what
// volumeName renders from its parts; for every valid volume name, id and
// format, volumeName's output parses back to them.
func FuzzParseVolumeName(f *testing.F) {
	for _, s := range []string{"data_00000000-0000-4000-8000-000000000000.qcow2", "a_b_00000000-0000-4000-8000-000000000000.raw",
		"_00000000-0000-4000-8000-000000000000.", "data.qcow2", "data_x.qcow2", "data_00000000-0000-4000-8000-000000000000", ".", "x.y.z"} {
		f.Add(s, "disk1", "qcow2")
	}
	f.Fuzz(func(t *testing.T, n, name, format string) {
		vn, id, vf, ok := parseVolumeName(n)
		if ok {
			require.True(t, id.Valid())
			require.Equal(t, n, volumeName(vn, id, vf), "parseVolumeName(%q) does not render back", n)
		} else {
			require.Empty(t, vn)
			require.Empty(t, id)
		}
		if ovm.ValidateName(name) != "" || strings.Contains(format, ".") {
			return
		}
		id = ovm.ID("00000000-0000-4000-8000-000000000000")
		gn, gid, gf, ok := parseVolumeName(volumeName(name, id, ovm.ImageFormat(format)))
		require.True(t, ok, "parseVolumeName(volumeName(%q, %q, %q))", name, id, format)
		require.Equal(t, name, gn)
		require.Equal(t, id, gid)
		require.Equal(t, ovm.ImageFormat(format), gf)
	})
}

// xmlText reports whether s survives XML text: valid UTF-8 of characters
// XML 1.0 allows, without the carriage returns a parser normalises.
func xmlText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == '\r' || (r < 0x20 && r != '\t' && r != '\n') || r == 0xFFFE || r == 0xFFFF || (r >= 0xD800 && r <= 0xDFFF) {
			return false
		}
	}
	return true
}

// FuzzMetadata: ParseMetadata reads back what MarshalMetadata writes
// (every field, the creation time to the second) for text XML can carry,
// and never panics on arbitrary metadata content.
func FuzzMetadata(f *testing.F) {
	f.Add("web", "oci", "busybox:1", "app", "shop", "/pool/v1", int64(1500), int64(1700000000), "")
	f.Add("vm", "qcow2", "d.qcow2", "k", "", "", int64(-1), int64(0), `<other xmlns="x"/><instance xmlns="https://openovm.org/xmlns/libvirt/instance/1"><id>x</id></instance>`)
	f.Add("a<b>&\"'", "x", "", "k\t", "v\n", "", int64(0), int64(-62135596800), "<unclosed>")
	f.Add("", "", "", "", "", "", int64(0), int64(253402300799), `<instance xmlns="https://openovm.org/xmlns/libvirt/instance/1"><id></id></instance>`)
	f.Fuzz(func(t *testing.T, name, format, image, key, value, volume string, cpu, unix int64, inner string) {
		// Arbitrary content: an error or a result, never a panic.
		if m, ok, err := ParseMetadata(inner); err != nil || !ok {
			require.False(t, ok)
			require.Zero(t, m.ID)
		}

		for _, s := range []string{name, format, image, key, value, volume} {
			if !xmlText(s) {
				return
			}
		}
		if unix < -62135596800 || unix > 253402300799 { // years 1 to 9999 (RFC 3339)
			return
		}
		m := Metadata{ID: "00000000-0000-4000-8000-000000000000", VDCID: "10000000-0000-4000-8000-000000000000", Name: name,
			CPU: ovm.MilliCPU(cpu), Image: ovm.ImageRef{Format: ovm.ImageFormat(format), Name: image}, CreatedAt: time.Unix(unix, 0).UTC(),
			Labels: map[string]string{key: value}}
		if volume != "" {
			m.Volumes = []string{volume}
		}
		out, err := MarshalMetadata(m)
		require.NoError(t, err)
		back, ok, err := ParseMetadata(out)
		require.NoError(t, err, "ParseMetadata(%q)", out)
		require.True(t, ok, "ParseMetadata(%q): no OVM element", out)
		require.Equal(t, m, back, "the metadata changed through %q", out)
	})
}
