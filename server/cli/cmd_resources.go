package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
)

func volumeCommands() *command {
	return &command{name: "volume", aliases: []string{"volumes", "vol"}, summary: "Manage volumes (cloud disks)", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List volumes", run: listCmd[apitypes.VolumeInfo]{noun: "volumes", vdc: true,
			list: (*client.Client).ListVolumes,
			head: []any{"NAME", "ID", "SIZE", "PHASE", "ATTACHED TO", "AGE"},
			cells: func(v apitypes.VolumeInfo, now time.Time) []any {
				return []any{v.Name, v.ID, v.Size, v.Phase, v.AttachedTo, ago(v.CreatedAt, now)}
			}}.run},
		{name: "show", aliases: []string{"get"}, summary: "Show a volume", run: showCmd("volume", "NAME|ID", "Show a volume.",
			(*client.Client).GetVolume, volumeDetail)},
		{name: "create", summary: "Create a volume", run: (*app).volumeCreate},
		{name: "resize", summary: "Grow a volume", run: (*app).volumeResize},
		{name: "attach", summary: "Attach a volume to a VM", run: (*app).volumeAttach},
		{name: "detach", summary: "Detach a volume from its VM", run: taskCmd("volume", "Detach a volume from its VM.",
			"wait for the task and show its progress", (*client.Client).DetachVolume,
			func(a *app, vt apitypes.VolumeTask, wait bool) error { return a.afterVolumeTask(vt, wait, "detached") })},
		{name: "delete", aliases: []string{"rm"}, summary: "Delete a detached volume", run: taskCmd("volume", "Delete a detached volume.",
			"wait for the task and show its progress", (*client.Client).DeleteVolume,
			func(a *app, vt apitypes.VolumeTask, wait bool) error { return a.afterVolumeTask(vt, wait, "deleted") })},
	}}
}

func volumeDetail(w io.Writer, v apitypes.VolumeInfo) {
	field(w, "Name", v.Name)
	field(w, "ID", v.ID)
	field(w, "VDC", v.VDCID)
	field(w, "Size", v.Size)
	field(w, "Phase", v.Phase)
	field(w, "Attached to", v.AttachedTo)
	if v.StoragePoolID != "" {
		field(w, "Storage pool", v.StoragePoolID)
	}
	if v.Message != "" {
		field(w, "Message", v.Message)
	}
	field(w, "Created", v.CreatedAt.Format(time.RFC3339))
}

// afterVolumeTask prints a volume change, after its task with wait.
func (a *app) afterVolumeTask(vt apitypes.VolumeTask, wait bool, verb string) error {
	if err := a.waitTask(&vt.Task, wait, verb, func() {
		if v, err := a.mustClient().GetVolume(a.ctx, vt.Volume.ID); err == nil {
			vt.Volume = v
		}
	}); err != nil {
		return err
	}
	return a.show(vt, func(w io.Writer) {
		fmt.Fprintf(w, "Volume %s (%s, %s) %s.\n", vt.Volume.Name, vt.Volume.ID, vt.Volume.Size, pending(verb, vt.Task != nil && !wait))
		followTask(w, vt.Task, wait)
	})
}

// waitTask waits, with wait, for the task of a change, then reads the task
// again and (but after a delete) the object, through refresh.
func (a *app) waitTask(task **ovm.Task, wait bool, verb string, refresh func()) error {
	if !wait || *task == nil {
		return nil
	}
	if err := a.waitAll(*task); err != nil {
		return err
	}
	if verb != "deleted" {
		refresh()
	}
	if t, err := a.mustClient().GetTask(a.ctx, (*task).ID); err == nil {
		*task = &t
	}
	return nil
}

// followTask says how to follow a task not waited for.
func followTask(w io.Writer, task *ovm.Task, wait bool) {
	if task != nil && !wait {
		fmt.Fprintf(w, "Task %s %s; follow it with 'ovm task watch %s'.\n", task.ID, task.State, task.ID)
	}
}

