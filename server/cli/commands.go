package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// command is a node of the command tree: a group with subcommands or a
// leaf that runs.
type command struct {
	name    string
	aliases []string
	summary string
	sub     []*command
	// run parses its own flags (with a.flags) and does the work.
	run func(a *app, path string, args []string) error
}

func (c *command) find(name string) *command {
	for _, s := range c.sub {
		if s.name == name {
			return s
		}
		for _, al := range s.aliases {
			if al == name {
				return s
			}
		}
	}
	return nil
}

// tree returns the whole command tree.
func tree() *command {
	return &command{name: "ovm", sub: []*command{
		{name: "login", summary: "Log in to a server and save the session as a context", run: (*app).login},
		{name: "logout", summary: "Revoke the token of the current (or --context) context and forget it", run: (*app).logout},
		contextCommands(),
		tokenCommands(),
		instanceCommands(),
		vappCommands(),
		volumeCommands(),
		snapshotCommands(),
		networkCommands(),
		taskCommands(),
		discoveredCommands(),
		datacenterCommands(),
		poolCommands(),
		hostCommands(),
		storagePoolCommands(),
		alertCommands(),
		chefCommands(),
		imageCommands(),
		registryCommands(),
		auditCommands(),
		adminCommands(),
		metricsCommands(),
		scalingCommands(),
		alertRuleCommands(),
		metricAlertCommands(),
		vdcCommands(),
		userCommands(),
		{name: "help", summary: "Show help for a command", run: nil},
	}}
}

// dispatch walks the tree along args and runs the leaf.
func (a *app) dispatch(args []string) error {
	root := tree()
	// Global flags may come before the command.
	rest, err := a.parseGlobals(args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		a.groupUsage(a.env.Stdout, root, "")
		return nil
	}
	switch rest[0] {
	case "server":
		return &usageError{msg: "\"server\" is not a client command: the ovm binary starts a server with 'ovm server'"}
	case "help", "-h", "--help":
		return a.help(root, rest[1:])
	}
	node, path := root, ""
	for {
		if node.run != nil {
			return node.run(a, path, rest)
		}
		if len(rest) == 0 || rest[0] == "-h" || rest[0] == "--help" || rest[0] == "help" {
			a.groupUsage(a.env.Stdout, node, path)
			if len(rest) == 0 {
				return &usageError{cmd: path, msg: "'ovm " + path + "' needs a subcommand"}
			}
			return errHelp
		}
		next := node.find(rest[0])
		if next == nil {
			return &usageError{cmd: path, msg: fmt.Sprintf("unknown command %q", strings.TrimSpace(path+" "+rest[0]))}
		}
		node, path, rest = next, strings.TrimSpace(path+" "+next.name), rest[1:]
	}
}

// help prints the usage of the command named by args.
func (a *app) help(root *command, args []string) error {
	node, path := root, ""
	for _, name := range args {
		next := node.find(name)
		if next == nil {
			return &usageError{msg: fmt.Sprintf("unknown command %q", strings.TrimSpace(path+" "+name))}
		}
		node, path = next, strings.TrimSpace(path+" "+next.name)
	}
	if node.run != nil {
		return node.run(a, path, []string{"-h"})
	}
	a.groupUsage(a.env.Stdout, node, path)
	return nil
}

