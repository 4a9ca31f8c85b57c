package imagetest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/image"
	"github.com/openovm/ovm/image/imagetest"
	"github.com/openovm/ovm/image/library"
	"github.com/openovm/ovm/internal/conformance"
	"github.com/openovm/ovm/ovm"
)

// envBug, set in a child run, names the bug of the source the suite runs.
const envBug = "OVM_IMAGETEST_BUG"

// libraryHarness runs the suite on the template library, wrapped by wrap
// when it is set.
func libraryHarness(wrap func(image.Source) image.Source) imagetest.Harness {
	return imagetest.Harness{
		New: func(t *testing.T) image.Source {
			l, err := library.New(t.TempDir(), library.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { l.Close() })
			if wrap == nil {
				return l
			}
			return wrap(l)
		},
		Sample: func(t *testing.T, i int) (ovm.ImageRef, []byte) {
			p := filepath.Join(t.TempDir(), "s.qcow2")
			out, err := exec.CommandContext(t.Context(), "qemu-img", "create", "-q", "-f", "qcow2", p, fmt.Sprint((i+1)<<20)).CombinedOutput()
			require.NoError(t, err, "qemu-img create: %s", out)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			return ovm.Template(fmt.Sprintf("s-%d.qcow2", i)), b
		},
	}
}

func TestTests(t *testing.T) {
	want := []string{
		imagetest.PutGetList, imagetest.OpenRoundTrip, imagetest.DigestMismatch, imagetest.FailedPut,
		imagetest.Replace, imagetest.Delete, imagetest.UnknownRef, imagetest.InvalidRefs, imagetest.ConcurrentPuts,
	}
	assert.Equal(t, want, imagetest.Tests(), "Tests(): got these names, want every exported test name once, in order")
}

func TestHarnessValidate(t *testing.T) {
	tests := []struct {
		name       string
		change     func(h *imagetest.Harness)
		wantFields []string // nil: valid
	}{
		{name: "valid", change: func(*imagetest.Harness) {}},
		{name: "justified exception", change: func(h *imagetest.Harness) {
			h.Exceptions = map[string]string{imagetest.ConcurrentPuts: "the engine serializes pushes"}
		}},
		{name: "no New", change: func(h *imagetest.Harness) { h.New = nil }, wantFields: []string{"New"}},
		{name: "no Sample", change: func(h *imagetest.Harness) { h.Sample = nil }, wantFields: []string{"Sample"}},
		{name: "unknown test and no justification", change: func(h *imagetest.Harness) {
			h.Exceptions = map[string]string{"Nope": "x", imagetest.Delete: " "}
		}, wantFields: []string{`Exceptions["Delete"]`, `Exceptions["Nope"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := libraryHarness(nil)
			tt.change(&h)
			err := h.Validate()
			if tt.wantFields == nil {
				require.NoError(t, err, "Validate")
				return
			}
			require.ErrorIs(t, err, ovm.ErrInvalid, "Validate")
			var got []string
			for _, f := range ovm.FieldsOf(err) {
				got = append(got, f.Field)
			}
			assert.Equal(t, tt.wantFields, got, "Validate: fields (error %v)", err)
		})
	}
}

// broken is a source with one bug.
type broken struct {
	image.Source
	bug string
}

func (b *broken) Put(ctx context.Context, ref ovm.ImageRef, r io.Reader, digest string) (image.Image, error) {
	if b.bug == "ignore-digest" {
		digest = ""
	}
	return b.Source.Put(ctx, ref, r, digest)
}

func (b *broken) Delete(ctx context.Context, ref ovm.ImageRef) error {
	if b.bug == "delete-nothing" {
		if _, err := b.Source.Get(ctx, ref); err != nil {
			return err
		}
		return nil
	}
	return b.Source.Delete(ctx, ref)
}

func (b *broken) Get(ctx context.Context, ref ovm.ImageRef) (image.Image, error) {
	img, err := b.Source.Get(ctx, ref)
	if b.bug == "untyped-not-found" && errors.Is(err, ovm.ErrNotFound) {
		return img, errors.New("no such image")
	}
	return img, err
}

// TestRunFromEnv runs the suite on the library; in a child run (envBug
// set) on a broken one, for TestSuiteCatchesBugs to watch.
func TestRunFromEnv(t *testing.T) {
	if bug := os.Getenv(envBug); bug != "" {
		imagetest.Run(t, libraryHarness(func(s image.Source) image.Source { return &broken{Source: s, bug: bug} }))
		return
	}
	imagetest.Run(t, libraryHarness(nil))
}

func TestSuiteCatchesBugs(t *testing.T) {
	tests := []struct {
		bug  string
		want string // a failing test
	}{
		{bug: "ignore-digest", want: "--- FAIL: TestRunFromEnv/" + imagetest.DigestMismatch},
		{bug: "delete-nothing", want: "--- FAIL: TestRunFromEnv/" + imagetest.Delete},
		{bug: "untyped-not-found", want: "--- FAIL: TestRunFromEnv/" + imagetest.UnknownRef},
	}
	for _, tt := range tests {
		t.Run(tt.bug, func(t *testing.T) {
			out, passed := conformance.RunChild(t, "^TestRunFromEnv$", envBug+"="+tt.bug)
			conformance.ExpectChild(t, tt.bug, out, passed, false, []string{tt.want}, nil)
			assert.False(t, strings.Contains(out, "--- FAIL: TestRunFromEnv/"+imagetest.InvalidRefs),
				"bug %s: InvalidRefs failed too, want only the bug's tests failing", tt.bug)
		})
	}
}
