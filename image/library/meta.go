package library

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"

	"github.com/openovm/ovm/image"
	"github.com/openovm/ovm/ovm"
)

// metaSuffix names a template's metadata file: ".<base>.meta" beside it.
const metaSuffix = "meta"

// meta is what the library remembers of a template file so that List
// neither hashes nor inspects every file: valid while the file keeps the
// size and modification time it was written for.
type meta struct {
	Digest      string    `json:"digest"`
	Size        ovm.Bytes `json:"size"`
	ModTime     int64     `json:"mtime_ns"`
	VirtualSize ovm.Bytes `json:"virtual_size"`
}

func newMeta(st fs.FileInfo, digest string, virtualSize ovm.Bytes) meta {
	return meta{Digest: digest, Size: ovm.Bytes(st.Size()), ModTime: st.ModTime().UnixNano(), VirtualSize: virtualSize}
}

// describes reports whether m was written for the file of st as it is.
func (m meta) describes(st fs.FileInfo) bool {
	return m.Digest != "" && m.Size == ovm.Bytes(st.Size()) && m.ModTime == st.ModTime().UnixNano()
}

// image returns the image m describes.
func (m meta) image(ref ovm.ImageRef) image.Image {
	return image.Image{Ref: ref, Size: m.Size, VirtualSize: m.VirtualSize, Digest: m.Digest,
		UpdatedAt: updatedAtNano(m.ModTime)}
}

// readMeta reads a template's metadata; a missing or unreadable file is
// not an error, only a reason to hash the template again.
func (l *Library) readMeta(name string) (meta, bool) {
	b, err := l.root.ReadFile(hidden(name, metaSuffix))
	if err != nil {
		return meta{}, false
	}
	var m meta
	if json.Unmarshal(b, &m) != nil {
		return meta{}, false
	}
	return m, true
}

// writeMeta replaces a template's metadata atomically.
func (l *Library) writeMeta(name string, m meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return ovm.Internal(err, "encoding the metadata of template %s", name)
	}
	tmp := hidden(name, "meta-"+ovm.NewID().Short())
	f, err := l.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return ovm.Internal(err, "writing the metadata of template %s", name)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = l.root.Rename(tmp, hidden(name, metaSuffix))
	}
	if err != nil {
		l.root.Remove(tmp)
		return ovm.Internal(err, "writing the metadata of template %s", name)
	}
	return nil
}

// hashFile returns the digester of f's whole content, read from the
// start without moving f's offset.
func hashFile(ctx context.Context, f *os.File) (*image.Digester, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h := image.NewDigester()
	if _, err := io.Copy(h, image.ContextReader(ctx, io.NewSectionReader(f, 0, st.Size()))); err != nil {
		return nil, err
	}
	return h, nil
}
