package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/openovm/ovm/ovm"
)

// migration is one step of the schema: a single DDL statement, idempotent
// (IF NOT EXISTS), in the dialect's {tokens}.
type migration struct {
	version int64
	name    string
	ddl     string
}

// migrations is the schema, in order. Append only: a released migration
// never changes.
var migrations = []migration{
	{1, "records", `CREATE TABLE IF NOT EXISTS records (
		kind TEXT NOT NULL,
		id TEXT NOT NULL,
		vdc_id TEXT NOT NULL,
		parent_id TEXT NOT NULL,
		host_id TEXT NOT NULL,
		name TEXT NOT NULL,
		version INT8 NOT NULL,
		data {json} NOT NULL,
		created_at {time} NOT NULL,
		updated_at {time} NOT NULL,
		PRIMARY KEY (kind, id))`},
	{2, "records_name", `CREATE UNIQUE INDEX IF NOT EXISTS records_name ON records (kind, vdc_id, name)`},
	{3, "records_vdc", `CREATE INDEX IF NOT EXISTS records_vdc ON records (kind, vdc_id, id)`},
	{4, "records_parent", `CREATE INDEX IF NOT EXISTS records_parent ON records (kind, parent_id, id)`},
	{5, "records_host", `CREATE INDEX IF NOT EXISTS records_host ON records (kind, host_id, id)`},
	{6, "quotas", `CREATE TABLE IF NOT EXISTS quotas (
		vdc_id TEXT NOT NULL PRIMARY KEY,
		limit_cpu INT8 NOT NULL,
		limit_memory INT8 NOT NULL,
		limit_disk INT8 NOT NULL,
		limit_instances INT8 NOT NULL,
		limit_networks INT8 NOT NULL,
		used_cpu INT8 NOT NULL DEFAULT 0,
		used_memory INT8 NOT NULL DEFAULT 0,
		used_disk INT8 NOT NULL DEFAULT 0,
		used_instances INT8 NOT NULL DEFAULT 0,
		used_networks INT8 NOT NULL DEFAULT 0,
		updated_at {time} NOT NULL)`},
	{7, "ip_allocations", `CREATE TABLE IF NOT EXISTS ip_allocations (
		network_id TEXT NOT NULL,
		ip TEXT NOT NULL,
		owner_id TEXT NOT NULL,
		created_at {time} NOT NULL,
		PRIMARY KEY (network_id, ip))`},
	{8, "ip_allocations_owner", `CREATE INDEX IF NOT EXISTS ip_allocations_owner ON ip_allocations (owner_id)`},
	{9, "tokens", `CREATE TABLE IF NOT EXISTS tokens (
		id TEXT NOT NULL PRIMARY KEY,
		user_id TEXT NOT NULL,
		name TEXT NOT NULL,
		hash {bytes} NOT NULL,
		is_session {bool} NOT NULL,
		expires_at {time},
		created_at {time} NOT NULL,
		last_used {time})`},
	{10, "tokens_hash", `CREATE UNIQUE INDEX IF NOT EXISTS tokens_hash ON tokens (hash)`},
	{11, "tokens_user", `CREATE INDEX IF NOT EXISTS tokens_user ON tokens (user_id, created_at, id)`},
	{12, "tasks", `CREATE TABLE IF NOT EXISTS tasks (
		id TEXT NOT NULL PRIMARY KEY,
		vdc_id TEXT NOT NULL,
		host_id TEXT NOT NULL,
		kind TEXT NOT NULL,
		state TEXT NOT NULL,
		final {bool} NOT NULL,
		task {json} NOT NULL,
		input {json},
		state_data {json},
		lease_owner TEXT NOT NULL,
		lease_expires {time},
		version INT8 NOT NULL,
		created_at {time} NOT NULL,
		updated_at {time} NOT NULL)`},
	{13, "tasks_vdc", `CREATE INDEX IF NOT EXISTS tasks_vdc ON tasks (vdc_id, id)`},
	{14, "tasks_claim", `CREATE INDEX IF NOT EXISTS tasks_claim ON tasks (final, created_at, id)`},
	{15, "leases", `CREATE TABLE IF NOT EXISTS leases (
		name TEXT NOT NULL PRIMARY KEY,
		holder TEXT NOT NULL,
		epoch INT8 NOT NULL,
		expires_at {time} NOT NULL)`},
	{16, "idempotency", `CREATE TABLE IF NOT EXISTS idempotency (
		scope TEXT NOT NULL,
		idem_key TEXT NOT NULL,
		request_hash {bytes} NOT NULL,
		status INT8 NOT NULL,
		response {json},
		created_at {time} NOT NULL,
		PRIMARY KEY (scope, idem_key))`},
	{17, "host_allocations", `CREATE TABLE IF NOT EXISTS host_allocations (
		host_id TEXT NOT NULL PRIMARY KEY,
		cpu INT8 NOT NULL,
		memory INT8 NOT NULL,
		disk INT8 NOT NULL,
		instances INT8 NOT NULL)`},
	{18, "host_groups", `CREATE TABLE IF NOT EXISTS host_groups (
		host_id TEXT NOT NULL,
		group_id TEXT NOT NULL,
		members INT8 NOT NULL,
		PRIMARY KEY (host_id, group_id))`},
	{19, "pool_cursors", `CREATE TABLE IF NOT EXISTS pool_cursors (
		pool_id TEXT NOT NULL PRIMARY KEY,
		last_host TEXT NOT NULL)`},
	// Metrics (metrics.go): keyed by subject first, so that writes of one
	// round spread over the key space instead of all landing on the
	// newest time; times are seconds (buckets) and microseconds (latest).
	{50, "metric_points", `CREATE TABLE IF NOT EXISTS metric_points (
		subject_id TEXT NOT NULL,
		res INT8 NOT NULL,
		bucket INT8 NOT NULL,
		samples INT8 NOT NULL,
		cpu_sum FLOAT8 NOT NULL,
		cpu_max FLOAT8 NOT NULL,
		mem_sum INT8 NOT NULL,
		mem_max INT8 NOT NULL,
		mem_limit INT8 NOT NULL,
		seconds FLOAT8 NOT NULL,
		net_rx INT8 NOT NULL,
		net_tx INT8 NOT NULL,
		disk_read INT8 NOT NULL,
		disk_write INT8 NOT NULL,
		disk_read_ops INT8 NOT NULL,
		disk_write_ops INT8 NOT NULL,
		PRIMARY KEY (subject_id, res, bucket))`},
	{51, "metric_latest", `CREATE TABLE IF NOT EXISTS metric_latest (
		subject_id TEXT NOT NULL PRIMARY KEY,
		kind TEXT NOT NULL,
		vdc_id TEXT NOT NULL,
		host_id TEXT NOT NULL,
		instance_type TEXT NOT NULL,
		at_us INT8 NOT NULL,
		cpu FLOAT8 NOT NULL,
		mem_used INT8 NOT NULL,
		mem_limit INT8 NOT NULL,
		seconds FLOAT8 NOT NULL,
		net_rx INT8 NOT NULL,
		net_tx INT8 NOT NULL,
		disk_read INT8 NOT NULL,
		disk_write INT8 NOT NULL,
		disk_read_ops INT8 NOT NULL,
		disk_write_ops INT8 NOT NULL)`},
	{80, "audit_events", `CREATE TABLE IF NOT EXISTS audit_events (
		bucket INT8 NOT NULL,
		id TEXT NOT NULL,
		at {time} NOT NULL,
		vdc_id TEXT NOT NULL,
		user_name TEXT NOT NULL,
		operation TEXT NOT NULL,
		object_id TEXT NOT NULL,
		outcome TEXT NOT NULL,
		data {json} NOT NULL,
		PRIMARY KEY (bucket, id))`},
	{81, "audit_events_vdc", `CREATE INDEX IF NOT EXISTS audit_events_vdc ON audit_events (vdc_id, bucket, id)`},
}

