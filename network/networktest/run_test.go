package networktest_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/conformance"
	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/network/fake"
	"github.com/openovm/ovm/network/networktest"
	"github.com/openovm/ovm/ovm"
)

// envMode tells TestRunFromEnv, run in a child process, what to run:
// "bug=NAME" runs the suite on a broken driver, "exceptions=CASE" with the
// exceptions of that case. Empty (the ordinary run) runs the suite in
// process with one justified exception.
const envMode = "OVM_NETWORKTEST_MODE"

// justification is the reason given for the valid exception.
const justification = "justified-because-the-engine-cannot"

// exceptionCases are the Exceptions maps the child runs with.
func exceptionCases() map[string]map[string]string {
	return map[string]map[string]string{
		"valid":       {networktest.ConcurrentCreates: justification},
		"unknown":     {"ConcurrentCreate": justification},
		"unjustified": {networktest.ConcurrentCreates: " \t"},
	}
}

// fakeHarness runs the suite on a fresh fake per test, wrapped by wrap when
// it is set.
func fakeHarness(wrap func(*fake.Driver) network.Driver) networktest.Harness {
	var seq atomic.Uint32
	return networktest.Harness{
		New: func(*testing.T) network.Driver {
			if wrap == nil {
				return fake.New(fake.Options{})
			}
			return wrap(fake.New(fake.Options{}))
		},
		Network: func(t *testing.T, name string) ovm.Network {
			k := byte(seq.Add(1))
			return ovm.Network{
				ID: ovm.NewID(), Name: name, VLAN: 300 + int(k),
				Subnet:  netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 211, k, 0}), 24),
				Gateway: netip.AddrFrom4([4]byte{10, 211, k, 1}),
			}
		},
		Instance: func(*testing.T) ovm.ID { return ovm.NewID() },
	}
}

func TestTests(t *testing.T) {
	// Every exported name, spelled out: Tests must list each exactly once.
	want := []string{
		networktest.CreateIdempotent, networktest.GetList, networktest.InvalidNetwork, networktest.VLAN,
		networktest.IPv6, networktest.Attach, networktest.AttachConflicts, networktest.AttachInvalid,
		networktest.Detach, networktest.DeleteInUse, networktest.Delete, networktest.UnknownIDs,
		networktest.ConcurrentCreates,
	}
	got := networktest.Tests()
	assert.ElementsMatch(t, want, got, "Tests(): got these names, want every exported test name once")
}

