package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
)

func instanceCommands() *command {
	return &command{name: "instance", aliases: []string{"instances", "i"}, summary: "Manage instances (VMs and containers)", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List instances", run: listCmd[ovm.Instance]{noun: "instances", vdc: true,
			list: (*client.Client).ListInstances, table: instanceTable}.run},
		{name: "show", aliases: []string{"get"}, summary: "Show an instance", run: showCmd("instance", "NAME|ID",
			"Show an instance: its spec, state and addresses.", (*client.Client).GetInstance, instanceDetail)},
		{name: "create", summary: "Create an instance", run: (*app).instanceCreate},
		{name: "delete", aliases: []string{"rm"}, summary: "Delete instances", run: actionRun("delete")},
		{name: "start", summary: "Start instances", run: actionRun(apitypes.ActionStart)},
		{name: "stop", summary: "Stop instances", run: actionRun(apitypes.ActionStop)},
		{name: "reboot", summary: "Reboot instances", run: actionRun(apitypes.ActionReboot)},
		{name: "resize", summary: "Change an instance's CPU or memory", run: (*app).instanceResize},
		{name: "label", summary: "Set or remove an instance's labels", run: (*app).instanceLabel},
		{name: "exec", summary: "Run a command inside a running instance", run: (*app).instanceExec},
		{name: "console", summary: "Print an instance's console output", run: (*app).instanceConsole},
		{name: "commit", summary: "Commit a container instance as an image and push it to a registry", run: (*app).instanceCommit},
		{name: "terminal", summary: "Open an interactive session on an instance (console or shell)", run: (*app).instanceTerminal},
		{name: "migrate", summary: "Move an instance to another host or storage pool", run: (*app).instanceMigrate},
		{name: "migrate-cancel", summary: "Cancel an instance's migration", run: (*app).instanceMigrateCancel},
	}}
}

// instanceTable lists instances, with a HOST column when any has a host
// (administrators see it, tenants never).
func instanceTable(w io.Writer, is []ovm.Instance, now time.Time) {
	withHost := false
	for _, i := range is {
		withHost = withHost || i.Status.HostID != ""
	}
	head := []any{"NAME", "ID", "TYPE", "PHASE", "POWER", "CPU", "MEMORY", "ADDRESSES"}
	if withHost {
		head = append(head, "HOST")
	}
	row(w, append(head, "AGE")...)
	for _, i := range is {
		cells := []any{i.Name, i.ID, i.Spec.Type, i.Status.Phase, i.Status.Power, i.Spec.CPU, i.Spec.Memory, addrs(i.Status.Addresses, i.Spec.NICs)}
		if withHost {
			cells = append(cells, i.Status.HostID.Short())
		}
		row(w, append(cells, ago(i.CreatedAt, now))...)
	}
}

// page wraps a whole list as the API's page, for JSON output.
func page[T any](items []T) apitypes.Page[T] {
	if items == nil {
		items = []T{}
	}
	return apitypes.Page[T]{Items: items}
}

// addrs renders an instance's addresses: those its host reports, else
// those allocated to its NICs.
func addrs(as []netip.Addr, nics []ovm.NICSpec) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	if len(s) == 0 {
		for _, n := range nics {
			if n.IP.IsValid() {
				s = append(s, n.IP.String())
			}
		}
	}
	return strings.Join(s, ",")
}

func instanceDetail(w io.Writer, i ovm.Instance) {
	field(w, "Name", i.Name)
	field(w, "ID", i.ID)
	field(w, "VDC", i.VDCID)
	if i.VAppID != "" {
		field(w, "vApp", i.VAppID)
	}
	field(w, "Type", i.Spec.Type)
	if i.Spec.Image.IsZero() {
		field(w, "Image", "") // an imported instance: "-", not ":"
	} else {
		field(w, "Image", i.Spec.Image)
	}
	field(w, "CPU", i.Spec.CPU.String()+" vCPU")
	field(w, "Memory", i.Spec.Memory)
	for n, d := range i.Spec.Disks {
		desc := d.Size.String()
		if d.VolumeID != "" {
			desc = "volume " + string(d.VolumeID)
		}
		if d.MountPath != "" {
			desc += " at " + d.MountPath
		}
		field(w, fmt.Sprintf("Disk %d", n), desc)
	}
	for n, nic := range i.Spec.NICs {
		desc := string(nic.NetworkID)
		if nic.IP.IsValid() {
			desc += " " + nic.IP.String()
		}
		if nic.MAC != "" {
			desc += " " + nic.MAC
		}
		field(w, fmt.Sprintf("NIC %d", n), desc)
	}
	field(w, "Phase", i.Status.Phase)
	field(w, "Power", i.Status.Power)
	if i.Status.HostID != "" {
		field(w, "Host", i.Status.HostID)
		field(w, "Native ID", i.Status.NativeID)
	}
	field(w, "Addresses", addrs(i.Status.Addresses, i.Spec.NICs))
	if i.Status.Message != "" {
		field(w, "Message", i.Status.Message)
	}
	field(w, "Created", i.CreatedAt.Format(time.RFC3339))
}

