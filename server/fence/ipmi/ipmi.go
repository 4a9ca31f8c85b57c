package ipmi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/command/chassis"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/openovm/ovm/ovm"
)

// DefaultPort is IPMI's UDP port (RMCP).
const DefaultPort = 623

// DefaultCipherSuite is the RMCP+ cipher suite used when the configuration
// names none: 3 (RAKP-HMAC-SHA1, HMAC-SHA1-96 integrity, AES-CBC-128
// confidentiality), which every IPMI 2.0 BMC implements.
const DefaultCipherSuite = 3

// Config is how to reach one host's BMC.
type Config struct {
	// Address is the BMC's host name or IP address.
	Address string
	// Port is its UDP port (0: DefaultPort).
	Port     int
	Username string
	Password string
	// CipherSuite is the RMCP+ cipher suite id (0: DefaultCipherSuite).
	CipherSuite int
	// Timeout bounds each exchange with the BMC (0: 2s); every operation is
	// bounded by its context too.
	Timeout time.Duration
	// Poll is the interval between power state reads while confirming a
	// power change (0: 250ms).
	Poll time.Duration
}

// Validate checks the configuration, naming each field it refuses.
func (c Config) Validate() error {
	var f ovm.Fields
	switch {
	case strings.TrimSpace(c.Address) == "":
		f.Add("address", "must not be empty")
	case len(c.Address) > 255 || strings.ContainsAny(c.Address, " \t\r\n\x00/"):
		f.Add("address", "must be a host name or IP address of at most 255 characters")
	}
	if c.Port < 0 || c.Port > 65535 {
		f.Add("port", "must be between 1 and 65535 (0: 623)")
	}
	switch {
	case c.Username == "":
		f.Add("username", "must not be empty")
	case len(c.Username) > 16:
		f.Add("username", "must be at most 16 characters (IPMI's limit)")
	}
	if len(c.Password) > 20 {
		f.Add("password", "must be at most 20 characters (IPMI 2.0's limit)")
	}
	if c.CipherSuite < 0 || c.CipherSuite > 19 {
		f.Add("cipherSuite", "must be an RMCP+ cipher suite id between 0 and 19")
	}
	return f.Err("invalid BMC settings")
}

// BMC is one host's baseboard management controller. Each operation opens
// its own session and closes it, so a BMC value holds no connection and is
// safe for concurrent use.
type BMC struct {
	c Config
}

// New returns the BMC of a configuration, once it is valid.
func New(c Config) (*BMC, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.CipherSuite == 0 {
		c.CipherSuite = DefaultCipherSuite
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	if c.Poll <= 0 {
		c.Poll = 250 * time.Millisecond
	}
	return &BMC{c: c}, nil
}

// Addr is the BMC's address and port, for messages.
func (b *BMC) Addr() string { return fmt.Sprintf("%s:%d", b.c.Address, b.c.Port) }

// session opens an RMCP+ session, runs fn in it and closes it.
func (b *BMC) session(ctx context.Context, what string, fn func(*client.Client) error) error {
	if err := ctx.Err(); err != nil {
		return ovm.Wrap(ovm.KindUnavailable, err, "ipmi: %s on BMC %s", what, b.Addr())
	}
	cl, err := client.NewClient(b.c.Address, b.c.Port, b.c.Username, b.c.Password)
	if err != nil {
		return ovm.Invalid(fmt.Sprintf("ipmi: %s", err), ovm.FieldError{Field: "username", Reason: err.Error()})
	}
	cl.WithTimeout(b.c.Timeout).WithRetry(1).WithCipherSuiteID(types.CipherSuiteID(b.c.CipherSuite)).
		WithMaxPrivilegeLevel(types.PrivilegeLevelAdministrator)
	if err := cl.Connect(ctx); err != nil {
		return b.classify(ctx, "open a session", err)
	}
	defer func() { _ = cl.Close(context.WithoutCancel(ctx)) }()
	if err := fn(cl); err != nil {
		return b.classify(ctx, what, err)
	}
	return nil
}

// classify gives an error of the IPMI client its kind, keeping its text:
// refused credentials are invalid and name the field, everything else
// (no answer, a session that broke) is unavailable.
func (b *BMC) classify(ctx context.Context, what string, err error) error {
	msg := err.Error()
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "unauthorized name") || strings.Contains(low, "invalid name"):
		return ovm.Invalid(fmt.Sprintf("ipmi: BMC %s refused the user name: %s", b.Addr(), msg),
			ovm.FieldError{Field: "username", Reason: "the BMC does not know this user: " + lastLine(msg)})
	case strings.Contains(low, "authentication code mismatch") || strings.Contains(low, "invalid integrity check") ||
		strings.Contains(low, "rakp authentication failed"):
		return ovm.Invalid(fmt.Sprintf("ipmi: BMC %s refused the password: %s", b.Addr(), msg),
			ovm.FieldError{Field: "password", Reason: "the BMC refused it: " + lastLine(msg)})
	case strings.Contains(low, "privilege"):
		return ovm.Invalid(fmt.Sprintf("ipmi: BMC %s refused the user's privilege: %s", b.Addr(), msg),
			ovm.FieldError{Field: "username", Reason: "must be an administrator of the BMC: " + lastLine(msg)})
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w (%w)", err, cerr)
	}
	return ovm.Wrap(ovm.KindUnavailable, err, "ipmi: %s on BMC %s", what, b.Addr())
}

