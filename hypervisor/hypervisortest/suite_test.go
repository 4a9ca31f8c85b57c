package hypervisortest_test

import (
	"context"
	"errors"
	"io"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/hypervisor/hypervisortest"
	"github.com/openovm/ovm/internal/conformance"
	"github.com/openovm/ovm/ovm"
)

// mutantEnv names the mutant a child process of TestSuiteCatchesBrokenDrivers runs.
const mutantEnv = "OVM_HYPERVISORTEST_MUTANT"

// fakeHarness runs the suite on fakes, each driver wrapped by wrap.
func fakeHarness(wrap func(*fake.Driver) hypervisor.Driver) hypervisortest.Harness {
	var current *fake.Driver
	return hypervisortest.Harness{
		New: func(t *testing.T) hypervisor.Driver {
			current = fake.New(fake.Options{Name: "mutant"})
			return wrap(current)
		},
		NewPeer: func(t *testing.T) hypervisor.Driver { return fake.New(fake.Options{Name: "peer"}) },
		Spec: func(t *testing.T, name string) hypervisor.CreateSpec {
			return hypervisor.CreateSpec{ID: ovm.NewID(), Name: name, Spec: ovm.InstanceSpec{
				Type: ovm.TypeContainer, CPU: 500, Memory: 64 * ovm.MiB, Image: ovm.ContainerImage("busybox:1.36"),
			}}
		},
		MakeUnmanaged: func(t *testing.T, name string) string {
			inst, err := current.AddUnmanaged(name, ovm.InstanceSpec{}, true)
			require.NoError(t, err, "AddUnmanaged: got an error, want none")
			return inst.NativeID
		},
	}
}

// The mutants: the fake with one behaviour broken.
type (
	// reCreate makes a second instance when the id is taken.
	reCreate struct{ *fake.Driver }
	// startTwice accepts Start on a running instance.
	startTwice struct{ *fake.Driver }
	// forceDelete stops a running instance before deleting it.
	forceDelete struct{ *fake.Driver }
	// vagueGet loses the kind of Get's errors.
	vagueGet struct{ *fake.Driver }
	// deafPing ignores its context.
	deafPing struct{ *fake.Driver }
	// timelessStats returns statistics without a time.
	timelessStats struct{ *fake.Driver }
	// bare announces every facet and implements none.
	bare struct{ hypervisor.Driver }
	// leaky leaves an instance behind when it refuses an invalid spec.
	leaky struct{ *fake.Driver }
	// cheerfulExec always exits 0.
	cheerfulExec struct{ *fake.Driver }
	// doubleList lists every instance twice.
	doubleList struct{ *fake.Driver }
	// liveAlways says every resize is live.
	liveAlways struct{ *fake.Driver }
	// quietDelivery reports every template delivery as done.
	quietDelivery struct{ *fake.Driver }
	// brokenPing always fails.
	brokenPing struct{ *fake.Driver }
)

func (d reCreate) Create(ctx context.Context, spec hypervisor.CreateSpec) (hypervisor.Instance, error) {
	if _, err := d.Get(ctx, hypervisor.ByID(spec.ID)); err == nil {
		spec.ID, spec.Name = ovm.NewID(), spec.Name+"-again"
	}
	return d.Driver.Create(ctx, spec)
}

func (d startTwice) Start(ctx context.Context, ref hypervisor.Ref) error {
	if err := d.Driver.Start(ctx, ref); err != nil && !errors.Is(err, ovm.ErrConflict) {
		return err
	}
	return nil
}

func (d forceDelete) Delete(ctx context.Context, ref hypervisor.Ref) error {
	_ = d.Stop(ctx, ref, hypervisor.StopOptions{Force: true})
	return d.Driver.Delete(ctx, ref)
}

func (d vagueGet) Get(ctx context.Context, ref hypervisor.Ref) (hypervisor.Instance, error) {
	inst, err := d.Driver.Get(ctx, ref)
	if err != nil {
		return inst, errors.New(err.Error())
	}
	return inst, nil
}

