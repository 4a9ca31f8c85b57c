package core

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// The audit trail. Every change a request makes is an event written in the
// transaction that commits it: the API puts the request's AuditContext in
// its context, and Service.tx, the one helper through which every
// operation writes, records what the transaction wrote (its objects, the
// task it started) and appends the event before it commits. A request that
// fails is recorded by the API in a transaction of its own
// (System.AuditFailure); logins record their failures and throttling themselves.
// Work without an AuditContext (the task engine, the controllers) is not
// audited: its tasks and alerts are its record.

// errNoAuditTrail is a store whose transactions keep no audit trail.
var errNoAuditTrail = errors.New("core: the store keeps no audit trail")

// AuditEvent is an event of the audit trail as clients read it.
type AuditEvent = apitypes.AuditEvent

// AuditContext is what the API knows of a request that may change
// something: who sends it (the zero principal for a login), from where,
// which operation.
type AuditContext struct {
	Principal auth.Principal
	Address   string
	Operation string
	RequestID string

	mu       sync.Mutex
	wrote    bool // a change of the request committed with its event
	recorded bool // the request's failure (or login) is in the trail
	message  string
}

// WithAudit returns ctx carrying ac: the changes made under it are audited.
func WithAudit(ctx context.Context, ac *AuditContext) context.Context {
	return context.WithValue(ctx, auditKey{}, ac)
}

type auditKey struct{}

func auditFrom(ctx context.Context) *AuditContext {
	ac, _ := ctx.Value(auditKey{}).(*AuditContext)
	return ac
}

// actAs makes p the principal of ac (a login, once the user is known).
func (ac *AuditContext) actAs(p auth.Principal) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	ac.Principal = p
}

func (ac *AuditContext) principal() auth.Principal {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	return ac.Principal
}

// markRecorded notes that the request's failure is in the trail.
func (ac *AuditContext) markRecorded() {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	ac.recorded = true
}

// markWrote notes that a change of the request committed with its event.
func (ac *AuditContext) markWrote() {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	ac.wrote = true
}

// Lengths beyond which what a client sent is cut in an event.
const (
	maxAuditName    = 64
	maxAuditMessage = 512
)

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// event returns the event of ac with outcome.
func (ac *AuditContext) event(at time.Time, outcome string) store.AuditEvent {
	p := ac.principal()
	return store.AuditEvent{
		At: at, VDCID: p.VDCID, UserID: p.UserID, User: clipText(p.Name, maxAuditName), Role: string(p.Role),
		Address: ac.Address, RequestID: ac.RequestID, Operation: ac.Operation, Outcome: outcome,
	}
}

// auditRecorder is a transaction that notes what it writes.
type auditRecorder struct {
	store.Tx
	objects []store.AuditObject
	task    ovm.ID
	wrote   bool
}

func (r *auditRecorder) note(o store.AuditObject) {
	r.wrote = true
	if !slices.ContainsFunc(r.objects, func(x store.AuditObject) bool { return x.Kind == o.Kind && x.ID == o.ID }) {
		r.objects = append(r.objects, o)
	}
}

func (r *auditRecorder) Insert(ctx context.Context, rec *store.Record) error {
	if err := r.Tx.Insert(ctx, rec); err != nil {
		return err
	}
	r.note(store.AuditObject{Kind: rec.Kind, ID: rec.ID, Name: rec.Name, VDCID: rec.VDCID})
	return nil
}

func (r *auditRecorder) Update(ctx context.Context, rec *store.Record, ifVersion int64) error {
	if err := r.Tx.Update(ctx, rec, ifVersion); err != nil {
		return err
	}
	r.note(store.AuditObject{Kind: rec.Kind, ID: rec.ID, Name: rec.Name, VDCID: rec.VDCID})
	return nil
}

func (r *auditRecorder) Delete(ctx context.Context, kind store.Kind, id ovm.ID, ifVersion int64) error {
	if err := r.Tx.Delete(ctx, kind, id, ifVersion); err != nil {
		return err
	}
	r.note(store.AuditObject{Kind: kind, ID: id})
	return nil
}

func (r *auditRecorder) SetQuota(ctx context.Context, vdcID ovm.ID, q ovm.Quota) error {
	if err := r.Tx.SetQuota(ctx, vdcID, q); err != nil {
		return err
	}
	r.note(store.AuditObject{Kind: store.KindVDC, ID: vdcID, VDCID: vdcID})
	return nil
}

// kindToken is the kind of a token in the audit trail (tokens are not
// records).
const kindToken store.Kind = "token"

