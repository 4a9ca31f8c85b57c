package sqlstore

import "sync/atomic"

// Stats counts a store's work since it opened: what a benchmark divides by
// the operations it ran to see the round trips each costs.
type Stats struct {
	// Transactions counts the attempts that began a transaction (BEGIN).
	Transactions int64
	// Statements counts the statements run, in transactions or alone,
	// BEGIN and COMMIT not included.
	Statements int64
	// Retries counts the attempts run again after a serialization failure.
	Retries int64
}

// counters are a store's Stats as they grow.
type counters struct {
	transactions, statements, retries atomic.Int64
}

// Stats returns the store's counts so far.
func (s *Store) Stats() Stats {
	return Stats{Transactions: s.n.transactions.Load(), Statements: s.n.statements.Load(), Retries: s.n.retries.Load()}
}