// lastLine is the last line of a multi-line error text (the client reports
// one line per cipher suite it tried).
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.LastIndex(s, "err: "); i >= 0 {
		s = s[i+len("err: "):]
	}
	return s
}

// Power reports whether the machine's power is on.
func (b *BMC) Power(ctx context.Context) (on bool, err error) {
	err = b.session(ctx, "read the chassis power", func(cl *client.Client) error {
		st, err := cl.GetChassisStatus(ctx)
		if err != nil {
			return err
		}
		on = st.PowerIsOn
		return nil
	})
	return on, err
}

// PowerOff cuts the machine's power (chassis control power down, not a soft
// shutdown): what fencing needs.
func (b *BMC) PowerOff(ctx context.Context) error {
	return b.control(ctx, "power off", chassis.ChassisControlPowerDown)
}

// PowerOn powers the machine on (a returning host, when asked).
func (b *BMC) PowerOn(ctx context.Context) error {
	return b.control(ctx, "power on", chassis.ChassisControlPowerUp)
}

func (b *BMC) control(ctx context.Context, what string, ctl chassis.ChassisControl) error {
	return b.session(ctx, what, func(cl *client.Client) error {
		_, err := cl.ChassisControl(ctx, ctl)
		return err
	})
}

// WaitPower reads the power state every Poll until it is want, for at most
// within (and ctx). It fails as unavailable when the state was not reached,
// saying the last state read or the last error.
func (b *BMC) WaitPower(ctx context.Context, want bool, within time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last error
	for {
		on, err := b.Power(wctx)
		switch {
		case err == nil && on == want:
			return nil
		case err == nil:
			last = fmt.Errorf("the BMC still reads power %s", onOff(on))
		case ovm.KindOf(err) == ovm.KindInvalid:
			return err
		default:
			last = err
		}
		t := time.NewTimer(b.c.Poll)
		select {
		case <-wctx.Done():
			t.Stop()
			return ovm.Wrap(ovm.KindUnavailable, last, "ipmi: power of BMC %s not confirmed %s within %s", b.Addr(), onOff(want), within)
		case <-t.C:
		}
	}
}

// Fence powers the machine off and confirms it: it returns nil only once
// the BMC reads the power back off, within confirm.
func (b *BMC) Fence(ctx context.Context, confirm time.Duration) error {
	if err := b.PowerOff(ctx); err != nil {
		return err
	}
	return b.WaitPower(ctx, false, confirm)
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