func (a *app) volumeCreate(path string, args []string) error {
	f := a.flags(path, "NAME --size SIZE [--pool STORAGE-POOL-ID] [--vdc VDC] [--wait]", "Create a volume (the disk quota now, the volume in a task).")
	size := f.String("size", "", "the volume's size such as 10Gi")
	pool := f.String("pool", "", "the id of the storage pool to make it in (default: a host's default pool)")
	vdcRef := f.String("vdc", "", "the VDC to create in (administrators)")
	wait := f.Bool("wait", false, "wait for the task and show its progress")
	pos, err := f.parseN(args, "NAME")
	if err != nil {
		return err
	}
	if *size == "" {
		return f.fail("--size is required")
	}
	b, err := parseSize(*size)
	if err != nil {
		return f.fail("--size: %v", err)
	}
	cl, vdc, err := a.clientIn(*vdcRef)
	if err != nil {
		return err
	}
	vt, err := cl.CreateVolume(a.ctx, apitypes.VolumeCreate{VDCID: vdc, Name: pos[0], Size: b, StoragePoolID: ovm.ID(*pool), IdempotencyKey: newKey()})
	if err != nil {
		return err
	}
	return a.afterVolumeTask(vt, *wait, "created")
}

func (a *app) volumeResize(path string, args []string) error {
	f := a.flags(path, "NAME|ID --size SIZE [--wait]", "Grow a volume to a new size.")
	size := f.String("size", "", "the new size such as 20Gi")
	wait := f.Bool("wait", false, "wait for the task and show its progress")
	f.inVDC("volume")
	pos, err := f.parseN(args, "NAME|ID")
	if err != nil {
		return err
	}
	b, err := parseSize(*size)
	if err != nil {
		return f.fail("--size: %v", err)
	}
	cl, id, err := f.lookup("volume", pos[0])
	if err != nil {
		return err
	}
	vt, err := cl.ResizeVolume(a.ctx, id, b)
	if err != nil {
		return err
	}
	return a.afterVolumeTask(vt, *wait, "resized")
}

func networkCommands() *command {
	return &command{name: "network", aliases: []string{"networks", "net"}, summary: "Manage networks", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List networks", run: listCmd[ovm.Network]{noun: "networks", vdc: true,
			list: (*client.Client).ListNetworks,
			head: []any{"NAME", "ID", "VLAN", "SUBNET", "GATEWAY", "AGE"},
			cells: func(n ovm.Network, now time.Time) []any {
				gw := ""
				if n.Gateway.IsValid() {
					gw = n.Gateway.String()
				}
				return []any{n.Name, n.ID, n.VLAN, n.Subnet, gw, ago(n.CreatedAt, now)}
			}}.run},
		{name: "show", aliases: []string{"get"}, summary: "Show a network", run: showCmd("network", "NAME|ID", "Show a network.",
			(*client.Client).GetNetwork, networkDetail)},
		{name: "create", summary: "Create a network", run: (*app).networkCreate},
		{name: "delete", aliases: []string{"rm"}, summary: "Delete a network no instance uses", run: deleteCmd("network",
			"Delete a network that no instance uses.", (*client.Client).DeleteNetwork,
			func(ref string, id ovm.ID) string { return deletedText("network", ref, id) })},
	}}
}

func networkDetail(w io.Writer, n ovm.Network) {
	field(w, "Name", n.Name)
	field(w, "ID", n.ID)
	field(w, "VDC", n.VDCID)
	field(w, "VLAN", n.VLAN)
	field(w, "Subnet", n.Subnet)
	if n.Gateway.IsValid() {
		field(w, "Gateway", n.Gateway)
	}
	var rs, dns []string
	for _, r := range n.Ranges {
		rs = append(rs, r.Start.String()+"-"+r.End.String())
	}
	for _, d := range n.DNS {
		dns = append(dns, d.String())
	}
	field(w, "Ranges", strings.Join(rs, ", "))
	field(w, "DNS", strings.Join(dns, ", "))
	field(w, "Created", n.CreatedAt.Format(time.RFC3339))
}

