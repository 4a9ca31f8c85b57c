package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// Step is one step of a task.
type Step struct {
	// Name is shown to clients and recorded when the task is enqueued; a
	// resumed task must get the same names back from its handler.
	Name string
	// Do does the step's work. It must be idempotent: a step interrupted
	// by a crash runs again. Its error's text, which should keep the
	// hypervisor's own message, becomes the task's Error. It must return
	// promptly once ctx ends: the engine ends ctx when it shuts down or
	// cannot renew the lease, and another engine may run the step once
	// the lease expired.
	Do func(ctx context.Context, r *Run) error
	// Undo is the step's compensation, run when a later step fails; nil
	// means there is nothing to undo. It must be idempotent too.
	Undo func(ctx context.Context, r *Run) error
}

// Handler is a task kind.
type Handler interface {
	// Steps returns the task's steps from its record (its input). It is
	// called at Enqueue, inside the enqueuing transaction, to record the
	// step names, and again whenever a worker (re)starts the task, so it
	// must be pure: no I/O, and the same names for the same record.
	Steps(t *store.TaskRecord) ([]Step, error)
}

// Finisher may be implemented by a Handler to update domain records when a
// task ends (mark an instance failed, say). Finish is called once the final
// state is known and before it is saved, so a crash in between calls it
// again on the replica that resumes the task: it must be idempotent. The
// last step of a task that succeeded is saved done with the final state,
// so such a resume runs that step again before Finish. err is
// nil for a task that succeeded; otherwise its text is the task's Error.
// An error Finish returns is written to the task's log and the engine's
// logger; the task ends in state all the same.
type Finisher interface {
	Finish(ctx context.Context, r *Run, state ovm.TaskState, err error) error
}

// Spec describes a task to enqueue.
type Spec struct {
	// Kind is the registered kind of the task.
	Kind string
	// VDCID is the tenant the task belongs to (empty: platform scope).
	VDCID ovm.ID
	// TargetID is the object the task changes, such as an instance.
	TargetID ovm.ID
	// HostID is the host the task works on; it bounds parallel work per
	// host. Empty for tasks on no host.
	HostID ovm.ID
	// Input is the kind's payload, stored as JSON.
	Input any
}

// Options configure an Engine. The zero value is usable.
type Options struct {
	// Owner names this engine in task leases; unique per engine. Default:
	// the hostname, the process id and a random suffix.
	Owner string
	// Workers bounds the tasks this engine runs at once (default 8).
	Workers int
	// PerHost bounds the tasks this engine runs at once on one host
	// (default 4). The bound is per engine: n replicas may run n×PerHost
	// tasks on one host.
	PerHost int
	// LeaseTTL is how long a claimed task stays with this engine without
	// a renewal (default 30s); the lease is renewed every LeaseTTL/3.
	LeaseTTL time.Duration
	// PollInterval is how often the engine looks for tasks without being
	// kicked, saves a running step's log and progress, and polls the
	// store for Watch (default 1s).
	PollInterval time.Duration
	// Logger receives the engine's own events (claims, lost leases, panics
	// with their stacks). Default: discard.
	Logger *slog.Logger
	// Now stamps task times and log entries (default time.Now). Leases and
	// timers use the database's clock and real time.
	Now func() time.Time
	// Observe, when set, is called once per task that this engine brings
	// to a final state, with its kind, that state and the time since the
	// task was created.
	Observe func(kind string, state ovm.TaskState, d time.Duration)
}

// The defaults of Options.
const (
	DefaultWorkers      = 8
	DefaultPerHost      = 4
	DefaultLeaseTTL     = 30 * time.Second
	DefaultPollInterval = time.Second
)

// Engine runs the tasks of one store. Its methods are safe for concurrent
// use.
type Engine struct {
	st   store.Store
	o    Options
	log  *slog.Logger
	kick chan struct{}

	mu       sync.Mutex
	handlers map[string]Handler
	running  bool
	inflight int
	perHost  map[ovm.ID]int
	claims   uint64
	// offered are tasks Kick was told of, claimed by id before any scan;
	// scan asks the next claim to look for tasks in the store too, and
	// heldBack the claim after the next release at a bound (a task a bound
	// kept back waits in the store).
	offered  []ovm.ID
	scan     bool
	heldBack bool
	// saves is the committer's queue while Run runs (see saveTask).
	saves chan *saveReq

	wmu      sync.Mutex
	watchers map[ovm.ID]map[*watcher]struct{}
}

// New returns an engine over st. Register the task kinds, then call Run.
func New(st store.Store, opts Options) *Engine {
	if opts.Owner == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "ovm"
		}
		opts.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), ovm.NewID().Short())
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.PerHost <= 0 {
		opts.PerHost = DefaultPerHost
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Engine{
		st:       st,
		o:        opts,
		log:      opts.Logger.With("owner", opts.Owner),
		kick:     make(chan struct{}, 1),
		handlers: make(map[string]Handler),
		perHost:  make(map[ovm.ID]int),
		scan:     true,
		watchers: make(map[ovm.ID]map[*watcher]struct{}),
	}
}

