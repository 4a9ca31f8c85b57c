package libvirt

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"libvirt.org/go/libvirtxml"
	"pgregory.net/rapid"

	"github.com/openovm/ovm/ovm"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(p, []byte(got), 0o644))
	}
	want, err := os.ReadFile(p)
	require.NoError(t, err, "read golden file %s (run with -update to write it)", p)
	assert.Equal(t, string(want), got, "%s: got the first, want the golden second (run with -update after checking)", p)
}

var created = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestDomainXMLGolden(t *testing.T) {
	meta := Metadata{ID: "0b0c4a5e-1f2d-4c3b-9a8e-7d6c5b4a3f21", VDCID: "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
		Name: "web-1", CPU: 1500, Image: ovm.Template("debian-12.qcow2"), CreatedAt: created,
		Labels:  map[string]string{"tier": "web", "app": "shop"},
		Volumes: []string{"/srv/pool/ovm-0b0c4a5e-1f2d-4c3b-9a8e-7d6c5b4a3f21-boot.qcow2", "/srv/pool/ovm-0b0c4a5e-1f2d-4c3b-9a8e-7d6c5b4a3f21-seed.iso"}}
	for _, tt := range []struct {
		name string
		spec DomainSpec
	}{
		{"domain-direct-kernel.xml", DomainSpec{Type: "qemu", Name: "web-1", VCPUs: 2, MemoryKiB: 131072,
			Kernel: "/boot/vmlinuz", Initrd: "/boot/initrd.gz", Cmdline: "console=ttyS0",
			Disks:    []DiskSpec{{Path: meta.Volumes[0], Format: "qcow2", Target: "vda"}, {Path: meta.Volumes[1], Format: "raw", Target: "vdb", ReadOnly: true}},
			Metadata: meta}},
		{"domain-disk-boot-nics.xml", DomainSpec{Type: "kvm", Name: "web-1", VCPUs: 2, MemoryKiB: 2097152, Machine: "pc-q35-7.2",
			Disks:    []DiskSpec{{Path: meta.Volumes[0], Format: "qcow2", Target: "vda"}},
			NICs:     []NICSpec{{Bridge: "ovmbr100", MAC: "52:54:00:12:34:56"}, {Bridge: "ovm0b0c4a5e"}},
			Metadata: meta, VNC: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, err := DomainXML(tt.spec)
			require.NoError(t, err)
			x, err := d.Marshal()
			require.NoError(t, err)
			golden(t, tt.name, x+"\n")

			// Round trip: the XML parses back to the same spec parts.
			var back libvirtxml.Domain
			require.NoError(t, back.Unmarshal(x))
			m, ok, err := ParseMetadata(back.Metadata.XML)
			require.NoError(t, err)
			require.True(t, ok, "ParseMetadata: got no OVM element, want one")
			assert.Equal(t, tt.spec.Metadata, m, "metadata after a round trip: got the second, want the first")
			assert.Equal(t, tt.spec.VCPUs, back.VCPU.Value, "vcpus: got %d, want %d", back.VCPU.Value, tt.spec.VCPUs)
			// 131072 KiB = 128 MiB; 2097152 KiB = 2 GiB.
			assert.Equal(t, ovm.Bytes(tt.spec.MemoryKiB)*ovm.KiB, memoryBytes(back.Memory))
		})
	}
}

func TestPoolAndVolumeXMLGolden(t *testing.T) {
	for _, tt := range []struct {
		name string
		x    func() (string, error)
	}{
		{"pool-dir.xml", DirPoolXML("local-1", "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b", "/srv/ovm/local-1").Marshal},
		{"pool-netfs.xml", NetFSPoolXML("nfs-1", "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d", "nfs.example.org", "/export/ovm", "/var/lib/libvirt/ovm-nfs/nfs-1").Marshal},
		{"volume-cow.xml", VolumeXML("disk_0b0c4a5e-1f2d-4c3b-9a8e-7d6c5b4a3f21.qcow2", 67108864, "qcow2", "/srv/templates/debian-12.qcow2", "qcow2").Marshal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			x, err := tt.x()
			require.NoError(t, err)
			golden(t, tt.name, x+"\n")
		})
	}
}

func TestMetadataRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := Metadata{
			ID:        ovm.ID(rapid.StringMatching(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`).Draw(t, "id")),
			Name:      rapid.StringMatching(`[a-z][a-z0-9-]{0,20}`).Draw(t, "name"),
			CPU:       ovm.MilliCPU(rapid.Int64Range(1, 64000).Draw(t, "cpu")),
			Image:     ovm.Template(rapid.StringMatching(`[a-z0-9<>&"' ._-]{1,30}`).Draw(t, "image")),
			CreatedAt: time.Unix(rapid.Int64Range(0, 4e9).Draw(t, "created"), 0).UTC(),
			Labels:    rapid.MapOf(rapid.StringMatching(`[a-z]{1,8}`), rapid.StringMatching(`[ -~]{0,16}`)).Draw(t, "labels"),
			Disk:      ovm.Bytes(rapid.Int64Range(0, 1<<50).Draw(t, "disk")),
		}
		if len(m.Labels) == 0 {
			m.Labels = nil
		}
		x, err := MarshalMetadata(m)
		if err != nil {
			t.Fatalf("MarshalMetadata: %v", err)
		}
		// Other applications' elements around OVM's are ignored.
		got, ok, err := ParseMetadata(`<app:x xmlns:app="urn:other">1</app:x>` + x)
		if err != nil || !ok {
			t.Fatalf("ParseMetadata(%q): got ok=%v err=%v, want the element", x, ok, err)
		}
		if got.ID != m.ID || got.Name != m.Name || got.CPU != m.CPU || got.Image != m.Image || !got.CreatedAt.Equal(m.CreatedAt) || len(got.Labels) != len(m.Labels) || got.Disk != m.Disk {
			t.Fatalf("round trip: got %+v, want %+v", got, m)
		}
		for k, v := range m.Labels {
			if got.Labels[k] != v {
				t.Fatalf("label %q: got %q, want %q", k, got.Labels[k], v)
			}
		}
	})
}

func TestParseMetadataUnmanaged(t *testing.T) {
	for _, tt := range []struct {
		name  string
		inner string
	}{
		{"empty", ""},
		{"another application's element", `<app:x xmlns:app="urn:other"><id>1</id></app:x>`},
		{"same local name, other namespace", `<ovm:instance xmlns:ovm="urn:not-ovm"><ovm:id>x</ovm:id></ovm:instance>`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, ok, err := ParseMetadata(tt.inner)
			require.NoError(t, err)
			assert.False(t, ok, "ParseMetadata(%q): got managed, want unmanaged", tt.inner)
		})
	}
}

func TestReplaceMetadata(t *testing.T) {
	other := `<app:x xmlns:app="urn:other">1</app:x>`
	old, err := MarshalMetadata(Metadata{ID: "0b0c4a5e-1f2d-4c3b-9a8e-7d6c5b4a3f21", Name: "a", CreatedAt: created})
	require.NoError(t, err)
	repl, err := MarshalMetadata(Metadata{ID: "0b0c4a5e-1f2d-4c3b-9a8e-7d6c5b4a3f21", Name: "b", CreatedAt: created})
	require.NoError(t, err)
	got := replaceMetadata(&libvirtxml.DomainMetadata{XML: other + old}, repl)
	assert.Equal(t, other+repl, got, "replaceMetadata: got the first, want the second")
	assert.Equal(t, repl, replaceMetadata(nil, repl), "replaceMetadata of no metadata: got the first, want the second")
}

func TestDiskTarget(t *testing.T) {
	// 26 letters, then two: index 26 is "aa", 27 "ab", 701 = 26+26*26-1 is "zz".
	for _, tt := range []struct {
		name string
		i    int
		want string
	}{{"first", 0, "vda"}, {"second", 1, "vdb"}, {"last single", 25, "vdz"}, {"first double", 26, "vdaa"}, {"second double", 27, "vdab"}, {"last double", 701, "vdzz"}} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, diskTarget(tt.i), "diskTarget(%d): got the first, want the second", tt.i)
		})
	}
}
