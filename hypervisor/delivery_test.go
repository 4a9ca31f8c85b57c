package hypervisor_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

func TestCheckDelivery(t *testing.T) {
	good := hypervisor.DigestOf([]byte("x"))
	for _, tt := range []struct {
		name, template, digest string
		size                   ovm.Bytes
		wantFields             []string
	}{
		{"valid", "debian-12.qcow2", good, 1, nil},
		{"empty name", "", good, 1, []string{"name"}},
		{"path out", "../etc/passwd", good, 1, []string{"name"}},
		{"sub-directory", "linux/alpine.raw", good, 1, []string{"name"}},
		{"digest suffix", "x.qcow2" + hypervisor.DigestSuffix, good, 1, []string{"name"}},
		{"partial suffix", "x.qcow2" + hypervisor.PartialSuffix, good, 1, []string{"name"}},
		{"upper-case digest", "x.raw", strings.ToUpper(good), 1, []string{"digest"}},
		{"other algorithm", "x.raw", "md5:" + strings.Repeat("0", 32), 1, []string{"digest"}},
		{"zero size", "x.raw", good, 0, []string{"size"}},
		{"all wrong", "", "", -1, []string{"name", "digest", "size"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := hypervisor.CheckDelivery(tt.template, tt.digest, tt.size)
			if tt.wantFields == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ovm.ErrInvalid, "CheckDelivery: got %v, want ovm.ErrInvalid", err)
			var got []string
			for _, f := range ovm.FieldsOf(err) {
				got = append(got, f.Field)
			}
			assert.Subset(t, got, tt.wantFields, "fields: got %v, want %v among them", got, tt.wantFields)
		})
	}
}

func TestParseDigest(t *testing.T) {
	good := hypervisor.DigestOf([]byte("x"))
	for _, tt := range []struct {
		in     string
		want   string
		wantOK bool
	}{
		{good + "\n", good, true},
		{"  " + good + "  ", good, true},
		{good[:20], "", false},
		{"hand-written", "", false},
		{"", "", false},
	} {
		got, ok := hypervisor.ParseDigest([]byte(tt.in))
		assert.Equal(t, tt.wantOK, ok, "ParseDigest(%q) ok", tt.in)
		if tt.wantOK {
			assert.Equal(t, tt.want, got, "ParseDigest(%q)", tt.in)
		}
	}
}

func TestDeliveryReader(t *testing.T) {
	data := strings.Repeat("0123456789", 10_000) // 100,000 bytes
	boom := errors.New("boom")
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tt := range []struct {
		name      string
		ctx       context.Context
		r         io.Reader
		size      int
		digest    string
		chunk     int
		wantRead  error // what reading to the end fails with
		wantCheck error // what Verify says after a clean read
	}{
		{"whole", t.Context(), strings.NewReader(data), len(data), hypervisor.DigestOf([]byte(data)), 0, nil, nil},
		{"chunked from small reads", t.Context(), iotest.OneByteReader(strings.NewReader(data)), len(data), hypervisor.DigestOf([]byte(data)), 4096, nil, nil},
		{"wrong digest", t.Context(), strings.NewReader(data), len(data), hypervisor.DigestOf([]byte("other")), 0, nil, ovm.ErrInvalid},
		{"short source", t.Context(), strings.NewReader(data), len(data) + 1, hypervisor.DigestOf([]byte(data)), 0, nil, ovm.ErrInvalid},
		{"long source", t.Context(), strings.NewReader(data), len(data) - 1, hypervisor.DigestOf([]byte(data[:len(data)-1])), 0, ovm.ErrInvalid, nil},
		{"failing source", t.Context(), io.MultiReader(strings.NewReader(data[:10]), iotest.ErrReader(boom)), len(data), hypervisor.DigestOf([]byte(data)), 0, boom, nil},
		{"context done", cancelled, strings.NewReader(data), len(data), hypervisor.DigestOf([]byte(data)), 0, context.Canceled, nil},
		// A source that checked its bytes is taken at its word (not hashed
		// again), but its size still counts and its digest must be the one
		// announced.
		{"verified source", t.Context(), hypervisor.Verified(strings.NewReader(data), hypervisor.DigestOf([]byte(data))), len(data), hypervisor.DigestOf([]byte(data)), 0, nil, nil},
		{"verified source of another digest", t.Context(), hypervisor.Verified(strings.NewReader(data), hypervisor.DigestOf([]byte("other"))), len(data), hypervisor.DigestOf([]byte(data)), 0, nil, ovm.ErrInvalid},
		{"verified source behind a buffer", t.Context(), hypervisor.KeepVerified(bufio.NewReader(strings.NewReader(data)), hypervisor.Verified(nil, hypervisor.DigestOf([]byte("other")))),
			len(data), hypervisor.DigestOf([]byte("other")), 0, nil, nil},
		{"verified source cut short", t.Context(), hypervisor.Verified(strings.NewReader(data), hypervisor.DigestOf([]byte(data))), len(data) + 1, hypervisor.DigestOf([]byte(data)), 0, nil, ovm.ErrInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var percents []int
			src := hypervisor.NewDeliveryReader(tt.ctx, tt.r, ovm.Bytes(tt.size), func(p int, _ string) { percents = append(percents, p) }, tt.chunk)
			defer src.Close()
			buf := make([]byte, 64*1024)
			var total int
			var err error
			for {
				var n int
				n, err = src.Read(buf)
				if tt.chunk > 0 && err == nil {
					require.Equal(t, tt.chunk, n, "Read with chunk %d: got %d bytes, want full chunks before the end", tt.chunk, n)
				}
				total += n
				if err != nil {
					break
				}
			}
			if tt.wantRead != nil {
				require.ErrorIs(t, err, tt.wantRead, "reading: got %v, want %v", err, tt.wantRead)
				assert.ErrorIs(t, src.Err(), tt.wantRead, "Err: got %v, want %v", src.Err(), tt.wantRead)
				return
			}
			require.ErrorIs(t, err, io.EOF, "reading: got %v, want io.EOF", err)
			assert.NoError(t, src.Err())
			assert.Equal(t, len(data), total, "bytes read: got %d, want %d", total, len(data))
			err = src.Verify(tt.digest)
			if tt.wantCheck != nil {
				require.ErrorIs(t, err, tt.wantCheck, "Verify: got %v, want %v", err, tt.wantCheck)
				return
			}
			require.NoError(t, err, "Verify: got an error, want none")
			require.NotEmpty(t, percents, "progress: got no report")
			assert.Equal(t, 99, percents[len(percents)-1], "last progress of the reader: got %d, want 99 (100 is the driver's)", percents[len(percents)-1])
			_, err = src.Read(buf)
			assert.Error(t, err, "Read after Verify: got nil, want an error")
		})
	}
}
