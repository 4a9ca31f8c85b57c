package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"

	"github.com/openovm/ovm/ovm"
)

// errBackupEngine is the backup of a database this store cannot copy.
var errBackupEngine = errors.New("an online backup is for the embedded store")

// BackupTo writes a consistent copy of the embedded store, taken while it
// serves, to path, which must not exist (SQLite's VACUUM INTO on a reader
// connection: a snapshot of one point in time that writers do not wait
// for). PostgreSQL and CockroachDB deployments use their own backups
// (pg_dump, CockroachDB's BACKUP): ovm.ErrUnsupported.
func (s *Store) BackupTo(ctx context.Context, path string) error {
	if s.d.name != "sqlite" {
		return ovm.Wrap(ovm.KindUnsupported, errBackupEngine, "use the %s database's own backups", s.d.name)
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("store: backup to %s: the file exists", path)
	}
	// A reader connection of its own, allowed to write the copy (the
	// readers are query_only), and closed afterwards rather than given
	// back to the views.
	conn, err := s.rdb.Conn(ctx)
	if err != nil {
		return ovm.Internal(fmt.Errorf("store: a connection for the backup: %w", err), "copy the database")
	}
	defer func() {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		_ = conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, `PRAGMA query_only = 0`); err != nil {
		return ovm.Internal(fmt.Errorf("store: prepare the backup: %w", err), "copy the database")
	}
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		_ = os.Remove(path)
		return ovm.Internal(fmt.Errorf("store: copy the database to %s: %w", path, err), "copy the database")
	}
	return nil
}
