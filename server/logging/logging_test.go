package logging_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/logging"
)

func TestFormats(t *testing.T) {
	var buf bytes.Buffer
	l, err := logging.New(&buf, logging.FormatAuto, slog.LevelInfo)
	require.NoError(t, err)
	l.Info("hello", "host", "kvm-1")
	l.Debug("hidden")
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line), "not a terminal: want JSON, got %q", buf.String())
	assert.Equal(t, "hello", line["msg"])
	assert.Equal(t, "kvm-1", line["host"])

	buf.Reset()
	l, err = logging.New(&buf, logging.FormatText, slog.LevelDebug)
	require.NoError(t, err)
	l.Debug("shown", "n", 1)
	assert.Contains(t, buf.String(), "shown")
	assert.Contains(t, buf.String(), "n=1")
	assert.NotContains(t, buf.String(), "\x1b[", "no colour when not a terminal")

	_, err = logging.New(&buf, "xml", slog.LevelInfo)
	assert.Error(t, err)
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		got, err := logging.ParseLevel(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := logging.ParseLevel("loud")
	assert.Error(t, err)
}
