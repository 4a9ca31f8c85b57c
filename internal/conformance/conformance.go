// Package conformance holds what the SDK's conformance suites
// (hypervisortest, storagetest, networktest) share: the rules for a
// harness's named exceptions, the loop that runs a suite's tests, and the
// runner of a child test process through which a suite's own tests watch a
// whole suite fail.
package conformance

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/openovm/ovm/ovm"
)

// CheckExceptions records in f, under "Exceptions[NAME]", every exception
// that names no test of the suite (names) or gives no justification.
func CheckExceptions(f *ovm.Fields, exceptions map[string]string, names []string) {
	keys := make([]string, 0, len(exceptions))
	for name := range exceptions {
		keys = append(keys, name)
	}
	slices.Sort(keys)
	for _, name := range keys {
		field := fmt.Sprintf("Exceptions[%q]", name)
		switch {
		case !slices.Contains(names, name):
			f.Addf(field, "names no test of the suite (known: %s)", strings.Join(names, ", "))
		case strings.TrimSpace(exceptions[name]) == "":
			f.Add(field, "needs a justification")
		}
	}
}

// Test is one test of a suite.
type Test struct {
	Name string
	Run  func(t *testing.T)
}

// Names returns the names of tests, in order.
func Names(tests []Test) []string {
	names := make([]string, 0, len(tests))
	for _, tc := range tests {
		names = append(names, tc.Name)
	}
	return names
}

// Run runs tests in order as sub-tests of t. An excepted test is not run:
// its name and justification are logged on t, so that a reader of the
// verbose output sees exactly what a driver did not pass and why.
func Run(t *testing.T, suite string, tests []Test, exceptions map[string]string) {
	t.Helper()
	for _, tc := range tests {
		if reason, ok := exceptions[tc.Name]; ok {
			t.Logf("%s: %s not run, excepted by the harness: %s", suite, tc.Name, reason)
			continue
		}
		t.Run(tc.Name, tc.Run)
	}
}

// RunChild runs the current test binary again with -test.run=pattern,
// verbose, and env added to the environment, and returns its combined
// output and whether it passed. Suites use it to prove that they fail on a
// broken driver: a failing sub-test cannot be observed from inside the
// process that runs it.
func RunChild(t *testing.T, pattern string, env ...string) (string, bool) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run="+pattern, "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running the test binary %s: %v", os.Args[0], err)
	}
	return string(out), err == nil
}

// ExpectChild checks the outcome of a child run in mode: whether it passed,
// and which strings its output must and must not contain.
func ExpectChild(t *testing.T, mode, out string, passed, wantPass bool, want, wantNot []string) {
	t.Helper()
	if passed != wantPass {
		t.Fatalf("child run %s: got passed=%v, want %v; output:\n%s", mode, passed, wantPass, out)
	}
	for _, s := range want {
		if !strings.Contains(out, s) {
			t.Errorf("child run %s: want %q in the output; got:\n%s", mode, s, out)
		}
	}
	for _, s := range wantNot {
		if strings.Contains(out, s) {
			t.Errorf("child run %s: want no %q in the output; got:\n%s", mode, s, out)
		}
	}
}
