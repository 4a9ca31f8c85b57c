package api

import (
	"context"
	"net/http"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
)

func (s *server) authRoutes() {
	tags := []string{"auth"}
	register(s, op{id: "login", method: http.MethodPost, path: "/v1/login", summary: "Log in: trade a password for a bearer token",
		tags: tags, public: true, errors: []int{http.StatusUnauthorized}},
		func(ctx context.Context, _ auth.Principal, in *struct{ Body apitypes.Login }) (*Out[core.Session], error) {
			sess, err := s.svc.Login(ctx, in.Body.Name, in.Body.Password)
			if err != nil {
				return nil, err
			}
			return &Out[core.Session]{Body: sess}, nil
		})
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