// instanceSpecFlags are the flags that describe an instance.
type instanceSpecFlags struct {
	typ, image, cpu, memory, hostname *string
	disks, nets, env, labels          multi
	ha                                *bool
}

func addSpecFlags(f *flags) *instanceSpecFlags {
	s := &instanceSpecFlags{
		typ:      f.String("type", "", "vm or container (default: from the image: a .qcow2, .raw, .img or .vmdk template is a vm)"),
		image:    f.String("image", "", "a container image such as nginx:1.27, or a VM template such as debian-12.qcow2"),
		cpu:      f.String("cpu", "1", "vCPUs such as 1 or 0.5, or millicpu such as 500m"),
		memory:   f.String("memory", "512Mi", "memory such as 256Mi or 2Gi"),
		hostname: f.String("hostname", "", "the instance's host name"),
		ha:       f.Bool("ha", false, "restart the instance on another host when its host fails"),
	}
	f.Var(&s.disks, "disk", "a new disk `SIZE[:MOUNTPATH]` such as 10Gi (a container needs the mount path); repeatable")
	f.Var(&s.nets, "network", "a network `NAME|ID[=IP]` to attach, with a static address if given; repeatable")
	f.Var(&s.env, "env", "an environment variable `KEY=VALUE` (containers); repeatable")
	f.Var(&s.labels, "label", "a label `KEY=VALUE`; repeatable")
	return s
}

// spec builds the instance spec from the flags, resolving network names.
func (a *app) spec(f *flags, s *instanceSpecFlags, command []string, vdc ovm.ID) (ovm.InstanceSpec, error) {
	var spec ovm.InstanceSpec
	if *s.image == "" {
		return spec, f.fail("--image is required")
	}
	spec.Type = ovm.InstanceType(*s.typ)
	if spec.Type == "" {
		spec.Type = ovm.TypeContainer
		if t := ovm.Template(*s.image); t.Format != ovm.FormatQCOW2 || strings.HasSuffix(*s.image, ".qcow2") {
			spec.Type = ovm.TypeVM
		}
	}
	switch spec.Type {
	case ovm.TypeVM:
		spec.Image = ovm.Template(*s.image)
	case ovm.TypeContainer:
		spec.Image = ovm.ContainerImage(*s.image)
	default:
		return spec, f.fail("--type %q: must be vm or container", *s.typ)
	}
	cpu, err := parseCPU(*s.cpu)
	if err != nil {
		return spec, f.fail("--cpu: %v", err)
	}
	spec.CPU = cpu
	if spec.Memory, err = parseSize(*s.memory); err != nil {
		return spec, f.fail("--memory: %v", err)
	}
	for _, d := range s.disks {
		size, mount, _ := strings.Cut(d, ":")
		b, err := parseSize(size)
		if err != nil {
			return spec, f.fail("--disk: %v", err)
		}
		spec.Disks = append(spec.Disks, ovm.DiskSpec{Size: b, MountPath: mount})
	}
	if spec.Env, err = parsePairs("env", s.env); err != nil {
		return spec, f.fail("%v", err)
	}
	if spec.Labels, err = parsePairs("label", s.labels); err != nil {
		return spec, f.fail("%v", err)
	}
	spec.Hostname = *s.hostname
	spec.HA.Enabled = *s.ha
	spec.Command = command
	for _, n := range s.nets {
		ref, ip, hasIP := strings.Cut(n, "=")
		nic := ovm.NICSpec{}
		if hasIP {
			addr, err := netip.ParseAddr(ip)
			if err != nil {
				return spec, f.fail("--network %q: %q is not an IP address", n, ip)
			}
			nic.IP = addr
		}
		id, err := a.resolve("network", ref, vdc)
		if err != nil {
			return spec, err
		}
		nic.NetworkID = id
		spec.NICs = append(spec.NICs, nic)
	}
	return spec, nil
}

