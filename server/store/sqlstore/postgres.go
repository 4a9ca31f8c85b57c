package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// OpenPostgres connects to CockroachDB or PostgreSQL at url (a
// postgres:// URL or a key=value DSN, as pgx parses it) and applies the
// migrations. Transactions are SERIALIZABLE whatever the server's default
// (views' too: read-only). Statements are prepared once per connection
// (pgx's statement cache).
//
// The store uses database/sql over pgx's stdlib adapter rather than
// pgxpool, so that both engines share every query and every row scan; the
// driver's *pgconn.PgError stays in each error's chain.
func OpenPostgres(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: parse the database url: %w", err)
	}
	// A view's single statement runs outside an explicit transaction: make
	// it serializable too, whatever the server's or the URL's default.
	cfg.RuntimeParams["default_transaction_isolation"] = "serializable"
	o := newOptions(opts)
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(o.maxConns)
	db.SetMaxIdleConns(o.maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	d := postgresDialect
	return open(ctx, db, &d, 0, o)
}
