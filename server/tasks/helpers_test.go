package tasks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/store/sqlstore"
)

// Timings of the tests: polls and leases short enough to keep the tests
// fast, long enough for two shared cores under the race detector.
const (
	testPoll = 10 * time.Millisecond
	// testTTL is the lease of engines that must not lose their tasks.
	testTTL = 5 * time.Second
	// shortTTL is the lease of engines whose tasks another engine resumes.
	shortTTL = time.Second
	// waitFor bounds every wait of a test.
	waitFor = 30 * time.Second
)

// backend opens fresh databases of one store engine.
type backend struct {
	name string
	// fresh returns the DSN of a new, empty database, removed with t.
	fresh func(t testing.TB) string
}

// backends are the engines the tests run on: SQLite always, PostgreSQL
// too under the integration build tag.
func backends() []backend {
	return append([]backend{{name: "sqlite", fresh: freshSQLite}}, integrationBackends()...)
}

// forEachBackend runs fn as a subtest on a fresh database of each engine.
func forEachBackend(t *testing.T, fn func(t *testing.T, dsn string)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { fn(t, b.fresh(t)) })
	}
}

func freshSQLite(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "db") }

// openDSN opens the store a DSN names: "sqlite:<dir>" or
// "postgres:<url>".
func openDSN(ctx context.Context, dsn string) (store.Store, error) {
	engine, rest, _ := strings.Cut(dsn, ":")
	switch engine {
	case "sqlite":
		return sqlstore.OpenSQLite(ctx, rest)
	case "postgres":
		return sqlstore.OpenPostgres(ctx, rest)
	}
	return nil, fmt.Errorf("unknown store dsn %q", dsn)
}

// openStore opens dsn's store, closed with t.
func openStore(t testing.TB, dsn string) store.Store {
	t.Helper()
	st, err := openDSN(context.Background(), dsn)
	require.NoError(t, err, "open the store %s: got an error, want none", dsn)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// newStore opens a fresh SQLite store: for tests of the engine's own logic
// that do not depend on the store engine.
func newStore(t testing.TB) store.Store { return openStore(t, freshSQLite(t)) }

// testOptions are the options of a test engine named owner.
func testOptions(owner string) Options {
	return Options{Owner: owner, LeaseTTL: testTTL, PollInterval: testPoll, Workers: 4, PerHost: 4}
}

// start runs e until the test ends; the cleanup checks that Run returned
// nil. It returns a function that stops the engine and waits for Run.
func start(t testing.TB, e *Engine) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run of %s: got %v, want nil", e.Owner(), err)
				}
			case <-time.After(waitFor):
				t.Errorf("Run of %s did not return %s after its context ended", e.Owner(), waitFor)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// tb is what the helpers below need of a test; *testing.T and *rapid.T
// have it.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	FailNow()
}

// enqueue records a task for spec in a transaction of its own and kicks e.
func enqueue(t tb, st store.Store, e *Engine, spec Spec) ovm.Task {
	t.Helper()
	var task ovm.Task
	err := st.Tx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		task, err = e.Enqueue(ctx, tx, spec)
		return err
	})
	require.NoError(t, err, "Enqueue %s: got an error, want none", spec.Kind)
	e.Kick()
	return task
}

// wait waits until the task is final and returns it.
func wait(t tb, e *Engine, id ovm.ID) ovm.Task {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	task, err := e.Wait(ctx, id)
	require.NoError(t, err, "Wait %s: got an error, want none (last seen: %+v)", id, task)
	return task
}

// getTask reads a task from the store.
func getTask(t tb, st store.Store, id ovm.ID) store.TaskRecord {
	t.Helper()
	var rec store.TaskRecord
	require.NoError(t, st.Tx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		rec, err = tx.GetTask(ctx, id)
		return err
	}))
	return rec
}

// handlerFunc is a Handler from a function.
type handlerFunc func(t *store.TaskRecord) ([]Step, error)

func (f handlerFunc) Steps(t *store.TaskRecord) ([]Step, error) { return f(t) }

// journal records what steps did, in order, safe for concurrent use.
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, fmt.Sprintf(format, args...))
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.lines)
}

func (j *journal) count(line string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := 0
	for _, l := range j.lines {
		if l == line {
			n++
		}
	}
	return n
}

// stepNames returns the names of a task's steps.
func stepNames(t ovm.Task) []string {
	out := make([]string, len(t.Steps))
	for i, s := range t.Steps {
		out[i] = s.Name
	}
	return out
}

// stepStates returns the states of a task's steps.
func stepStates(t ovm.Task) []ovm.StepState {
	out := make([]ovm.StepState, len(t.Steps))
	for i, s := range t.Steps {
		out[i] = s.State
	}
	return out
}

// logText joins a task's log messages, one per line.
func logText(t ovm.Task) string {
	var b strings.Builder
	for _, l := range t.Log {
		fmt.Fprintf(&b, "%s %s\n", l.Level, l.Message)
	}
	return b.String()
}

// syncBuffer is a bytes.Buffer safe for concurrent writes, for loggers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bufferLogger returns a logger writing text lines into a buffer.
func bufferLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// renewFaults is a store whose RenewTask fails while failing is set, as if
// the database were out of reach for that one engine.
type renewFaults struct {
	store.Store
	mu      sync.Mutex
	failing bool
}

func (s *renewFaults) set(failing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = failing
}

func (s *renewFaults) Tx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return wrapTx(ctx, s.Store, fn, func(tx store.Tx) store.Tx { return &renewFaultsTx{Tx: tx, s: s} })
}

// wrapTx runs fn in a transaction of st that fn sees through wrap.
func wrapTx(ctx context.Context, st store.Store, fn func(ctx context.Context, tx store.Tx) error, wrap func(store.Tx) store.Tx) error {
	return st.Tx(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, wrap(tx)) })
}

type renewFaultsTx struct {
	store.Tx
	s *renewFaults
}

func (t *renewFaultsTx) RenewTask(ctx context.Context, id ovm.ID, owner string, ttl time.Duration) error {
	t.s.mu.Lock()
	failing := t.s.failing
	t.s.mu.Unlock()
	if failing {
		return ovm.Wrap(ovm.KindUnavailable, errors.New("connection refused"), "store: renew the lease of task %s", id)
	}
	return t.Tx.RenewTask(ctx, id, owner, ttl)
}
