//go:build integration

package docker_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// TestTerminal: a shell with a terminal inside a running container
// answers what is typed, takes a new size, and ends when closed; a stopped
// container and an empty command are refused.
func TestTerminal(t *testing.T) {
	e := environment(t)
	d := connect(t, e.host)
	s := smallSpec(e, "ovmterm-"+uniq())
	track(t, d, s.ID)
	_, err := d.Create(t.Context(), s)
	require.NoError(t, err)
	ref := hypervisor.ByID(s.ID)
	require.NoError(t, d.Start(t.Context(), ref))

	_, err = d.Terminal(t.Context(), ref, hypervisor.TerminalSpec{})
	assert.ErrorIs(t, err, ovm.ErrInvalid, "a terminal without a command")

	term, err := d.Terminal(t.Context(), ref, hypervisor.TerminalSpec{Command: []string{"/bin/sh"}, Cols: 100, Rows: 30})
	require.NoError(t, err)
	_, err = term.Write([]byte("echo answer-$((6*7))\n"))
	require.NoError(t, err)
	readUntil(t, term, "answer-42")
	// The engine takes a new size (the test image's busybox cannot show it).
	require.NoError(t, term.Resize(t.Context(), 120, 40))
	_, err = term.Write([]byte("echo [$((40+2))]\n"))
	require.NoError(t, err)
	readUntil(t, term, "[42]")
	require.NoError(t, term.Close())
	_, err = term.Write([]byte("echo more\n"))
	assert.Error(t, err, "typing into a closed terminal")

	require.NoError(t, d.Stop(t.Context(), ref, hypervisor.StopOptions{Force: true}))
	_, err = d.Terminal(t.Context(), ref, hypervisor.TerminalSpec{Command: []string{"/bin/sh"}})
	assert.ErrorIs(t, err, ovm.ErrConflict, "a terminal in a stopped container")
}

// readUntil reads the terminal until its output contains want.
func readUntil(t *testing.T, r io.Reader, want string) string {
	t.Helper()
	var got bytes.Buffer
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		for !strings.Contains(got.String(), want) {
			n, err := r.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, io.EOF) {
			require.NoError(t, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no %q from the terminal", want)
	}
	require.Contains(t, got.String(), want)
	return got.String()
}
