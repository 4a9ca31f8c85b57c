package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// auditEvents lists every event the token may read with the query q.
func (e *env) auditEvents(token string, q url.Values) []apitypes.AuditEvent {
	e.t.Helper()
	var out []apitypes.AuditEvent
	for range 100 {
		var pg apitypes.Page[apitypes.AuditEvent]
		e.must(http.StatusOK, "GET", "/v1/audit-events?"+q.Encode(), token, nil).decode(e.t, &pg)
		out = append(out, pg.Items...)
		if pg.Next == "" {
			return out
		}
		q.Set("cursor", pg.Next)
	}
	e.t.Fatal("the audit trail's pages never end")
	return nil
}

func findEvent(es []apitypes.AuditEvent, op string, outcome apitypes.AuditOutcome) (apitypes.AuditEvent, bool) {
	for _, e := range es {
		if e.Operation == op && e.Outcome == outcome {
			return e, true
		}
	}
	return apitypes.AuditEvent{}, false
}

// TestAuditTrailScenario runs a scenario of administrators and tenants and
// reads the trail: every change is there with who, role, address, object,
// outcome and task; failed requests and logins and throttling too; tenants
// read only their VDC's, without hosts; and no event holds a password or a
// token used in the scenario.
func TestAuditTrailScenario(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t), func(o *core.Options) {
				o.UserLimits = auth.ThrottleLimits{Free: 2, Base: time.Minute, Max: time.Minute, Forget: time.Hour}
			})
			pl := e.setupPlatform(1)
			var ops core.NewUser
			e.must(http.StatusCreated, "POST", "/v1/users", e.admin, map[string]any{"name": "ops", "role": "admin", "password": "ops-password-123"}).decode(t, &ops)
			opsToken := e.login("ops", "ops-password-123")
			tn := e.newTenant("acme", pl.pool, quota)
			other := e.newTenant("globex", pl.pool, quota)

			var n ovm.Network
			e.must(http.StatusCreated, "POST", "/v1/networks", tn.token, map[string]any{
				"name": "net1", "vlan": 10, "subnet": "10.1.0.0/24", "gateway": "10.1.0.1"}).decode(t, &n)
			var it core.InstanceTask
			e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "web", "spec": container(n.ID)}).decode(t, &it)
			e.waitTask(tn.token, it.Task.ID)
			e.must(http.StatusAccepted, "POST", "/v1/instances", other.token, map[string]any{"name": "db", "spec": container()})
			e.must(http.StatusUnprocessableEntity, "POST", "/v1/instances", tn.token, map[string]any{"name": "Bad Name!", "spec": container()})
			// A change on the engine only (a command run in an instance) and
			// the stored answer of an idempotent retry write no record: they
			// are in the trail all the same.
			web := e.runningInstance(tn, "web2")
			e.must(http.StatusOK, "POST", "/v1/instances/"+string(web.ID)+"/exec", tn.token, map[string]any{"command": []string{"hostname"}})
			for range 2 {
				e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "again", "spec": container()}, "Idempotency-Key", "k-again")
			}
			var tok core.NewToken
			e.must(http.StatusCreated, "POST", "/v1/tokens", tn.token, map[string]any{"name": "ci"}).decode(t, &tok)
			e.must(http.StatusOK, "PATCH", "/v1/users/"+string(tn.user), opsToken, map[string]any{"password": "tenant-password-2"})
			tn.token = e.login("acme-admin", "tenant-password-2")
			for range 4 {
				e.do("POST", "/v1/login", "", map[string]string{"name": "acme-admin", "password": "wrong-password-9"})
			}
			e.must(http.StatusNoContent, "POST", "/v1/logout", opsToken, nil)

			all := e.auditEvents(e.admin, url.Values{})
			secrets := []string{"ops-password-123", "tenant-password-1", "tenant-password-2", "wrong-password-9", "secret-pw",
				e.admin, opsToken, tn.token, other.token, tok.Token}
			for _, ev := range all {
				b, err := json.Marshal(ev)
				require.NoError(t, err)
				for _, s := range secrets {
					require.NotContains(t, string(b), s, "an audit event holds a secret of the scenario")
				}
			}
			// The raw rows too, beyond what the API shows.
			require.NoError(t, e.st.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
				es, _, err := tx.(store.AuditTx).ListAudit(ctx, store.AuditFilter{AllVDCs: true}, store.Page{Limit: 1000})
				require.Len(t, es, len(all), "the API shows every stored event to administrators")
				for _, ev := range es {
					b, _ := json.Marshal(ev)
					for _, s := range secrets {
						require.NotContains(t, string(b), s, "a stored audit event holds a secret")
					}
				}
				return err
			}))

			mine := e.auditEvents(e.admin, url.Values{"objectId": {string(it.Instance.ID)}})
			require.Len(t, mine, 1, "the create is in the trail, found by its object")
			create := mine[0]
			assert.Equal(t, "create-instance", create.Operation)
			assert.Equal(t, apitypes.AuditSucceeded, create.Outcome)
			assert.Equal(t, "acme-admin", create.User)
			assert.Equal(t, apitypes.RoleVDCAdmin, create.Role)
			assert.Equal(t, tn.user, create.UserID)
			assert.NotEmpty(t, create.Address, "from where")
			assert.NotEmpty(t, create.RequestID)
			assert.Equal(t, tn.vdc, create.VDCID)
			require.NotNil(t, create.Object)
			assert.Equal(t, "instance", create.Object.Kind)
			assert.Equal(t, it.Instance.ID, create.Object.ID)
			assert.Equal(t, "web", create.Object.Name)
			assert.Equal(t, it.Task.ID, create.TaskID, "the task it started")

			bad, ok := findEvent(all, "create-instance", apitypes.AuditFailed)
			require.True(t, ok, "the refused create is in the trail")
			assert.Equal(t, http.StatusUnprocessableEntity, bad.Status)
			assert.Contains(t, bad.Message, "name")
			assert.Equal(t, tn.vdc, bad.VDCID)

			failed, ok := findEvent(all, "login", apitypes.AuditFailed)
			require.True(t, ok, "a failed login is in the trail")
			assert.Equal(t, "acme-admin", failed.User, "the name given")
			assert.Equal(t, http.StatusUnauthorized, failed.Status)
			throttled, ok := findEvent(all, "login", apitypes.AuditThrottled)
			require.True(t, ok, "a throttled login is in the trail")
			assert.Equal(t, http.StatusTooManyRequests, throttled.Status)
			login, ok := findEvent(all, "login", apitypes.AuditSucceeded)
			require.True(t, ok)
			assert.NotEmpty(t, login.UserID, "a login acts as the user it logs in")
			for _, op := range []string{"create-datacenter", "create-pool", "register-host", "create-vdc", "create-user", "create-network",
				"create-token", "update-user", "logout"} {
				_, ok := findEvent(all, op, apitypes.AuditSucceeded)
				assert.True(t, ok, "%s is in the trail", op)
			}

			execs := e.auditEvents(e.admin, url.Values{"operation": {"exec-instance"}})
			require.Len(t, execs, 1, "the command run in an instance")
			assert.Equal(t, apitypes.AuditSucceeded, execs[0].Outcome)
			require.NotNil(t, execs[0].Object)
			assert.Equal(t, apitypes.AuditObject{Kind: "instance", ID: web.ID}, *execs[0].Object)
			assert.Equal(t, tn.vdc, execs[0].VDCID)
			again := 0
			for _, ev := range e.auditEvents(e.admin, url.Values{"operation": {"create-instance"}, "user": {"acme-admin"}}) {
				if ev.Outcome == apitypes.AuditSucceeded && (ev.Object == nil || ev.Object.Name == "again") {
					again++
				}
			}
			assert.Equal(t, 2, again, "the create and its retry")

			// Filters.
			for _, ev := range e.auditEvents(e.admin, url.Values{"user": {"ops"}}) {
				assert.Equal(t, "ops", ev.User)
			}
			onlyFailed := e.auditEvents(e.admin, url.Values{"outcome": {"failed"}, "operation": {"login"}})
			require.NotEmpty(t, onlyFailed)
			for _, ev := range onlyFailed {
				assert.Equal(t, apitypes.AuditFailed, ev.Outcome)
				assert.Equal(t, "login", ev.Operation)
			}
			assert.Len(t, e.auditEvents(e.admin, url.Values{"vdcId": {string(other.vdc)}, "operation": {"create-instance"}}), 1)

			// Tenants read their VDC's events only, without the infrastructure.
			theirs := e.auditEvents(tn.token, url.Values{})
			require.NotEmpty(t, theirs)
			for _, ev := range theirs {
				assert.Equal(t, tn.vdc, ev.VDCID, "%s of another scope shown to a tenant", ev.Operation)
				assert.Empty(t, ev.Message, "a tenant reads no text of failures")
				b, _ := json.Marshal(ev)
				for _, h := range pl.hosts {
					assert.NotContains(t, string(b), string(h), "a host in a tenant's event")
				}
				for _, o := range ev.Objects {
					assert.NotContains(t, []string{"host", "pool", "datacenter", "claim"}, o.Kind)
				}
			}
			_, ok = findEvent(theirs, "create-instance", apitypes.AuditSucceeded)
			assert.True(t, ok, "a tenant reads its own changes")
			e.must(http.StatusNotFound, "GET", "/v1/audit-events?vdcId="+string(other.vdc), tn.token, nil)
			r := e.must(http.StatusUnprocessableEntity, "GET", "/v1/audit-events?outcome=maybe&since=yesterday", e.admin, nil)
			assert.Contains(t, r.String(), "outcome")
			assert.Contains(t, r.String(), "since")
		})
	}
}