func (a *app) instanceCreate(path string, args []string) error {
	f := a.flags(path, "--name NAME --image IMAGE [flags] [-- COMMAND ARGS...] | -f FILE [--name NAME] [--vdc VDC] [--start] [--wait]",
		"Create an instance. The quota, addresses and placement are settled at once; the hypervisor work is\n"+
			"a task (follow it with --wait). A container's command may follow --. With -f the instance is a JSON or\n"+
			"YAML file (\"-\" reads stdin) in the API's shape, with every field the API takes:\n\n"+
			"  name: web\n  spec: {type: container, cpuMilli: 500, memoryBytes: 268435456, image: {format: oci, name: nginx:1.27},\n"+
			"         ports: [{containerPort: 80, hostPort: 8080}], restartPolicy: always}")
	file := f.String("f", "", "the instance `file` (JSON or YAML); the spec flags do not apply")
	name := f.String("name", "", "the instance's `name` (lower-case letters, digits and hyphens)")
	vdcRef := f.String("vdc", "", "the VDC to create in (administrators)")
	start := f.Bool("start", false, "start the instance once it is created")
	wait := f.Bool("wait", false, "wait for the task and show its progress")
	other := map[string]bool{}
	f.VisitAll(func(fl *flag.Flag) { other[fl.Name] = true })
	sf := addSpecFlags(f)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if *file != "" {
		var spec []string
		f.Visit(func(fl *flag.Flag) {
			if !other[fl.Name] {
				spec = append(spec, "--"+fl.Name)
			}
		})
		if len(spec) > 0 {
			return f.fail("%s cannot be used with -f (the file has the spec)", strings.Join(spec, ", "))
		}
		return a.instanceCreateFile(f, *file, *name, *vdcRef, *start, *wait, pos)
	}
	if *name == "" && len(pos) > 0 && !strings.HasPrefix(pos[0], "-") && !containsDashDash(args) {
		*name, pos = pos[0], pos[1:]
	}
	if *name == "" {
		return f.fail("--name is required")
	}
	if len(pos) > 0 && !containsDashDash(args) {
		return f.fail("unexpected argument %q (a command goes after --)", pos[0])
	}
	cl, vdc, err := a.clientIn(*vdcRef)
	if err != nil {
		return err
	}
	spec, err := a.spec(f, sf, pos, vdc)
	if err != nil {
		return err
	}
	it, err := cl.CreateInstance(a.ctx, apitypes.InstanceCreate{VDCID: vdc, Name: *name, Spec: spec, Start: *start, IdempotencyKey: newKey()})
	if err != nil {
		return err
	}
	return a.afterInstanceTask(it, *wait, "created")
}

// instanceCreateFile creates the instance a file describes in the API's
// shape; --name, --vdc and --start override the file.
func (a *app) instanceCreateFile(f *flags, file, name, vdcRef string, start, wait bool, pos []string) error {
	if len(pos) > 0 {
		return f.fail("unexpected argument %q (the file has the command)", pos[0])
	}
	var extra map[string]any
	if start {
		extra = map[string]any{"start": true}
	}
	it, err := postDocument[apitypes.InstanceTask](a, "/v1/instances", file, name, vdcRef, extra)
	if err != nil {
		return err
	}
	return a.afterInstanceTask(it, wait, "created")
}

func containsDashDash(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return true
		}
	}
	return false
}

