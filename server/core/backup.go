package core

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// Snapshot is an online backup taken and ready to stream: WriteTo writes
// the archive, Close removes what it kept meanwhile.
type Snapshot interface {
	io.WriterTo
	io.Closer
}

// errNoBackup is a server that takes no backups of its own.
var errNoBackup = errors.New("this server's store is not the embedded one: back up its database with the database's own tools")

// Backup takes an online backup of the store and the secret key
// (administrators). The server keeps serving; the snapshot is consistent.
// A store that is not the embedded one is ovm.ErrUnsupported. Under an
// AuditContext, who took it is an audit event.
func (s *Service) Backup(ctx context.Context, p auth.Principal) (Snapshot, error) {
	if !p.Admin() {
		return nil, fmt.Errorf("%w: backups are for platform administrators", ErrForbidden)
	}
	if s.o.Backup == nil {
		return nil, ovm.Wrap(ovm.KindUnsupported, errNoBackup, "no online backup")
	}
	snap, err := s.o.Backup(ctx)
	if err != nil {
		return nil, err
	}
	if ac := auditFrom(ctx); ac != nil {
		e := ac.event(s.now(), string(apitypes.AuditSucceeded))
		e.Object = store.AuditObject{Kind: "backup", ID: store.NewAuditID(e.At)}
		if err := s.appendOwn(ctx, &e); err != nil {
			_ = snap.Close()
			return nil, err
		}
		ac.markWrote()
	}
	return snap, nil
}
