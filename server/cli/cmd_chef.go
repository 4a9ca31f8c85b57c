package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
)

func chefCommands() *command {
	return &command{name: "chef", summary: "Chef automation: servers, catalog, enrolment, install and update", sub: []*command{
		{name: "server", aliases: []string{"servers"}, summary: "Manage Chef servers (administrators)", sub: []*command{
			{name: "list", aliases: []string{"ls"}, summary: "List Chef servers", run: listCmd[apitypes.ChefServer]{noun: "chef servers",
				list: func(cl *client.Client, ctx context.Context, o client.ListOptions) ([]apitypes.ChefServer, error) {
					return cl.ListChefServers(ctx, o)
				},
				head: []any{"NAME", "ID", "URL", "ORGANIZATION", "CLIENT"},
				cells: func(s apitypes.ChefServer, _ time.Time) []any {
					return []any{s.Name, s.ID, s.URL, s.Organization, s.ClientName}
				}}.run},
			{name: "show", aliases: []string{"get"}, summary: "Show a Chef server", run: chefServerLeaf("Show a Chef server.",
				func(a *app, cl *client.Client, id ovm.ID) error {
					s, err := cl.GetChefServer(a.ctx, id)
					if err != nil {
						return err
					}
					return a.show(s, func(w io.Writer) { chefServerDetail(w, s) })
				})},
			{name: "register", aliases: []string{"create", "add"}, summary: "Register a Chef server", run: (*app).chefServerRegister},
			{name: "delete", aliases: []string{"rm"}, summary: "Remove a Chef server no instance is enrolled in", run: chefServerLeaf(
				"Remove a Chef server no instance is enrolled in.", func(a *app, cl *client.Client, id ovm.ID) error {
					if err := cl.DeleteChefServer(a.ctx, id); err != nil {
						return err
					}
					fmt.Fprintf(a.env.Stdout, "Chef server %s deleted.\n", id)
					return nil
				})},
		}},
		{name: "catalog", summary: "Show a Chef server's cookbooks, roles and environments", run: chefServerLeaf(
			"Show a Chef server's cookbooks (versions and recipes), roles and environments.", func(a *app, cl *client.Client, id ovm.ID) error {
				cat, err := cl.ChefCatalog(a.ctx, id)
				if err != nil {
					return err
				}
				return a.show(cat, func(w io.Writer) { chefCatalogTable(w, cat) })
			})},
		{name: "enrol", aliases: []string{"enroll"}, summary: "Enrol an instance in a Chef server", run: (*app).chefEnrol},
		{name: "node", summary: "Show an instance's Chef enrolment", run: func(a *app, path string, args []string) error {
			f := a.flags(path, "INSTANCE", "Show an instance's Chef node: run list, environment and last converge.")
			cl, id, err := f.object(args, "INSTANCE", "instance")
			if err != nil {
				return err
			}
			n, err := cl.GetInstanceChef(a.ctx, id)
			if err != nil {
				return err
			}
			return a.show(n, func(w io.Writer) { chefNodeDetail(w, n) })
		}},
		{name: "unenrol", aliases: []string{"unenroll"}, summary: "Remove an instance's node and client from its Chef server",
			run: taskCmd("instance", "Remove an instance's node and API client from its Chef server.", "wait until it is done",
				(*client.Client).UnenrolInstance, func(a *app, out apitypes.ChefNodeTask, wait bool) error {
					if wait {
						if _, err := a.watch(a.env.Stderr, out.Task.ID); err != nil {
							return err
						}
					}
					fmt.Fprintf(a.env.Stdout, "Instance %s unenrolled (task %s).\n", out.Node.InstanceID, out.Task.ID)
					return nil
				})},
		{name: "install", summary: "Add run-list entries to instances and converge them", run: (*app).chefInstall},
		{name: "update", summary: "Converge enrolled instances as their run lists are (update all)", run: (*app).chefUpdate},
		{name: "run", aliases: []string{"runs"}, summary: "Converge runs and their per-instance results", sub: []*command{
			{name: "list", aliases: []string{"ls"}, summary: "List converge runs", run: listCmd[apitypes.ChefRun]{noun: "converge runs", vdc: true,
				list: func(cl *client.Client, ctx context.Context, o client.ListOptions) ([]apitypes.ChefRun, error) {
					return cl.ListChefRuns(ctx, o)
				},
				head: []any{"ID", "STATE", "RUN LIST", "TOTAL", "SUCCEEDED", "FAILED", "UNREACHABLE", "CREATED"},
				cells: func(r apitypes.ChefRun, now time.Time) []any {
					return []any{r.ID, r.State, strings.Join(r.RunList, ","), r.Counts.Total, r.Counts.Succeeded, r.Counts.Failed,
						r.Counts.Unreachable, ago(r.CreatedAt, now)}
				}}.run},
			{name: "show", aliases: []string{"get"}, summary: "Show a run's per-instance results", run: chefRunLeaf("Show a converge run and its per-instance results.",
				(*client.Client).GetChefRun)},
			{name: "cancel", summary: "Cancel a running converge run", run: chefRunLeaf("Cancel a running converge run.", (*client.Client).CancelChefRun)},
			{name: "retry", summary: "Converge again the instances of a run that did not succeed", run: (*app).chefRetry},
		}},
	}}
}

