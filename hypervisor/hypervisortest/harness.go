package hypervisortest

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/internal/conformance"
	"github.com/openovm/ovm/ovm"
)

// The names of the suite's sub-tests, for Harness.Exceptions and go test -run.
const (
	// TestInfo: Info reports the driver's kind, a hostname, a positive
	// capacity, and allocations that count a running instance.
	TestInfo = "info"
	// TestPing: Ping answers.
	TestPing = "ping"
	// TestCreateGet: Create makes a stopped instance that Get finds by OVM
	// id and by native id, with the spec's identity and size.
	TestCreateGet = "create-get"
	// TestCreateIdempotent: a second Create with the same spec returns the
	// same native id, and List shows one instance.
	TestCreateIdempotent = "create-idempotent"
	// TestCreateIDConflict: the same OVM id with another name is a conflict.
	TestCreateIDConflict = "create-id-conflict"
	// TestCreateNameConflict: a name taken by another instance (managed or
	// not) is a conflict.
	TestCreateNameConflict = "create-name-conflict"
	// TestCreateInvalid: an invalid spec is ovm.ErrInvalid naming the field,
	// and leaves List unchanged.
	TestCreateInvalid = "create-invalid"
	// TestListManaged: List shows managed instances with their OVM id and
	// unmanaged ones without.
	TestListManaged = "list-managed-unmanaged"
	// TestPowerCycle: the power-state machine, start to forced stop.
	TestPowerCycle = "power-cycle"
	// TestDeleteRunning: deleting a running instance is a conflict.
	TestDeleteRunning = "delete-running"
	// TestDeleteStopped: a deleted instance is gone, and deleting it again
	// is not found.
	TestDeleteStopped = "delete-stopped"
	// TestUnknownRef: every call on an unknown instance is ovm.ErrNotFound.
	TestUnknownRef = "unknown-ref"
	// TestStats: a running instance's statistics are sane and timed.
	TestStats = "stats"
	// TestReconfigure: resizes of stopped and running instances, live as
	// Capabilities announce, and invalid resizes refused.
	TestReconfigure = "reconfigure"
	// TestCapabilities: announced facets are implemented, the harness's
	// spec is a type the driver runs, missing migration is explained.
	TestCapabilities = "capabilities"
	// TestSnapshots: snapshot create, list, revert, delete.
	TestSnapshots = "snapshots"
	// TestExec: commands run in the instance with their exit code and output.
	TestExec = "exec"
	// TestConsole: the console yields bytes.
	TestConsole = "console"
	// TestMigrate: each announced migration kind moves the instance; the
	// others are ovm.ErrUnsupported.
	TestMigrate = "migrate"
	// TestRegister: Register adopts an instance under its OVM id,
	// idempotently.
	TestRegister = "register"
	// TestMark: Mark writes an OVM id on an unmanaged object, which Get and
	// List then report; again with the same id is success, with another a
	// conflict.
	TestMark = "mark"
	// TestConcurrent: instances created, started, stopped and deleted from
	// several goroutines at once, with a consistent List.
	TestConcurrent = "concurrent"
	// TestCancelled: a call with a context already done returns the
	// context's error promptly and changes nothing.
	TestCancelled = "context-cancelled"
	// TestTemplateDelivery: a driver with hypervisor.TemplateDelivery
	// delivers a template whose digest then reads back, a second delivery
	// of the name replaces it, a failed one (a failing reader, bytes unlike
	// the digest) leaves no template and no digest, and with
	// Harness.Template an instance made from the delivered template runs.
	TestTemplateDelivery = "template-delivery"
)

// Tests returns the names of the sub-tests in the order Run runs them.
func Tests() []string {
	return []string{
		TestInfo, TestPing, TestCreateGet, TestCreateIdempotent, TestCreateIDConflict,
		TestCreateNameConflict, TestCreateInvalid, TestListManaged, TestPowerCycle,
		TestDeleteRunning, TestDeleteStopped, TestUnknownRef, TestStats, TestReconfigure,
		TestCapabilities, TestSnapshots, TestExec, TestConsole, TestMigrate, TestRegister,
		TestMark, TestConcurrent, TestCancelled, TestTemplateDelivery,
	}
}

// Defaults for the Harness's zero fields.
const (
	DefaultTimeout     = 5 * time.Minute
	DefaultStopTimeout = 30 * time.Second
	DefaultConcurrency = 8
	DefaultClockSkew   = 5 * time.Minute
	// Prompt is how soon a call with a context already done must return.
	Prompt = 2 * time.Second
)