func (d deafPing) Ping(context.Context) error { return d.Driver.Ping(context.Background()) }

func (d timelessStats) Stats(ctx context.Context, ref hypervisor.Ref) (hypervisor.Stats, error) {
	s, err := d.Driver.Stats(ctx, ref)
	s.Time = time.Time{}
	return s, err
}

func (d leaky) Create(ctx context.Context, spec hypervisor.CreateSpec) (hypervisor.Instance, error) {
	if err := spec.Validate(); err != nil {
		_, _ = d.AddUnmanaged("leak-"+ovm.NewID().Short(), ovm.InstanceSpec{}, false)
	}
	return d.Driver.Create(ctx, spec)
}

func (d cheerfulExec) Exec(ctx context.Context, ref hypervisor.Ref, spec hypervisor.ExecSpec) (hypervisor.ExecResult, error) {
	res, err := d.Driver.Exec(ctx, ref, spec)
	res.ExitCode = 0
	return res, err
}

func (d doubleList) List(ctx context.Context) ([]hypervisor.Instance, error) {
	list, err := d.Driver.List(ctx)
	return append(list, list...), err
}

func (d liveAlways) Reconfigure(ctx context.Context, ref hypervisor.Ref, r hypervisor.Resize) (hypervisor.ResizeResult, error) {
	res, err := d.Driver.Reconfigure(ctx, ref, r)
	res.Live = err == nil
	return res, err
}

func (brokenPing) Ping(context.Context) error { return errors.New("broken ping") }

func (d quietDelivery) DeliverTemplate(ctx context.Context, name, digest string, size ovm.Bytes, r io.Reader, progress hypervisor.Progress) error {
	_ = d.Driver.DeliverTemplate(ctx, name, digest, size, r, progress)
	return nil
}

// mutants maps each mutant to the sub-test that must catch it and the
// harness that runs it.
func mutants() map[string]struct {
	test string
	h    hypervisortest.Harness
} {
	wrap := func(test string, w func(*fake.Driver) hypervisor.Driver) struct {
		test string
		h    hypervisortest.Harness
	} {
		return struct {
			test string
			h    hypervisortest.Harness
		}{test, fakeHarness(w)}
	}
	plain := func(d *fake.Driver) hypervisor.Driver { return d }
	unknown := fakeHarness(plain)
	unknown.Exceptions = map[string]string{"no-such-test": "a reason"}
	unjustified := fakeHarness(plain)
	unjustified.Exceptions = map[string]string{hypervisortest.TestPing: ""}
	excepted := fakeHarness(func(d *fake.Driver) hypervisor.Driver { return brokenPing{d} })
	excepted.Exceptions = map[string]string{
		hypervisortest.TestPing:      "ping is broken on purpose",
		hypervisortest.TestCancelled: "ping is broken on purpose, even when cancelled",
	}
	return map[string]struct {
		test string
		h    hypervisortest.Harness
	}{
		"re-create":         wrap(hypervisortest.TestCreateIdempotent, func(d *fake.Driver) hypervisor.Driver { return reCreate{d} }),
		"start-twice":       wrap(hypervisortest.TestPowerCycle, func(d *fake.Driver) hypervisor.Driver { return startTwice{d} }),
		"force-delete":      wrap(hypervisortest.TestDeleteRunning, func(d *fake.Driver) hypervisor.Driver { return forceDelete{d} }),
		"vague-get":         wrap(hypervisortest.TestUnknownRef, func(d *fake.Driver) hypervisor.Driver { return vagueGet{d} }),
		"deaf-ping":         wrap(hypervisortest.TestCancelled, func(d *fake.Driver) hypervisor.Driver { return deafPing{d} }),
		"timeless-stats":    wrap(hypervisortest.TestStats, func(d *fake.Driver) hypervisor.Driver { return timelessStats{d} }),
		"bare":              wrap(hypervisortest.TestCapabilities, func(d *fake.Driver) hypervisor.Driver { return bare{d} }),
		"bare-snapshots":    wrap(hypervisortest.TestSnapshots, func(d *fake.Driver) hypervisor.Driver { return bare{d} }),
		"leaky":             wrap(hypervisortest.TestCreateInvalid, func(d *fake.Driver) hypervisor.Driver { return leaky{d} }),
		"cheerful-exec":     wrap(hypervisortest.TestExec, func(d *fake.Driver) hypervisor.Driver { return cheerfulExec{d} }),
		"double-list":       wrap(hypervisortest.TestConcurrent, func(d *fake.Driver) hypervisor.Driver { return doubleList{d} }),
		"live-always":       wrap(hypervisortest.TestReconfigure, func(d *fake.Driver) hypervisor.Driver { return liveAlways{d} }),
		"quiet-delivery":    wrap(hypervisortest.TestTemplateDelivery, func(d *fake.Driver) hypervisor.Driver { return quietDelivery{d} }),
		"unknown-exception": {"", unknown},
		"no-reason":         {"", unjustified},
		"excepted":          {"", excepted},
	}
}

