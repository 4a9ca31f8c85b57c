package libvirt

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

// qcow2Header is the start of a version 3 qcow2 image, with a backing file
// offset and incompatible feature bits.
func qcow2Header(backing uint64, incompatible uint64) []byte {
	h := make([]byte, 512)
	copy(h, "QFI\xfb")
	binary.BigEndian.PutUint32(h[4:], 3)
	binary.BigEndian.PutUint64(h[8:], backing)
	binary.BigEndian.PutUint64(h[72:], incompatible)
	return h
}

// TestCheckTemplateHeader: only raw contents and self-contained qcow2
// images are delivered; images that make qemu-img read other host files
// are refused, naming the body.
func TestCheckTemplateHeader(t *testing.T) {
	for _, tt := range []struct {
		name string
		head []byte
		ok   bool
	}{
		{"raw zeros", make([]byte, 4096), true},
		{"short raw", []byte("x"), true},
		{"empty", nil, true},
		{"qcow2", qcow2Header(0, 0), true},
		{"qcow2 with a dirty bit", qcow2Header(0, 1), true},
		{"qcow2 with a backing file", qcow2Header(0x210, 0), false},
		{"qcow2 with an external data file", qcow2Header(0, 4), false},
		{"sparse vmdk", append([]byte("KDMV"), make([]byte, 508)...), false},
		{"vmdk descriptor", []byte("# Disk DescriptorFile\nRW 2048 FLAT \"/etc/shadow\" 0\n"), false},
		{"qed", append([]byte("QED\x00"), make([]byte, 60)...), false},
		{"vhdx", []byte("vhdxfile...."), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := checkTemplateHeader(bufio.NewReader(bytes.NewReader(tt.head)))
			if tt.ok {
				assert.NoError(t, err, "checkTemplateHeader: got an error, want none")
				return
			}
			require.ErrorIs(t, err, ovm.ErrInvalid, "checkTemplateHeader: got %v, want ovm.ErrInvalid", err)
			assert.Equal(t, "body", ovm.FieldsOf(err)[0].Field, "checkTemplateHeader: field")
		})
	}
}