func (a *app) networkCreate(path string, args []string) error {
	f := a.flags(path, "NAME --subnet CIDR [--gateway IP] [--vlan N] [--range START-END]... [--dns IP]...",
		"Create a network: an L2 segment with a VLAN id, a subnet, a gateway and the addresses OVM allocates.")
	subnet := f.String("subnet", "", "the subnet such as 10.0.0.0/24 or fd00::/64")
	gateway := f.String("gateway", "", "the gateway address")
	vlan := f.Int("vlan", 0, "the VLAN id (0: untagged)")
	vdcRef := f.String("vdc", "", "the VDC to create in (administrators)")
	var ranges, dns multi
	f.Var(&ranges, "range", "an allocatable range `START-END`; repeatable (default: the whole subnet)")
	f.Var(&dns, "dns", "a DNS server `IP`; repeatable")
	pos, err := f.parseN(args, "NAME")
	if err != nil {
		return err
	}
	if *subnet == "" {
		return f.fail("--subnet is required")
	}
	in := apitypes.NetworkCreate{Name: pos[0], VLAN: *vlan, Subnet: *subnet, Gateway: *gateway, DNS: dns, IdempotencyKey: newKey()}
	for _, r := range ranges {
		start, end, ok := strings.Cut(r, "-")
		if !ok {
			return f.fail("--range %q: want START-END", r)
		}
		in.Ranges = append(in.Ranges, apitypes.NetworkRange{Start: start, End: end})
	}
	cl, vdc, err := a.clientIn(*vdcRef)
	if err != nil {
		return err
	}
	in.VDCID = vdc
	n, err := cl.CreateNetwork(a.ctx, in)
	if err != nil {
		return err
	}
	return a.show(n, func(w io.Writer) { networkDetail(w, n) })
}

func taskCommands() *command {
	return &command{name: "task", aliases: []string{"tasks"}, summary: "Follow tasks: changes on hypervisors", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List tasks", run: listCmd[ovm.Task]{noun: "tasks", vdc: true, limit: true,
			desc: "List tasks, newest first as the server orders them.",
			list: func(cl *client.Client, ctx context.Context, o client.ListOptions) ([]ovm.Task, error) {
				if o.Limit > 0 {
					pg, err := client.List[ovm.Task](ctx, cl, "/v1/tasks", o)
					return pg.Items, err
				}
				return cl.ListTasks(ctx, o)
			},
			head: []any{"ID", "KIND", "TARGET", "STATE", "PROGRESS", "STEP", "AGE"},
			cells: func(t ovm.Task, now time.Time) []any {
				return []any{t.ID, t.Kind, t.TargetID, t.State, fmt.Sprintf("%d%%", t.Progress), currentStep(t), ago(t.CreatedAt, now)}
			}}.run},
		{name: "show", aliases: []string{"get"}, summary: "Show a task's steps and log", run: showCmd("task", "ID",
			"Show a task: its steps, progress and log.", (*client.Client).GetTask, taskDetail)},
		{name: "watch", summary: "Follow a task to its end with a progress bar", run: (*app).taskWatch},
	}}
}

