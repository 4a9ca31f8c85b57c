package libvirt

import (
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// isoEntry is a file found in an image's root directory.
type isoEntry struct {
	name string
	data string
}

// readRoot lists the root directory the volume descriptor at sector sd
// points to, decoding Joliet (UCS-2) names when joliet.
func readRoot(t *testing.T, img []byte, sd int, joliet bool) []isoEntry {
	t.Helper()
	vd := img[sd*sector:]
	root := vd[156:]
	extent := binary.LittleEndian.Uint32(root[2:])
	size := binary.LittleEndian.Uint32(root[10:])
	dir := img[int(extent)*sector : int(extent)*sector+int(size)]
	var out []isoEntry
	for off := 0; off < len(dir) && dir[off] != 0; off += int(dir[off]) {
		r := dir[off:]
		nameLen := int(r[32])
		raw := r[33 : 33+nameLen]
		if nameLen == 1 && raw[0] <= 1 {
			continue // . and ..
		}
		name := string(raw)
		if joliet {
			u := make([]uint16, nameLen/2)
			for i := range u {
				u[i] = binary.BigEndian.Uint16(raw[2*i:])
			}
			name = string(utf16.Decode(u))
		}
		e := binary.LittleEndian.Uint32(r[2:])
		n := binary.LittleEndian.Uint32(r[10:])
		out = append(out, isoEntry{name, string(img[int(e)*sector : int(e)*sector+int(n)])})
	}
	return out
}

func TestNoCloudISO(t *testing.T) {
	n := NoCloud{InstanceID: "i-1", Hostname: "web-1", SSHKeys: []string{`ssh-ed25519 AAAA "quoted" u@h`}, UserData: "#cloud-config\nruncmd: [true]\n"}
	img := n.ISO(created)
	require.Zero(t, len(img)%sector, "image length %d: want whole 2048-byte sectors", len(img))
	// Descriptors: primary at 16, Joliet at 17 (escape %/E), terminator at 18.
	assert.Equal(t, "\x01CD001", string(img[16*sector:16*sector+6]))
	assert.Equal(t, "\x02CD001", string(img[17*sector:17*sector+6]))
	assert.Equal(t, "%/E", string(img[17*sector+88:17*sector+91]))
	assert.Equal(t, "\xffCD001", string(img[18*sector:18*sector+6]))
	assert.Equal(t, "CIDATA", strings.TrimSpace(string(img[16*sector+40:16*sector+72])), "primary volume label")
	// The volume size field counts every sector of the image.
	assert.Equal(t, uint32(len(img)/sector), binary.LittleEndian.Uint32(img[16*sector+80:]))

	meta := "instance-id: \"i-1\"\nlocal-hostname: \"web-1\"\npublic-keys:\n  - \"ssh-ed25519 AAAA \\\"quoted\\\" u@h\"\n"
	assert.Equal(t, []isoEntry{{"meta-data", meta}, {"user-data", n.UserData}}, readRoot(t, img, 17, true), "Joliet root: got the second, want the first")
	assert.Equal(t, []isoEntry{{"METADATA.;1", meta}, {"USERDATA.;1", n.UserData}}, readRoot(t, img, 16, false), "primary root: got the second, want the first")
}

func TestNoCloudDefaults(t *testing.T) {
	n := NoCloud{InstanceID: "i-2", Hostname: "h"}
	assert.Equal(t, "#cloud-config\n{}\n", n.UserDataText())
	assert.NotContains(t, n.MetaData(), "public-keys", "meta-data without keys: want no public-keys")
}
