package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// backupRoutes serve the online backup of the embedded store.
func (s *server) backupRoutes() {
	hop := huma.Operation{
		OperationID: "backup",
		Method:      http.MethodPost,
		Path:        "/v1/backup",
		Summary:     "Take an online backup of the embedded store and the secret key",
		Description: "Administrators. A consistent copy of the embedded store taken while the server serves, with the key " +
			"that encrypts the host credentials (and the self-signed certificate when the server made one), streamed as " +
			"a gzip-compressed tar archive that `ovm server --restore FILE` restores into an empty data directory. " +
			"The archive holds the secret key: keep it like one. 501 on PostgreSQL and CockroachDB, whose own backups apply.",
		Tags:     []string{"admin"},
		Security: bearer,
		Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotImplemented,
			http.StatusServiceUnavailable},
		Responses: map[string]*huma.Response{"200": {
			Description: "The archive.",
			Content:     map[string]*huma.MediaType{"application/gzip": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}},
		}},
	}
	huma.Register(s.api, hop, func(ctx context.Context, _ *struct{}) (*huma.StreamResponse, error) {
		snap, err := s.svc.Backup(ctx, principal(ctx))
		if err != nil {
			se := s.problem(ctx, err)
			s.auditFailure(ctx, se.GetStatus(), problemDetail(se))
			return nil, se
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			defer snap.Close()
			hctx.SetHeader("Content-Type", "application/gzip")
			hctx.SetHeader("Content-Disposition", `attachment; filename="ovm-backup.tar.gz"`)
			hctx.SetHeader("Cache-Control", "no-store")
			hctx.SetStatus(http.StatusOK)
			if _, err := snap.WriteTo(hctx.BodyWriter()); err != nil {
				// The status is out: the client finds the archive cut short.
				s.log.ErrorContext(ctx, "api: stream a backup", "err", err, "requestId", requestID(ctx))
			}
		}}, nil
	})
}
