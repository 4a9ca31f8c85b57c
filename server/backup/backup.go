package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/openovm/ovm/server/store/sqlstore"
	"github.com/openovm/ovm/server/tlscert"
)

// Format is the version of the archive's layout.
const Format = 1

// The names of the archive's members.
const (
	ManifestName = "manifest.json"
	DatabaseName = sqlstore.SQLiteFile
	KeyName      = "secret.key"
)

// Manifest describes an archive.
type Manifest struct {
	Format        int       `json:"format"`
	CreatedAt     time.Time `json:"createdAt"`
	ServerVersion string    `json:"serverVersion"`
	SchemaVersion int64     `json:"schemaVersion"`
	// Files are the members after the manifest, with their sizes.
	Files map[string]int64 `json:"files"`
}

// Copier is a store that copies itself online to a new file.
type Copier interface {
	BackupTo(ctx context.Context, path string) error
}

// Source is what a backup copies.
type Source struct {
	Store Copier
	// DataDir holds the store (and the temporary copy while a backup
	// runs) and, when the server generated it, the self-signed
	// certificate.
	DataDir       string
	SecretKeyFile string
	ServerVersion string
}

// Snapshot is a backup taken and ready to stream; Close removes its
// temporary copy.
type Snapshot struct {
	dir      string
	manifest Manifest
	paths    map[string]string // member name → file
	order    []string
}

// Take copies the store (a consistent copy while it serves) and notes the
// other files, so that what can fail fails before anything is streamed.
func Take(ctx context.Context, src Source) (_ *Snapshot, err error) {
	dir, err := os.MkdirTemp(src.DataDir, ".backup-")
	if err != nil {
		return nil, fmt.Errorf("backup: a temporary directory: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	s := &Snapshot{dir: dir, paths: map[string]string{}, manifest: Manifest{Format: Format, CreatedAt: time.Now().UTC(),
		ServerVersion: src.ServerVersion, SchemaVersion: sqlstore.SchemaVersion(), Files: map[string]int64{}}}
	db := filepath.Join(dir, DatabaseName)
	if err := src.Store.BackupTo(ctx, db); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	s.add(DatabaseName, db)
	if _, err := os.Stat(src.SecretKeyFile); err != nil {
		return nil, fmt.Errorf("backup: the secret key: %w", err)
	}
	s.add(KeyName, src.SecretKeyFile)
	for _, name := range []string{tlscert.CertFile, tlscert.KeyFile} {
		p := filepath.Join(src.DataDir, name)
		if _, err := os.Stat(p); err == nil {
			s.add(name, p)
		}
	}
	for _, name := range s.order {
		st, err := os.Stat(s.paths[name])
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		s.manifest.Files[name] = st.Size()
	}
	return s, nil
}

func (s *Snapshot) add(name, path string) {
	s.paths[name] = path
	s.order = append(s.order, name)
}

// Manifest returns what the archive will say of itself.
func (s *Snapshot) Manifest() Manifest { return s.manifest }

// WriteTo streams the archive to w.
func (s *Snapshot) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	zw := gzip.NewWriter(cw)
	tw := tar.NewWriter(zw)
	m, err := json.MarshalIndent(s.manifest, "", "  ")
	if err != nil {
		return cw.n, fmt.Errorf("backup: encode the manifest: %w", err)
	}
	if err := writeMember(tw, ManifestName, int64(len(m)), bytes.NewReader(m)); err != nil {
		return cw.n, err
	}
	for _, name := range s.order {
		if err := copyMember(tw, name, s.paths[name], s.manifest.Files[name]); err != nil {
			return cw.n, err
		}
	}
	if err := tw.Close(); err != nil {
		return cw.n, fmt.Errorf("backup: %w", err)
	}
	if err := zw.Close(); err != nil {
		return cw.n, fmt.Errorf("backup: %w", err)
	}
	return cw.n, nil
}

// Close removes the temporary copy.
func (s *Snapshot) Close() error { return os.RemoveAll(s.dir) }

func copyMember(tw *tar.Writer, name, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	return writeMember(tw, name, size, io.LimitReader(f, size))
}

func writeMember(tw *tar.Writer, name string, size int64, r io.Reader) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: time.Now(), Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("backup: %s: %w", name, err)
	}
	if _, err := io.Copy(tw, r); err != nil {
		return fmt.Errorf("backup: %s: %w", name, err)
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ErrNotEmpty is returned by Restore into a data directory that has a
// store or a secret key already.
var ErrNotEmpty = errors.New("the data directory is not empty")

// Restore unpacks an archive into dataDir (the store, the self-signed
// certificate) and keyFile (the secret key). It refuses a data directory
// that holds a store or a key already, an archive without its manifest,
// of another format, with a member it does not know or shorter than its
// manifest says. On failure it removes what it wrote.
func Restore(r io.Reader, dataDir, keyFile string) (_ Manifest, err error) {
	dest := map[string]string{DatabaseName: filepath.Join(dataDir, DatabaseName), KeyName: keyFile,
		tlscert.CertFile: filepath.Join(dataDir, tlscert.CertFile), tlscert.KeyFile: filepath.Join(dataDir, tlscert.KeyFile)}
	for _, name := range []string{DatabaseName, KeyName} {
		if _, err := os.Stat(dest[name]); !errors.Is(err, fs.ErrNotExist) {
			return Manifest{}, fmt.Errorf("restore: %s: %w", dest[name], ErrNotEmpty)
		}
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return Manifest{}, fmt.Errorf("restore: %w", err)
	}
	var written []string
	defer func() {
		if err != nil {
			for _, p := range written {
				_ = os.Remove(p)
			}
		}
	}()
	zr, err := gzip.NewReader(r)
	if err != nil {
		return Manifest{}, fmt.Errorf("restore: not a backup archive: %w", err)
	}
	tr := tar.NewReader(zr)
	h, err := tr.Next()
	if err != nil || h.Name != ManifestName {
		return Manifest{}, errors.New("restore: not a backup archive: it does not start with its manifest")
	}
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("restore: the manifest: %w", err)
	}
	if m.Format != Format {
		return Manifest{}, fmt.Errorf("restore: archive format %d: this server reads format %d", m.Format, Format)
	}
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Manifest{}, fmt.Errorf("restore: the archive is damaged: %w", err)
		}
		path, ok := dest[h.Name]
		want, listed := m.Files[h.Name]
		if !ok || !listed || seen[h.Name] {
			return Manifest{}, fmt.Errorf("restore: unexpected member %q in the archive", h.Name)
		}
		if h.Size != want {
			return Manifest{}, fmt.Errorf("restore: %s has %d bytes, the manifest says %d", h.Name, h.Size, want)
		}
		seen[h.Name] = true
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return Manifest{}, fmt.Errorf("restore: %w", err)
		}
		written = append(written, path)
		if err := writeFile(path, tr, want); err != nil {
			return Manifest{}, err
		}
	}
	// The tar ends before the gzip stream does: read its end, which checks
	// the archive's checksum and length.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return Manifest{}, fmt.Errorf("restore: the archive is damaged: %w", err)
	}
	for name := range m.Files {
		if !seen[name] {
			return Manifest{}, fmt.Errorf("restore: the archive lacks %s", name)
		}
	}
	if !seen[DatabaseName] || !seen[KeyName] {
		return Manifest{}, errors.New("restore: the archive lacks the store or the secret key")
	}
	return m, nil
}

func writeFile(path string, r io.Reader, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	n, err := io.Copy(f, r)
	if err == nil && n != size {
		err = fmt.Errorf("%d bytes of %d", n, size)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("restore: %s: %w", filepath.Base(path), err)
	}
	return nil
}