func (r *auditRecorder) CreateToken(ctx context.Context, t store.Token) error {
	if err := r.Tx.CreateToken(ctx, t); err != nil {
		return err
	}
	r.note(store.AuditObject{Kind: kindToken, ID: t.ID, Name: t.Name})
	return nil
}

func (r *auditRecorder) DeleteToken(ctx context.Context, id ovm.ID) error {
	if err := r.Tx.DeleteToken(ctx, id); err != nil {
		return err
	}
	r.note(store.AuditObject{Kind: kindToken, ID: id})
	return nil
}

func (r *auditRecorder) CreateTask(ctx context.Context, t *store.TaskRecord) error {
	if err := r.Tx.CreateTask(ctx, t); err != nil {
		return err
	}
	r.wrote = true
	if r.task.IsZero() {
		r.task = t.Task.ID
	}
	return nil
}

// auditedTx runs fn in a transaction that appends ac's event of what fn
// wrote, when it wrote anything, before it commits.
func (s *Service) auditedTx(ctx context.Context, ac *AuditContext, fn func(ctx context.Context, tx store.Tx) error) error {
	wrote := false
	err := s.st.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
		rec := &auditRecorder{Tx: tx}
		if err := fn(ctx, rec); err != nil {
			return err
		}
		wrote = rec.wrote
		if !rec.wrote {
			return nil
		}
		e := ac.event(s.now(), string(apitypes.AuditSucceeded))
		e.Objects, e.TaskID = rec.objects, rec.task
		if i := slices.IndexFunc(rec.objects, func(o store.AuditObject) bool { return o.Kind != store.KindClaim }); i >= 0 {
			e.Object = rec.objects[i]
		}
		// The VDC the change concerns: the first object's, the VDC itself,
		// else the principal's.
		for _, o := range rec.objects {
			if !o.VDCID.IsZero() {
				e.VDCID = o.VDCID
				break
			}
			if o.Kind == store.KindVDC {
				e.VDCID = o.ID
				break
			}
		}
		return appendAudit(ctx, tx, &e)
	})
	if err == nil && wrote {
		ac.markWrote()
	}
	return err
}

// appendOwn writes an event in a transaction of its own.
func (s *Service) appendOwn(ctx context.Context, e *store.AuditEvent) error {
	return s.st.Tx(ctx, func(ctx context.Context, tx store.Tx) error { return appendAudit(ctx, tx, e) })
}

func appendAudit(ctx context.Context, tx store.Tx, e *store.AuditEvent) error {
	at, ok := tx.(store.AuditTx)
	if !ok {
		return ovm.Internal(errNoAuditTrail, "the audit trail")
	}
	return at.AppendAudit(ctx, e)
}

// AuditFailure records that the request of ctx failed with status and
// message (what the client was told), in a transaction of its own. The
// API calls it for every request that changes something and fails;
// nothing happens without an AuditContext or when core recorded the
// failure already.
func (y *System) AuditFailure(ctx context.Context, status int, message string) error {
	s := y.s
	ac := auditFrom(ctx)
	if ac == nil {
		return nil
	}
	ac.mu.Lock()
	done := ac.recorded
	ac.mu.Unlock()
	if done {
		return nil
	}
	outcome := string(apitypes.AuditFailed)
	if status == http.StatusTooManyRequests {
		outcome = string(apitypes.AuditThrottled)
	}
	e := ac.event(s.now(), outcome)
	e.Status, e.Message = status, clipText(message, maxAuditMessage)
	if err := s.appendOwn(ctx, &e); err != nil {
		return err
	}
	ac.markRecorded()
	return nil
}

// AuditDone records that the request of ctx succeeded with status when
// none of its transactions wrote an event (a change on an engine only, such
// as a command run in an instance, or the answer of an idempotent retry),
// in a transaction of its own; object names what the path named, if
// anything. The API calls it for every request that may change something.
func (y *System) AuditDone(ctx context.Context, status int, object store.AuditObject) error {
	s := y.s
	ac := auditFrom(ctx)
	if ac == nil {
		return nil
	}
	ac.mu.Lock()
	done := ac.recorded || ac.wrote
	ac.mu.Unlock()
	if done {
		return nil
	}
	e := ac.event(s.now(), string(apitypes.AuditSucceeded))
	e.Status, e.Object = status, object
	if !object.ID.IsZero() {
		e.Objects = []store.AuditObject{object}
	}
	if err := s.appendOwn(ctx, &e); err != nil {
		return err
	}
	ac.markWrote()
	return nil
}