// groupUsage lists a group's subcommands.
func (a *app) groupUsage(w io.Writer, c *command, path string) {
	if path == "" {
		fmt.Fprint(w, "ovm is the command-line client of OVM, the hybrid virtualization platform.\n\n")
		fmt.Fprint(w, "Usage: ovm [global flags] COMMAND [SUBCOMMAND] [flags] [args]\n\nCommands:\n")
	} else {
		fmt.Fprintf(w, "Usage: ovm %s COMMAND [flags] [args]\n\n%s\n\nCommands:\n", path, c.summary)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range c.sub {
		fmt.Fprintf(tw, "  %s\t%s\n", s.name, s.summary)
	}
	_ = tw.Flush()
	fmt.Fprint(w, globalHelp)
	if path == "" {
		fmt.Fprint(w, "\nRun 'ovm COMMAND -h' for a command's flags. Objects are named by name or id.\n")
	}
}

const globalHelp = `
Global flags (anywhere on the line):
  --context NAME     use a saved context instead of the current one ($OVM_CONTEXT)
  -o, --output FMT   table (default), json (the API's JSON) or yaml
  --server URL       the server's URL ($OVM_SERVER)
  --token TOKEN      a bearer token ($OVM_TOKEN)
Without a context, an https:// server whose certificate the system does not trust is trusted by
$OVM_FINGERPRINT (its SHA-256) or $OVM_CA_FILE.
`

// isGlobal reports whether name is a global flag.
func isGlobal(name string) bool {
	switch name {
	case "context", "o", "output", "server", "token":
		return true
	}
	return false
}

// addGlobals registers the global flags on fs.
func (a *app) addGlobals(fs *flag.FlagSet) {
	fs.StringVar(&a.g.context, "context", a.g.context, "the saved context to use")
	fs.StringVar(&a.g.output, "o", a.g.output, "output format: table, json or yaml")
	fs.StringVar(&a.g.output, "output", a.g.output, "output format: table, json or yaml")
	fs.StringVar(&a.g.server, "server", a.g.server, "the server's URL")
	fs.StringVar(&a.g.token, "token", a.g.token, "a bearer token")
}

// parseGlobals reads global flags before the command.
func (a *app) parseGlobals(args []string) ([]string, error) {
	fs := flag.NewFlagSet("ovm", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.addGlobals(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.groupUsage(a.env.Stdout, tree(), "")
			return nil, errHelp
		}
		return nil, &usageError{msg: err.Error()}
	}
	return fs.Args(), a.checkOutput("")
}

func (a *app) checkOutput(path string) error {
	switch a.g.output {
	case "", "table", "json", "yaml":
		return nil
	}
	return &usageError{cmd: path, msg: fmt.Sprintf("-o %q: must be table, json or yaml", a.g.output)}
}

// flags is a leaf's flag set: its own flags, the global ones, and its
// usage (synopsis such as "NAME [flags]" and a description).
type flags struct {
	*flag.FlagSet
	a        *app
	path     string
	synopsis string
	desc     string
	// vdc is the --vdc flag inVDC added, nil without one.
	vdc *string
}

// flags returns the flag set of the leaf at path.
func (a *app) flags(path, synopsis, desc string) *flags {
	fs := flag.NewFlagSet("ovm "+path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.addGlobals(fs)
	return &flags{FlagSet: fs, a: a, path: path, synopsis: synopsis, desc: desc}
}

// usage prints the leaf's usage.
func (f *flags) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: ovm %s %s\n\n%s\n", f.path, f.synopsis, f.desc)
	var local []*flag.Flag
	f.VisitAll(func(fl *flag.Flag) {
		if !isGlobal(fl.Name) {
			local = append(local, fl)
		}
	})
	if len(local) > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, fl := range local {
			name, use := flag.UnquoteUsage(fl)
			arg := "--" + fl.Name
			if name != "" {
				arg += " " + name
			}
			def := ""
			if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" && fl.DefValue != "[]" {
				def = " (default " + fl.DefValue + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s%s\n", arg, use, def)
		}
		_ = tw.Flush()
	}
	fmt.Fprint(w, globalHelp)
}

// parse reads flags anywhere among args and returns the positional
// arguments; everything after "--" is positional. -h prints usage.
func (f *flags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.usage(f.a.env.Stdout)
				return nil, errHelp
			}
			return nil, &usageError{cmd: f.path, msg: err.Error()}
		}
		consumed := len(args) - f.NArg()
		rest := f.Args()
		if consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return pos, f.a.checkOutput(f.path)
}

// parseN parses and requires exactly the named positional arguments.
func (f *flags) parseN(args []string, names ...string) ([]string, error) {
	pos, err := f.parse(args)
	if err != nil {
		return nil, err
	}
	if len(pos) != len(names) {
		return nil, f.fail("want %s, got %d argument(s)", argList(names), len(pos))
	}
	return pos, nil
}

func argList(names []string) string {
	if len(names) == 0 {
		return "no arguments"
	}
	return strings.Join(names, " ")
}

// fail returns a usage error of this leaf.
func (f *flags) fail(format string, args ...any) error {
	return &usageError{cmd: f.path, msg: fmt.Sprintf(format, args...)}
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string { return strings.Join(*m, ",") }

// Set adds a value.
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }
