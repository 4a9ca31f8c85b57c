package libvirt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf16"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/openovm/ovm/hypervisor"
)

// NoCloud is a cloud-init NoCloud seed: the files of a volume labelled
// "cidata".
type NoCloud struct {
	InstanceID string
	Hostname   string
	SSHKeys    []string
	// UserData is given to cloud-init as is; empty means an empty
	// #cloud-config.
	UserData string
}

// MetaData renders the seed's meta-data (YAML; strings JSON-quoted, which
// YAML reads as double-quoted scalars).
func (n NoCloud) MetaData() string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	var b strings.Builder
	fmt.Fprintf(&b, "instance-id: %s\nlocal-hostname: %s\n", q(n.InstanceID), q(n.Hostname))
	if len(n.SSHKeys) > 0 {
		b.WriteString("public-keys:\n")
		for _, k := range n.SSHKeys {
			fmt.Fprintf(&b, "  - %s\n", q(k))
		}
	}
	return b.String()
}

// UserDataText is the seed's user-data.
func (n NoCloud) UserDataText() string {
	if n.UserData == "" {
		return "#cloud-config\n{}\n"
	}
	return n.UserData
}

// ISO renders the seed as an ISO 9660 image with Joliet names, volume label
// cidata, holding meta-data and user-data, dated at.
func (n NoCloud) ISO(at time.Time) []byte {
	return NoCloudISO([]ISOFile{{Name: "meta-data", Data: []byte(n.MetaData())}, {Name: "user-data", Data: []byte(n.UserDataText())}}, "cidata", at)
}

// ISOFile is a file in the root directory of an ISO image.
type ISOFile struct {
	Name string
	Data []byte
}

const sector = 2048

// NoCloudISO writes a minimal ISO 9660 image (primary descriptor with
// 8.3-style upper-case names, a Joliet supplementary descriptor with the
// real names, one root directory) in pure Go.
func NoCloudISO(files []ISOFile, label string, at time.Time) []byte {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b ISOFile) int { return strings.Compare(a.Name, b.Name) })
	const (
		pvdAt, svdAt, termAt = 16, 17, 18
		ptL, ptM, jptL, jptM = 19, 20, 21, 22
		rootAt, jrootAt      = 23, 24
		dataAt               = 25
	)
	extents := make([]uint32, len(files))
	next := uint32(dataAt)
	for i, f := range files {
		extents[i] = next
		next += uint32((len(f.Data) + sector - 1) / sector)
		if len(f.Data) == 0 {
			next++
		}
	}
	total := next
	img := make([]byte, int(total)*sector)
	put := func(at uint32, b []byte) { copy(img[int(at)*sector:], b) }

	primaryName := func(name string) []byte {
		base, ext, _ := strings.Cut(strings.ToUpper(name), ".")
		clean := func(s string, n int) string {
			var b strings.Builder
			for _, r := range s {
				if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' {
					b.WriteRune(r)
				}
			}
			out := b.String()
			return out[:min(len(out), n)]
		}
		return []byte(clean(base, 8) + "." + clean(ext, 3) + ";1")
	}
	jolietName := func(name string) []byte {
		u := utf16.Encode([]rune(name))
		b := make([]byte, 2*len(u))
		for i, c := range u {
			binary.BigEndian.PutUint16(b[2*i:], c)
		}
		return b
	}
	dir := func(self uint32, name func(string) []byte) []byte {
		var b []byte
		b = append(b, dirRecord(self, sector, true, []byte{0}, at)...)
		b = append(b, dirRecord(self, sector, true, []byte{1}, at)...)
		for i, f := range files {
			b = append(b, dirRecord(extents[i], uint32(len(f.Data)), false, name(f.Name), at)...)
		}
		return b
	}
	put(rootAt, dir(rootAt, primaryName))
	put(jrootAt, dir(jrootAt, jolietName))
	for i, f := range files {
		put(extents[i], f.Data)
	}
	put(ptL, pathTable(rootAt, binary.LittleEndian))
	put(ptM, pathTable(rootAt, binary.BigEndian))
	put(jptL, pathTable(jrootAt, binary.LittleEndian))
	put(jptM, pathTable(jrootAt, binary.BigEndian))
	put(pvdAt, volumeDescriptor(1, total, ptL, ptM, dirRecord(rootAt, sector, true, []byte{0}, at), label, at))
	put(svdAt, volumeDescriptor(2, total, jptL, jptM, dirRecord(jrootAt, sector, true, []byte{0}, at), label, at))
	term := make([]byte, sector)
	term[0] = 255
	copy(term[1:], "CD001")
	term[6] = 1
	put(termAt, term)
	return img
}

// both writes v little- then big-endian (ISO 9660's "both-byte order").
func both32(v uint32) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint32(b, v)
	binary.BigEndian.PutUint32(b[4:], v)
	return b
}

func both16(v uint16) []byte {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint16(b, v)
	binary.BigEndian.PutUint16(b[2:], v)
	return b
}

// dirRecord is one directory record.
func dirRecord(extent, size uint32, isDir bool, name []byte, at time.Time) []byte {
	n := 33 + len(name)
	if n%2 == 1 {
		n++
	}
	b := make([]byte, n)
	b[0] = byte(n)
	copy(b[2:], both32(extent))
	copy(b[10:], both32(size))
	t := at.UTC()
	copy(b[18:], []byte{byte(t.Year() - 1900), byte(t.Month()), byte(t.Day()), byte(t.Hour()), byte(t.Minute()), byte(t.Second()), 0})
	if isDir {
		b[25] = 2
	}
	copy(b[28:], both16(1))
	b[32] = byte(len(name))
	copy(b[33:], name)
	return b
}

// pathTable is a path table holding the root directory only.
func pathTable(root uint32, order binary.ByteOrder) []byte {
	b := make([]byte, 10)
	b[0] = 1
	order.PutUint32(b[2:], root)
	order.PutUint16(b[6:], 1)
	return b
}

// volumeDescriptor is a primary (kind 1) or Joliet supplementary (kind 2)
// volume descriptor.
func volumeDescriptor(kind byte, total, ptL, ptM uint32, root []byte, label string, at time.Time) []byte {
	b := make([]byte, sector)
	b[0] = kind
	copy(b[1:], "CD001")
	b[6] = 1
	text := func(off, n int, s string) {
		if kind == 1 {
			copy(b[off:off+n], fmt.Sprintf("%-*s", n, strings.ToUpper(s)))
			return
		}
		u := utf16.Encode([]rune(s))
		for i := 0; i < n/2; i++ {
			c := uint16(' ')
			if i < len(u) {
				c = u[i]
			}
			binary.BigEndian.PutUint16(b[off+2*i:], c)
		}
	}
	text(8, 32, "LINUX")
	text(40, 32, label)
	copy(b[80:], both32(total))
	if kind == 2 {
		copy(b[88:], "%/E") // Joliet, UCS-2 level 3
	}
	copy(b[120:], both16(1))
	copy(b[124:], both16(1))
	copy(b[128:], both16(sector))
	copy(b[132:], both32(10))
	binary.LittleEndian.PutUint32(b[140:], ptL)
	binary.BigEndian.PutUint32(b[148:], ptM)
	copy(b[156:], root)
	for _, off := range []int{190, 318, 446, 574} {
		text(off, 128, "")
	}
	text(574, 128, "OVM")
	for _, off := range []int{702, 739, 776} {
		text(off, 37, "")
	}
	date := []byte(at.UTC().Format("20060102150405") + "00\x00")
	copy(b[813:], date)
	copy(b[830:], date)
	copy(b[847:], "0000000000000000\x00")
	copy(b[864:], "0000000000000000\x00")
	b[881] = 1
	return b
}

// uploadSeed makes the instance's cloud-init seed volume in pool and
// uploads the ISO image to it; it returns the volume's path.
func (d *Driver) uploadSeed(ctx context.Context, pool golibvirt.StoragePool, spec hypervisor.CreateSpec) (string, error) {
	host := spec.Spec.Hostname
	if host == "" {
		host = spec.Name
	}
	iso := NoCloud{InstanceID: string(spec.ID), Hostname: host, SSHKeys: spec.Spec.SSHKeys, UserData: spec.Spec.UserData}.ISO(d.cfg.Now())
	vol, path, err := createVolume(ctx, d.l, pool, VolumeXML("ovm-"+string(spec.ID)+"-seed.iso", uint64(len(iso)), "raw", "", ""))
	if err != nil {
		return "", err
	}
	err = do(ctx, func() error { return d.l.StorageVolUpload(vol, bytes.NewReader(iso), 0, uint64(len(iso)), 0) })
	if err != nil {
		_ = d.l.StorageVolDelete(vol, 0)
		return "", wrap(err, "libvirt: upload cloud-init seed to %s", path)
	}
	return path, nil
}
