package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/core"
)

// clock is a settable time for the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// loginFrom posts a login from a client address.
func (e *env) loginFrom(t *testing.T, addr, name, password string) resp {
	t.Helper()
	b, err := json.Marshal(map[string]string{"name": name, "password": password})
	require.NoError(t, err)
	req := httptest.NewRequest("POST", "/v1/login", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = addr
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// TestLoginThrottle: 120 wrong passwords at 5 a second, then the right one,
// is refused with 429 and Retry-After, for one user name from many
// addresses and for many names from one address; an unknown user gets the
// very same answers as an existing one; once the wait is over the right
// password works.
func TestLoginThrottle(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	e := newEnv(t, openSQLite(t), func(o *core.Options) { o.Now = clk.now })
	pl := e.setupPlatform(1)
	e.newTenant("acme", pl.pool, quota)

	// guess sends 120 wrong passwords, 200 ms apart, and returns the
	// statuses.
	guess := func(addr func(i int) string, name func(i int) string) []int {
		var statuses []int
		for i := range 120 {
			statuses = append(statuses, e.loginFrom(t, addr(i), name(i), "wrong-password-"+strconv.Itoa(i)).status)
			clk.add(200 * time.Millisecond)
		}
		return statuses
	}
	manyAddrs := func(i int) string { return "198.51.100." + strconv.Itoa(i+1) + ":4000" }
	tests := []struct {
		name string
		addr func(i int) string
		user func(i int) string
	}{
		{"one existing user from many addresses", manyAddrs, func(int) string { return "acme-admin" }},
		{"one unknown user from many addresses", manyAddrs, func(int) string { return "nobody" }},
	}
	var seen [][]int
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			statuses := guess(tc.addr, tc.user)
			assert.Equal(t, http.StatusUnauthorized, statuses[0], "the first wrong password")
			assert.Contains(t, statuses, http.StatusTooManyRequests, "120 wrong passwords at 5/s")
			seen = append(seen, statuses)
			r := e.loginFrom(t, "203.0.113.9:5000", tc.user(0), "tenant-password-1")
			require.Equal(t, http.StatusTooManyRequests, r.status, "the right password after 120 wrong ones: got %s", r)
			p := problemOf(t, r)
			assert.Equal(t, http.StatusTooManyRequests, p.Status)
			retry, err := strconv.Atoi(r.header.Get("Retry-After"))
			require.NoError(t, err, "Retry-After %q", r.header.Get("Retry-After"))
			assert.Positive(t, retry)
			clk.add(time.Duration(retry) * time.Second)
		})
	}
	require.Len(t, seen, 2)
	assert.Equal(t, seen[0], seen[1], "an unknown user is answered exactly like an existing one")

	// After the wait, the right password works (and resets the count).
	r := e.loginFrom(t, "203.0.113.9:5000", "acme-admin", "tenant-password-1")
	assert.Equal(t, http.StatusOK, r.status, "the right password after the wait: got %s", r)

	// Many names from one address: the address is throttled too, and the
	// right password of a user never guessed is refused from there.
	addr := func(int) string { return "192.0.2.77:6000" }
	statuses := guess(addr, func(i int) string { return "user-" + strconv.Itoa(i) })
	assert.Equal(t, http.StatusUnauthorized, statuses[0])
	assert.Contains(t, statuses, http.StatusTooManyRequests, "120 names from one address")
	r = e.loginFrom(t, addr(0), "acme-admin", "tenant-password-1")
	assert.Equal(t, http.StatusTooManyRequests, r.status, "a good login from a throttled address: got %s", r)
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	r = e.loginFrom(t, "192.0.2.78:6000", "acme-admin", "tenant-password-1")
	assert.Equal(t, http.StatusOK, r.status, "the same login from another address: got %s", r)
}

// TestLoginDeclaresTooManyRequests: the login operation documents 429.
func TestLoginDeclaresTooManyRequests(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	op := e.api.OpenAPI().Paths["/v1/login"].Post
	require.NotNil(t, op)
	require.Contains(t, op.Responses, "429", "responses of login")
	assert.Contains(t, op.Responses["429"].Headers, "Retry-After", "headers of login's 429")
}