// afterInstanceTask prints an instance change: with wait, after its task
// ended, the instance as it is then.
func (a *app) afterInstanceTask(it apitypes.InstanceTask, wait bool, verb string) error {
	if wait && it.Task != nil {
		werr := a.waitAll(it.Task)
		if verb != "deleted" {
			cl, err := a.client()
			if err != nil {
				return err
			}
			if i, err := cl.GetInstance(a.ctx, it.Instance.ID); err == nil {
				it.Instance = i
			}
		}
		if werr != nil {
			return werr
		}
		if t, err := a.mustClient().GetTask(a.ctx, it.Task.ID); err == nil {
			it.Task = &t
		}
	}
	return a.show(it, func(w io.Writer) {
		i := it.Instance
		msg := fmt.Sprintf("Instance %s (%s) %s", i.Name, i.ID, pending(verb, it.Task != nil && !wait))
		if wait {
			msg += fmt.Sprintf(": %s, %s", i.Status.Phase, i.Status.Power)
			if ad := addrs(i.Status.Addresses, i.Spec.NICs); ad != "" && verb != "deleted" {
				msg += ", " + ad
			}
		}
		fmt.Fprintln(w, msg+".")
		if it.Task != nil && !wait {
			fmt.Fprintf(w, "Task %s %s; follow it with 'ovm task watch %s'.\n", it.Task.ID, it.Task.State, it.Task.ID)
		}
	})
}

// mustClient returns the client made earlier in the run.
func (a *app) mustClient() *client.Client { return a.cl }

var actionVerbs = map[string]string{"delete": "deleted", apitypes.ActionStart: "started", apitypes.ActionStop: "stopped", apitypes.ActionReboot: "rebooted"}

// pendingVerbs say what is under way while a task runs, for each verb
// that says what it did.
var pendingVerbs = map[string]string{"deleted": "is being deleted", "started": "is starting", "stopped": "is stopping",
	"rebooted": "is rebooting", "resized": "is being resized", "created": "is being created", "migrated": "is migrating",
	"cancelled": "is being cancelled"}

// pending returns verb, or what is under way when the task has not ended
// (running is true): an object whose delete task has started is not
// deleted yet.
func pending(verb string, running bool) string {
	if p, ok := pendingVerbs[verb]; ok && running {
		return p
	}
	return verb
}