// chefLeaf returns the leaf that runs do on the object its one argument
// arg names, as resolve finds it.
func chefLeaf(arg, desc string, resolve func(a *app, cl *client.Client, ref string) (ovm.ID, error),
	do func(a *app, cl *client.Client, id ovm.ID) error) leaf {
	return func(a *app, path string, args []string) error {
		f := a.flags(path, arg, desc)
		pos, err := f.parseN(args, arg)
		if err != nil {
			return err
		}
		cl, err := a.client()
		if err != nil {
			return err
		}
		id, err := resolve(a, cl, pos[0])
		if err != nil {
			return err
		}
		return do(a, cl, id)
	}
}

// chefServerLeaf returns the leaf that runs do on the Chef server its one
// argument names (a name, an id or a unique id prefix).
func chefServerLeaf(desc string, do func(a *app, cl *client.Client, id ovm.ID) error) leaf {
	return chefLeaf("SERVER", desc+" The server is named by its name, id or a unique id prefix.", (*app).chefServerID, do)
}

// chefServerID resolves a Chef server's name or id.
func (a *app) chefServerID(cl *client.Client, ref string) (ovm.ID, error) {
	return resolveIn("chef server", ref, func() ([]named, error) {
		ss, err := cl.ListChefServers(a.ctx, client.ListOptions{})
		return namesOf(ss, err, func(s apitypes.ChefServer) named { return named{s.ID, s.Name} })
	})
}

// chefRunLeaf returns the leaf that calls do on the run its argument names
// (an id or a unique prefix) and shows the run.
func chefRunLeaf(desc string, do func(*client.Client, context.Context, ovm.ID) (apitypes.ChefRun, error)) leaf {
	return chefLeaf("RUN", desc+" The run is named by its id or a unique prefix of it.", (*app).chefRunID,
		func(a *app, cl *client.Client, id ovm.ID) error {
			r, err := do(cl, a.ctx, id)
			if err != nil {
				return err
			}
			return a.show(r, func(w io.Writer) { chefRunDetail(w, r) })
		})
}

func (a *app) chefRunID(cl *client.Client, ref string) (ovm.ID, error) {
	return resolveIn("chef run", ref, func() ([]named, error) {
		rs, err := cl.ListChefRuns(a.ctx, client.ListOptions{})
		return namesOf(rs, err, func(r apitypes.ChefRun) named { return named{r.ID, ""} })
	})
}

func (a *app) chefServerRegister(path string, args []string) error {
	f := a.flags(path, "NAME --url URL --client NAME --key-file FILE [--organization ORG] [--guest-url URL] [--ca-file FILE] [--insecure] [--converge-command CMD]...",
		"Register a Chef server: the server connects to it as the API client with its key and records it.\n"+
			"The key is encrypted at rest and never shown again.")
	url := f.String("url", "", "the Chef server's `URL`")
	org := f.String("organization", "", "the organisation (Chef Infra Server 12 and later)")
	clientName := f.String("client", "", "the API client OVM signs as")
	keyFile := f.String("key-file", "", "a PEM `file` with the API client's private key")
	guest := f.String("guest-url", "", "the `URL` guests reach the server at, when not --url")
	caFile := f.String("ca-file", "", "a PEM `file` with the authority of the server's certificate")
	insecure := f.Bool("insecure", false, "skip the verification of the server's certificate")
	timeout := f.Int("converge-timeout", 0, "how long one converge may run, in `seconds` (default 600)")
	var cmd multi
	f.Var(&cmd, "converge-command", "one `WORD` of the command that converges a guest (repeat for each; default chef-client)")
	pos, err := f.parseN(args, "NAME")
	if err != nil {
		return err
	}
	switch {
	case *url == "":
		return f.fail("--url is required")
	case *clientName == "":
		return f.fail("--client is required")
	case *keyFile == "":
		return f.fail("--key-file is required")
	}
	key, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("read %s: %w", *keyFile, err)
	}
	in := apitypes.ChefServerCreate{Name: pos[0], URL: *url, Organization: *org, ClientName: *clientName, Key: string(key),
		GuestURL: *guest, ConvergeCommand: cmd, ConvergeTimeoutSeconds: *timeout, IdempotencyKey: newKey()}
	in.TLS.InsecureSkipVerify = *insecure
	if *caFile != "" {
		ca, err := os.ReadFile(*caFile)
		if err != nil {
			return fmt.Errorf("read %s: %w", *caFile, err)
		}
		in.TLS.CACert = string(ca)
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	s, err := cl.RegisterChefServer(a.ctx, in)
	if err != nil {
		return err
	}
	return a.show(s, func(w io.Writer) { chefServerDetail(w, s) })
}