// auditLogin records a failed or throttled login of name in a transaction
// of its own (a successful one is the event of its session's token).
func (s *Service) auditLogin(ctx context.Context, name string, err error) {
	ac := auditFrom(ctx)
	if ac == nil || err == nil {
		return
	}
	e := ac.event(s.now(), string(apitypes.AuditFailed))
	e.User = clipText(name, maxAuditName)
	var te *ThrottledError
	switch {
	case errors.As(err, &te):
		e.Outcome, e.Status, e.Message = string(apitypes.AuditThrottled), http.StatusTooManyRequests, te.Error()
	case errors.Is(err, ErrUnauthenticated):
		e.Status, e.Message = http.StatusUnauthorized, "wrong user name or password"
	default:
		return // the server's own failure: the API records it
	}
	if werr := s.appendOwn(ctx, &e); werr != nil {
		s.log.ErrorContext(ctx, "audit: record a failed login", "err", werr)
		return
	}
	ac.markRecorded()
}

// AuditQuery filters the audit trail.
type AuditQuery struct {
	User      string
	Operation string
	ObjectID  ovm.ID
	Outcome   apitypes.AuditOutcome
	Since     time.Time
	Until     time.Time
}

// infraKinds are the kinds of object a tenant never sees in an event.
var infraKinds = []store.Kind{store.KindHost, store.KindPool, store.KindDatacenter, store.KindStoragePool,
	store.KindClaim, store.KindDiscovered, store.KindAlert}

// ListAudit returns a page of the audit trail, newest first: every event
// for administrators (o.VDCID: one VDC's), the events of their own VDC for
// tenants, without the infrastructure's objects and without the text of
// failures (which may name what was tried: the status says enough).
func (s *Service) ListAudit(ctx context.Context, p auth.Principal, q AuditQuery, o ListOptions) (Page[AuditEvent], error) {
	vdc, err := resolveVDC(p, o.VDCID, false)
	if err != nil {
		return Page[AuditEvent]{}, err
	}
	var f ovm.Fields
	if q.Outcome != "" && !slices.Contains(apitypes.AuditOutcomes, q.Outcome) {
		f.Addf("query.outcome", "must be one of %v", apitypes.AuditOutcomes)
	}
	if !q.ObjectID.IsZero() && !q.ObjectID.Valid() {
		f.Add("query.objectId", "must be a lower-case UUID")
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		f.Add("query.until", "must be after since")
	}
	if err := f.Err("invalid audit query"); err != nil {
		return Page[AuditEvent]{}, err
	}
	pg, err := o.page()
	if err != nil {
		return Page[AuditEvent]{}, err
	}
	filter := store.AuditFilter{VDCID: vdc, AllVDCs: vdc == "", User: q.User, Operation: q.Operation,
		ObjectID: q.ObjectID, Outcome: string(q.Outcome), Since: q.Since, Until: q.Until}
	var es []store.AuditEvent
	var next ovm.ID
	err = s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		at, ok := tx.(store.AuditTx)
		if !ok {
			return ovm.Internal(errNoAuditTrail, "the audit trail")
		}
		es, next, err = at.ListAudit(ctx, filter, pg)
		return err
	})
	if err != nil {
		return Page[AuditEvent]{}, err
	}
	out := Page[AuditEvent]{Items: make([]AuditEvent, 0, len(es)), Next: string(next)}
	for _, e := range es {
		out.Items = append(out.Items, auditView(e, !p.Admin()))
	}
	return out, nil
}

// auditView is an event as a client reads it; a tenant's has no object of
// the infrastructure and no message.
func auditView(e store.AuditEvent, tenant bool) AuditEvent {
	v := AuditEvent{ID: e.ID, At: e.At, VDCID: e.VDCID, User: e.User, UserID: e.UserID, Role: apitypes.Role(e.Role),
		Address: e.Address, RequestID: e.RequestID, Operation: e.Operation, TaskID: e.TaskID,
		Outcome: apitypes.AuditOutcome(e.Outcome), Status: e.Status, Message: e.Message}
	if tenant {
		v.Message = ""
	}
	hidden := func(o store.AuditObject) bool { return tenant && slices.Contains(infraKinds, o.Kind) }
	for _, o := range e.Objects {
		if !hidden(o) {
			v.Objects = append(v.Objects, apitypes.AuditObject{Kind: string(o.Kind), ID: o.ID, Name: o.Name})
		}
	}
	if !e.Object.ID.IsZero() && !hidden(e.Object) {
		v.Object = &apitypes.AuditObject{Kind: string(e.Object.Kind), ID: e.Object.ID, Name: e.Object.Name}
	}
	return v
}
