// Command ovm is the OVM server (`ovm server`) and its command-line client
// (every other command: `ovm help`).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/openovm/ovm/server/app"
	"github.com/openovm/ovm/server/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	if len(args) > 0 && args[0] == "server" {
		return app.Main(ctx, args[1:], os.Stdout, os.Stderr, os.Getenv)
	}
	return cli.Run(ctx, args, cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
}
