package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/openovm/ovm/server/config"
)

// ShutdownGrace bounds how long a stopping server waits for the requests in
// flight.
const ShutdownGrace = 30 * time.Second

// Main runs `ovm server` with args (after "server") until ctx ends (the
// signal) or a part of the server fails, and returns the exit code: 0 after
// a clean stop, 1 on failure, 2 on a bad configuration.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cfg, err := config.Load(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "ovm server: %v\n", err)
		return 2
	}
	s, err := Start(ctx, Options{Config: cfg, Stdout: stdout, LogOutput: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "ovm server: %v\n", err)
		return 1
	}
	code := 0
	select {
	case <-ctx.Done():
		s.log.Info("ovm server stopping", "cause", context.Cause(ctx))
	case <-s.Done():
		s.log.Error("ovm server failed", "err", s.Err())
		code = 1
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownGrace)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		s.log.Error("ovm server: shutdown", "err", err)
		code = 1
	}
	return code
}
