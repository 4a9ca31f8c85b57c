package core

import (
	"context"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// visibleTask reads a task the principal may see: its VDC's, or any for an
// administrator (platform tasks have no VDC and only administrators see
// them).
func visibleTask(ctx context.Context, tx store.Tx, p auth.Principal, id ovm.ID) (ovm.Task, error) {
	if !id.Valid() {
		return ovm.Task{}, ovm.NotFound("task", id)
	}
	t, err := tx.GetTask(ctx, id)
	if err != nil {
		return ovm.Task{}, err
	}
	if !p.CanSeeVDC(t.Task.VDCID) {
		return ovm.Task{}, ovm.NotFound("task", id)
	}
	return t.Task, nil
}

// GetTask returns a task the principal may see.
func (s *Service) GetTask(ctx context.Context, p auth.Principal, id ovm.ID) (ovm.Task, error) {
	var out ovm.Task
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = visibleTask(ctx, tx, p, id)
		return err
	})
	if err != nil {
		return ovm.Task{}, err
	}
	return s.tenantTask(ctx, p, out), nil
}

// ListTasks lists the tasks of the principal's VDC (or every task, or one
// VDC's, for an administrator).
func (s *Service) ListTasks(ctx context.Context, p auth.Principal, o ListOptions) (Page[ovm.Task], error) {
	vdc, err := resolveVDC(p, o.VDCID, false)
	if err != nil {
		return Page[ovm.Task]{}, err
	}
	pg, err := o.page()
	if err != nil {
		return Page[ovm.Task]{}, err
	}
	var out Page[ovm.Task]
	err = s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		ts, next, err := tx.ListTasks(ctx, vdc, vdc == "", pg)
		if err != nil {
			return err
		}
		out = Page[ovm.Task]{Items: make([]ovm.Task, 0, len(ts)), Next: string(next)}
		for _, t := range ts {
			out.Items = append(out.Items, t.Task)
		}
		return nil
	})
	if err != nil {
		return Page[ovm.Task]{}, err
	}
	items := make([]*ovm.Task, len(out.Items))
	for i := range out.Items {
		items[i] = &out.Items[i]
	}
	s.redactFor(ctx, p, taskTexts(items...)...)
	return out, nil
}

// WatchTask follows a task the principal may see: the task as it is now,
// then every change until it is final or ctx ends (see tasks.Engine.Watch).
func (s *Service) WatchTask(ctx context.Context, p auth.Principal, id ovm.ID) (<-chan ovm.Task, error) {
	if _, err := s.GetTask(ctx, p, id); err != nil {
		return nil, err
	}
	ch, err := s.tasks.Watch(ctx, id)
	if err != nil || p.Admin() {
		return ch, err
	}
	var h *hostText
	err = s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		h, err = loadHostText(ctx, tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make(chan ovm.Task)
	go func() {
		defer close(out)
		for t := range ch {
			t = withoutReplicas(t)
			for _, text := range taskTexts(&t) {
				*text = h.redact(*text)
			}
			select {
			case out <- t:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// WaitTask returns a task the principal may see once it is final, or ctx's
// error.
func (s *Service) WaitTask(ctx context.Context, p auth.Principal, id ovm.ID) (ovm.Task, error) {
	if _, err := s.GetTask(ctx, p, id); err != nil {
		return ovm.Task{}, err
	}
	t, err := s.tasks.Wait(ctx, id)
	if err != nil {
		return t, err
	}
	return s.tenantTask(ctx, p, t), nil
}
