// Package sqlstore implements store.Store twice over one body of SQL: on
// CockroachDB/PostgreSQL through pgx (OpenPostgres) and on an embedded,
// pure-Go SQLite in a data directory (OpenSQLite).
//
// # One schema, two engines
//
// Every Tx method is written once, in the SQL both engines understand and
// CockroachDB accepts: no sequences, triggers, advisory locks or
// LISTEN/NOTIFY; text UUID keys, INT8 counters, ON CONFLICT upserts,
// RETURNING. A dialect supplies the few differences: column types (JSONB,
// BYTEA and TIMESTAMPTZ on PostgreSQL; TEXT, BLOB and INTEGER microseconds
// since the epoch on SQLite), the expression of the database's clock, and
// how each driver reports a unique violation or a retryable failure.
// Both engines go through database/sql (PostgreSQL with pgx's stdlib
// adapter), so rows are scanned by one code path.
//
// # Transactions
//
// Store.Tx opens a SERIALIZABLE transaction, runs the function, and
// commits. On a serialization failure (SQLSTATE 40001, anywhere in the
// function or at COMMIT) it rolls back and runs the function again from
// BEGIN after a jittered exponential backoff, until it commits or the
// context ends. The decision to retry is cockroach-go's (crdb.ExecuteCtx
// drives the attempts); restarting from BEGIN rather than from a savepoint
// is what PostgreSQL needs, where crdb.ExecuteTx's savepoint retry would
// keep the old snapshot. An attempt during which any statement reported a
// serialization failure is retried even when the function swallowed the
// error.
//
// SQLite runs one database transaction at a time (BEGIN IMMEDIATE on one
// writer connection, WAL, a busy timeout, foreign keys on); when another
// process holds the database longer than the busy timeout, SQLITE_BUSY is
// reported as a serialization failure and the transaction is retried the
// same way. Write transactions that queue while the writer is busy commit
// together (a group commit, one fsync for the batch): each function runs
// in a SAVEPOINT of its own, and one that fails or panics is rolled back
// to it without touching the others; a lone transaction never waits for
// company.
//
// # Views
//
// Store.View runs read-only work. A function that reads once runs its one
// statement outside an explicit transaction (a transaction of its own: no
// BEGIN and COMMIT, one round trip on PostgreSQL, where connections default
// to SERIALIZABLE); one that reads again gets an error for that read and
// runs again in a read-only transaction (SERIALIZABLE READ ONLY on
// PostgreSQL, a deferred transaction on SQLite), and View remembers it, by
// its code, to start it there next time. Every statement but a SELECT is
// refused with store.ErrReadOnly. On SQLite views run on a pool of
// query_only connections beside the writer: in WAL mode they neither wait
// for the writer nor make it wait, and their statements, which cannot
// wait, run to their end once started.
//
// # Prepared statements
//
// Every SQLite connection keeps its statements prepared by query text
// (SQLite would otherwise parse and plan each one per run); pgx does the
// same on PostgreSQL with its per-connection statement cache.
//
// # Migrations
//
// The schema is an ordered list of migrations, each one DDL statement
// applied in its own transaction together with its row in
// schema_migrations. Servers starting at once take turns through a lease
// row (schema_lease); each DDL statement is idempotent (IF NOT EXISTS), so
// a migration that a crashed holder left half done is simply applied again.
//
// # Errors
//
// Errors carry ovm kinds (not found, conflict, invalid, quota exceeded);
// their text names the object and never contains SQL or SQLSTATE codes,
// while the driver's error stays in the chain for errors.As and for logs.
//
// WithFaultInjector makes attempts fail on demand, so tests can prove the
// retry path deterministically on both engines.
package sqlstore