func (a *app) chefEnrol(path string, args []string) error {
	f := a.flags(path, "INSTANCE --chef SERVER [--run-list ENTRY,...] [--environment ENV] [--wait]",
		"Enrol an instance in a Chef server: OVM makes its key pair, creates its client and node (named by the instance's id)\n"+
			"and delivers the private key into the guest.")
	server := f.String("chef", "", "the Chef `SERVER` (name or id)")
	runList := f.String("run-list", "", "the initial run list, comma-separated: recipe[COOKBOOK], recipe[COOKBOOK::RECIPE], role[ROLE]")
	env := f.String("environment", "", "the node's environment")
	wait := f.Bool("wait", false, "wait until the instance is enrolled")
	cl, id, err := f.object(args, "INSTANCE", "instance")
	if err != nil {
		return err
	}
	if *server == "" {
		return f.fail("--chef is required")
	}
	sid, err := a.chefServerID(cl, *server)
	if err != nil {
		return err
	}
	out, err := cl.EnrolInstance(a.ctx, id, apitypes.ChefEnrol{ServerID: sid, RunList: splitList(*runList), Environment: *env})
	if err != nil {
		return err
	}
	if *wait {
		if _, err := a.watch(a.env.Stderr, out.Task.ID); err != nil {
			return err
		}
		n, err := cl.GetInstanceChef(a.ctx, id)
		if err != nil {
			return err
		}
		return a.show(n, func(w io.Writer) { chefNodeDetail(w, n) })
	}
	return a.show(out, func(w io.Writer) { fmt.Fprintf(w, "Enrolling instance %s (task %s).\n", id, out.Task.ID) })
}

// splitList splits a comma-separated list, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// runFlags are the flags install and update share.
type runFlags struct {
	on, labels  multi
	all, wait   *bool
	concurrency *int
	environment *string
	vdc         *string
}

func newRunFlags(f *flags) *runFlags {
	r := &runFlags{}
	f.Var(&r.on, "on", "an `INSTANCE` to converge (name or id); repeatable")
	f.Var(&r.labels, "label", "converge the enrolled instances with this `KEY=VALUE` label; repeatable")
	r.all = f.Bool("all", false, "converge every enrolled instance of the VDC")
	r.concurrency = f.Int("concurrency", 0, "how many instances converge at once (default 5)")
	r.environment = f.String("environment", "", "move the nodes to this environment first")
	r.wait = f.Bool("wait", false, "wait for the run and show its results")
	r.vdc = f.String("vdc", "", "the `VDC` (administrators)")
	return r
}

// start starts a run of runList over the instances the flags select.
func (r *runFlags) start(a *app, f *flags, runList []string) error {
	cl, vdc, err := a.clientIn(*r.vdc)
	if err != nil {
		return err
	}
	labels, err := parsePairs("label", r.labels)
	if err != nil {
		return f.fail("%v", err)
	}
	in := apitypes.ChefRunCreate{VDCID: vdc, All: *r.all, Labels: labels, RunList: runList, Environment: *r.environment,
		Concurrency: *r.concurrency, IdempotencyKey: newKey()}
	for _, ref := range r.on {
		id, err := a.resolve("instance", ref, vdc)
		if err != nil {
			return err
		}
		in.InstanceIDs = append(in.InstanceIDs, id)
	}
	out, err := cl.CreateChefRun(a.ctx, in)
	if err != nil {
		return err
	}
	return a.afterRun(cl, out, *r.wait)
}

// afterRun shows a run that started, or with wait its results once it
// ended; a run in which an instance did not succeed exits 1.
func (a *app) afterRun(cl *client.Client, out apitypes.ChefRunTask, wait bool) error {
	if !wait {
		return a.show(out, func(w io.Writer) {
			fmt.Fprintf(w, "Converge run %s started over %d instances (task %s).\n", out.Run.ID, out.Run.Counts.Total, out.Task.ID)
		})
	}
	if _, err := a.watch(a.env.Stderr, out.Task.ID); err != nil {
		return err
	}
	run, err := cl.GetChefRun(a.ctx, out.Run.ID)
	if err != nil {
		return err
	}
	if err := a.show(run, func(w io.Writer) { chefRunDetail(w, run) }); err != nil {
		return err
	}
	if run.State != apitypes.ChefRunSucceeded {
		return &exitCodeError{code: 1}
	}
	return nil
}

func (a *app) chefInstall(path string, args []string) error {
	f := a.flags(path, "ENTRY... (--on INSTANCE... | --all | --label KEY=VALUE...) [--concurrency N] [--environment ENV] [--wait]",
		"Install software with Chef: add the run-list entries (recipe[COOKBOOK], recipe[COOKBOOK::RECIPE], role[ROLE])\n"+
			"to the nodes of the instances, then converge them. Entries the Chef server lacks are refused before anything runs.")
	rf := newRunFlags(f)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return f.fail("name at least one run-list entry, such as recipe[nginx]")
	}
	return rf.start(a, f, pos)
}

func (a *app) chefUpdate(path string, args []string) error {
	f := a.flags(path, "(--all | --on INSTANCE... | --label KEY=VALUE...) [--concurrency N] [--wait]",
		"Update with Chef: converge enrolled instances as their run lists are, one result per instance.")
	rf := newRunFlags(f)
	if _, err := f.parseN(args); err != nil {
		return err
	}
	return rf.start(a, f, nil)
}

func (a *app) chefRetry(path string, args []string) error {
	f := a.flags(path, "RUN [--wait]", "Converge again the instances of a finished run that failed, were unreachable or were cancelled.")
	wait := f.Bool("wait", false, "wait for the new run and show its results")
	pos, err := f.parseN(args, "RUN")
	if err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	id, err := a.chefRunID(cl, pos[0])
	if err != nil {
		return err
	}
	out, err := cl.RetryChefRun(a.ctx, id, newKey())
	if err != nil {
		return err
	}
	return a.afterRun(cl, out, *wait)
}

func chefServerDetail(w io.Writer, s apitypes.ChefServer) {
	field(w, "Name", s.Name)
	field(w, "ID", s.ID)
	field(w, "Organization", s.Organization)
	if s.URL != "" {
		field(w, "URL", s.URL)
		field(w, "Client", s.ClientName)
		if s.GuestURL != "" {
			field(w, "Guest URL", s.GuestURL)
		}
		if s.TLS != nil {
			field(w, "TLS verify", !s.TLS.InsecureSkipVerify)
			field(w, "TLS CA", s.TLS.CACert != "")
		}
		field(w, "Converge", strings.Join(s.ConvergeCommand, " "))
		field(w, "Timeout", fmt.Sprintf("%ds", s.ConvergeTimeoutSeconds))
	}
	field(w, "Created", s.CreatedAt.Format(time.RFC3339))
}

func chefCatalogTable(w io.Writer, cat apitypes.ChefCatalog) {
	row(w, "KIND", "NAME", "VERSION", "RECIPES / RUN LIST / DESCRIPTION")
	for _, cb := range cat.Cookbooks {
		for _, v := range cb.Versions {
			row(w, "cookbook", cb.Name, v.Version, strings.Join(v.Recipes, ","))
		}
	}
	for _, r := range cat.Roles {
		row(w, "role", r.Name, "", strings.Join(r.RunList, ","))
	}
	for _, e := range cat.Environments {
		row(w, "environment", e.Name, "", e.Description)
	}
}

func chefNodeDetail(w io.Writer, n apitypes.ChefNode) {
	field(w, "Instance", n.InstanceID)
	field(w, "Server", n.ServerID)
	field(w, "Node", n.NodeName)
	field(w, "State", n.State)
	if n.Message != "" {
		field(w, "Message", n.Message)
	}
	field(w, "Run list", strings.Join(n.RunList, ","))
	field(w, "Environment", n.Environment)
	if n.LastConverge != nil {
		field(w, "Last converge", fmt.Sprintf("%s at %s (run %s)", n.LastConverge.Outcome, n.LastConverge.At.Format(time.RFC3339), n.LastConverge.RunID))
	}
}

func chefRunDetail(w io.Writer, r apitypes.ChefRun) {
	field(w, "ID", r.ID)
	field(w, "State", r.State)
	field(w, "Run list", strings.Join(r.RunList, ","))
	if r.RetryOf != "" {
		field(w, "Retry of", r.RetryOf)
	}
	c := r.Counts
	field(w, "Results", fmt.Sprintf("%d succeeded, %d failed, %d unreachable, %d cancelled, %d pending of %d",
		c.Succeeded, c.Failed, c.Unreachable, c.Cancelled, c.Pending+c.Running, c.Total))
	fmt.Fprintln(w)
	row(w, "INSTANCE", "OUTCOME", "EXIT", "TIME", "MESSAGE")
	for _, res := range r.Results {
		msg := res.Message
		if msg == "" && res.Outcome == apitypes.ChefFailed {
			msg = lastLine(res.Output)
		}
		row(w, res.InstanceName, res.Outcome, res.ExitCode, (time.Duration(res.DurationMs) * time.Millisecond).String(), msg)
	}
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
