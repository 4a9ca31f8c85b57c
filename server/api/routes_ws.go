package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// The browser's terminal: GET /v1/instances/{id}/terminal upgrades to a
// WebSocket that carries a terminal session (core.OpenTerminal). A browser
// cannot set the Authorization header of a WebSocket, so the route takes
// either the bearer token as usual or a ticket from POST
// /v1/instances/{id}/terminal-tickets: short-lived, single-use, bound to
// the principal that asked for it, the instance and the session's mode.
// The session is authorised again when it opens, as exec and console are.
//
// Frames: the server sends the terminal's output as binary messages; the
// client sends what is typed as binary messages and control messages as
// text, {"type":"resize","cols":C,"rows":R}. A session that ends closes
// with 1000; one that fails with 1011 and the reason in words.

// TerminalTicketTTL is how long a terminal ticket opens a session.
const TerminalTicketTTL = 30 * time.Second

// terminalPath is the WebSocket route of a terminal.
const terminalPath = "/v1/instances/{id}/terminal"

// maxTickets bounds the tickets waiting to be used.
const maxTickets = 10000

type ticket struct {
	p       auth.Principal
	id      ovm.ID
	req     core.TerminalRequest
	expires time.Time
}

// tickets are the terminal tickets not used yet, in memory: a ticket is
// used within seconds on the server that issued it.
type tickets struct {
	mu sync.Mutex
	m  map[string]ticket // guarded by mu
}

// issue stores a new ticket and returns its secret.
func (ts *tickets) issue(t ticket) (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("terminal ticket: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	now := time.Now()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for k, v := range ts.m {
		if now.After(v.expires) {
			delete(ts.m, k)
		}
	}
	if len(ts.m) >= maxTickets {
		return "", ovm.Errorf(ovm.KindUnavailable, "too many terminal tickets waiting; try again in %s", TerminalTicketTTL)
	}
	ts.m[secret] = t
	return secret, nil
}

// take removes and returns the ticket of secret for instance id.
func (ts *tickets) take(secret string, id ovm.ID) (ticket, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.m[secret]
	if !ok {
		return ticket{}, false
	}
	delete(ts.m, secret)
	return t, t.id == id && time.Now().Before(t.expires)
}

// wsRoutes registers the ticket operation and the WebSocket route.
func (s *server) wsRoutes(mux *http.ServeMux) {
	ts := &tickets{m: map[string]ticket{}}
	register(s, op{id: "create-terminal-ticket", method: http.MethodPost, path: "/v1/instances/{id}/terminal-tickets",
		summary: "Get a ticket that opens a terminal session on an instance over a WebSocket",
		desc: "Returns a single-use ticket, valid for 30 seconds, for the WebSocket `GET /v1/instances/{id}/terminal?ticket=…` " +
			"(which also takes the bearer token in the Authorization header with mode, command, cols and rows as query " +
			"parameters). The session is the instance's serial console (VMs; a container's attached streams) or, for " +
			"containers, a command run with a terminal (exec, `/bin/sh` by default). On the WebSocket the server sends the " +
			"terminal's output as binary messages; the client sends what is typed as binary messages and " +
			"`{\"type\":\"resize\",\"cols\":C,\"rows\":R}` as text messages. A session that ends closes with 1000; one that " +
			"fails with 1011 and the reason. Authorised like exec and console: 404 for an instance the caller does not see, " +
			"409 when it is not running, 501 for exec in a VM.",
		tags: []string{"instances"}, status: http.StatusCreated, errors: []int{409, 501, 503}},
		func(ctx context.Context, p auth.Principal, in *struct {
			IDPath
			Body apitypes.TerminalTicketRequest
		}) (*Out[apitypes.TerminalTicket], error) {
			req := core.TerminalRequest{Mode: in.Body.Mode, Command: in.Body.Command, Cols: in.Body.Cols, Rows: in.Body.Rows}
			if _, err := s.svc.CheckTerminal(ctx, p, ovm.ID(in.ID), req); err != nil {
				return nil, err
			}
			exp := time.Now().Add(TerminalTicketTTL)
			secret, err := ts.issue(ticket{p: p, id: ovm.ID(in.ID), req: req, expires: exp})
			if err != nil {
				return nil, err
			}
			url := "/v1/instances/" + in.ID + "/terminal?ticket=" + secret
			return &Out[apitypes.TerminalTicket]{Body: apitypes.TerminalTicket{Ticket: secret, URL: url, ExpiresAt: exp.UTC()}}, nil
		})
	mux.HandleFunc("GET "+terminalPath, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		status := s.terminal(w, r, ts)
		s.m.observeHTTP(terminalPath, r.Method, status, time.Since(start))
	})
}