// actionRun returns the leaf of a power action or delete on instances.
func actionRun(action string) leaf {
	return func(a *app, path string, args []string) error {
		f := a.flags(path, "NAME|ID... [--wait] [--vdc VDC]", strings.ToUpper(action[:1])+action[1:]+" instances; each is a task.")
		wait := f.Bool("wait", false, "wait for the tasks and show their progress")
		vdcRef := f.String("vdc", "", "look the names up in this `VDC` (administrators)")
		pos, err := f.parse(args)
		if err != nil {
			return err
		}
		if len(pos) == 0 {
			return f.fail("name at least one instance")
		}
		cl, vdc, err := a.clientIn(*vdcRef)
		if err != nil {
			return err
		}
		var first error
		for _, ref := range pos {
			id, err := a.resolve("instance", ref, vdc)
			if err != nil {
				return err
			}
			var it apitypes.InstanceTask
			if action == "delete" {
				it, err = cl.DeleteInstance(a.ctx, id)
			} else {
				it, err = cl.InstanceAction(a.ctx, id, action)
			}
			if err != nil {
				return fmt.Errorf("%s %s: %w", action, ref, err)
			}
			if err := a.afterInstanceTask(it, *wait, actionVerbs[action]); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
}

func (a *app) instanceResize(path string, args []string) error {
	f := a.flags(path, "NAME|ID [--cpu CPU] [--memory SIZE] [--wait]", "Change an instance's CPU or memory (a task; the quota is reserved at once).")
	cpu := f.String("cpu", "", "vCPUs such as 2, or millicpu such as 1500m")
	memory := f.String("memory", "", "memory such as 1Gi")
	wait := f.Bool("wait", false, "wait for the task and show its progress")
	f.inVDC("instance")
	pos, err := f.parseN(args, "NAME|ID")
	if err != nil {
		return err
	}
	var patch apitypes.InstancePatch
	if *cpu != "" {
		c, err := parseCPU(*cpu)
		if err != nil {
			return f.fail("--cpu: %v", err)
		}
		patch.CPU = &c
	}
	if *memory != "" {
		m, err := parseSize(*memory)
		if err != nil {
			return f.fail("--memory: %v", err)
		}
		patch.Memory = &m
	}
	if patch.CPU == nil && patch.Memory == nil {
		return f.fail("give --cpu or --memory")
	}
	cl, id, err := f.lookup("instance", pos[0])
	if err != nil {
		return err
	}
	it, err := cl.UpdateInstance(a.ctx, id, patch)
	if err != nil {
		return err
	}
	return a.afterInstanceTask(it, *wait, "resized")
}

func (a *app) instanceExec(path string, args []string) error {
	f := a.flags(path, "NAME|ID [--env KEY=VALUE] [--stdin] [--timeout 30s] -- COMMAND [ARGS...]",
		"Run a command inside a running instance, without a shell, and print its output. The exit status\n"+
			"of ovm is the command's.")
	var env multi
	f.Var(&env, "env", "an environment variable `KEY=VALUE`; repeatable")
	stdin := f.Bool("stdin", false, "send ovm's standard input to the command")
	timeout := f.Duration("timeout", 0, "how long the command may run (default 30s, at most 5m)")
	f.inVDC("instance")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return f.fail("want NAME|ID -- COMMAND [ARGS...]")
	}
	vars, err := parsePairs("env", env)
	if err != nil {
		return f.fail("%v", err)
	}
	req := apitypes.ExecRequest{Command: pos[1:], Env: vars, TimeoutSeconds: int(timeout.Seconds())}
	if *stdin {
		b, err := io.ReadAll(io.LimitReader(a.env.Stdin, 512<<10+1))
		if err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
		req.Stdin = string(b)
	}
	cl, id, err := f.lookup("instance", pos[0])
	if err != nil {
		return err
	}
	res, err := cl.Exec(a.ctx, id, req)
	if err != nil {
		return err
	}
	if a.structured() {
		if err := a.show(res, nil); err != nil {
			return err
		}
	} else {
		_, _ = io.WriteString(a.env.Stdout, res.Stdout)
		_, _ = io.WriteString(a.env.Stderr, res.Stderr)
		if res.Truncated {
			fmt.Fprintln(a.env.Stderr, "(output truncated at 1 MiB)")
		}
	}
	if res.ExitCode != 0 {
		return &exitCodeError{code: res.ExitCode}
	}
	return nil
}

func (a *app) instanceConsole(path string, args []string) error {
	f := a.flags(path, "NAME|ID [--follow] [--max-seconds N] [--max-bytes N]",
		"Print what an instance prints on its console (a VM's serial console, a container's output).")
	follow := f.Bool("follow", false, "keep reading until --max-seconds or the console ends")
	maxSeconds := f.Int("max-seconds", 0, "stop after this many seconds (server default 10, at most 600)")
	maxBytes := f.Int64("max-bytes", 0, "stop after this many bytes")
	cl, id, err := f.object(args, "NAME|ID", "instance")
	if err != nil {
		return err
	}
	rc, err := cl.Console(a.ctx, id, client.ConsoleOptions{Follow: *follow, MaxSeconds: *maxSeconds, MaxBytes: *maxBytes})
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.Copy(a.env.Stdout, rc); err != nil && a.ctx.Err() == nil {
		return fmt.Errorf("read console: %w", err)
	}
	return nil
}

func vappCommands() *command {
	return &command{name: "vapp", aliases: []string{"vapps"}, summary: "Manage vApps (instances deployed as one unit)", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List vApps", run: listCmd[apitypes.VAppInfo]{noun: "vApps", vdc: true,
			list: (*client.Client).ListVApps,
			head: []any{"NAME", "ID", "MEMBERS", "READY", "FAILED", "AGE"},
			cells: func(v apitypes.VAppInfo, now time.Time) []any {
				ready, failed := 0, 0
				for _, m := range v.MemberStatus {
					switch m.Phase {
					case ovm.PhaseReady:
						ready++
					case ovm.PhaseFailed, ovm.PhaseLost:
						failed++
					}
				}
				return []any{v.Name, v.ID, len(v.Members), ready, failed, ago(v.CreatedAt, now)}
			}}.run},
		{name: "show", aliases: []string{"get"}, summary: "Show a vApp and each member's outcome", run: showCmd("vapp", "NAME|ID",
			"Show a vApp and the outcome of each member.", (*client.Client).GetVApp, vappDetail)},
		{name: "create", aliases: []string{"deploy"}, summary: "Deploy a vApp from a JSON or YAML file", run: (*app).vappCreate},
		{name: "delete", aliases: []string{"rm"}, summary: "Delete a vApp and its members", run: taskCmd("vapp",
			"Delete a vApp and all its members (one task per member).", "wait for every member's task and show progress",
			(*client.Client).DeleteVApp, func(a *app, vt apitypes.VAppTasks, wait bool) error { return a.afterVAppTasks(vt, wait, "deleted") })},
	}}
}

