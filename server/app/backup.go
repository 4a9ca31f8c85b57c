package app

import (
	"context"
	"fmt"
	"os"

	"github.com/openovm/ovm/server/backup"
	"github.com/openovm/ovm/server/config"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// backupOf returns what takes the online backups of st, or nil when st is
// not the embedded store (its database's own backups apply).
func backupOf(st store.Store, cfg config.Config) func(ctx context.Context) (core.Snapshot, error) {
	c, ok := st.(backup.Copier)
	if !ok || cfg.Database != "" {
		return nil
	}
	src := backup.Source{Store: c, DataDir: cfg.DataDir, SecretKeyFile: cfg.SecretKeyFile, ServerVersion: Version}
	return func(ctx context.Context) (core.Snapshot, error) { return backup.Take(ctx, src) }
}

// restore unpacks the archive cfg.Restore names into the data directory.
func restore(cfg config.Config) (backup.Manifest, error) {
	f, err := os.Open(cfg.Restore)
	if err != nil {
		return backup.Manifest{}, fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	return backup.Restore(f, cfg.DataDir, cfg.SecretKeyFile)
}