// Owner returns the name this engine claims tasks under.
func (e *Engine) Owner() string { return e.o.Owner }

// Register makes h the handler of kind. It panics when kind is empty, h is
// nil or kind is already registered: those are programming errors.
func (e *Engine) Register(kind string, h Handler) {
	if kind == "" || h == nil {
		panic("tasks: Register needs a kind and a handler")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := e.handlers[kind]; dup {
		panic(fmt.Sprintf("tasks: task kind %q registered twice", kind))
	}
	e.handlers[kind] = h
}

// Kinds returns the registered task kinds, sorted.
func (e *Engine) Kinds() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Sorted(maps.Keys(e.handlers))
}

func (e *Engine) handler(kind string) (Handler, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	h, ok := e.handlers[kind]
	return h, ok
}

// Enqueue records a pending task inside tx, the transaction that records
// the change the task serves, and returns it. Call Kick once tx committed.
// A kind that is not registered, or ids that are not OVM ids, are
// ovm.ErrInvalid; the handler's Steps error is returned as it is.
func (e *Engine) Enqueue(ctx context.Context, tx store.Tx, spec Spec) (ovm.Task, error) {
	var f ovm.Fields
	h, ok := e.handler(spec.Kind)
	if !ok {
		f.Addf("kind", "no handler is registered for task kind %q", spec.Kind)
	}
	for _, id := range []struct {
		field string
		id    ovm.ID
	}{{"vdcId", spec.VDCID}, {"targetId", spec.TargetID}, {"hostId", spec.HostID}} {
		if !id.id.IsZero() && !id.id.Valid() {
			f.Add(id.field, "must be an OVM id (a lower-case UUID)")
		}
	}
	if err := f.Err("invalid task"); err != nil {
		return ovm.Task{}, err
	}
	input, err := json.Marshal(spec.Input)
	if err != nil {
		return ovm.Task{}, ovm.Wrap(ovm.KindInvalid, err, "tasks: encode the input of a %s task", spec.Kind)
	}
	now := e.o.Now()
	rec := store.TaskRecord{
		Task: ovm.Task{
			ID:        ovm.NewID(),
			Kind:      spec.Kind,
			VDCID:     spec.VDCID,
			TargetID:  spec.TargetID,
			State:     ovm.TaskPending,
			CreatedAt: now,
			UpdatedAt: now,
		},
		HostID: spec.HostID,
		Input:  input,
	}
	steps, err := buildSteps(h, &rec)
	if err != nil {
		return ovm.Task{}, err
	}
	rec.Task.Steps = make([]ovm.TaskStep, len(steps))
	for i, s := range steps {
		rec.Task.Steps[i] = ovm.TaskStep{Name: s.Name, State: ovm.StepPending}
	}
	if err := tx.CreateTask(ctx, &rec); err != nil {
		return ovm.Task{}, fmt.Errorf("tasks: record a %s task: %w", spec.Kind, err)
	}
	return copyTask(rec.Task), nil
}

// buildSteps calls h.Steps on a copy of rec and checks the result.
func buildSteps(h Handler, rec *store.TaskRecord) (steps []Step, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("tasks: the steps of a %s task: panic: %v", rec.Task.Kind, p)
		}
	}()
	cp := *rec
	cp.Task = copyTask(rec.Task)
	steps, err = h.Steps(&cp)
	if err != nil {
		return nil, fmt.Errorf("tasks: the steps of a %s task: %w", rec.Task.Kind, err)
	}
	seen := make(map[string]bool, len(steps))
	for i, s := range steps {
		switch {
		case s.Name == "":
			return nil, fmt.Errorf("tasks: step %d of a %s task has no name", i, rec.Task.Kind)
		case s.Do == nil:
			return nil, fmt.Errorf("tasks: step %q of a %s task has no Do", s.Name, rec.Task.Kind)
		case seen[s.Name]:
			return nil, fmt.Errorf("tasks: a %s task has two steps named %q", rec.Task.Kind, s.Name)
		}
		seen[s.Name] = true
	}
	return steps, nil
}

// maxOffered bounds the tasks Kick keeps to claim by id; past it, a kick
// makes the next claim look in the store instead.
const maxOffered = 1024

// Kick wakes the engine's workers to look for tasks now. Call it after the
// transaction that enqueued tasks committed, with their ids: the engine
// claims those by id, which reads only their rows; without ids it looks
// for the oldest tasks in the store.
func (e *Engine) Kick(ids ...ovm.ID) {
	e.mu.Lock()
	if len(ids) == 0 || len(e.offered)+len(ids) > maxOffered {
		e.scan = true
	} else {
		e.offered = append(e.offered, ids...)
	}
	e.mu.Unlock()
	e.wake()
}