func taskDetail(w io.Writer, t ovm.Task) {
	field(w, "ID", t.ID)
	field(w, "Kind", t.Kind)
	field(w, "Target", t.TargetID)
	field(w, "VDC", t.VDCID)
	field(w, "State", t.State)
	field(w, "Progress", fmt.Sprintf("%d%%", t.Progress))
	if t.Error != "" {
		field(w, "Error", t.Error)
	}
	field(w, "Created", t.CreatedAt.Format(time.RFC3339))
	if t.FinishedAt != nil {
		field(w, "Finished", t.FinishedAt.Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	row(w, "STEP", "STATE", "ERROR")
	for _, s := range t.Steps {
		row(w, s.Name, s.State, s.Error)
	}
	if len(t.Log) > 0 {
		fmt.Fprintln(w)
		row(w, "TIME", "LEVEL", "MESSAGE")
		for _, l := range t.Log {
			row(w, l.Time.Format(time.RFC3339), l.Level, l.Message)
		}
	}
}

func (a *app) taskWatch(path string, args []string) error {
	f := a.flags(path, "ID", "Follow a task until it ends: a progress bar with the step on a terminal, a line per change\n"+
		"otherwise. Exits 1 when the task does not succeed, after printing the end of its log.")
	f.inVDC("task")
	pos, err := f.parseN(args, "ID")
	if err != nil {
		return err
	}
	_, id, err := f.lookup("task", pos[0])
	if err != nil {
		return err
	}
	w := a.env.Stdout
	if a.structured() {
		w = a.env.Stderr
	}
	t, err := a.watch(w, id)
	if a.structured() && t.ID != "" {
		if perr := a.show(t, nil); perr != nil {
			return perr
		}
	}
	return err
}

func discoveredCommands() *command {
	return &command{name: "discovered", summary: "Objects found on hosts that OVM does not manage (administrators)", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List discovered objects", run: listCmd[apitypes.Discovered]{noun: "discovered objects",
			desc: "List the instances found on hosts without an OVM id (run 'ovm host sync' to refresh).",
			list: (*client.Client).ListDiscovered,
			head: []any{"NAME", "ID", "HOST", "NATIVE ID", "TYPE", "CPU", "MEMORY", "POWER", "FOUND"},
			cells: func(d apitypes.Discovered, now time.Time) []any {
				return []any{d.Name, d.ID, d.HostID.Short(), d.NativeID, d.Type, d.CPU, d.Memory, d.Power, ago(d.FoundAt, now)}
			}}.run},
		{name: "import", summary: "Import a discovered object into a VDC", run: (*app).discoveredImport},
	}}
}

func (a *app) discoveredImport(path string, args []string) error {
	f := a.flags(path, "NAME|ID --vdc VDC [--name NAME] [--cpu CPU] [--memory SIZE]",
		"Import a discovered object into a VDC; it is then managed like any instance. An object without limits of its own "+
			"(a container run without limits) needs --cpu and --memory: they are set on the host and counted against the VDC's quota.")
	vdcRef := f.String("vdc", "", "the VDC that gets the instance")
	name := f.String("name", "", "the instance's name (default: the discovered name)")
	cpuFlag := f.String("cpu", "", "vCPUs such as 1 or 0.5, or millicpu such as 500m (required when the object has no CPU limit)")
	memFlag := f.String("memory", "", "memory such as 512Mi (required when the object has no memory limit)")
	pos, err := f.parseN(args, "NAME|ID")
	if err != nil {
		return err
	}
	if *vdcRef == "" {
		return f.fail("--vdc is required")
	}
	var cpu ovm.MilliCPU
	if *cpuFlag != "" {
		if cpu, err = parseCPU(*cpuFlag); err != nil {
			return f.fail("--cpu: %v", err)
		}
	}
	var mem ovm.Bytes
	if *memFlag != "" {
		if mem, err = parseSize(*memFlag); err != nil {
			return f.fail("--memory: %v", err)
		}
	}
	cl, id, err := a.lookup("discovered object", pos[0])
	if err != nil {
		return err
	}
	vdc, err := a.resolveVDC(*vdcRef)
	if err != nil {
		return err
	}
	n := *name
	if n == "" {
		n = pos[0]
		if ovm.ID(n).Valid() {
			return f.fail("--name is required when the object is named by id")
		}
	}
	i, err := cl.ImportDiscovered(a.ctx, id, apitypes.DiscoveredImport{VDCID: vdc, Name: n, CPU: cpu, Memory: mem, IdempotencyKey: newKey()})
	if err != nil {
		return err
	}
	return a.show(i, func(w io.Writer) { instanceDetail(w, i) })
}
