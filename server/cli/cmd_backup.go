package cli

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func adminCommands() *command {
	return &command{name: "admin", summary: "Operate the server (administrators)", sub: []*command{
		{name: "backup", summary: "Save an online backup of the embedded store and the secret key", run: (*app).adminBackup},
	}}
}

func (a *app) adminBackup(path string, args []string) error {
	f := a.flags(path, "FILE",
		"Save an online backup of the server's embedded store, with the key that encrypts the host credentials,\n"+
			"to FILE (a gzip-compressed tar archive; mode 0600: it holds the secret key). The server keeps serving.\n"+
			"Restore it with 'ovm server --restore FILE --data-dir EMPTY-DIR'. PostgreSQL and CockroachDB deployments\n"+
			"use their databases' own backups and keep a copy of the secret key file.")
	pos, err := f.parseN(args, "FILE")
	if err != nil {
		return err
	}
	file := pos[0]
	if _, err := os.Stat(file); err == nil {
		return fmt.Errorf("%s exists: choose a new file", file)
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // a no-op after the rename
	n, err := cl.Backup(a.ctx, tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	members, err := checkArchive(tmp.Name())
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if a.structured() {
		return a.show(map[string]any{"file": file, "bytes": n, "members": members}, nil)
	}
	fmt.Fprintf(a.env.Stdout, "Saved a backup of %s to %s (%d bytes: %v).\n", cl.BaseURL(), file, n, members)
	return nil
}

// checkArchive reads a backup archive to its end (a stream cut short
// fails its gzip check) and returns its members.
func checkArchive(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("backup: the server's archive is damaged: %w", err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			names = append(names, h.Name)
			_, err = io.Copy(io.Discard, tr)
		}
		if err != nil {
			return nil, fmt.Errorf("backup: the server's archive is damaged or cut short: %w", err)
		}
	}
	// The tar ends before the gzip stream: its end holds the checksum.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return nil, fmt.Errorf("backup: the server's archive is damaged or cut short: %w", err)
	}
	if len(names) == 0 || names[0] != "manifest.json" {
		return nil, errors.New("backup: the server's answer is not a backup archive")
	}
	return names, nil
}
