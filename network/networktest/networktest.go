package networktest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/conformance"
	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
)

// The names of the suite's tests: sub-test names under Run's t, and the keys
// of Harness.Exceptions.
const (
	CreateIdempotent  = "CreateIdempotent"
	GetList           = "GetList"
	InvalidNetwork    = "InvalidNetwork"
	VLAN              = "VLAN"
	IPv6              = "IPv6"
	Attach            = "Attach"
	AttachConflicts   = "AttachConflicts"
	AttachInvalid     = "AttachInvalid"
	Detach            = "Detach"
	DeleteInUse       = "DeleteInUse"
	Delete            = "Delete"
	UnknownIDs        = "UnknownIDs"
	ConcurrentCreates = "ConcurrentCreates"
)

// Harness tells the suite how to exercise one driver.
type Harness struct {
	// New returns a driver for one test. Required. It may return the same
	// driver (one connection to an engine) to every test.
	New func(t *testing.T) network.Driver
	// Network returns a valid network for this driver, named name: a
	// subnet unlikely to clash, such as inside 10.211.0.0/16, and a VLAN
	// when Capabilities.VLAN. Required; the suite fills in an empty ID or
	// Name. Each call must return a distinct subnet, as an engine may
	// refuse overlapping ones. The suite derives its IPv6 networks from it
	// (a /64 inside fd00:211::/32, gateway ::1, no ranges).
	Network func(t *testing.T, name string) ovm.Network
	// Instance returns an instance id that can be attached; the harness
	// makes the instance and removes it in t.Cleanup. Required.
	Instance func(t *testing.T) ovm.ID
	// Exceptions names tests (the constants of this package) the driver
	// cannot pass, each with a justification. Run does not run them and
	// logs the justification.
	Exceptions map[string]string
}

// test is one named test of the suite.
type test struct {
	name string
	run  func(t *testing.T, e *env)
}

// suite lists the tests in the order Run runs them.
func suite() []test {
	return []test{
		{CreateIdempotent, testCreateIdempotent},
		{GetList, testGetList},
		{InvalidNetwork, testInvalidNetwork},
		{VLAN, testVLAN},
		{IPv6, testIPv6},
		{Attach, testAttach},
		{AttachConflicts, testAttachConflicts},
		{AttachInvalid, testAttachInvalid},
		{Detach, testDetach},
		{DeleteInUse, testDeleteInUse},
		{Delete, testDelete},
		{UnknownIDs, testUnknownIDs},
		{ConcurrentCreates, testConcurrentCreates},
	}
}

// Tests returns the names of every test of the suite, in the order Run runs
// them.
func Tests() []string {
	names := make([]string, 0, len(suite()))
	for _, tc := range suite() {
		names = append(names, tc.name)
	}
	return names
}

// Validate checks the harness before any test runs: New, Network and
// Instance are set, and every exception names a test of the suite and gives
// a justification. The error is ovm.ErrInvalid naming each bad field.
func (h Harness) Validate() error {
	var f ovm.Fields
	if h.New == nil {
		f.Add("New", "is required")
	}
	if h.Network == nil {
		f.Add("Network", "is required")
	}
	if h.Instance == nil {
		f.Add("Instance", "is required")
	}
	conformance.CheckExceptions(&f, h.Exceptions, Tests())
	return f.Err("invalid networktest harness")
}

// Run runs the whole suite against the driver the harness makes, each test
// as a sub-test of t named by its constant. An invalid harness fails t
// before any test runs. An excepted test is not run: its name and
// justification are logged on t instead.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if err := h.Validate(); err != nil {
		t.Fatalf("networktest: %v", err)
	}
	tests := make([]conformance.Test, 0, len(suite()))
	for _, tc := range suite() {
		tests = append(tests, conformance.Test{Name: tc.name, Run: func(t *testing.T) {
			d := h.New(t)
			require.NotNil(t, d, "Harness.New returned a nil driver")
			tc.run(t, &env{h: h, d: d})
		}})
	}
	conformance.Run(t, "networktest", tests, h.Exceptions)
}

// cleanupTimeout bounds the removal of what one test made.
const cleanupTimeout = 2 * time.Minute

// env is what a test works with: the harness and its driver.
type env struct {
	h Harness
	d network.Driver
}

// name returns a unique network name, a DNS label of 13 characters such as
// "ovmnt-1a2b3c4d" (short: some engines derive interface names from it).
func name() string { return "ovmnt-" + ovm.NewID().Short() }