// terminalRequest is the session a request asks for: its ticket's, or for
// a bearer token the query's.
func (s *server) terminalRequest(r *http.Request, ts *tickets) (auth.Principal, core.TerminalRequest, error) {
	id := ovm.ID(r.PathValue("id"))
	q := r.URL.Query()
	if secret := q.Get("ticket"); secret != "" {
		t, ok := ts.take(secret, id)
		if !ok {
			return auth.Principal{}, core.TerminalRequest{}, fmt.Errorf("%w: the terminal ticket is unknown, used or expired", core.ErrUnauthenticated)
		}
		return t.p, t.req, nil
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return auth.Principal{}, core.TerminalRequest{}, fmt.Errorf("%w: a bearer token or a terminal ticket is required", core.ErrUnauthenticated)
	}
	p, err := s.svc.Authenticate(r.Context(), strings.TrimSpace(token))
	if err != nil {
		return auth.Principal{}, core.TerminalRequest{}, err
	}
	req := core.TerminalRequest{Mode: core.TerminalMode(q.Get("mode")), Command: q["command"]}
	if req.Mode == "" {
		req.Mode = core.TerminalSerial
	}
	var f ovm.Fields
	for name, v := range map[string]*uint{"cols": &req.Cols, "rows": &req.Rows} {
		if s := q.Get(name); s != "" {
			n, err := strconv.ParseUint(s, 10, 16)
			if err != nil {
				f.Add("query."+name, "must be a whole number up to 1000")
			}
			*v = uint(n)
		}
	}
	return p, req, f.Err("invalid terminal")
}

// terminal serves one WebSocket terminal session and returns the status
// it answered with (101 once upgraded).
func (s *server) terminal(w http.ResponseWriter, r *http.Request, ts *tickets) int {
	id := ovm.ID(r.PathValue("id"))
	p, req, err := s.terminalRequest(r, ts)
	ctx := r.Context()
	if err == nil {
		ctx = context.WithValue(ctx, principalKey, p)
		if !id.Valid() {
			err = ovm.Invalid("invalid terminal", ovm.FieldError{Field: "path.id", Reason: "must be a lower-case UUID"})
		}
	}
	var term hypervisor.Terminal
	if err == nil {
		// The session outlives the handshake: bound by the request's
		// context, which ends when the connection does.
		term, err = s.svc.OpenTerminal(ctx, p, id, req)
	}
	if err != nil {
		se := s.problem(ctx, err)
		if se.GetStatus() == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ovm"`)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(se.GetStatus())
		_ = json.NewEncoder(w).Encode(se)
		return se.GetStatus()
	}
	defer term.Close()
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		// Accept answered (400 for no upgrade, 403 for a foreign origin).
		return http.StatusBadRequest
	}
	s.pipeTerminal(ctx, c, term)
	return http.StatusSwitchingProtocols
}

// resize is a control message of the client.
type resize struct {
	Type string `json:"type"`
	Cols uint   `json:"cols"`
	Rows uint   `json:"rows"`
}

// pipeTerminal copies the terminal's output to the WebSocket and the
// WebSocket's input to the terminal until either ends.
func (s *server) pipeTerminal(ctx context.Context, c *websocket.Conn, term hypervisor.Terminal) {
	c.SetReadLimit(64 << 10)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// The client is gone: end the session, whose output may be quiet
		// for hours, so that the copy below returns.
		defer func() { _ = term.Close() }()
		defer cancel()
		warned := false
		for {
			typ, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			if typ == websocket.MessageText {
				var m resize
				if json.Unmarshal(b, &m) == nil && m.Type == "resize" && m.Cols > 0 && m.Rows > 0 && m.Cols <= 1000 && m.Rows <= 1000 {
					_ = term.Resize(ctx, m.Cols, m.Rows)
				}
				continue
			}
			if _, err := term.Write(b); err != nil && !warned {
				// A console that takes no input says so once, in the
				// terminal.
				warned = true
				msg := "\r\n[" + problemDetail(s.problem(ctx, err)) + "]\r\n"
				if errors.Is(err, ovm.ErrUnsupported) {
					msg = "\r\n[this console takes no input]\r\n"
				}
				_ = c.Write(ctx, websocket.MessageBinary, []byte(msg))
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := term.Read(buf)
		if n > 0 {
			if werr := c.Write(ctx, websocket.MessageBinary, buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				_ = c.Close(websocket.StatusNormalClosure, "end")
				return
			}
			reason := problemDetail(s.problem(ctx, err))
			if len(reason) > 120 {
				reason = reason[:120]
			}
			s.log.WarnContext(ctx, "api: terminal", "err", err)
			_ = c.Close(websocket.StatusInternalError, reason)
			return
		}
	}
}
