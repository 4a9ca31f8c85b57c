package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
)

// maxCachedStmts bounds the prepared statements one connection keeps; a
// query beyond them is prepared for its one run, as without the cache.
const maxCachedStmts = 256

// cachingConnector gives each connection of an embedded SQLite database a
// cache of prepared statements by query text. SQLite parses and plans a
// statement for every query that is not prepared, which costs more than
// a small read itself; database/sql's own prepared statements need a free
// connection to prepare on, which a pool whose connections are all in
// transactions (SQLite's writer has one) does not have.
type cachingConnector struct {
	driver.Connector
}

// Connect opens a connection with an empty cache.
func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	for _, ok := range []bool{
		implements[driver.ConnBeginTx](conn), implements[driver.ConnPrepareContext](conn),
		implements[driver.Pinger](conn), implements[driver.SessionResetter](conn), implements[driver.Validator](conn),
	} {
		if !ok {
			_ = conn.Close()
			return nil, errors.New("sqlstore: the sqlite driver's connections lack an interface the statement cache needs")
		}
	}
	return &cachingConn{Conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

func implements[T any](v any) bool {
	_, ok := v.(T)
	return ok
}

// cachingConn is a driver connection that runs queries through prepared
// statements it keeps. database/sql uses a connection from one goroutine
// at a time, so the cache needs no lock.
type cachingConn struct {
	driver.Conn
	stmts map[string]*cachedStmt
}

// cachedStmt is a prepared statement; busy while its rows are open, when
// a query of the same text gets a statement of its own.
type cachedStmt struct {
	c     *cachingConn
	query string
	stmt  driver.Stmt
	busy  bool
	// oneOff statements are not in the cache: closed after their run.
	oneOff bool
}

var (
	_ driver.QueryerContext     = (*cachingConn)(nil)
	_ driver.ExecerContext      = (*cachingConn)(nil)
	_ driver.ConnBeginTx        = (*cachingConn)(nil)
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
	_ driver.Pinger             = (*cachingConn)(nil)
	_ driver.SessionResetter    = (*cachingConn)(nil)
	_ driver.Validator          = (*cachingConn)(nil)
)

// stmt returns the prepared statement of query: the cached one when it is
// free, else a new one (cached when there is room).
func (c *cachingConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	cs, ok := c.stmts[query]
	if ok && !cs.busy {
		return cs, nil
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs = &cachedStmt{c: c, query: query, stmt: st, oneOff: ok || len(c.stmts) >= maxCachedStmts}
	if !cs.oneOff {
		c.stmts[query] = cs
	}
	return cs, nil
}

// release ends a run of the statement; a failed run drops it from the
// cache, so that a statement in an unknown state is never run again.
func (cs *cachedStmt) release(failed bool) {
	cs.busy = false
	if failed && !cs.oneOff {
		delete(cs.c.stmts, cs.query)
		cs.oneOff = true
	}
	if cs.oneOff {
		_ = cs.stmt.Close()
	}
}

// QueryContext runs a query through its prepared statement.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		cs.release(true)
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, cs: cs}, nil
}

// ExecContext runs a statement through its prepared statement.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	res, err := cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
	cs.release(err != nil)
	return res, err
}

// PrepareContext prepares a statement the caller owns.
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

// BeginTx begins a transaction.
func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// Ping checks the connection.
func (c *cachingConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

// ResetSession is called before a connection is reused.
func (c *cachingConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

// IsValid reports whether the connection may go back to the pool.
func (c *cachingConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

// Close closes the cached statements and the connection.
func (c *cachingConn) Close() error {
	var errs []error
	for q, cs := range c.stmts {
		errs = append(errs, cs.stmt.Close())
		delete(c.stmts, q)
	}
	errs = append(errs, c.Conn.Close())
	return errors.Join(errs...)
}

// cachedRows gives the statement back when the rows are closed.
type cachedRows struct {
	driver.Rows
	cs     *cachedStmt
	closed bool
}

// Close closes the rows and releases their statement.
func (r *cachedRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.Rows.Close()
	r.cs.release(err != nil)
	return err
}
