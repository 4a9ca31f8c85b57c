package esxi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"syscall"

	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/ovm"
)

// licenceText is what an ESXi host on the free licence answers to a change.
const licenceText = "Current license or ESXi version prohibits execution of the requested operation"

// faultOf returns the vim fault err carries, or nil.
func faultOf(err error) types.BaseMethodFault {
	var te task.Error
	if errors.As(err, &te) && te.LocalizedMethodFault != nil {
		return te.Fault()
	}
	var lte *task.Error
	if errors.As(err, &lte) && lte != nil && lte.LocalizedMethodFault != nil {
		return lte.Fault()
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if soap.IsSoapFault(e) {
			f := soap.ToSoapFault(e).VimFault()
			if bf, ok := f.(types.BaseMethodFault); ok {
				return bf
			}
			if f == nil {
				return nil
			}
			// Some faults decode as values: take their address.
			p := reflect.New(reflect.TypeOf(f))
			p.Elem().Set(reflect.ValueOf(f))
			bf, _ := p.Interface().(types.BaseMethodFault)
			return bf
		}
		if soap.IsVimFault(e) {
			return soap.ToVimFault(e)
		}
	}
	return nil
}

// isFault reports whether err carries a vim fault of the same type as target.
func isFault[T types.BaseMethodFault](err error) bool {
	_, ok := faultOf(err).(T)
	return ok
}

// kindOf classifies err: a vim fault by its type, a transport failure as
// unavailable, a done context as unavailable (keeping the context's error).
func kindOf(err error) ovm.Kind {
	if k := ovm.KindOf(err); k != ovm.KindInternal {
		return k
	}
	switch faultOf(err).(type) {
	case nil:
	case *types.NotFound, *types.ManagedObjectNotFound, *types.FileNotFound:
		return ovm.KindNotFound
	case *types.DuplicateName, *types.AlreadyExists, *types.FileAlreadyExists,
		*types.InvalidPowerState, *types.InvalidState, *types.ResourceInUse, *types.TaskInProgress,
		*types.NoDiskSpace, *types.FileLocked, *types.InsufficientResourcesFault, *types.InsufficientHostCapacityFault,
		*types.InsufficientMemoryResourcesFault, *types.InsufficientCpuResourcesFault:
		return ovm.KindConflict
	case *types.InvalidArgument, *types.InvalidName, *types.InvalidLogin, *types.InvalidDatastorePath:
		return ovm.KindInvalid
	case *types.RestrictedVersion, *types.NotSupported, *types.NotImplemented, *types.ToolsUnavailable:
		return ovm.KindUnsupported
	default:
		if strings.Contains(err.Error(), licenceText) {
			return ovm.KindUnsupported
		}
		return ovm.KindInternal
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ovm.KindUnavailable
	}
	var te *ThumbprintError
	if errors.As(err, &te) {
		return ovm.KindInvalid
	}
	if certError(err) {
		return ovm.KindInvalid
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return ovm.KindUnavailable
	}
	return ovm.KindInternal
}

// certError reports whether err is a failed verification of a certificate
// chain or host name.
func certError(err error) bool {
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce x509.CertificateInvalidError
	var ve *tls.CertificateVerificationError
	return errors.As(err, &ue) || errors.As(err, &he) || errors.As(err, &ce) || errors.As(err, &ve)
}

// wrap gives err an ovm kind and says what was being done on which host; the
// host's own text stays at the end (and reachable through errors.As).
func (c *conn) wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	msg := "esxi " + c.host + ": " + fmt.Sprintf(format, args...)
	if isFault[*types.InvalidLogin](err) {
		return ovm.Wrap(ovm.KindInvalid, err, "%s: wrong user name or password for %s", msg, c.host)
	}
	return ovm.Wrap(kindOf(err), err, "%s", msg)
}
