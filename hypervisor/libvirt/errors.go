package libvirt

import (
	"context"
	"errors"
	"fmt"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/openovm/ovm/ovm"
)

// libvirtCode returns the libvirt error number of err, or -1.
func libvirtCode(err error) golibvirt.ErrorNumber {
	var e golibvirt.Error
	if errors.As(err, &e) {
		return golibvirt.ErrorNumber(e.Code)
	}
	return -1
}

// kindOf maps a libvirt error to an ovm kind.
func kindOf(err error) ovm.Kind {
	if errors.Is(err, golibvirt.ErrInterrupted) {
		return ovm.KindUnavailable
	}
	switch libvirtCode(err) {
	case golibvirt.ErrNoDomain, golibvirt.ErrNoStoragePool, golibvirt.ErrNoStorageVol,
		golibvirt.ErrNoDomainSnapshot, golibvirt.ErrNoNetwork, golibvirt.ErrNoDomainMetadata:
		return ovm.KindNotFound
	case golibvirt.ErrOperationInvalid, golibvirt.ErrDomExist, golibvirt.ErrNetworkExist,
		golibvirt.ErrStorageVolExist, golibvirt.ErrResourceBusy, golibvirt.ErrBlockCopyActive:
		return ovm.KindConflict
	case golibvirt.ErrInvalidArg, golibvirt.ErrXMLError, golibvirt.ErrXMLDetail,
		golibvirt.ErrXMLInvalidSchema, golibvirt.ErrConfigUnsupported:
		return ovm.KindInvalid
	case golibvirt.ErrNoSupport, golibvirt.ErrOperationUnsupported, golibvirt.ErrArgumentUnsupported,
		golibvirt.ErrCPUIncompatible, golibvirt.ErrMigrateUnsafe:
		return ovm.KindUnsupported
	case golibvirt.ErrNoConnect, golibvirt.ErrRPC, golibvirt.ErrSystemError, golibvirt.ErrAuthFailed,
		golibvirt.ErrAgentUnresponsive, golibvirt.ErrAgentUnsynced, golibvirt.ErrAgentCommandTimeout:
		return ovm.KindUnavailable
	}
	if errors.Is(err, golibvirt.ErrUnsupported) {
		return ovm.KindUnsupported
	}
	return ovm.KindInternal
}

// wrap gives a libvirt error an ovm kind and a message saying what was
// being done, keeping libvirt's text as the cause. It returns nil for nil.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var oe *ovm.Error
	if errors.As(err, &oe) {
		return fmt.Errorf(format+": %w", append(args, err)...)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf(format+": %w", append(args, err)...)
	}
	return ovm.Wrap(kindOf(err), err, format, args...)
}

// isCode reports whether err is the libvirt error code.
func isCode(err error, code golibvirt.ErrorNumber) bool { return libvirtCode(err) == code }
