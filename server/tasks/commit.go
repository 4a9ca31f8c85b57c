package tasks

import (
	"context"
	"errors"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// maxGroup bounds the saves one group commit carries.
const maxGroup = 64

// saveReq is one task save waiting for a group commit.
type saveReq struct {
	ctx  context.Context
	rec  store.TaskRecord
	err0 error
	done chan saveRes
}

type saveRes struct {
	rec store.TaskRecord
	err error
}

// saveTask saves a task record when its version is still rec.Version and
// returns it as saved. While the engine runs, the saves of all its tasks
// go through one committer that writes those queued together in one
// transaction (a group commit): a database that syncs every commit then
// syncs once for many tasks. A save refused for its version or a missing
// task fails alone; any other error fails the saves of its group, which
// their runs treat as a save that did not happen.
func (e *Engine) saveTask(ctx context.Context, rec store.TaskRecord) (store.TaskRecord, error) {
	e.mu.Lock()
	q := e.saves
	e.mu.Unlock()
	if q == nil {
		return e.saveGroup(ctx, []*saveReq{{ctx: ctx, rec: rec}})[0].res()
	}
	req := &saveReq{ctx: ctx, rec: rec, done: make(chan saveRes, 1)}
	select {
	case q <- req:
	case <-ctx.Done():
		return store.TaskRecord{}, ctx.Err()
	}
	select {
	case res := <-req.done:
		return res.rec, res.err
	case <-ctx.Done():
		// The committer may still write it; the caller gives the task up
		// like any save that failed.
		return store.TaskRecord{}, ctx.Err()
	}
}

// res is the outcome of a save made without the committer.
func (r *saveReq) res() (store.TaskRecord, error) { return r.rec, r.err0 }

// commitLoop is the committer: it takes the first save waiting, adds every
// other one already queued (up to maxGroup), commits them together and
// answers each, until ctx ends.
func (e *Engine) commitLoop(ctx context.Context, q chan *saveReq) {
	for {
		var first *saveReq
		select {
		case <-ctx.Done():
			return
		case first = <-q:
		}
		group := []*saveReq{first}
	more:
		for len(group) < maxGroup {
			select {
			case r := <-q:
				group = append(group, r)
			default:
				break more
			}
		}
		live := group[:0]
		for _, r := range group {
			if r.ctx.Err() != nil {
				r.done <- saveRes{err: r.ctx.Err()} // cancelled while queued: not written
				continue
			}
			live = append(live, r)
		}
		if len(live) == 0 {
			continue
		}
		for _, r := range e.saveGroup(ctx, live) {
			r.done <- saveRes{rec: r.rec, err: r.err0}
		}
	}
}

// saveGroup writes the records of group in one transaction, setting each
// request's rec (as saved) and err0.
func (e *Engine) saveGroup(ctx context.Context, group []*saveReq) []*saveReq {
	in := make([]store.TaskRecord, len(group))
	for i, r := range group {
		in[i] = r.rec
	}
	out := make([]store.TaskRecord, len(group))
	errs := make([]error, len(group))
	err := e.st.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
		for i := range in {
			out[i], errs[i] = in[i], nil
			err := tx.UpdateTask(ctx, &out[i])
			switch {
			case err == nil:
			case errors.Is(err, store.ErrVersionMismatch), errors.Is(err, ovm.ErrNotFound):
				errs[i] = err // this one alone: the others still commit
			default:
				return err
			}
		}
		return nil
	})
	for i, r := range group {
		r.rec, r.err0 = out[i], errs[i]
		if err != nil {
			r.rec, r.err0 = store.TaskRecord{}, err
		}
	}
	return group
}
