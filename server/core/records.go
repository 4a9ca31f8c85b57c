package core

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/store"
)

// ListOptions select one page of a list.
type ListOptions struct {
	// VDCID limits a list to one VDC. Tenants may leave it empty (their
	// own VDC) or name their own; administrators list every VDC without it.
	VDCID ovm.ID
	// Cursor is the Next of the previous page ("" for the first).
	Cursor string
	// Limit is the page size: 0 means 100, at most 1000.
	Limit int
}

// Page is one page of a list. Next is the cursor of the following page,
// "" after the last.
type Page[T any] = apitypes.Page[T]

// MaxLimit is the largest page.
const MaxLimit = 1000

// page checks a ListOptions' cursor and limit.
func (o ListOptions) page() (store.Page, error) {
	var f ovm.Fields
	if o.Cursor != "" && !ovm.ID(o.Cursor).Valid() {
		f.Add("query.cursor", "is not a cursor this server returned")
	}
	if o.Limit < 0 || o.Limit > MaxLimit {
		f.Addf("query.limit", "must be between 1 and %d", MaxLimit)
	}
	if err := f.Err("invalid page"); err != nil {
		return store.Page{}, err
	}
	return store.Page{After: ovm.ID(o.Cursor), Limit: o.Limit}, nil
}

// decode unmarshals a record's data into a new T.
func decode[T any](r store.Record) (T, error) {
	var v T
	if err := json.Unmarshal(r.Data, &v); err != nil {
		return v, fmt.Errorf("core: decode %s %s: %w", r.Kind, r.ID, err)
	}
	if vv, ok := any(&v).(versioned); ok {
		vv.setVersion(r.Version)
	}
	return v, nil
}

// versioned is a decoded record that keeps the version it was read at.
type versioned interface{ setVersion(v int64) }

// view runs fn in a read-only store transaction (store.Store.View): the
// read paths use it, so that they never wait for a writer. fn may run more
// than once and must keep only its last run's results.
func (s *Service) view(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return s.st.View(ctx, fn)
}

// getAs reads a record and decodes it.
func getAs[T any](ctx context.Context, tx store.Tx, kind store.Kind, id ovm.ID) (T, store.Record, error) {
	var zero T
	r, err := tx.Get(ctx, kind, id)
	if err != nil {
		return zero, r, err
	}
	v, err := decode[T](r)
	return v, r, err
}

// viewAs reads and decodes one record in a view of its own (one statement
// without a transaction).
func viewAs[T any](ctx context.Context, s *Service, kind store.Kind, id ovm.ID) (T, error) {
	var v T
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		v, _, err = getAs[T](ctx, tx, kind, id)
		return err
	})
	return v, err
}

// setData encodes v into r.
func setData(r *store.Record, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("core: encode %s %s: %w", r.Kind, r.ID, err)
	}
	r.Data = b
	return nil
}

// save encodes v into r and updates it when its version is ifVersion
// (0: the version r was read at).
func save(ctx context.Context, tx store.Tx, r *store.Record, v any) error {
	if err := setData(r, v); err != nil {
		return err
	}
	return tx.Update(ctx, r, r.Version)
}

// listAll returns every record f selects, page by page.
func listAll(ctx context.Context, tx store.Tx, f store.Filter) ([]store.Record, error) {
	var out []store.Record
	var after ovm.ID
	for {
		rs, next, err := tx.List(ctx, f, store.Page{After: after, Limit: MaxLimit})
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
		if next == "" {
			return out, nil
		}
		after = next
	}
}

// listPage lists one page of f and decodes each record with conv.
func listPage[T any](ctx context.Context, tx store.Tx, f store.Filter, o ListOptions, conv func(store.Record) (T, error)) (Page[T], error) {
	p, err := o.page()
	if err != nil {
		return Page[T]{}, err
	}
	rs, next, err := tx.List(ctx, f, p)
	if err != nil {
		return Page[T]{}, err
	}
	out := Page[T]{Items: make([]T, 0, len(rs)), Next: string(next)}
	for _, r := range rs {
		v, err := conv(r)
		if err != nil {
			return Page[T]{}, err
		}
		out.Items = append(out.Items, v)
	}
	return out, nil
}

// checkVersion compares a record's version with an If-Match (0: none).
func checkVersion(r store.Record, ifVersion int64) error {
	if ifVersion != 0 && r.Version != ifVersion {
		return versionMismatch(string(r.Kind), r.ID, r.Version, ifVersion)
	}
	return nil
}