// TestSuiteCatchesBrokenDrivers runs the suite, in a child process, on
// fakes with one behaviour broken each, and checks that the sub-test meant
// to catch it fails with a got/want message. It also checks that the suite
// refuses unknown and unjustified exceptions, and honours justified ones.
func TestSuiteCatchesBrokenDrivers(t *testing.T) {
	if name := os.Getenv(mutantEnv); name != "" {
		m, ok := mutants()[name]
		require.True(t, ok, "mutant %q: got no such mutant, want a known one", name)
		hypervisortest.Run(t, m.h)
		return
	}
	run := func(t *testing.T, mutant, pattern string) (string, bool) {
		return conformance.RunChild(t, pattern, mutantEnv+"="+mutant)
	}
	for name, m := range mutants() {
		if m.test == "" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			out, passed := run(t, name, "^TestSuiteCatchesBrokenDrivers$/^"+regexp.QuoteMeta(m.test)+"$")
			require.False(t, passed, "mutant %s: got a passing suite, want it to fail; output:\n%s", name, out)
			assert.Contains(t, out, "--- FAIL: TestSuiteCatchesBrokenDrivers/"+m.test, "mutant %s: got no failure of %s, want one; output:\n%s", name, m.test, out)
			assert.Regexp(t, `got .*want`, out, "mutant %s: got a failure without got/want; output:\n%s", name, out)
		})
	}
	for _, tt := range []struct {
		name     string
		wantFail bool
		want     []string
		notWant  []string
	}{
		{"unknown-exception", true, []string{`Exceptions["no-such-test"]: names no test`}, []string{"=== RUN   TestSuiteCatchesBrokenDrivers/info"}},
		{"no-reason", true, []string{`Exceptions["ping"]: needs a justification`}, []string{"=== RUN   TestSuiteCatchesBrokenDrivers/info"}},
		{"excepted", false, []string{
			"hypervisortest: ping not run, excepted by the harness: ping is broken on purpose",
			"hypervisortest: context-cancelled not run, excepted by the harness: ping is broken on purpose, even when cancelled",
			"--- PASS: TestSuiteCatchesBrokenDrivers/info",
		}, []string{"=== RUN   TestSuiteCatchesBrokenDrivers/ping"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, passed := run(t, tt.name, "^TestSuiteCatchesBrokenDrivers$")
			require.Equal(t, !tt.wantFail, passed, "%s: got passed=%v, want %v; output:\n%s", tt.name, passed, !tt.wantFail, out)
			for _, w := range tt.want {
				assert.Contains(t, out, w, "%s: output lacks %q; got:\n%s", tt.name, w, out)
			}
			for _, w := range tt.notWant {
				assert.NotContains(t, out, w, "%s: output has %q, want it absent; got:\n%s", tt.name, w, out)
			}
		})
	}
}
