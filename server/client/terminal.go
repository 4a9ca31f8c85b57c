package client

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"github.com/coder/websocket"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// CreateTerminalTicket returns a single-use ticket for a terminal session
// on an instance (for a browser, which cannot give a WebSocket the token).
func (c *Client) CreateTerminalTicket(ctx context.Context, id ovm.ID, in apitypes.TerminalTicketRequest) (apitypes.TerminalTicket, error) {
	return post[apitypes.TerminalTicket](ctx, c, idPath("instances", id)+"/terminal-tickets", in, "")
}

// Terminal opens a terminal session on an instance over the WebSocket
// GET /v1/instances/{id}/terminal with the client's token: reads give the
// session's output, writes are typed into it (for vnc, the RFB stream).
// The session ends when ctx ends or the connection is closed. A refusal is
// a *Problem.
func (c *Client) Terminal(ctx context.Context, id ovm.ID, in apitypes.TerminalTicketRequest) (net.Conn, error) {
	u := *c.base.JoinPath(idPath("instances", id), "terminal")
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	q := url.Values{"mode": {string(in.Mode)}, "command": in.Command}
	if in.Cols > 0 {
		q.Set("cols", strconv.FormatUint(uint64(in.Cols), 10))
	}
	if in.Rows > 0 {
		q.Set("rows", strconv.FormatUint(uint64(in.Rows), 10))
	}
	u.RawQuery = q.Encode()
	h := http.Header{}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	conn, res, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: c.hc, HTTPHeader: h})
	if err != nil {
		if res != nil && res.StatusCode >= 400 {
			var b []byte
			if res.Body != nil {
				b, _ = io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
			}
			return nil, problemOf(res.StatusCode, res.Header, b)
		}
		return nil, fmt.Errorf("terminal of %s: %w", id, err)
	}
	conn.SetReadLimit(1 << 20)
	return websocket.NetConn(ctx, conn, websocket.MessageBinary), nil
}