// wake makes Run claim again.
func (e *Engine) wake() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Run claims and runs tasks until ctx ends, then waits for the steps in
// flight to return and returns nil. Cancelling ctx interrupts the steps and
// writes nothing more: the leases of the interrupted tasks expire and any
// engine resumes them. Run may be called once at a time per engine.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.running {
		e.mu.Unlock()
		return errors.New("tasks: the engine is already running")
	}
	e.running = true
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.running = false
		e.mu.Unlock()
	}()

	var wg sync.WaitGroup
	defer wg.Wait()
	saves := make(chan *saveReq, maxGroup)
	e.mu.Lock()
	e.saves = saves
	e.mu.Unlock()
	// The committer stops after the runs: they save until they return.
	cctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var cwg sync.WaitGroup
	cwg.Go(func() { e.commitLoop(cctx, saves) })
	defer func() {
		wg.Wait()
		e.mu.Lock()
		e.saves = nil
		e.mu.Unlock()
		stop()
		cwg.Wait()
	}()
	tick := time.NewTicker(e.o.PollInterval)
	defer tick.Stop()
	for {
		for ctx.Err() == nil {
			cs, more := e.claim(ctx)
			for _, c := range cs {
				wg.Go(func() {
					defer e.release(c.rec.HostID)
					e.execute(ctx, c)
				})
			}
			if !more {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-e.kick:
		case <-tick.C:
			e.mu.Lock()
			e.scan = true
			e.mu.Unlock()
		}
	}
}

// claimed is a task this engine claimed.
type claimed struct {
	rec   store.TaskRecord
	token string    // the lease owner, unique to this claim
	at    time.Time // when the claim began; the lease runs from no earlier
	// h and steps are set when the claim's transaction also started the
	// task (saved it running).
	h     Handler
	steps []Step
}

// claim takes as many tasks as there are free worker slots, within the
// bounds per host, in one transaction (one commit for many claims), and
// starts each when it can in the same transaction. It claims the offered
// tasks first, by id, then, when a scan is due, the oldest tasks free in
// the store. It counts them against the bounds. more reports that there
// may be more tasks to claim at once: it filled every free slot, or offers
// are left.
func (e *Engine) claim(ctx context.Context) (cs []claimed, more bool) {
	e.mu.Lock()
	free := e.o.Workers - e.inflight
	if free <= 0 {
		e.mu.Unlock()
		return nil, false
	}
	perHost := make(map[ovm.ID]int, len(e.perHost))
	for h, n := range e.perHost {
		perHost[h] = n
	}
	offered := slices.Clone(e.offered[:min(free, len(e.offered))])
	// A due scan waits while offers are left beyond this claim: it would
	// take the oldest tasks, which are those offered next, and each of
	// their claims by id would then find its task gone.
	scan := e.scan && len(e.offered) <= free
	if len(offered) == 0 && !scan {
		e.mu.Unlock()
		return nil, false // nothing asked for: no transaction
	}
	if scan {
		e.scan = false
	}
	e.mu.Unlock()

	// missed: an offered task this claim did not get; drained: the scan
	// found no task to take; bounded: some host was at its bound.
	var missed, drained, bounded bool
	err := e.st.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
		cs, missed, drained, bounded = cs[:0], false, false, false
		load := make(map[ovm.ID]int, len(perHost))
		for h, n := range perHost {
			load[h] = n
		}
		take := func(byID ovm.ID) (bool, error) {
			var busy []ovm.ID
			for h, n := range load {
				if n >= e.o.PerHost {
					busy = append(busy, h)
				}
			}
			bounded = bounded || len(busy) > 0
			c := claimed{token: e.token(), at: time.Now()}
			var rec store.TaskRecord
			var ok bool
			var err error
			if byID != "" {
				rec, ok, err = tx.ClaimTaskByID(ctx, byID, c.token, e.o.LeaseTTL, busy)
			} else {
				rec, ok, err = tx.ClaimTask(ctx, c.token, e.o.LeaseTTL, busy)
			}
			if err != nil || !ok {
				return false, err
			}
			c.rec = rec
			if err := e.startClaimed(ctx, tx, &c); err != nil {
				return false, err
			}
			if rec.HostID != "" {
				load[rec.HostID]++
			}
			cs = append(cs, c)
			return true, nil
		}
		for _, id := range offered {
			wasBounded := bounded
			bounded = false
			ok, err := take(id)
			if err != nil {
				return err
			}
			// An offered task not taken while no host was at its bound is
			// taken already (by a scan or another engine) or ended: no
			// release will free it, so it holds nothing back.
			missed = missed || (!ok && bounded)
			bounded = bounded || wasBounded
		}
		for scan && len(cs) < free {
			ok, err := take("")
			if err != nil {
				return err
			}
			if !ok {
				drained = true
				break
			}
		}
		return nil
	})
	e.mu.Lock()
	if err != nil {
		// The offers stay; the scan is due again.
		e.scan = e.scan || scan
		e.mu.Unlock()
		if ctx.Err() == nil {
			e.log.WarnContext(ctx, "tasks: claim a task", "err", err)
		}
		return nil, false
	}
	// Only claim takes offers, from the front: Kick appends. A task a scan
	// took is no longer on offer.
	e.offered = e.offered[len(offered):]
	if scan && len(e.offered) > 0 {
		e.offered = slices.DeleteFunc(e.offered, func(id ovm.ID) bool {
			return slices.ContainsFunc(cs, func(c claimed) bool { return c.rec.Task.ID == id })
		})
	}
	// A scan that filled every free slot may have left tasks: the next
	// claim looks again. An offered task on a busy host, or one a scan
	// could not take for a host's bound, waits for a release at that bound.
	e.scan = e.scan || (scan && !drained)
	e.heldBack = e.heldBack || missed || (drained && bounded)
	left := len(e.offered) > 0
	for _, c := range cs {
		e.inflight++
		if c.rec.HostID != "" {
			e.perHost[c.rec.HostID]++
		}
	}
	e.mu.Unlock()
	for _, c := range cs {
		e.log.DebugContext(ctx, "tasks: claimed", "task", c.rec.Task.ID, "kind", c.rec.Task.Kind, "state", c.rec.Task.State)
		if c.h != nil {
			e.publish(c.rec)
		}
	}
	return cs, len(cs) == free || left
}

// token returns a new lease owner for one claim. A token per claim: should
// this engine claim again a task it still runs (its lease expired
// unrenewed), the stale run's renewals fail.
func (e *Engine) token() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.claims++
	return fmt.Sprintf("%s/%d", e.o.Owner, e.claims)
}

// startClaimed saves a claimed task running, in the claim's transaction,
// when it is pending or was interrupted running and its handler is known
// with the same steps; anything else is left to execute.
func (e *Engine) startClaimed(ctx context.Context, tx store.Tx, c *claimed) error {
	if s := c.rec.Task.State; s != ovm.TaskPending && s != ovm.TaskRunning {
		return nil
	}
	h, ok := e.handler(c.rec.Task.Kind)
	if !ok {
		return nil
	}
	steps, err := buildSteps(h, &c.rec)
	if err != nil {
		return nil
	}
	if _, _, same := sameSteps(steps, c.rec.Task); !same {
		return nil
	}
	next := c.rec
	next.Task = copyTask(c.rec.Task)
	now := e.o.Now()
	startTask(&next.Task, steps, e.o.Owner, now)
	next.Task.UpdatedAt = now
	if err := tx.UpdateTask(ctx, &next); err != nil {
		return err
	}
	c.rec, c.h, c.steps = next, h, steps
	return nil
}

// sameSteps compares the names of steps with those recorded in t.
func sameSteps(steps []Step, t ovm.Task) (recorded, names []string, same bool) {
	names = make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.Name
	}
	recorded = make([]string, len(t.Steps))
	for i, s := range t.Steps {
		recorded[i] = s.Name
	}
	return recorded, names, slices.Equal(names, recorded)
}

// release frees the slot of a task that returned and, when that slot was a
// bound, looks for more work.
func (e *Engine) release(host ovm.ID) {
	e.mu.Lock()
	// Only a slot that was a bound frees a task to claim: with room to
	// spare, the last claim took every task there was, and claiming again
	// would only find none.
	bound := e.inflight >= e.o.Workers
	e.inflight--
	if host != "" {
		bound = bound || e.perHost[host] >= e.o.PerHost
		if e.perHost[host]--; e.perHost[host] <= 0 {
			delete(e.perHost, host)
		}
	}
	if bound && e.heldBack {
		e.scan, e.heldBack = true, false
	}
	e.mu.Unlock()
	if bound {
		e.wake()
	}
}

// get reads a task from the store.
func (e *Engine) get(ctx context.Context, id ovm.ID) (store.TaskRecord, error) {
	var rec store.TaskRecord
	err := e.st.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		rec, err = tx.GetTask(ctx, id)
		return err
	})
	return rec, err
}

// copyTask returns a task sharing no memory with t.
func copyTask(t ovm.Task) ovm.Task {
	c := t
	c.Steps = append([]ovm.TaskStep(nil), t.Steps...)
	c.Log = append([]ovm.TaskLogEntry(nil), t.Log...)
	if t.Result != nil {
		c.Result = append(json.RawMessage(nil), t.Result...)
	}
	if t.FinishedAt != nil {
		f := *t.FinishedAt
		c.FinishedAt = &f
	}
	return c
}