var errAuditDown = errors.New("the audit trail is down")

// switchStore's transactions refuse every audit event while fail is set.
type switchStore struct {
	store.Store
	fail atomic.Bool
}

type auditFailingTx struct{ store.Tx }

func (auditFailingTx) AppendAudit(context.Context, *store.AuditEvent) error {
	return ovm.Internal(errAuditDown, "audit")
}

func (t auditFailingTx) ListAudit(ctx context.Context, f store.AuditFilter, p store.Page) ([]store.AuditEvent, ovm.ID, error) {
	return t.Tx.(store.AuditTx).ListAudit(ctx, f, p)
}

func (s *switchStore) Tx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	if !s.fail.Load() {
		return s.Store.Tx(ctx, fn)
	}
	return s.Store.Tx(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, auditFailingTx{tx}) })
}

// TestAuditInTheChangesTransaction: a change whose event cannot be written
// does not commit.
func TestAuditInTheChangesTransaction(t *testing.T) {
	st := openSQLite(t)
	failing := &switchStore{Store: st}
	e := newEnv(t, failing)
	e.must(http.StatusCreated, "POST", "/v1/datacenters", e.admin, map[string]any{"name": "dc1"})
	failing.fail.Store(true)
	r := e.do("POST", "/v1/datacenters", e.admin, map[string]any{"name": "dc2"})
	require.Equal(t, http.StatusInternalServerError, r.status, "%s", r)
	assert.NotContains(t, r.String(), errAuditDown.Error(), "the cause stays in the log")
	failing.fail.Store(false)
	var pg apitypes.Page[ovm.Datacenter]
	e.must(http.StatusOK, "GET", "/v1/datacenters", e.admin, nil).decode(t, &pg)
	require.Len(t, pg.Items, 1, "the datacenter whose event failed was not stored")
	assert.Equal(t, "dc1", pg.Items[0].Name)
	created := e.auditEvents(e.admin, url.Values{"operation": {"create-datacenter"}, "outcome": {"succeeded"}})
	require.Len(t, created, 1, "one datacenter created, one event")
	assert.Equal(t, "dc1", created[0].Object.Name)
}
