package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
)

// readSecret reads a password: from a terminal without echo (after
// prompt), otherwise the first line of Stdin.
func (a *app) readSecret(prompt string, fromStdin bool) (string, error) {
	if f, ok := a.env.Stdin.(*os.File); ok && !fromStdin && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(a.env.Stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.env.Stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(a.env.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on stdin")
	}
	return pw, nil
}

func (a *app) login(path string, args []string) error {
	f := a.flags(path, "URL --user NAME [--password-stdin] [--context NAME] [--ca-file FILE] [--accept-fingerprint[=SHA256]]",
		"Log in with a password and save the server and the session token as a context, which becomes\n"+
			"the current one. The password is asked for without echo on a terminal, else read from stdin.\n"+
			"When an https:// server's certificate is not trusted (a self-signed one), its SHA-256 fingerprint\n"+
			"is shown and, once accepted at the prompt or with --accept-fingerprint, pinned in the context.")
	user := f.String("user", "", "the user `name`")
	fromStdin := f.Bool("password-stdin", false, "read the password from the first line of stdin")
	caFile := f.String("ca-file", "", "PEM `file` of the CA that verifies the server's certificate")
	var accept acceptFlag
	f.Var(&accept, "accept-fingerprint", "trust the certificate the server shows (=SHA256: only if it has this fingerprint)")
	pos, err := f.parseN(args, "URL")
	if err != nil {
		return err
	}
	if *user == "" {
		return f.fail("--user is required")
	}
	if _, err := client.New(pos[0], "", nil); err != nil {
		return &usageError{cmd: path, msg: err.Error()}
	}
	var trust client.TLS
	if *caFile != "" {
		if trust.CAs, err = readCAs(*caFile); err != nil {
			return err
		}
	}
	cfg, file, err := a.loadConfig()
	if err != nil {
		return err
	}
	var known []string
	for _, c := range cfg.Contexts {
		if c.Fingerprint != "" && strings.TrimRight(c.Server, "/") == strings.TrimRight(pos[0], "/") {
			known = append(known, c.Fingerprint)
		}
	}
	if trust.Fingerprint, err = a.pinFor(pos[0], trust.CAs, accept, known); err != nil {
		return err
	}
	cl, err := newClient(pos[0], "", trust)
	if err != nil {
		return err
	}
	pw, err := a.readSecret("Password for "+*user+": ", *fromStdin)
	if err != nil {
		return err
	}
	sess, err := cl.Login(a.ctx, *user, pw)
	if err != nil {
		return fmt.Errorf("log in to %s as %s: %w", cl.BaseURL(), *user, err)
	}
	name := a.g.context
	if name == "" {
		name = defaultContextName(*user, cl.BaseURL())
	}
	if *caFile != "" {
		if *caFile, err = filepath.Abs(*caFile); err != nil {
			return fmt.Errorf("CA file: %w", err)
		}
	}
	cfg.Put(Context{Name: name, Server: cl.BaseURL(), User: *user, Token: sess.Token, Fingerprint: trust.Fingerprint, CAFile: *caFile})
	cfg.Current = name
	if err := cfg.Save(file); err != nil {
		return err
	}
	if a.structured() {
		return a.show(map[string]any{"context": name, "server": cl.BaseURL(), "user": sess.User, "expiresAt": sess.ExpiresAt}, nil)
	}
	fmt.Fprintf(a.env.Stdout, "Logged in to %s as %s (%s); context %q is current.\n", cl.BaseURL(), sess.User.Name, sess.User.Role, name)
	return nil
}

// defaultContextName is "user@host".
func defaultContextName(user, server string) string {
	host := server
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		host = u.Host
	}
	return user + "@" + host
}

// logoutTimeout bounds the revocation of the token by ovm logout, which
// forgets the context even when the server does not answer.
const logoutTimeout = 10 * time.Second

func (a *app) logout(path string, args []string) error {
	f := a.flags(path, "[--context NAME]",
		"Revoke the token of the current context (or of --context) on its server, then forget the token and the\n"+
			"context. When the server cannot be reached the context is forgotten all the same, with a warning:\n"+
			"the token then stays valid on the server until it expires (see 'ovm token list').")
	if _, err := f.parseN(args); err != nil {
		return err
	}
	cfg, file, err := a.loadConfig()
	if err != nil {
		return err
	}
	name := a.contextName(cfg)
	c, ok := cfg.Find(name)
	if name == "" || !ok {
		return fmt.Errorf("no context %q to log out of", name)
	}
	a.revoke(c)
	cfg.Remove(name)
	if err := cfg.Save(file); err != nil {
		return err
	}
	fmt.Fprintf(a.env.Stdout, "Logged out of context %q.\n", name)
	return nil
}

// revoke asks the context's server to revoke its token, best effort: a
// token the server already refuses (401) needs nothing more; any other
// failure is a warning on stderr, as the token may still be valid.
func (a *app) revoke(c Context) {
	if c.Token == "" {
		return
	}
	trust, err := trustOf(c)
	var cl *client.Client
	if err == nil {
		cl, err = newClient(c.Server, c.Token, trust)
	}
	if err != nil {
		fmt.Fprintf(a.env.Stderr, "warning: the token of context %q was not revoked: %s\n", c.Name, err)
		return
	}
	ctx, cancel := context.WithTimeout(a.ctx, logoutTimeout)
	defer cancel()
	err = cl.Logout(ctx)
	if err == nil || client.StatusOf(err) == http.StatusUnauthorized {
		return
	}
	fmt.Fprintf(a.env.Stderr, "warning: could not revoke the token on %s: %s\n"+
		"warning: it stays valid until it expires: log in again to revoke it with 'ovm token list' and 'ovm token revoke ID'\n", cl.BaseURL(), err)
}