// network returns the harness's network under a fresh name.
func (e *env) network(t *testing.T) ovm.Network {
	t.Helper()
	nm := name()
	n := e.h.Network(t, nm)
	if n.ID.IsZero() {
		n.ID = ovm.NewID()
	}
	if n.Name == "" {
		n.Name = nm
	}
	require.NoError(t, n.Validate(), "Harness.Network(%q) returned an invalid network", nm)
	return n
}

// network6 returns the harness's network moved to an IPv6 /64 inside
// fd00:211::/32, derived from its id, with gateway ::1 and no ranges.
func (e *env) network6(t *testing.T) ovm.Network {
	t.Helper()
	n := e.network(t)
	n.Subnet = prefix6(ovm.NewID())
	n.Gateway = n.Subnet.Addr().Next()
	n.Ranges = nil
	n.DNS = nil
	require.NoError(t, n.Validate(), "IPv6 network derived from Harness.Network")
	return n
}

// prefix6 returns the /64 fd00:211:XXXX:YYYY::/64 where XXXXYYYY are the
// first eight hex digits of id.
func prefix6(id ovm.ID) netip.Prefix {
	return netip.MustParsePrefix(fmt.Sprintf("fd00:211:%s:%s::/64", id[0:4], id[4:8]))
}

// create makes n and removes it, with whatever is still attached to it,
// when the test ends.
func (e *env) create(t *testing.T, n ovm.Network) network.Segment {
	t.Helper()
	e.cleanupNetwork(t, n.ID)
	s, err := e.d.CreateNetwork(t.Context(), n)
	require.NoError(t, err, "CreateNetwork(%s %q %s): want a segment", n.ID, n.Name, n.Subnet)
	return s
}

// cleanupNetwork removes network id and its attachments when the test
// ends; what is already gone is fine.
func (e *env) cleanupNetwork(t *testing.T, id ovm.ID) {
	if id.IsZero() {
		return
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), cleanupTimeout)
		defer cancel()
		atts, err := e.d.Attachments(ctx, id)
		if errors.Is(err, ovm.ErrNotFound) {
			return
		}
		if err != nil {
			t.Errorf("cleanup: Attachments(%s): %v", id, err)
			return
		}
		for _, a := range atts {
			if err := e.d.Detach(ctx, id, a.InstanceID); err != nil && !errors.Is(err, ovm.ErrNotFound) {
				t.Errorf("cleanup: Detach(%s, %s): %v", id, a.InstanceID, err)
			}
		}
		if err := e.d.DeleteNetwork(ctx, id); err != nil && !errors.Is(err, ovm.ErrNotFound) {
			t.Errorf("cleanup: DeleteNetwork(%s): %v", id, err)
		}
	})
}

// attach attaches inst to network n with spec; the network's cleanup
// detaches it.
func (e *env) attach(t *testing.T, n ovm.ID, inst ovm.ID, spec network.AttachSpec) network.Attachment {
	t.Helper()
	a, err := e.d.Attach(t.Context(), n, inst, spec)
	require.NoError(t, err, "Attach(%s, %s, %+v): want an attachment", n, inst, spec)
	return a
}

// ipam returns an allocator for n holding the addresses attached to it.
func (e *env) ipam(t *testing.T, n ovm.Network) *network.IPAM {
	t.Helper()
	atts, err := e.d.Attachments(t.Context(), n.ID)
	require.NoError(t, err, "Attachments(%s)", n.ID)
	var held []network.Allocation
	for _, a := range atts {
		if a.IP.IsValid() {
			held = append(held, network.Allocation{IP: a.IP, Owner: a.InstanceID})
		}
	}
	m, err := network.NewIPAM(n, held)
	require.NoError(t, err, "NewIPAM(%s) from the attachments %v", n.ID, atts)
	return m
}

// hasField reports whether err names field among its invalid fields.
func hasField(err error, field string) bool {
	for _, f := range ovm.FieldsOf(err) {
		if f.Field == field {
			return true
		}
	}
	return false
}

// fieldNames lists the fields err names, for failure messages.
func fieldNames(err error) []string {
	var out []string
	for _, f := range ovm.FieldsOf(err) {
		out = append(out, f.Field)
	}
	return out
}

// count counts the segments of network id in segs.
func count(segs []network.Segment, id ovm.ID) int {
	n := 0
	for _, s := range segs {
		if s.Network.ID == id {
			n++
		}
	}
	return n
}