// bootstrap creates the two tables the migrations themselves need.
var bootstrap = []string{
	`CREATE TABLE IF NOT EXISTS schema_migrations (
		version INT8 NOT NULL PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at {time} NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS schema_lease (
		name TEXT NOT NULL PRIMARY KEY,
		holder TEXT NOT NULL,
		expires_at {time} NOT NULL)`,
}

// ErrNewerSchema is in the chain of the error Open returns for a database
// that a newer server migrated: this server refuses to run on it.
var ErrNewerSchema = errors.New("the database's schema is newer than this server")

// schema is the migrations this store applies: all of them, or the first
// few of an older schema (withSchemaOf, in upgrade tests).
func (s *Store) schema() []migration {
	if n := s.o.schemaOf; n > 0 && n < len(migrations) {
		return migrations[:n]
	}
	return migrations
}

// withSchemaOf makes a store apply only the first n migrations: a
// database as an older server made it, for upgrade tests.
func withSchemaOf(n int) Option { return func(o *options) { o.schemaOf = n } }

// SchemaVersion is the version of the newest migration this package
// applies.
func SchemaVersion() int64 { return migrations[len(migrations)-1].version }

// migrate applies the migrations the database lacks. Servers migrating at
// once take turns through the lease row "migrate" of schema_lease (expiry
// by the database's clock); each applies a migration and records it in
// schema_migrations in one transaction, after checking it still holds the
// lease.
func (s *Store) migrate(ctx context.Context) error {
	for _, q := range bootstrap {
		if err := s.createRacing(ctx, q); err != nil {
			return fmt.Errorf("store: create the migration tables: %w", err)
		}
	}
	holder := string(ovm.NewID())
	for {
		pending, err := s.pending(ctx)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		held, err := s.takeMigrationLease(ctx, holder)
		if err != nil {
			return err
		}
		if held {
			break
		}
		// Another server is migrating: wait for it, or for its lease to
		// expire.
		if err := pause(ctx, 50*time.Millisecond+rand.N(100*time.Millisecond)); err != nil {
			return fmt.Errorf("store: wait for another server's migration: %w", err)
		}
	}
	defer s.releaseMigrationLease(ctx, holder)
	for _, m := range s.schema() {
		if err := s.apply(ctx, holder, m); err != nil {
			return err
		}
	}
	return nil
}

