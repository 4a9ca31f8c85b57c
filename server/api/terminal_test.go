package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// readUntil reads binary messages until their text contains want.
func readUntil(t *testing.T, ctx context.Context, c *websocket.Conn, want string) string {
	t.Helper()
	var got strings.Builder
	for !strings.Contains(got.String(), want) {
		typ, b, err := c.Read(ctx)
		require.NoError(t, err, "read the terminal; so far %q", got.String())
		assert.Equal(t, websocket.MessageBinary, typ)
		got.Write(b)
	}
	return got.String()
}

// TestTerminal opens terminal sessions over the WebSocket with a ticket
// and with a bearer token, and checks who may open which.
func TestTerminal(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	other := e.newTenant("other", pl.pool, quota)
	inst := e.runningInstance(tn, "web")
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	ws := "ws" + strings.TrimPrefix(srv.URL, "http")
	tickets := "/v1/instances/" + string(inst.ID) + "/terminal-tickets"
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	issue := func(token string, body map[string]any) apitypes.TerminalTicket {
		t.Helper()
		var tk apitypes.TerminalTicket
		e.must(http.StatusCreated, "POST", tickets, token, body).decode(t, &tk)
		return tk
	}
	dial := func(path string, h http.Header) (*websocket.Conn, *http.Response, error) {
		return websocket.Dial(ctx, ws+path, &websocket.DialOptions{HTTPHeader: h})
	}

	t.Run("serial with a ticket", func(t *testing.T) {
		tk := issue(tn.token, map[string]any{"mode": "serial"})
		assert.WithinDuration(t, time.Now().Add(TerminalTicketTTL), tk.ExpiresAt, 5*time.Second)
		c, _, err := dial(tk.URL, nil)
		require.NoError(t, err)
		defer c.CloseNow()
		assert.Contains(t, readUntil(t, ctx, c, "login: "), "OVM fake console: web")
		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"resize","cols":100,"rows":30}`)))
		require.NoError(t, c.Write(ctx, websocket.MessageBinary, []byte("root\r")))
		assert.Contains(t, readUntil(t, ctx, c, "root"), "root", "the console echoes what is typed")
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))

		_, resp, err := dial(tk.URL, nil)
		require.Error(t, err, "a ticket opens one session")
		require.NotNil(t, resp)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})

	t.Run("serial with a bearer token", func(t *testing.T) {
		c, _, err := dial("/v1/instances/"+string(inst.ID)+"/terminal?mode=serial", http.Header{"Authorization": {"Bearer " + tn.token}})
		require.NoError(t, err)
		defer c.CloseNow()
		readUntil(t, ctx, c, "login: ")
	})

	for _, tt := range []struct {
		name   string
		path   string
		header http.Header
		status int
	}{
		{"no credentials", "/v1/instances/" + string(inst.ID) + "/terminal", nil, http.StatusUnauthorized},
		{"unknown ticket", "/v1/instances/" + string(inst.ID) + "/terminal?ticket=nosuch", nil, http.StatusUnauthorized},
		{"bad token", "/v1/instances/" + string(inst.ID) + "/terminal", http.Header{"Authorization": {"Bearer nosuch"}}, http.StatusUnauthorized},
		{"other tenant", "/v1/instances/" + string(inst.ID) + "/terminal", http.Header{"Authorization": {"Bearer " + other.token}}, http.StatusNotFound},
		{"no such instance", "/v1/instances/" + string(ovm.NewID()) + "/terminal", http.Header{"Authorization": {"Bearer " + tn.token}}, http.StatusNotFound},
		{"bad id", "/v1/instances/NOT-AN-ID/terminal", http.Header{"Authorization": {"Bearer " + tn.token}}, http.StatusUnprocessableEntity},
		{"bad mode", "/v1/instances/" + string(inst.ID) + "/terminal?mode=rdp", http.Header{"Authorization": {"Bearer " + tn.token}}, http.StatusUnprocessableEntity},
		{"vnc of a container", "/v1/instances/" + string(inst.ID) + "/terminal?mode=vnc", http.Header{"Authorization": {"Bearer " + tn.token}}, http.StatusNotImplemented},
		{"bad cols", "/v1/instances/" + string(inst.ID) + "/terminal?cols=wide", http.Header{"Authorization": {"Bearer " + tn.token}}, http.StatusUnprocessableEntity},
		// The fake host kind runs no terminal.
		{"exec on a fake host", "/v1/instances/" + string(inst.ID) + "/terminal?mode=exec", http.Header{"Authorization": {"Bearer " + tn.token}}, http.StatusNotImplemented},
		{"foreign origin", "/v1/instances/" + string(inst.ID) + "/terminal", http.Header{"Authorization": {"Bearer " + tn.token}, "Origin": {"https://evil.example"}}, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, resp, err := dial(tt.path, tt.header)
			if c != nil {
				c.CloseNow()
			}
			require.Error(t, err)
			require.NotNil(t, resp)
			assert.Equal(t, tt.status, resp.StatusCode)
		})
	}

	t.Run("ticket for another instance", func(t *testing.T) {
		tk := issue(tn.token, map[string]any{"mode": "serial"})
		_, resp, err := dial("/v1/instances/"+string(ovm.NewID())+"/terminal?ticket="+tk.Ticket, nil)
		require.Error(t, err)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})

	t.Run("ticket problems", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			token  string
			body   map[string]any
			status int
			field  string
		}{
			{"bad mode", tn.token, map[string]any{"mode": "rdp"}, http.StatusUnprocessableEntity, "body.mode"},
			{"command for vnc", tn.token, map[string]any{"mode": "vnc", "command": []string{"sh"}}, http.StatusUnprocessableEntity, "body.command"},
			{"vnc of a container", tn.token, map[string]any{"mode": "vnc"}, http.StatusNotImplemented, ""},
			{"command for serial", tn.token, map[string]any{"mode": "serial", "command": []string{"sh"}}, http.StatusUnprocessableEntity, "body.command"},
			{"empty program", tn.token, map[string]any{"mode": "exec", "command": []string{""}}, http.StatusUnprocessableEntity, "body.command"},
			{"too wide", tn.token, map[string]any{"mode": "exec", "cols": 5000}, http.StatusUnprocessableEntity, "body.cols"},
			{"other tenant", other.token, map[string]any{"mode": "serial"}, http.StatusNotFound, ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				p := problemOf(t, e.must(tt.status, "POST", tickets, tt.token, tt.body))
				if tt.field != "" {
					assert.Contains(t, fieldLocations(p), tt.field, "problem names the field: %+v", p)
				}
			})
		}
	})

	t.Run("stopped", func(t *testing.T) {
		e.power(tn.token, inst.ID, "stop")
		t.Cleanup(func() { e.power(tn.token, inst.ID, "start") })
		p := problemOf(t, e.must(http.StatusConflict, "POST", tickets, tn.token, map[string]any{"mode": "serial"}))
		assert.Contains(t, p.Detail, "stopped")
	})
}

// quietTerm is a session that prints nothing until it is closed.
type quietTerm struct {
	closed chan struct{}
	once   sync.Once
}

func (q *quietTerm) Read([]byte) (int, error) {
	<-q.closed
	return 0, io.EOF
}
func (q *quietTerm) Write(p []byte) (int, error)              { return len(p), nil }
func (q *quietTerm) Resize(context.Context, uint, uint) error { return nil }
func (q *quietTerm) Close() error {
	q.once.Do(func() { close(q.closed) })
	return nil
}

// TestTerminalClientGone: when the client goes away, a session that
// prints nothing ends too, rather than waiting for output to fail on.
func TestTerminalClientGone(t *testing.T) {
	s := &server{log: slog.New(slog.DiscardHandler)}
	term := &quietTerm{closed: make(chan struct{})}
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		s.pipeTerminal(r.Context(), c, term)
	}))
	t.Cleanup(srv.Close)
	c, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	require.NoError(t, err)
	require.NoError(t, c.Close(websocket.StatusNormalClosure, "bye"))
	select {
	case <-term.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the session is still open after the client went away")
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not return")
	}
}