func contextCommands() *command {
	return &command{name: "context", summary: "List, show and switch saved contexts", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List saved contexts", run: (*app).contextList},
		{name: "use", summary: "Make a context current", run: (*app).contextUse},
		{name: "show", summary: "Show the current context and who it logs in as", run: (*app).contextShow},
	}}
}

func (a *app) contextList(path string, args []string) error {
	f := a.flags(path, "", "List the saved contexts; * marks the current one.")
	if _, err := f.parseN(args); err != nil {
		return err
	}
	cfg, _, err := a.loadConfig()
	if err != nil {
		return err
	}
	type out struct {
		Name    string `json:"name"`
		Server  string `json:"server"`
		User    string `json:"user,omitempty"`
		Current bool   `json:"current"`
	}
	items := make([]out, 0, len(cfg.Contexts))
	for _, c := range cfg.Contexts {
		items = append(items, out{Name: c.Name, Server: c.Server, User: c.User, Current: c.Name == cfg.Current})
	}
	return a.show(map[string]any{"items": items}, func(w io.Writer) {
		row(w, "CURRENT", "NAME", "SERVER", "USER")
		for _, c := range items {
			cur := " "
			if c.Current {
				cur = "*"
			}
			row(w, cur, c.Name, c.Server, c.User)
		}
	})
}

func (a *app) contextUse(path string, args []string) error {
	f := a.flags(path, "NAME", "Make a saved context the current one.")
	pos, err := f.parseN(args, "NAME")
	if err != nil {
		return err
	}
	cfg, file, err := a.loadConfig()
	if err != nil {
		return err
	}
	if _, ok := cfg.Find(pos[0]); !ok {
		return fmt.Errorf("no context named %q: see 'ovm context list'", pos[0])
	}
	cfg.Current = pos[0]
	if err := cfg.Save(file); err != nil {
		return err
	}
	fmt.Fprintf(a.env.Stdout, "Context %q is current.\n", pos[0])
	return nil
}

func (a *app) contextShow(path string, args []string) error {
	f := a.flags(path, "", "Show the context in use and the user its token belongs to (asks the server).")
	if _, err := f.parseN(args); err != nil {
		return err
	}
	cfg, _, err := a.loadConfig()
	if err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	me, err := cl.Me(a.ctx)
	if err != nil {
		return err
	}
	name := a.contextName(cfg)
	return a.show(map[string]any{"context": name, "server": cl.BaseURL(), "user": me}, func(w io.Writer) {
		field(w, "Context", name)
		field(w, "Server", cl.BaseURL())
		field(w, "User", me.Name)
		field(w, "Role", me.Role)
		field(w, "VDC", me.VDCID)
	})
}

func tokenCommands() *command {
	return &command{name: "token", summary: "Manage your personal API tokens", sub: []*command{
		{name: "create", summary: "Create a token (its secret is shown once)", run: (*app).tokenCreate},
		{name: "list", aliases: []string{"ls"}, summary: "List your tokens and sessions", run: listCmd[apitypes.TokenInfo]{noun: "tokens",
			desc: "List your personal tokens and login sessions.",
			list: all((*client.Client).ListTokens),
			head: []any{"ID", "NAME", "KIND", "EXPIRES", "LAST USED", "AGE"},
			cells: func(t apitypes.TokenInfo, now time.Time) []any {
				kind, exp, used := "token", "never", ""
				if t.Session {
					kind = "session"
				}
				if t.ExpiresAt != nil {
					exp = t.ExpiresAt.Format(time.RFC3339)
				}
				if t.LastUsed != nil {
					used = ago(*t.LastUsed, now) + " ago"
				}
				return []any{t.ID, t.Name, kind, exp, used, ago(t.CreatedAt, now)}
			}}.run},
		{name: "revoke", aliases: []string{"delete", "rm"}, summary: "Revoke a token", run: deleteCmd("token", "Revoke one of your tokens.",
			(*client.Client).RevokeToken, func(_ string, id ovm.ID) string { return "Token " + string(id) + " revoked." })},
	}}
}

func (a *app) tokenCreate(path string, args []string) error {
	f := a.flags(path, "NAME [--expires DURATION]", "Create a personal API token for scripts; its secret is printed once.")
	expires := f.Duration("expires", 0, "lifetime such as 720h (default: never expires)")
	pos, err := f.parseN(args, "NAME")
	if err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	t, err := cl.CreateToken(a.ctx, pos[0], *expires)
	if err != nil {
		return err
	}
	return a.show(t, func(w io.Writer) {
		field(w, "ID", t.ID)
		field(w, "Name", t.Name)
		if t.ExpiresAt != nil {
			field(w, "Expires", t.ExpiresAt.Format(time.RFC3339))
		}
		field(w, "Token", t.Token)
		fmt.Fprintln(w, "\nThe token is shown only now; use it as OVM_TOKEN or with --token.")
	})
}
