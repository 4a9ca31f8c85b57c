package tasks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// watcher holds the newest version of a task seen for one Watch.
type watcher struct {
	sig    chan struct{} // a newer version arrived
	mu     sync.Mutex
	latest store.TaskRecord
}

// offer keeps rec when it is newer than what the watcher has.
func (w *watcher) offer(rec store.TaskRecord) {
	w.mu.Lock()
	newer := rec.Version > w.latest.Version
	if newer {
		w.latest = rec
	}
	w.mu.Unlock()
	if newer {
		select {
		case w.sig <- struct{}{}:
		default:
		}
	}
}

// publish pushes a task this engine saved to its watchers.
func (e *Engine) publish(rec store.TaskRecord) {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	for w := range e.watchers[rec.Task.ID] {
		w.offer(rec)
	}
}

func (e *Engine) subscribe(id ovm.ID, w *watcher) {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	ws := e.watchers[id]
	if ws == nil {
		ws = make(map[*watcher]struct{})
		e.watchers[id] = ws
	}
	ws[w] = struct{}{}
}

func (e *Engine) unsubscribe(id ovm.ID, w *watcher) {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	delete(e.watchers[id], w)
	if len(e.watchers[id]) == 0 {
		delete(e.watchers, id)
	}
}

// Watch sends the task as it is now, then every change of it, until it is
// final (the last value sent is final) or ctx ends; then it closes the
// channel. Changes this engine makes are sent at once; changes made by
// other engines (other replicas) are found by polling the store every
// PollInterval. A receiver that falls behind gets the newest version, not
// every one in between. A task that does not exist is ovm.ErrNotFound.
func (e *Engine) Watch(ctx context.Context, id ovm.ID) (<-chan ovm.Task, error) {
	w := &watcher{sig: make(chan struct{}, 1)}
	e.subscribe(id, w) // first, so that no change after the read is missed
	rec, err := e.get(ctx, id)
	if err != nil {
		e.unsubscribe(id, w)
		return nil, fmt.Errorf("tasks: watch task %s: %w", id, err)
	}
	w.offer(rec)
	out := make(chan ovm.Task)
	go e.watch(ctx, id, w, out)
	return out, nil
}

// watch feeds out until the task is final or ctx ends.
func (e *Engine) watch(ctx context.Context, id ovm.ID, w *watcher, out chan<- ovm.Task) {
	defer close(out)
	defer e.unsubscribe(id, w)
	tick := time.NewTicker(e.o.PollInterval)
	defer tick.Stop()
	var sent int64
	for {
		w.mu.Lock()
		cur := w.latest
		w.mu.Unlock()
		if cur.Version > sent {
			select {
			case out <- copyTask(cur.Task):
				sent = cur.Version
			case <-ctx.Done():
				return
			}
			if cur.Task.State.Final() {
				return
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-w.sig:
		case <-tick.C:
			rec, err := e.get(ctx, id)
			switch {
			case err == nil:
				w.offer(rec)
			case errors.Is(err, ovm.ErrNotFound):
				return // the task was deleted
			case ctx.Err() == nil:
				e.log.DebugContext(ctx, "tasks: poll a watched task", "task", id, "err", err)
			}
		}
	}
}

// Wait returns the task once it is final (succeeded, rolled back or
// failed: check its State), or ctx's error with the task as last seen.
// A task that does not exist is ovm.ErrNotFound.
func (e *Engine) Wait(ctx context.Context, id ovm.ID) (ovm.Task, error) {
	ch, err := e.Watch(ctx, id)
	if err != nil {
		return ovm.Task{}, err
	}
	var last ovm.Task
	for t := range ch {
		last = t
	}
	switch {
	case last.State.Final():
		return last, nil
	case ctx.Err() != nil:
		return last, fmt.Errorf("tasks: wait for task %s: %w", id, ctx.Err())
	default:
		return last, ovm.NotFound("task", id)
	}
}