func vappDetail(w io.Writer, v apitypes.VAppInfo) {
	field(w, "Name", v.Name)
	field(w, "ID", v.ID)
	field(w, "VDC", v.VDCID)
	field(w, "Anti-affinity", v.AntiAffinity)
	fmt.Fprintln(w)
	row(w, "MEMBER", "INSTANCE", "PHASE", "POWER", "TASK", "MESSAGE")
	for _, m := range v.MemberStatus {
		row(w, m.Name, m.InstanceID, m.Phase, m.Power, m.TaskID, m.Message)
	}
}

// readDocument reads a JSON or YAML file ("-": stdin) as JSON.
func (a *app) readDocument(file string) (map[string]any, error) {
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(a.env.Stdin)
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil { // JSON is YAML
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if doc == nil {
		return nil, fmt.Errorf("read %s: the file is empty", file)
	}
	return doc, nil
}

// postDocument creates what a JSON or YAML file describes in the API's
// shape at path; name, the VDC of vdcRef and extra override the file. The
// document goes as it is, so that the server names any field it does not
// know.
func postDocument[T any](a *app, path, file, name, vdcRef string, extra map[string]any) (T, error) {
	var zero T
	doc, err := a.readDocument(file)
	if err != nil {
		return zero, err
	}
	if name != "" {
		doc["name"] = name
	}
	maps.Copy(doc, extra)
	cl, vdc, err := a.clientIn(vdcRef)
	if err != nil {
		return zero, err
	}
	if vdc != "" {
		doc["vdcId"] = vdc
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return zero, fmt.Errorf("read %s: %w", file, err)
	}
	return client.Call[T](a.ctx, cl, client.Request{Method: "POST", Path: path, Body: body, IdempotencyKey: newKey()})
}

func (a *app) vappCreate(path string, args []string) error {
	f := a.flags(path, "-f FILE [--name NAME] [--vdc VDC] [--wait]",
		"Deploy a vApp described by a JSON or YAML file (\"-\" reads stdin) in the API's shape:\n\n"+
			"  name: shop\n  antiAffinity: true\n  members:\n    - name: shop-web\n      spec: {type: container, cpuMilli: 500, memoryBytes: 268435456,\n"+
			"             image: {format: oci, name: nginx:1.27}}")
	file := f.String("f", "", "the vApp `file` (JSON or YAML)")
	name := f.String("name", "", "the vApp's name (overrides the file's)")
	vdcRef := f.String("vdc", "", "the VDC to deploy in (administrators)")
	wait := f.Bool("wait", false, "wait for every member's task and show progress")
	if _, err := f.parseN(args); err != nil {
		return err
	}
	if *file == "" {
		return f.fail("-f FILE is required")
	}
	vt, err := postDocument[apitypes.VAppTasks](a, "/v1/vapps", *file, *name, *vdcRef, nil)
	if err != nil {
		return err
	}
	return a.afterVAppTasks(vt, *wait, "deployed")
}

// afterVAppTasks prints a vApp change, after its tasks with wait.
func (a *app) afterVAppTasks(vt apitypes.VAppTasks, wait bool, verb string) error {
	if wait {
		ts := make([]*ovm.Task, len(vt.Tasks))
		for i := range vt.Tasks {
			ts[i] = &vt.Tasks[i]
		}
		werr := a.waitAll(ts...)
		if verb != "deleted" {
			if v, err := a.mustClient().GetVApp(a.ctx, vt.VApp.ID); err == nil {
				vt.VApp = v
			}
		}
		if werr != nil {
			if !a.structured() {
				vappDetailTo(a, vt.VApp)
			}
			return werr
		}
	}
	return a.show(vt, func(w io.Writer) {
		fmt.Fprintf(w, "vApp %s (%s) %s with %d member task(s).\n", vt.VApp.Name, vt.VApp.ID, pending(verb, !wait && len(vt.Tasks) > 0), len(vt.Tasks))
		if verb != "deleted" {
			fmt.Fprintln(w)
			vappDetail(w, vt.VApp)
		}
	})
}

func vappDetailTo(a *app, v apitypes.VAppInfo) {
	_ = a.show(v, func(w io.Writer) { vappDetail(w, v) })
}
