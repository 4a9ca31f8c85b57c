package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/openovm/ovm/server/client"
)

// Env is what the CLI reads and writes: its standard streams, the
// environment and where its contexts are kept.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv reads OVM_SERVER, OVM_TOKEN, OVM_CONTEXT, OVM_CONFIG_DIR,
	// OVM_FINGERPRINT and OVM_CA_FILE;
	// nil reads nothing.
	Getenv func(string) string
	// ConfigDir holds contexts.yaml (default $OVM_CONFIG_DIR, else
	// os.UserConfigDir()/ovm).
	ConfigDir string
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the server refused, a task failed, a file is unreadable
	exitUsage = 2 // the command line is wrong
)

// usageError is a wrong command line: exit 2 with a hint.
type usageError struct {
	cmd string // the command path, such as "instance create"
	msg string
}

func (e *usageError) Error() string { return e.msg }

// exitError ends the CLI with a code of its own (the exit status of a
// command run by instance exec) after its output was printed.
type exitCodeError struct{ code int }

func (e *exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// errHelp means usage was printed on request.
var errHelp = flag.ErrHelp

// globals are the flags every command takes.
type globals struct {
	context string
	output  string
	server  string
	token   string
}

// app is one run of the CLI.
type app struct {
	ctx context.Context
	env Env
	g   globals
	cl  *client.Client
}

// Run runs the CLI with args (without the program name) and returns its
// exit status: 0, 1 when something failed (the server's problem is printed
// on Stderr), 2 for a wrong command line.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	a := &app{ctx: ctx, env: env}
	err := a.dispatch(args)
	var ue *usageError
	var ee *exitCodeError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(env.Stderr, "error: %s\n", escapeLines(ue.msg))
		hint := "ovm help"
		if ue.cmd != "" {
			hint = "ovm " + ue.cmd + " -h"
		}
		fmt.Fprintf(env.Stderr, "Run '%s' for usage.\n", hint)
		return exitUsage
	default:
		fmt.Fprintf(env.Stderr, "error: %s\n", escapeLines(err.Error()))
		return exitError
	}
}

// configDir returns where contexts.yaml lives.
func (a *app) configDir() (string, error) {
	if a.env.ConfigDir != "" {
		return a.env.ConfigDir, nil
	}
	if d := a.env.Getenv("OVM_CONFIG_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the configuration directory (set OVM_CONFIG_DIR): %w", err)
	}
	return filepath.Join(d, "ovm"), nil
}

// loadConfig reads the saved contexts.
func (a *app) loadConfig() (*Config, string, error) {
	dir, err := a.configDir()
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, configFile)
	cfg, err := LoadConfig(path)
	return cfg, path, err
}

// contextName returns the context the command acts in: --context, then
// $OVM_CONTEXT, then the current one.
func (a *app) contextName(cfg *Config) string {
	if a.g.context != "" {
		return a.g.context
	}
	if c := a.env.Getenv("OVM_CONTEXT"); c != "" {
		return c
	}
	return cfg.Current
}

// client returns the API client of the command: --server and --token (or
// OVM_SERVER and OVM_TOKEN) override the context's.
func (a *app) client() (*client.Client, error) {
	if a.cl != nil {
		return a.cl, nil
	}
	server, token := a.g.server, a.g.token
	var trust client.TLS
	if server == "" {
		server = a.env.Getenv("OVM_SERVER")
	}
	if token == "" {
		token = a.env.Getenv("OVM_TOKEN")
	}
	if server == "" || token == "" {
		cfg, _, err := a.loadConfig()
		if err != nil {
			return nil, err
		}
		name := a.contextName(cfg)
		ctx, ok := cfg.Find(name)
		switch {
		case ok && (server == "" || strings.TrimRight(server, "/") == strings.TrimRight(ctx.Server, "/")):
			server = ctx.Server
			if token == "" {
				token = ctx.Token
			}
			t, err := trustOf(ctx)
			if err != nil {
				return nil, err
			}
			trust = t
		case !ok && name != "" && server == "":
			return nil, fmt.Errorf("no context named %q: see 'ovm context list'", name)
		}
	}
	if server == "" {
		return nil, errors.New("not logged in: run 'ovm login URL --user NAME' (or set OVM_SERVER and OVM_TOKEN)")
	}
	// A server given without a context is trusted as the environment says.
	if trust.Fingerprint == "" && trust.CAs == nil {
		t, err := trustOf(Context{Name: "from the environment", Fingerprint: a.env.Getenv("OVM_FINGERPRINT"), CAFile: a.env.Getenv("OVM_CA_FILE")})
		if err != nil {
			return nil, err
		}
		trust = t
	}
	if token == "" {
		return nil, fmt.Errorf("no token for %s: run 'ovm login %s --user NAME'", server, server)
	}
	cl, err := newClient(server, token, trust)
	if err != nil {
		return nil, err
	}
	a.cl = cl
	return cl, nil
}
