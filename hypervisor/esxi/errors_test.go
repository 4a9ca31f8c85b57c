package esxi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/ovm"
)

// taskErr is how a failed task reports a fault: the host's text and the fault.
func taskErr(msg string, f types.BaseMethodFault) error {
	return task.Error{LocalizedMethodFault: &types.LocalizedMethodFault{Fault: f, LocalizedMessage: msg}}
}

func TestKindOf(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want ovm.Kind
	}{
		{"not found", taskErr("The object was not found", &types.NotFound{}), ovm.KindNotFound},
		{"managed object not found", soap.WrapVimFault(&types.ManagedObjectNotFound{}), ovm.KindNotFound},
		{"file not found", taskErr("File [ds] x.vmdk was not found", &types.FileNotFound{}), ovm.KindNotFound},
		{"duplicate name", taskErr("The name 'x' already exists.", &types.DuplicateName{Name: "x"}), ovm.KindConflict},
		{"already exists", soap.WrapVimFault(&types.AlreadyExists{Name: "x"}), ovm.KindConflict},
		{"invalid power state", taskErr("The attempted operation cannot be performed in the current state (Powered on).", &types.InvalidPowerState{}), ovm.KindConflict},
		{"no disk space", taskErr("There is not enough space on the file system", &types.NoDiskSpace{Datastore: "ds"}), ovm.KindConflict},
		{"insufficient resources", taskErr("Insufficient resources", &types.InsufficientResourcesFault{}), ovm.KindConflict},
		{"invalid argument", soap.WrapVimFault(&types.InvalidArgument{InvalidProperty: "name"}), ovm.KindInvalid},
		{"invalid name", soap.WrapVimFault(&types.InvalidName{Name: "a/b"}), ovm.KindInvalid},
		{"invalid login", soap.WrapVimFault(&types.InvalidLogin{}), ovm.KindInvalid},
		{"free licence", taskErr(licenceText, &types.RestrictedVersion{}), ovm.KindUnsupported},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, ovm.KindUnavailable},
		{"deadline", fmt.Errorf("post: %w", context.DeadlineExceeded), ovm.KindUnavailable},
		{"thumbprint", &ThumbprintError{Host: "h", Want: "00"}, ovm.KindInvalid},
		{"anything else", errors.New("boom"), ovm.KindInternal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := kindOf(tt.err)
			assert.Equal(t, tt.want, got, "kindOf(%v): got %s, want %s", tt.err, got, tt.want)
		})
	}
}

func TestWrapKeepsHostText(t *testing.T) {
	c := &conn{host: "esx1"}
	err := c.wrap(taskErr("The name 'web' already exists.", &types.DuplicateName{Name: "web"}), "create vm %s", "web")
	assert.ErrorIs(t, err, ovm.ErrConflict, "wrap(DuplicateName): got %v, want a conflict", err)
	assert.Contains(t, err.Error(), "The name 'web' already exists.", "wrap: got %q, want the host's text kept", err)
	assert.Contains(t, err.Error(), "esxi esx1: create vm web", "wrap: got %q, want what was done on which host", err)

	login := c.wrap(soap.WrapVimFault(&types.InvalidLogin{}), "connect")
	assert.ErrorIs(t, login, ovm.ErrInvalid, "wrap(InvalidLogin): got %v, want invalid", login)
	assert.Contains(t, login.Error(), "wrong user name or password for esx1", "wrap(InvalidLogin): got %q", login)
}

func TestFreeLicence(t *testing.T) {
	for _, tt := range []struct {
		name     string
		licences []types.LicenseManagerLicenseInfo
		readOnly bool
	}{
		{"evaluation", []types.LicenseManagerLicenseInfo{{EditionKey: "eval", Name: "Evaluation Mode"}}, false},
		{"free hypervisor", []types.LicenseManagerLicenseInfo{{EditionKey: "esxBasic", Name: "VMware vSphere 8 Hypervisor"}}, true},
		{"enterprise plus", []types.LicenseManagerLicenseInfo{{EditionKey: "esxEnterprisePlus", Name: "VMware vSphere 8 Enterprise Plus"}}, false},
		{"free and paid", []types.LicenseManagerLicenseInfo{{EditionKey: "esxBasic", Name: "vSphere Hypervisor"}, {EditionKey: "esxStandard", Name: "vSphere 8 Standard"}}, false},
		{"none", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reason := freeLicence("esx1", tt.licences)
			assert.Equal(t, tt.readOnly, reason != "", "freeLicence(%v): got reason %q, want read-only %v", tt.licences, reason, tt.readOnly)
			if tt.readOnly {
				assert.Contains(t, reason, licenceText, "freeLicence: got %q, want the host's own words", reason)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Host: "esx1.example:443", User: "root", Thumbprint: "AB:" + fmt.Sprintf("%062x", 1)}
	for _, tt := range []struct {
		name  string
		spoil func(*Config)
		field string
	}{
		{"no host", func(c *Config) { c.Host = "" }, "host"},
		{"host with a path", func(c *Config) { c.Host = "esx1/sdk" }, "host"},
		{"no user", func(c *Config) { c.User = "" }, "user"},
		{"short thumbprint", func(c *Config) { c.Thumbprint = "AB:CD" }, "thumbprint"},
		{"negative keep-alive", func(c *Config) { c.KeepAlive = -1 }, "keepAlive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.spoil(&c)
			err := c.Validate()
			assert.ErrorIs(t, err, ovm.ErrInvalid, "Validate with %s: got %v, want invalid", tt.name, err)
			var fields []string
			for _, f := range ovm.FieldsOf(err) {
				fields = append(fields, f.Field)
			}
			assert.Contains(t, fields, tt.field, "Validate with %s: got fields %v, want %q", tt.name, fields, tt.field)
		})
	}
	assert.NoError(t, good.Validate(), "Validate of a good config: got an error, want none")
}
