package api

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

// loginInput is a login and the address it comes from.
type loginInput struct {
	Body apitypes.Login
	addr string
}

// Resolve takes the client address of the request (huma.Resolver): the
// host of the connection's remote address.
func (in *loginInput) Resolve(ctx huma.Context) []error {
	in.addr = ctx.RemoteAddr()
	if h, _, err := net.SplitHostPort(in.addr); err == nil {
		in.addr = h
	}
	return nil
}

func (s *server) authRoutes() {
	tags := []string{"auth"}
	register(s, op{id: "login", method: http.MethodPost, path: "/v1/login", summary: "Log in: trade a password for a bearer token",
		desc: "Failed logins are throttled per user name and per client address: past a few, the answer is 429 with " +
			"Retry-After (the same for unknown users as for existing ones) until the wait ends.",
		tags: tags, public: true, errors: []int{http.StatusUnauthorized, http.StatusTooManyRequests}},
		func(ctx context.Context, _ auth.Principal, in *loginInput) (*Out[core.Session], error) {
			sess, err := s.svc.LoginFrom(ctx, in.Body.Name, in.Body.Password, in.addr)
			if err != nil {
				return nil, err
			}
			return &Out[core.Session]{Body: sess}, nil
		})
	if r := s.api.OpenAPI().Paths["/v1/login"].Post.Responses["429"]; r != nil {
		one := 1.0
		r.Headers = map[string]*huma.Param{"Retry-After": {Description: "Seconds to wait before the next login.",
			Required: true, Schema: &huma.Schema{Type: "integer", Minimum: &one}}}
	}
	register(s, op{id: "logout", method: http.MethodPost, path: "/v1/logout", summary: "Log out: revoke the bearer token of this request",
		desc: "Revokes exactly the token the request presents, a login session or a personal API token alike; the user's " +
			"other sessions and tokens stay valid. The token is refused at once afterwards (401).",
		tags: tags, status: http.StatusNoContent},
		func(ctx context.Context, p auth.Principal, _ *struct{}) (*Empty, error) {
			return &Empty{}, s.svc.Logout(ctx, p)
		})
	register(s, op{id: "get-me", method: http.MethodGet, path: "/v1/me", summary: "The user the token belongs to", tags: tags},
		func(ctx context.Context, p auth.Principal, _ *struct{}) (*Out[core.User], error) {
			u, err := s.svc.Me(ctx, p)
			if err != nil {
				return nil, err
			}
			return &Out[core.User]{Body: u}, nil
		})
	pageRoute(s, op{id: "list-tokens", method: http.MethodGet, path: "/v1/tokens", summary: "List your tokens", tags: tags}, s.svc.ListTokens)
	register(s, op{id: "create-token", method: http.MethodPost, path: "/v1/tokens", summary: "Create a personal API token (its secret is shown once)",
		tags: tags, status: http.StatusCreated},
		func(ctx context.Context, p auth.Principal, in *struct{ Body apitypes.TokenCreate }) (*Out[core.NewToken], error) {
			t, err := s.svc.CreateToken(ctx, p, in.Body.Name, time.Duration(in.Body.ExpiresInSeconds)*time.Second)
			if err != nil {
				return nil, err
			}
			return &Out[core.NewToken]{Body: t}, nil
		})
	register(s, op{id: "delete-token", method: http.MethodDelete, path: "/v1/tokens/{id}", summary: "Revoke one of your tokens",
		tags: tags, status: http.StatusNoContent},
		func(ctx context.Context, p auth.Principal, in *IDPath) (*Empty, error) {
			return &Empty{}, s.svc.RevokeToken(ctx, p, ovm.ID(in.ID))
		})
}