// Harness tells the suite how to drive one kind of host.
type Harness struct {
	// New returns a fresh driver connected to the host under test; the
	// suite closes it. Each sub-test calls New once, before any other
	// harness function.
	New func(t *testing.T) hypervisor.Driver
	// Spec returns a small valid create spec this host can run (image, cpu,
	// memory...), named name, with a new OVM id on every call. An instance
	// made from it writes to its console when it boots, stays running until
	// stopped, and (when the driver executes commands) has echo, true, false
	// and cat, as busybox does.
	Spec func(t *testing.T, name string) hypervisor.CreateSpec
	// MakeUnmanaged creates an instance out of band (not through OVM, no
	// OVM id) on the host New connects to, and returns its native id; the
	// harness registers its own t.Cleanup to remove it.
	MakeUnmanaged func(t *testing.T, name string) string
	// NewPeer returns a driver for a second host of the same kind that
	// instances can migrate to; the suite closes it. Needed when the driver
	// announces live or shared-nothing migration; instances made from Spec
	// must then be able to move live (their disks on storage both hosts see).
	NewPeer func(t *testing.T) hypervisor.Driver
	// MigrationPool returns the storage pool storage and shared-nothing
	// migrations move disks to; nil means a made-up shared pool.
	MigrationPool func(t *testing.T) ovm.StoragePool
	// RegisterSpec returns the spec of an instance that exists on shared
	// storage for Register to adopt; nil means Spec.
	RegisterSpec func(t *testing.T, name string) hypervisor.CreateSpec
	// Template returns a template the host runs, for the template-delivery
	// sub-test: a name whose extension gives its format, and its bytes. The
	// sub-test delivers them under a name of its own and makes an instance
	// from Spec with that image. Nil means it delivers made-up bytes and
	// makes no instance.
	Template func(t *testing.T) (name string, data []byte)
	// RemoveTemplate removes template name, with its digest, from the host
	// New connects to (TemplateDelivery has no delete); the template-delivery
	// sub-test calls it when it ends. Nil when the host's templates go with
	// the host (a simulator, a fake).
	RemoveTemplate func(t *testing.T, name string)
	// Exceptions names sub-tests this driver cannot pass, each with the
	// reason (a justification, not empty).
	Exceptions map[string]string
	// Timeout bounds each sub-test; zero means DefaultTimeout.
	Timeout time.Duration
	// StopTimeout bounds a graceful stop; zero means DefaultStopTimeout.
	StopTimeout time.Duration
	// Concurrency is how many goroutines the concurrency sub-test runs at
	// once; zero means DefaultConcurrency.
	Concurrency int
	// Now is the clock Stats.Time is checked against; nil means time.Now.
	Now func() time.Time
	// ClockSkew is how far Stats.Time may be from Now; zero means
	// DefaultClockSkew.
	ClockSkew time.Duration
}

// Run runs every sub-test not named in h.Exceptions against the driver h
// makes, one after the other.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if err := h.check(); err != nil {
		t.Fatalf("hypervisortest: bad harness: %v", err)
	}
	s := &suite{h: h, suffix: suffix()}
	tests := map[string]func(*testing.T){
		TestInfo: s.testInfo, TestPing: s.testPing, TestCreateGet: s.testCreateGet,
		TestCreateIdempotent: s.testCreateIdempotent, TestCreateIDConflict: s.testCreateIDConflict,
		TestCreateNameConflict: s.testCreateNameConflict, TestCreateInvalid: s.testCreateInvalid,
		TestListManaged: s.testListManaged, TestPowerCycle: s.testPowerCycle,
		TestDeleteRunning: s.testDeleteRunning, TestDeleteStopped: s.testDeleteStopped,
		TestUnknownRef: s.testUnknownRef, TestStats: s.testStats, TestReconfigure: s.testReconfigure,
		TestCapabilities: s.testCapabilities, TestSnapshots: s.testSnapshots, TestExec: s.testExec,
		TestConsole: s.testConsole, TestMigrate: s.testMigrate, TestRegister: s.testRegister,
		TestMark:       s.testMark,
		TestConcurrent: s.testConcurrent, TestCancelled: s.testCancelled,
		TestTemplateDelivery: s.testTemplateDelivery,
	}
	suite := make([]conformance.Test, 0, len(tests))
	for _, name := range Tests() {
		suite = append(suite, conformance.Test{Name: name, Run: tests[name]})
	}
	conformance.Run(t, "hypervisortest", suite, h.Exceptions)
}

// check refuses a harness that is missing a function the suite always
// needs, or whose exceptions are unknown or unjustified.
func (h Harness) check() error {
	var f ovm.Fields
	if h.New == nil {
		f.Add("New", "is required")
	}
	if h.Spec == nil {
		f.Add("Spec", "is required")
	}
	if h.Timeout < 0 || h.StopTimeout < 0 || h.Concurrency < 0 || h.ClockSkew < 0 {
		f.Add("Timeout", "Timeout, StopTimeout, Concurrency and ClockSkew must not be negative")
	}
	conformance.CheckExceptions(&f, h.Exceptions, Tests())
	return f.Err("invalid hypervisortest harness")
}

// suffix returns six random lower-case letters and digits.
func suffix() string { return strings.ToLower(rand.Text()[:6]) }

// suite is one run of the suite.
type suite struct {
	h      Harness
	suffix string
}

