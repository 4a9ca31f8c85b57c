package api

import (
	"context"
	"net/url"
	"reflect"
	"strconv"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// IDPath is the id of the object a route acts on.
type IDPath struct {
	ID string `path:"id" doc:"The object's id (a lower-case UUID)." format:"uuid"`
}

// PageParams select a page of a list of platform objects.
type PageParams struct {
	Cursor string `query:"cursor" doc:"The next cursor of the previous page; empty for the first page."`
	Limit  int    `query:"limit" minimum:"0" maximum:"1000" default:"100" doc:"Page size (0: the default)."`
}

// ListParams select a page of a list of VDC objects.
type ListParams struct {
	PageParams
	VDCID string `query:"vdcId" format:"uuid" doc:"List one VDC's objects (administrators; tenants may name only their own)."`
}

func (l ListParams) options() core.ListOptions {
	return core.ListOptions{VDCID: ovm.ID(l.VDCID), Cursor: l.Cursor, Limit: l.Limit}
}

// query is what a next-page link repeats of the parameters.
func (l PageParams) query() url.Values {
	q := url.Values{}
	if l.Limit > 0 {
		q.Set("limit", strconv.Itoa(l.Limit))
	}
	return q
}

func (l ListParams) query() url.Values {
	q := l.PageParams.query()
	if l.VDCID != "" {
		q.Set("vdcId", l.VDCID)
	}
	return q
}

// IfMatch is the optimistic concurrency precondition of a change.
type IfMatch struct {
	IfMatch string `header:"If-Match" doc:"The ETag of the version the change applies to; 412 when the object changed since."`
}

// IdempotencyKey makes a create safe to retry.
type IdempotencyKey struct {
	Key string `header:"Idempotency-Key" maxLength:"255" doc:"A retry with the same key returns the first result and makes nothing twice."`
}

// Object is one object with its version as ETag.
type Object[T any] struct {
	ETag string `header:"ETag"`
	Body T
}

// List is one page of a list, with a Link header to the next.
type List[T any] struct {
	Link string `header:"Link"`
	Body core.Page[T]
}

// Out is a response with a body only.
type Out[T any] struct {
	Body T
}

// Accepted is a change handed to a task (202), or applied at once (200).
type Accepted[T any] struct {
	Status int
	Body   T
}

// Empty is a response without a body.
type Empty struct{}

// list builds a List with the Link to the next page, whose query is q and
// the next cursor.
func list[T any](path string, q url.Values, pg core.Page[T]) *List[T] {
	out := &List[T]{Body: pg}
	if out.Body.Items == nil {
		out.Body.Items = []T{}
	}
	if pg.Next != "" {
		q.Set("cursor", pg.Next)
		out.Link = "<" + path + "?" + q.Encode() + `>; rel="next"`
	}
	return out
}

// obj builds an Object.
func obj[T any](v T, ver int64, err error) (*Object[T], error) {
	if err != nil {
		return nil, err
	}
	return &Object[T]{ETag: etag(ver), Body: v}, nil
}

var reflectTaskType = reflect.TypeFor[ovm.Task]()

// deleteRoute registers a DELETE of one object by id, guarded by its
// If-Match version, answering 204.
func deleteRoute(s *server, o op, del func(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) error) {
	o.more = ifMatchDoc
	register(s, o, func(ctx context.Context, p auth.Principal, in *struct {
		IDPath
		IfMatch
	}) (*Empty, error) {
		v, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		return &Empty{}, del(ctx, p, ovm.ID(in.ID), v)
	})
}

// getRoute registers a GET of one object by id, answering it with its
// ETag.
func getRoute[T any](s *server, o op, get func(ctx context.Context, p auth.Principal, id ovm.ID) (T, int64, error)) {
	o.more = etagDoc
	register(s, o, func(ctx context.Context, p auth.Principal, in *IDPath) (*Object[T], error) {
		return obj(get(ctx, p, ovm.ID(in.ID)))
	})
}

// taskRoute registers a change of one object by id, guarded by its
// If-Match version, answering 202 with what it started.
func taskRoute[T any](s *server, o op, change func(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) (T, error)) {
	o.more = taskDoc + " " + ifMatchDoc
	register(s, o, func(ctx context.Context, p auth.Principal, in *struct {
		IDPath
		IfMatch
	}) (*Accepted[T], error) {
		v, err := parseIfMatch(in.IfMatch.IfMatch)
		if err != nil {
			return nil, err
		}
		return accepted(change(ctx, p, ovm.ID(in.ID), v))
	})
}

// listRoute registers a GET of one page of a collection of VDC objects
// at o.path.
func listRoute[T any](s *server, o op, ls func(ctx context.Context, p auth.Principal, opts core.ListOptions) (core.Page[T], error)) {
	o.more = pageDoc
	register(s, o, func(ctx context.Context, p auth.Principal, in *ListParams) (*List[T], error) {
		pg, err := ls(ctx, p, in.options())
		return list(o.path, in.query(), pg), err
	})
}

// pageRoute registers a GET of one page of a list that belongs to no VDC
// (no vdcId): platform objects, or the caller's own.
func pageRoute[T any](s *server, o op, ls func(ctx context.Context, p auth.Principal, opts core.ListOptions) (core.Page[T], error)) {
	o.more = pageDoc
	register(s, o, func(ctx context.Context, p auth.Principal, in *PageParams) (*List[T], error) {
		pg, err := ls(ctx, p, core.ListOptions{Cursor: in.Cursor, Limit: in.Limit})
		return list(o.path, in.query(), pg), err
	})
}
