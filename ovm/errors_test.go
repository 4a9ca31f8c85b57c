package ovm_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

func TestErrorKinds(t *testing.T) {
	cause := io.ErrUnexpectedEOF
	tests := []struct {
		name    string
		err     error
		kind    ovm.Kind
		target  error
		message string
		isCause bool
	}{
		{"not found", ovm.NotFound("instance", "abc"), ovm.KindNotFound, ovm.ErrNotFound, "instance abc not found", false},
		{"errorf with cause", ovm.Errorf(ovm.KindUnavailable, "host h1: %w", cause), ovm.KindUnavailable, ovm.ErrUnavailable, "host h1: unexpected EOF", true},
		{"wrap", ovm.Wrap(ovm.KindConflict, cause, "create %s", "web"), ovm.KindConflict, ovm.ErrConflict, "create web: unexpected EOF", true},
		{"invalid with fields", ovm.Invalid("invalid spec", ovm.FieldError{Field: "cpuMilli", Reason: "must be positive"}), ovm.KindInvalid, ovm.ErrInvalid, "invalid spec: cpuMilli: must be positive", false},
		{"wrapped again by fmt", fmt.Errorf("task step: %w", ovm.NotFound("volume", 1)), ovm.KindNotFound, ovm.ErrNotFound, "task step: volume 1 not found", false},
		{"plain error", errors.New("boom"), ovm.KindInternal, nil, "boom", false},
		{"kind as error", fmt.Errorf("%w: quota", ovm.ErrQuotaExceeded), ovm.KindQuotaExceeded, ovm.ErrQuotaExceeded, "quota exceeded: quota", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.kind, ovm.KindOf(tt.err), "kind")
			if tt.target != nil {
				assert.ErrorIs(t, tt.err, tt.target)
			}
			for _, other := range []error{ovm.ErrNotFound, ovm.ErrConflict, ovm.ErrInvalid, ovm.ErrQuotaExceeded, ovm.ErrUnsupported, ovm.ErrUnavailable} {
				if other != tt.target {
					assert.NotErrorIs(t, tt.err, other)
				}
			}
			assert.Equal(t, tt.message, tt.err.Error())
			assert.Equal(t, tt.isCause, errors.Is(tt.err, cause), "cause reachable")
		})
	}
}

func TestFieldsCollectAndMerge(t *testing.T) {
	var f ovm.Fields
	require.NoError(t, f.Err("nothing wrong"))
	f.Add("name", "must not be empty")
	f.Merge("spec", ovm.Invalid("x", ovm.FieldError{Field: "cpuMilli", Reason: "must be positive"}))
	f.Merge("scope", errors.New("plain"))
	f.Merge("ignored", nil)
	err := f.Err("invalid instance")
	require.ErrorIs(t, err, ovm.ErrInvalid)
	assert.Equal(t, []ovm.FieldError{
		{Field: "name", Reason: "must not be empty"},
		{Field: "spec.cpuMilli", Reason: "must be positive"},
		{Field: "scope", Reason: "plain"},
	}, ovm.FieldsOf(fmt.Errorf("wrapped: %w", err)))
}

func TestKindString(t *testing.T) {
	assert.Equal(t, "quota exceeded", ovm.KindQuotaExceeded.String())
	assert.Equal(t, "kind(42)", ovm.Kind(42).String())
}

func TestPublicMessage(t *testing.T) {
	driver := errors.New(`UNIQUE constraint failed: records.name (SQLSTATE 23505)`)
	internal := ovm.Internal(driver, "database")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"no kind", errors.New("boom"), ""},
		{"internal alone", fmt.Errorf("store: insert: %w", internal), ""},
		{"client error without internal cause", ovm.NotFound("vdc", "sqlite"), "vdc sqlite not found"},
		{"conflict wrapping an internal cause", ovm.Wrap(ovm.KindConflict, internal, "name taken"), "name taken"},
		{"wrapped conflict wrapping an internal cause", fmt.Errorf("core: %w", ovm.Wrap(ovm.KindConflict, internal, "name taken")), "name taken"},
		{"Errorf embedding an internal cause", ovm.Errorf(ovm.KindInvalid, "bad: %w", internal), "invalid"},
		{"fields kept", &ovm.Error{Kind: ovm.KindInvalid, Message: "bad", Fields: []ovm.FieldError{{Field: "name", Reason: "empty"}}, Err: internal}, "bad: name: empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ovm.PublicMessage(tc.err)
			assert.Equal(t, tc.want, got, "PublicMessage(%q)", tc.err)
			assert.NotContains(t, got, "SQLSTATE", "PublicMessage(%q)", tc.err)
		})
	}
	assert.ErrorIs(t, internal, ovm.ErrInternal, "Internal: want ErrInternal in the chain")
	assert.NoError(t, ovm.Internal(nil, "x"), "Internal(nil)")
}