// createRacing runs a bootstrap CREATE ... IF NOT EXISTS outside a
// transaction. PostgreSQL may fail one of two concurrent creates of the
// same table (a unique violation in its catalog, or "already exists"): run
// it again, the table is then there.
func (s *Store) createRacing(ctx context.Context, q string) error {
	var err error
	for range 10 {
		if _, err = s.db.ExecContext(ctx, s.sql(q)); err == nil {
			return nil
		}
		var pe *pgconn.PgError
		raced := s.d.unique(err) || s.d.busy(err) || retryable(err) ||
			// duplicate_table, or duplicate_object for the table's row
			// type when two CREATE TABLE IF NOT EXISTS race on PostgreSQL.
			(errors.As(err, &pe) && (pe.Code == "42P07" || pe.Code == "42710"))
		if !raced {
			return err
		}
		if err := pause(ctx, rand.N(50*time.Millisecond)); err != nil {
			return err
		}
	}
	return err
}

// pending returns the migrations not yet recorded.
func (s *Store) pending(ctx context.Context) ([]migration, error) {
	var out []migration
	err := s.run(ctx, false, func(ctx context.Context, t *tx) error {
		out = out[:0]
		done, err := collect(ctx, t, func(r rowScanner) (int64, error) {
			var v int64
			return v, r.Scan(&v)
		}, `SELECT version FROM schema_migrations`)
		if err != nil {
			return err
		}
		have := make(map[int64]bool, len(done))
		for _, v := range done {
			have[v] = true
		}
		known := make(map[int64]bool, len(migrations))
		for _, m := range migrations {
			known[m.version] = true
		}
		for _, v := range done {
			if !known[v] {
				return withKind(ovm.KindUnavailable, ErrNewerSchema,
					"the database has schema migration %d, which this server does not know: a newer OVM server made it; run that version or newer", v)
			}
		}
		for _, m := range s.schema() {
			if !have[m.version] {
				out = append(out, m)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: read the schema version: %w", err)
	}
	return out, nil
}

// takeMigrationLease takes the lease when it is free, expired or already
// holder's.
func (s *Store) takeMigrationLease(ctx context.Context, holder string) (bool, error) {
	var held bool
	err := s.run(ctx, false, func(ctx context.Context, t *tx) error {
		n, err := t.exec(ctx, `INSERT INTO schema_lease (name, holder, expires_at)
			VALUES ('migrate', $1, `+s.d.nowPlus("$2")+`)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE schema_lease.holder = excluded.holder OR schema_lease.expires_at < {now}`,
			holder, micros(s.o.leaseTTL))
		held = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: take the migration lease: %w", err)
	}
	return held, nil
}

// releaseMigrationLease gives the lease up, even when ctx has ended.
func (s *Store) releaseMigrationLease(ctx context.Context, holder string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = s.run(ctx, false, func(ctx context.Context, t *tx) error {
		_, err := t.exec(ctx, `DELETE FROM schema_lease WHERE name = 'migrate' AND holder = $1`, holder)
		return err
	})
}

// apply runs one migration unless it is recorded, in one transaction with
// its record, while holder holds the lease.
func (s *Store) apply(ctx context.Context, holder string, m migration) error {
	err := s.run(ctx, false, func(ctx context.Context, t *tx) error {
		n, err := t.exec(ctx, `UPDATE schema_lease SET expires_at = `+s.d.nowPlus("$2")+`
			WHERE name = 'migrate' AND holder = $1`, holder, micros(s.o.leaseTTL))
		if err != nil {
			return err
		}
		if n == 0 {
			return withKind(ovm.KindUnavailable, nil, "another server took over the migration lease")
		}
		var one int64
		switch err := t.scan(ctx, `SELECT 1 FROM schema_migrations WHERE version = $1`, []any{m.version}, &one); {
		case err == nil:
			return nil // applied already
		case !isNoRows(err):
			return err
		}
		if _, err := t.exec(ctx, m.ddl); err != nil {
			return err
		}
		_, err = t.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, {now})`,
			m.version, m.name)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: migration %d (%s): %w", m.version, m.name, err)
	}
	return nil
}

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