func TestHarnessValidate(t *testing.T) {
	valid := fakeHarness(nil)
	tests := []struct {
		name       string
		spoil      func(h *networktest.Harness)
		wantFields []string // nil: valid
	}{
		{name: "valid", spoil: func(*networktest.Harness) {}},
		{name: "justified exception", spoil: func(h *networktest.Harness) { h.Exceptions = exceptionCases()["valid"] }},
		{name: "nothing set", spoil: func(h *networktest.Harness) { *h = networktest.Harness{} }, wantFields: []string{"New", "Network", "Instance"}},
		{name: "unknown test", spoil: func(h *networktest.Harness) { h.Exceptions = exceptionCases()["unknown"] }, wantFields: []string{`Exceptions["ConcurrentCreate"]`}},
		{name: "no justification", spoil: func(h *networktest.Harness) { h.Exceptions = exceptionCases()["unjustified"] }, wantFields: []string{`Exceptions["ConcurrentCreates"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := valid
			tt.spoil(&h)
			err := h.Validate()
			if tt.wantFields == nil {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ovm.ErrInvalid, "got %v, want ovm.ErrInvalid", err)
			var got []string
			for _, f := range ovm.FieldsOf(err) {
				got = append(got, f.Field)
			}
			assert.Equal(t, tt.wantFields, got, "got fields %v, want %v", got, tt.wantFields)
		})
	}
}

// TestRunFromEnv runs the suite on the fake. In the ordinary run it gives
// one justified exception and checks that the excepted test never made a
// driver while every other test did. Run as a child (envMode set) it runs a
// broken driver or a bad exception list for the tests below to watch.
func TestRunFromEnv(t *testing.T) {
	mode := os.Getenv(envMode)
	switch {
	case strings.HasPrefix(mode, "bug="):
		bug := strings.TrimPrefix(mode, "bug=")
		networktest.Run(t, fakeHarness(func(d *fake.Driver) network.Driver { return &broken{Driver: d, bug: bug} }))
		return
	case strings.HasPrefix(mode, "exceptions="):
		h := fakeHarness(nil)
		h.Exceptions = exceptionCases()[strings.TrimPrefix(mode, "exceptions=")]
		networktest.Run(t, h)
		return
	}

	var mu sync.Mutex
	made := map[string]bool{}
	h := fakeHarness(nil)
	newDriver := h.New
	h.New = func(t *testing.T) network.Driver {
		mu.Lock()
		defer mu.Unlock()
		made[strings.TrimPrefix(t.Name(), "TestRunFromEnv/suite/")] = true
		return newDriver(t)
	}
	h.Exceptions = exceptionCases()["valid"]
	t.Run("suite", func(t *testing.T) { networktest.Run(t, h) })

	for _, name := range networktest.Tests() {
		_, excepted := h.Exceptions[name]
		assert.Equal(t, !excepted, made[name], "test %s made a driver: got %v, want %v (excepted: %v)", name, made[name], !excepted, excepted)
	}
}

// runChild runs TestRunFromEnv in a child process in mode and returns its
// output and whether it passed.
func runChild(t *testing.T, mode string) (string, bool) {
	t.Helper()
	return conformance.RunChild(t, "^TestRunFromEnv$", envMode+"="+mode)
}

func TestExceptions(t *testing.T) {
	tests := []struct {
		name     string
		mode     string
		wantPass bool
		want     []string // in the output
		wantNot  []string
	}{
		{
			name: "justified exception is not run and its reason logged", mode: "exceptions=valid", wantPass: true,
			want:    []string{"ConcurrentCreates not run, excepted by the harness: " + justification, "--- PASS: TestRunFromEnv/" + networktest.Delete},
			wantNot: []string{"=== RUN   TestRunFromEnv/" + networktest.ConcurrentCreates},
		},
		{
			name: "unknown test fails the suite", mode: "exceptions=unknown",
			want:    []string{`Exceptions["ConcurrentCreate"]: names no test of the suite`, "--- FAIL: TestRunFromEnv"},
			wantNot: []string{"=== RUN   TestRunFromEnv/"},
		},
		{
			name: "exception without a reason fails the suite", mode: "exceptions=unjustified",
			want:    []string{`Exceptions["ConcurrentCreates"]: needs a justification`, "--- FAIL: TestRunFromEnv"},
			wantNot: []string{"=== RUN   TestRunFromEnv/"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, passed := runChild(t, tt.mode)
			conformance.ExpectChild(t, tt.mode, out, passed, tt.wantPass, tt.want, tt.wantNot)
		})
	}
}

// TestSuiteCatchesBrokenDrivers runs the suite on drivers with one bug each
// and expects the test that guards against it to fail.
func TestSuiteCatchesBrokenDrivers(t *testing.T) {
	tests := []struct {
		bug      string
		wantFail string
	}{
		{bug: "create-not-idempotent", wantFail: networktest.CreateIdempotent},
		{bug: "list-drops-one", wantFail: networktest.GetList},
		{bug: "invalid-network-made", wantFail: networktest.InvalidNetwork},
		{bug: "vlan-dropped", wantFail: networktest.VLAN},
		{bug: "ipv6-refused", wantFail: networktest.IPv6},
		{bug: "attachments-drop-ip", wantFail: networktest.Attach},
		{bug: "duplicate-ip-accepted", wantFail: networktest.AttachConflicts},
		{bug: "invalid-attach-vague", wantFail: networktest.AttachInvalid},
		{bug: "detach-twice-ok", wantFail: networktest.Detach},
		{bug: "delete-in-use", wantFail: networktest.DeleteInUse},
		{bug: "delete-twice-ok", wantFail: networktest.Delete},
		{bug: "not-found-untyped", wantFail: networktest.UnknownIDs},
		{bug: "concurrent-create-lost", wantFail: networktest.ConcurrentCreates},
	}
	for _, tt := range tests {
		t.Run(tt.bug, func(t *testing.T) {
			out, passed := runChild(t, "bug="+tt.bug)
			require.False(t, passed, "suite on a driver with bug %s: got a pass, want %s to fail; output:\n%s", tt.bug, tt.wantFail, out)
			assert.Contains(t, out, "--- FAIL: TestRunFromEnv/"+tt.wantFail+" ",
				"suite on a driver with bug %s: want %s among the failures; output:\n%s", tt.bug, tt.wantFail, out)
		})
	}
}

// broken is the fake with one bug, named by bug.
type broken struct {
	*fake.Driver
	bug     string
	creates atomic.Int32
}

func (b *broken) CreateNetwork(ctx context.Context, n ovm.Network) (network.Segment, error) {
	switch b.bug {
	case "create-not-idempotent":
		if _, err := b.Driver.GetNetwork(ctx, n.ID); err == nil {
			return network.Segment{}, ovm.Errorf(ovm.KindConflict, "network %s exists", n.ID)
		}
	case "invalid-network-made":
		if n.Validate() != nil {
			n.VLAN, n.Name, n.Subnet, n.Gateway = 0, "accepted", netip.MustParsePrefix("10.99.0.0/24"), netip.Addr{}
			if n.ID == "" {
				n.ID = ovm.NewID()
			}
		}
	case "vlan-dropped":
		n.VLAN = 0
	case "ipv6-refused":
		if n.Subnet.Addr().Is6() {
			return network.Segment{}, ovm.Errorf(ovm.KindUnsupported, "no IPv6 here")
		}
	case "concurrent-create-lost":
		if b.creates.Add(1)%8 == 0 { // one create in eight is lost
			return network.Segment{Network: n, NativeID: "lost", Mode: "bridge"}, nil
		}
	}
	return b.Driver.CreateNetwork(ctx, n)
}

func (b *broken) GetNetwork(ctx context.Context, id ovm.ID) (network.Segment, error) {
	s, err := b.Driver.GetNetwork(ctx, id)
	if b.bug == "not-found-untyped" && err != nil {
		return s, errors.New(err.Error())
	}
	return s, err
}

func (b *broken) ListNetworks(ctx context.Context) ([]network.Segment, error) {
	segs, err := b.Driver.ListNetworks(ctx)
	if b.bug == "list-drops-one" && len(segs) > 1 {
		segs = segs[1:]
	}
	return segs, err
}

func (b *broken) DeleteNetwork(ctx context.Context, id ovm.ID) error {
	switch b.bug {
	case "delete-in-use":
		atts, _ := b.Driver.Attachments(ctx, id)
		for _, a := range atts {
			_ = b.Driver.Detach(ctx, id, a.InstanceID)
		}
	case "delete-twice-ok":
		if err := b.Driver.DeleteNetwork(ctx, id); !errors.Is(err, ovm.ErrNotFound) {
			return err
		}
		return nil
	}
	return b.Driver.DeleteNetwork(ctx, id)
}

func (b *broken) Attach(ctx context.Context, networkID, instanceID ovm.ID, spec network.AttachSpec) (network.Attachment, error) {
	a, err := b.Driver.Attach(ctx, networkID, instanceID, spec)
	switch {
	case b.bug == "duplicate-ip-accepted" && errors.Is(err, ovm.ErrConflict):
		return network.Attachment{NetworkID: networkID, InstanceID: instanceID, IP: spec.IP}, nil
	case b.bug == "invalid-attach-vague" && errors.Is(err, ovm.ErrInvalid):
		return a, ovm.Errorf(ovm.KindInvalid, "bad attachment")
	}
	return a, err
}

func (b *broken) Detach(ctx context.Context, networkID, instanceID ovm.ID) error {
	err := b.Driver.Detach(ctx, networkID, instanceID)
	if b.bug == "detach-twice-ok" && errors.Is(err, ovm.ErrNotFound) {
		return nil
	}
	return err
}

func (b *broken) Attachments(ctx context.Context, networkID ovm.ID) ([]network.Attachment, error) {
	atts, err := b.Driver.Attachments(ctx, networkID)
	if b.bug == "attachments-drop-ip" {
		for i := range atts {
			atts[i].IP = netip.Addr{}
		}
	}
	return atts, err
}