func (s *suite) timeout() time.Duration {
	return cmp.Or(s.h.Timeout, DefaultTimeout)
}

func (s *suite) stopTimeout() time.Duration {
	return cmp.Or(s.h.StopTimeout, DefaultStopTimeout)
}

// setup returns a new driver, closed when t ends, and a context bounded by
// the harness's timeout.
func (s *suite) setup(t *testing.T) (hypervisor.Driver, context.Context) {
	t.Helper()
	d := s.h.New(t)
	require.NotNil(t, d, "Harness.New: got a nil driver, want one")
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: got %v, want nil", err)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), s.timeout())
	t.Cleanup(cancel)
	return d, ctx
}

// peer returns a driver for the migration peer, closed when t ends.
func (s *suite) peer(t *testing.T) hypervisor.Driver {
	t.Helper()
	p := s.h.NewPeer(t)
	require.NotNil(t, p, "Harness.NewPeer: got a nil driver, want one")
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("peer Close: got %v, want nil", err)
		}
	})
	return p
}

// name returns a name unique to this run, ending in tag.
func (s *suite) name(tag string) string {
	n := "ovmt-" + s.suffix + "-" + tag
	if len(n) > 63 {
		n = strings.TrimRight(n[:63], "-")
	}
	return n
}

// spec returns the harness's spec for a name unique to this run.
func (s *suite) spec(t *testing.T, tag string) hypervisor.CreateSpec {
	t.Helper()
	name := s.name(tag)
	spec := s.h.Spec(t, name)
	require.Equal(t, name, spec.Name, "Harness.Spec: got name %q, want %q", spec.Name, name)
	require.NoError(t, spec.Validate(), "Harness.Spec(%q): got an invalid spec, want a valid one", name)
	return spec
}

// track force-stops and deletes ref on d when t ends, ignoring an instance
// that is already stopped or gone.
func (s *suite) track(t *testing.T, d hypervisor.Driver, ref hypervisor.Ref) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout())
		defer cancel()
		err := d.Stop(ctx, ref, hypervisor.StopOptions{Force: true})
		if err != nil && !errors.Is(err, ovm.ErrNotFound) && !errors.Is(err, ovm.ErrConflict) {
			t.Errorf("cleanup: force stop %s: got %v, want nil, not found or conflict", ref, err)
		}
		err = d.Delete(ctx, ref)
		if err != nil && !errors.Is(err, ovm.ErrNotFound) {
			t.Errorf("cleanup: delete %s: got %v, want nil or not found", ref, err)
		}
	})
}

// create makes spec on d, removed when t ends.
func (s *suite) create(t *testing.T, ctx context.Context, d hypervisor.Driver, spec hypervisor.CreateSpec) hypervisor.Instance {
	t.Helper()
	s.track(t, d, hypervisor.ByID(spec.ID))
	inst, err := d.Create(ctx, spec)
	require.NoError(t, err, "Create %s: got an error, want none", spec.Name)
	require.NotEmpty(t, inst.NativeID, "Create %s: got an empty native id, want one", spec.Name)
	return inst
}

// started makes spec on d and starts it.
func (s *suite) started(t *testing.T, ctx context.Context, d hypervisor.Driver, spec hypervisor.CreateSpec) hypervisor.Instance {
	t.Helper()
	inst := s.create(t, ctx, d, spec)
	require.NoError(t, d.Start(ctx, hypervisor.ByID(spec.ID)), "Start %s: got an error, want none", spec.Name)
	return inst
}

// wantPower checks the power state Get reports.
func wantPower(t *testing.T, ctx context.Context, d hypervisor.Driver, ref hypervisor.Ref, want ovm.PowerState, after string) {
	t.Helper()
	inst, err := d.Get(ctx, ref)
	require.NoError(t, err, "Get %s after %s: got an error, want none", ref, after)
	require.Equal(t, want, inst.Power, "power of %s after %s: got %q, want %q", ref, after, inst.Power, want)
}

// wantKind checks that err has the kind want.
func wantKind(t *testing.T, err, want error, call string) {
	t.Helper()
	require.ErrorIs(t, err, want, "%s: got error %v, want %v", call, err, want)
}

// find returns the instances of list with the given OVM id.
func find(list []hypervisor.Instance, id ovm.ID) []hypervisor.Instance {
	var out []hypervisor.Instance
	for _, i := range list {
		if i.OVMID == id {
			out = append(out, i)
		}
	}
	return out
}

// findNative returns the instance of list with the given native id.
func findNative(list []hypervisor.Instance, nativeID string) (hypervisor.Instance, bool) {
	for _, i := range list {
		if i.NativeID == nativeID {
			return i, true
		}
	}
	return hypervisor.Instance{}, false
}

// nativeIDs returns the sorted native ids of list.
func nativeIDs(list []hypervisor.Instance) []string {
	out := make([]string, len(list))
	for i, inst := range list {
		out[i] = inst.NativeID
	}
	slices.Sort(out)
	return out
}
